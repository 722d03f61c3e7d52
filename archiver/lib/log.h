#ifndef PV_LOG_H
#define PV_LOG_H

/* Logging to stderr: human sentences on a terminal, key=value lines
 * otherwise (for journald and log shippers). Never log secrets. */

enum pv_log_level { PV_LOG_DEBUG, PV_LOG_INFO, PV_LOG_WARN, PV_LOG_ERROR };

void pv_log_set_level(enum pv_log_level level);
/* event: a short machine-friendly name ("harvest.batch");
 * fmt: the human message. */
void pv_log(enum pv_log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
