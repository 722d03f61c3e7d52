#include "archiver/store/audit_hook.h"

#include <stdarg.h>
#include <stdio.h>

int archive_audit(struct archive *ar, const char *actor, const char *type, const char *object,
		  const char *outcome, const char *personal, struct pv_error *err)
{
	struct audit_event ev = {actor, type, object, outcome, personal};
	int r = auditlog_append(ar->audit_log, ar->audit_key, &ev, NULL, err);
	if (r < 0)
		pv_error_prefix(err, "audit log");
	return r;
}

int archive_auditf(struct archive *ar, const char *actor, const char *type, const char *outcome,
		   const char *personal, struct pv_error *err, const char *object_fmt, ...)
{
	char object[AUDIT_OBJECT_MAX + 1];
	va_list ap;
	va_start(ap, object_fmt);
	int n = vsnprintf(object, sizeof(object), object_fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(object))
		return pv_fail(err, PV_ELIMIT, "audit log: object of %s event too long", type);
	return archive_audit(ar, actor, type, object, outcome, personal, err);
}
