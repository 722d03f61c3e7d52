#ifndef PV_THREAD_H
#define PV_THREAD_H

/* A helper thread that takes no signal: the process's signals (SIGTERM:
 * stop at the next slice, SIGINT) stay with the thread that started it,
 * but SIGSYS, so that a call the seccomp filter forbids is logged by its
 * handler (lib/sandbox.h) in whichever thread made it rather than killing
 * the process unsaid. */

#include <pthread.h>

/* pthread_create with every signal but SIGSYS blocked in the new thread;
 * the caller's own mask is as before. Returns pthread_create's status. */
int pv_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
