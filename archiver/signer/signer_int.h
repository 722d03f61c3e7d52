#ifndef PV_SIGNER_INT_H
#define PV_SIGNER_INT_H

/* Shared by the files of archiver/signer, nobody else. */

#include <sys/types.h>

#include "archiver/signer/signer.h"
#include "archiver/signer/signer_wire.h"

struct signer {
	int ctl;   /* the control socket: new channels go to the signer here */
	pid_t pid; /* when this process started it; 0 when attached */
	struct archive_key_source src;
};

/* The signer process: serves ctl (the child's end of the control pair)
 * until every client is gone. Never returns. */
void signer_main(const char *data_dir, int ctl) __attribute__((noreturn));

#endif
