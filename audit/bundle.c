/* What every bundle file shares (bundle.h): reports, names, the manifest note. */
#include "audit/bundle.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* --- reports ------------------------------------------------------------------ */

static void report(struct bundle_report *rep, bool problem, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void report(struct bundle_report *rep, bool problem, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (rep->line != NULL)
		rep->line(rep->ctx, problem, msg);
}

void bundle_problem(struct bundle_report *rep, const char *fmt, ...)
{
	va_list ap;
	rep->problems++;
	va_start(ap, fmt);
	report(rep, true, fmt, ap);
	va_end(ap);
}

void bundle_info(struct bundle_report *rep, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(rep, false, fmt, ap);
	va_end(ap);
}

void bundle_warn(struct bundle_report *rep, const char *fmt, ...)
{
	va_list ap;
	rep->warnings++;
	va_start(ap, fmt);
	report(rep, false, fmt, ap);
	va_end(ap);
}

bool bundle_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > PV_BUNDLE_PATH_MAX)
		return false;
	size_t comp = 0; /* start of the current component */
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? name[i] : '/';
		if (c == '/') {
			size_t n = i - comp;
			if (n == 0 || (n == 1 && name[comp] == '.') ||
			    (n == 2 && name[comp] == '.' && name[comp + 1] == '.'))
				return false;
			comp = i + 1;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr("._+=@,-", c) != NULL) || c == '\0')
			return false;
	}
	return true;
}


bool bundle_kind_valid(const char *k, size_t n)
{
	if (n == 0 || n > BUNDLE_KIND_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '-'))
			return false;
	return true;
}

void bundle_manifest_text(const char *kind, const char *sha256_hex,
			  char out[BUNDLE_MANIFEST_TEXT_MAX])
{
	snprintf(out, BUNDLE_MANIFEST_TEXT_MAX, BUNDLE_MANIFEST_MAGIC "\nkind %s\nsha256 %s\n", kind,
		 sha256_hex);
}
