#ifndef PV_CLOCK_H
#define PV_CLOCK_H

/* Time, behind one small interface so unit tests can control it. The
 * binary itself has no switch that moves time (retention decisions must not
 * be trickable): e2e tests use faketime(1). */

#include <stddef.h>
#include <stdint.h>

/* Unix time in milliseconds (UTC). */
int64_t pv_clock_now_ms(void);
/* Unix time in seconds (UTC). */
int64_t pv_clock_now(void);
/* Monotonic milliseconds for timeouts and durations. */
int64_t pv_clock_monotonic_ms(void);

/* The CLOCK_REALTIME time ms milliseconds from now, for the timed waits of
 * POSIX (sem_timedwait, pthread_cond_timedwait). */
struct timespec;
void pv_clock_realtime_in(int64_t ms, struct timespec *ts_r);
/* Tests only: replaces the wall clock with fn (NULL restores the system). */
void pv_clock_override(int64_t (*fn)(void));

/* Formats unix seconds as RFC 3339 UTC ("2026-11-22T10:00:00Z"). out must
 * hold PV_RFC3339_LEN bytes. */
#define PV_RFC3339_LEN 21
void pv_clock_format_rfc3339(int64_t unix_s, char out[PV_RFC3339_LEN]);
/* Parses "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" into unix seconds (UTC).
 * Returns 0, or -1 when malformed or out of range. */
int pv_clock_parse_rfc3339(const char *s, int64_t *unix_r);

#endif
