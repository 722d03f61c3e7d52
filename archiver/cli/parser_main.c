/* popvault-parser: the parser sandbox's child (archiver/index/sandbox.h)
 * in an image of only what parsing needs. popvault runs it; it forks a
 * worker per message, and a fork copies the page tables of every library
 * mapped: all of popvault's (OpenSSL, SQLite, curl, ...) cost about three
 * times what GMime's alone do. */
#include "archiver/index/sandbox.h"

int main(int argc, char **argv)
{
	return index_sandbox_child(argc, argv);
}
