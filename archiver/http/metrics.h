#ifndef PV_HTTP_METRICS_H
#define PV_HTTP_METRICS_H

/* GET /metrics: the appliance's figures in the Prometheus text exposition
 * format 0.0.4 (# HELP and # TYPE before each family; label values with
 * \, " and newline escaped; HELP text with \ and newline escaped). */

#include <stdint.h>

#include "archiver/archive/status.h"
#include "archiver/lib/buf.h"
#include "archiver/lib/error.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends every family (docs/api.md lists them) from st and the count of
 * failed audit appends to out. */
int metrics_render(const struct archive_system_status *st, uint64_t audit_failures,
		   struct pv_buf *out, struct pv_error *err);

/* A label value escaped for the format, appended to out. */
int metrics_label_value(struct pv_buf *out, const char *v, struct pv_error *err);

#endif
