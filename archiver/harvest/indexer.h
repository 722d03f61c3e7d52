/* Moved to archiver/store/indexer.h (holds and disposal need it too). */
#include "archiver/store/indexer.h"
