/* MANIFEST.sha256 and MANIFEST.note: parsed during the first pass
 * (bundle_int.h), checked by bundle_check_manifest (bundle_read.h). */
#include "audit/bundle_int.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/hex.h"
#include "archiver/lib/base64.h"

static void man_error(struct bundle *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void man_error(struct bundle *b, const char *fmt, ...)
{
	va_list ap;
	if (b->man_error[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(b->man_error, sizeof(b->man_error), fmt, ap);
	va_end(ap);
}

/* A problem the manifest shows, kept for bundle_check_manifest. */
static void man_problem(struct bundle *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void man_problem(struct bundle *b, const char *fmt, ...)
{
	char msg[PV_BUNDLE_PATH_MAX + 200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (b->man_problems.max == 0)
		pv_buf_init(&b->man_problems, 256 * 1024);
	if (pv_buf_printf(&b->man_problems, NULL, "%s\n", msg) < 0)
		b->man_more++;
}

/* A line against the member it names. */
/* Whether a manifest line named member i (a bit each in b->listed). */
static bool listed(const struct bundle *b, size_t i)
{
	return (b->listed[i / 8] & (1u << (i % 8))) != 0;
}

static void man_match(struct bundle *b, struct bundle_file *f, const uint8_t sha[32],
		      uint64_t lineno)
{
	size_t i = (size_t)(f - b->files);
	if (strcmp(f->name, BUNDLE_MANIFEST) == 0 || strcmp(f->name, BUNDLE_MANIFEST_NOTE) == 0)
		man_problem(b, BUNDLE_MANIFEST " lists %s", f->name);
	else if (listed(b, i))
		man_problem(b, BUNDLE_MANIFEST " lists %s twice", f->name);
	else if (sodium_memcmp(f->sha256, sha, 32) != 0)
		man_problem(b, "%s: its SHA-256 differs from " BUNDLE_MANIFEST " line %llu (changed?)",
			    f->name, (unsigned long long)lineno);
	else
		b->man_checked++;
	b->listed[i / 8] |= (uint8_t)(1u << (i % 8));
}

static int cmp_name(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int man_line(struct bundle *b, const char *l, size_t n, uint64_t lineno,
		    struct pv_error *err)
{
	uint8_t sha[32];
	if (n < 68 || l[n - 1] != '\n' || l[64] != ' ' || l[65] != ' ') {
		man_error(b, BUNDLE_MANIFEST " line %llu is malformed", (unsigned long long)lineno);
		return 0;
	}
	if (pv_unhex_lower(l, 64, sha, 32) != 0) {
		man_error(b, BUNDLE_MANIFEST " line %llu: bad hash", (unsigned long long)lineno);
		return 0;
	}
	if (!bundle_name_valid(l + 66, n - 67)) {
		man_error(b, BUNDLE_MANIFEST " line %llu: bad name", (unsigned long long)lineno);
		return 0;
	}
	if (lineno > PV_BUNDLE_FILES_MAX)
		return pv_fail(err, PV_EINTEGRITY, BUNDLE_MANIFEST " lists more than %d names",
			       PV_BUNDLE_FILES_MAX);
	struct bundle_file *f = bundle_lookup(b, l + 66, n - 67);
	if (f != NULL) {
		man_match(b, f, sha, lineno);
		return 0;
	}
	/* A member still to come (or none): kept until the pass ends. */
	if (b->n_man == b->cap_man) {
		size_t cap = b->cap_man ? 2 * b->cap_man : 16;
		struct bundle_mrecord *p;
		if ((p = realloc(b->man, cap * sizeof(*p))) == NULL)
			return pv_fail(err, PV_ERR, "out of memory");
		b->man = p;
		b->cap_man = cap;
	}
	struct bundle_mrecord *m = &b->man[b->n_man];
	if ((m->name = pv_strpool_add(&b->names, l + 66, n - 67)) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	memcpy(m->sha256, sha, 32);
	m->line = lineno;
	b->n_man++;
	return 0;
}

int bundle_manifest_settle(struct bundle *b, struct pv_error *err)
{
	for (size_t i = 0; i < b->n_man; i++) {
		struct bundle_mrecord *m = &b->man[i];
		struct bundle_file *f = bundle_lookup(b, m->name, strlen(m->name));
		if (f != NULL)
			man_match(b, f, m->sha256, m->line);
		else
			man_problem(b, "%s is listed in " BUNDLE_MANIFEST " but missing from the bundle "
				       "(removed?)", m->name);
	}
	free(b->man);
	b->man = NULL;
	b->n_man = b->cap_man = 0;
	/* The members no line named, for bundle_check_manifest: the list of
	 * members keeps no mark of its own. */
	size_t n = 0;
	for (size_t i = 0; i < b->n_files; i++)
		n += !listed(b, i);
	if (n > 0 && (b->unlisted = malloc(n * sizeof(*b->unlisted))) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	for (size_t i = 0; i < b->n_files; i++) {
		const char *name = b->files[i].name;
		if (!listed(b, i) && strcmp(name, BUNDLE_MANIFEST) != 0 &&
		    strcmp(name, BUNDLE_MANIFEST_NOTE) != 0)
			b->unlisted[b->n_unlisted++] = name;
	}
	if (b->n_unlisted > 1)
		qsort(b->unlisted, b->n_unlisted, sizeof(*b->unlisted), cmp_name);
	free(b->listed);
	b->listed = NULL;
	return PV_OK;
}

int bundle_manifest_feed(struct bundle *b, struct bundle_manifest_state *ms, const uint8_t *p,
			 size_t n, struct pv_error *err)
{
	int r;
	for (size_t i = 0; i < n; i++) {
		if (ms->len < sizeof(ms->line))
			ms->line[ms->len++] = (char)p[i];
		else
			ms->overflow = true;
		if (p[i] != '\n')
			continue;
		ms->lineno++;
		if (ms->overflow)
			man_error(b, BUNDLE_MANIFEST " line %llu is too long",
				  (unsigned long long)ms->lineno);
		else if ((r = man_line(b, ms->line, ms->len, ms->lineno, err)) < 0)
			return r;
		ms->len = 0;
		ms->overflow = false;
	}
	return 0;
}

void bundle_manifest_end(struct bundle *b, struct bundle_manifest_state *ms)
{
	if (ms->len > 0)
		man_error(b, BUNDLE_MANIFEST " does not end in a newline");
}

/* --- the check ------------------------------------------------------------------------ */

static int check_manifest_note(struct bundle *b, const struct note_verifier *vs, size_t nv,
			       const char *signer_name, struct bundle_report *rep)
{
	const struct bundle_file *nf = bundle_find(b, BUNDLE_MANIFEST_NOTE);
	const struct bundle_file *mf = bundle_find(b, BUNDLE_MANIFEST);
	struct note_verifier *ok = calloc(nv ? nv : 1, sizeof(*ok));
	struct pv_error e;
	size_t n_ok = 0, text_len;
	char want[BUNDLE_MANIFEST_TEXT_MAX], hex[65];
	int r = 0;

	if (ok == NULL) {
		bundle_problem(rep, "out of memory");
		return PV_ERR;
	}
	for (size_t i = 0; i < nv; i++)
		if (signer_name == NULL || strcmp(vs[i].name, signer_name) == 0)
			ok[n_ok++] = vs[i];
	if (nf == NULL || nf->data == NULL) {
		bundle_problem(rep, BUNDLE_MANIFEST_NOTE " is missing");
		r = PV_EINTEGRITY;
	} else if (note_open((const char *)nf->data, nf->size, ok, n_ok, &text_len, NULL, &e) != 0) {
		bundle_problem(rep, BUNDLE_MANIFEST_NOTE " is not signed by a trusted key%s%s (%s)",
			       signer_name ? " of " : "", signer_name ? signer_name : "", e.msg);
		r = PV_EINTEGRITY;
	} else {
		pv_hex(mf ? mf->sha256 : (const uint8_t *)"", mf ? 32 : 0, hex);
		bundle_manifest_text(b->has_kind ? b->kind : "?", mf ? hex : "", want);
		if (text_len != strlen(want) || memcmp(nf->data, want, text_len) != 0) {
			const char *k = strstr((const char *)nf->data, "\nkind ");
			if (k == NULL || strncmp(k + 6, b->kind, strlen(b->kind)) != 0 ||
			    k[6 + strlen(b->kind)] != '\n')
				bundle_problem(rep,
					       BUNDLE_MANIFEST_NOTE " does not name this bundle's kind (%s)",
					       b->has_kind ? b->kind : "BUNDLE member missing");
			else
				bundle_problem(rep, BUNDLE_MANIFEST_NOTE " does not match " BUNDLE_MANIFEST
						    " (its SHA-256 differs: the manifest was changed)");
			r = PV_EINTEGRITY;
		} else {
			bundle_info(rep, "ok: " BUNDLE_MANIFEST_NOTE " signed by %s", ok[0].name);
		}
	}
	free(ok);
	return r;
}

int bundle_check_manifest(struct bundle *b, const struct note_verifier *vs, size_t nv,
			  const char *signer_name, struct bundle_report *rep)
{
	uint64_t before = rep->problems;

	if (!b->has_kind)
		bundle_problem(rep, BUNDLE_KIND_FILE " member is missing or malformed");
	if (bundle_find(b, BUNDLE_MANIFEST) == NULL) {
		bundle_problem(rep, BUNDLE_MANIFEST " is missing");
		(void)check_manifest_note(b, vs, nv, signer_name, rep);
		return PV_EINTEGRITY;
	}
	if (b->man_error[0] != '\0')
		bundle_problem(rep, "%s", b->man_error);
	(void)check_manifest_note(b, vs, nv, signer_name, rep);
	/* What the first pass found, line by line; then the members no line
	 * named. */
	const char *p = pv_buf_str(&b->man_problems);
	while (*p) {
		const char *nl = strchr(p, '\n');
		bundle_problem(rep, "%.*s", (int)(nl - p), p);
		p = nl + 1;
	}
	if (b->man_more > 0)
		bundle_problem(rep, BUNDLE_MANIFEST ": %llu more problems", (unsigned long long)b->man_more);
	for (size_t i = 0; i < b->n_unlisted; i++)
		bundle_problem(rep, "%s is in the bundle but not in " BUNDLE_MANIFEST " (added?)",
			       b->unlisted[i]);
	if (rep->problems == before)
		bundle_info(rep, "ok: " BUNDLE_MANIFEST " matches all %llu other members",
			    (unsigned long long)b->man_checked);
	return rep->problems == before ? 0 : PV_EINTEGRITY;
}
