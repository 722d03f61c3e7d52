#include "archiver/lib/board.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

int pv_board_new(struct pv_board **board_r, struct pv_error *err)
{
	pthread_mutexattr_t ma;
	struct pv_board *b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return pv_fail(err, PV_ERR, "mmap: %s", strerror(errno));
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	int rc = pthread_mutex_init(&b->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	if (rc != 0) {
		munmap(b, sizeof(*b));
		return pv_fail(err, PV_ERR, "pthread_mutex_init: %s", strerror(rc));
	}
	*board_r = b;
	return PV_OK;
}

void pv_board_free(struct pv_board **board)
{
	if (*board != NULL)
		munmap(*board, sizeof(**board));
	*board = NULL;
}

void pv_board_lock(struct pv_board *b)
{
	/* Its holder died: the fields are whole values written one by one,
	 * at worst one update is half done; go on with them. */
	if (pthread_mutex_lock(&b->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&b->lock);
}

void pv_board_unlock(struct pv_board *b, bool changed)
{
	if (changed)
		b->generation++;
	pthread_mutex_unlock(&b->lock);
}
