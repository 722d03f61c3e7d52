#ifndef PV_SDNOTIFY_H
#define PV_SDNOTIFY_H

/* The systemd notification protocol (sd_notify(3), "Type=notify"), without
 * libsystemd: one datagram of "KEY=VALUE\n" lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a path, or an abstract name written "@name").
 * A service started some other way has no NOTIFY_SOCKET: every call is
 * then a no-op that returns 0, so callers need no "under systemd?" test.
 *
 * What serve sends: "READY=1" once it listens, "STATUS=..." (one line: the
 * last harvest), "WATCHDOG=1" every pv_sd_watchdog_usec()/2, "RELOADING=1"
 * and "READY=1" around a SIGHUP reload, "STOPPING=1" when asked to stop. */

#include <stdint.h>

#include "archiver/lib/error.h"

/* Sends state (e.g. "READY=1\nSTATUS=harvested 12 messages") as one
 * datagram. Returns 1 when sent, 0 when $NOTIFY_SOCKET is unset or empty,
 * or a negative PV_* with err filled: PV_ELIMIT when state is longer than
 * PV_SD_NOTIFY_MAX, PV_ERR when the address is not absolute or abstract,
 * too long for sun_path, or the send fails. Does not change the environment. */
int pv_sd_notify(const char *state, struct pv_error *err);

/* The same with printf formatting. */
int pv_sd_notifyf(struct pv_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The watchdog interval systemd expects pings within ($WATCHDOG_USEC, when
 * $WATCHDOG_PID is unset or this process), in microseconds; 0 when there is
 * no watchdog for this process or the values do not parse. */
uint64_t pv_sd_watchdog_usec(void);

#endif
