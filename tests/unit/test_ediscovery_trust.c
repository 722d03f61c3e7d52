/* Unit tests for the trust an eDiscovery bundle extends to a rotated key
 * (issue 16, finding 10): a key-rotation note counts only when the audit
 * log holds it, shown by its inclusion proof in audit/checkpoint's tree.
 * The forger here holds a retired archive key (a rotation destroys the old
 * seed, but a copy may survive in an old backup). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "archiver/archive/audit_hook.h"
#include "archiver/export/ediscovery.h"
#include "archiver/export/export.h"
#include "audit/bundle_read.h"
#include "audit/bundle_write.h"
#include "audit/keys.h"
/* The fixture serves several suites; this one needs part of it. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "test_dispose_fixture.h"

struct member {
	char name[256];
	uint8_t *data;
	size_t len;
};

struct members {
	struct member m[64];
	int n;
};

static int keep_member(void *ctx, const struct bundle_file *bf, struct bundle_stream *s)
{
	struct members *ms = ctx;
	(void)s;
	if (strcmp(bf->name, "BUNDLE") == 0 || strncmp(bf->name, "MANIFEST.", 9) == 0)
		return 0;
	assert_true(ms->n < 64);
	assert_non_null(bf->data);
	struct member *m = &ms->m[ms->n++];
	snprintf(m->name, sizeof(m->name), "%s", bf->name);
	m->data = malloc(bf->size + 1);
	memcpy(m->data, bf->data, bf->size);
	m->len = (size_t)bf->size;
	return 0;
}

/* The members in archive order (bundle_each), but BUNDLE and MANIFEST.*
 * (the writer adds those). */
static void read_members(const char *path, struct members *ms)
{
	struct bundle *b;
	struct pv_error err;
	memset(ms, 0, sizeof(*ms));
	fx_must(bundle_open_file(path, &b, &err), &err, "open");
	fx_must(bundle_each(b, keep_member, ms, &err), &err, "each");
	bundle_free(&b);
}

static void free_members(struct members *ms)
{
	for (int i = 0; i < ms->n; i++)
		free(ms->m[i].data);
	ms->n = 0;
}

static struct member *find(struct members *ms, const char *prefix)
{
	for (int i = 0; i < ms->n; i++)
		if (strncmp(ms->m[i].name, prefix, strlen(prefix)) == 0)
			return &ms->m[i];
	fail_msg("no member %s", prefix);
	return NULL;
}

static void set_data(struct member *m, const struct pv_buf *b)
{
	free(m->data);
	m->data = malloc(b->len + 1);
	memcpy(m->data, b->data, b->len);
	m->len = b->len;
}

static void write_signed(const char *path, const struct members *ms, const struct note_signer *s)
{
	struct bundle_writer *w;
	struct pv_error err;
	unlink(path);
	fx_must(bundle_writer_open(path, EDISCOVERY_KIND, &w, &err), &err, "writer");
	for (int i = 0; i < ms->n; i++)
		fx_must(bundle_add(w, ms->m[i].name, ms->m[i].data, ms->m[i].len, &err), &err, "add");
	fx_must(bundle_writer_finish(&w, s, &err), &err, "finish");
}

static void collect(void *ctx, bool problem, const char *msg)
{
	struct pv_error err;
	if (problem)
		assert_int_equal(pv_buf_printf(ctx, &err, "%s\n", msg), 0);
}

/* Verifies path trusting keys[0..2); the problems, one a line, in out. */
static uint64_t verify(const char *path, const struct note_verifier *keys, struct pv_buf *out)
{
	struct bundle *b = NULL;
	struct pv_error err;
	struct bundle_report rep = {collect, out, 0, 0};
	pv_buf_reset(out);
	fx_must(bundle_open_file(path, &b, &err), &err, "bundle_open_file");
	int r = ediscovery_verify(b, keys, 2, NULL, 0, NULL, &rep, &err);
	assert_true(r == 0 || r == PV_EINTEGRITY);
	bundle_free(&b);
	return rep.problems;
}

/* A note by `by` moving the trust in rot's log to `to`, as the original says. */
static void forge_rotation(const struct member *orig, const struct note_signer *by,
			   const struct note_signer *to, struct pv_buf *out)
{
	struct keys_rotation rot;
	struct note_verifier v;
	struct pv_buf body, vk;
	struct pv_error err;
	size_t text_len, nsigs;
	fx_must(note_split((const char *)orig->data, orig->len, &text_len, &nsigs, &err), &err,
		"split");
	fx_must(keys_rotation_parse((const char *)orig->data, text_len, &rot, &err), &err, "parse");
	pv_buf_init(&vk, NOTE_VKEY_MAX);
	pv_buf_init(&body, PV_NOTE_MAX);
	note_signer_verifier(to, &v);
	fx_must(note_verifier_format(&v, &vk, &err), &err, "vkey");
	snprintf(rot.new_vkey, sizeof(rot.new_vkey), "%s", pv_buf_str(&vk));
	fx_must(keys_rotation_format(&rot, &body, &err), &err, "format");
	pv_buf_reset(out);
	fx_must(note_sign((const char *)body.data, body.len, by, out, &err), &err, "sign");
	pv_buf_free(&vk);
	pv_buf_free(&body);
}

/* The same checkpoint body, signed by s instead. */
static void resign(struct member *m, const struct note_signer *s)
{
	struct pv_buf note;
	struct pv_error err;
	size_t text_len, nsigs;
	pv_buf_init(&note, PV_NOTE_MAX);
	fx_must(note_split((const char *)m->data, m->len, &text_len, &nsigs, &err), &err, "split");
	fx_must(note_sign((const char *)m->data, text_len, s, &note, &err), &err, "sign");
	set_data(m, &note);
	pv_buf_free(&note);
}

static void test_a_rotation_note_the_audit_log_does_not_hold_extends_no_trust(void **state)
{
	(void)state;
	struct fx f;
	struct note_verifier pinned[2];
	struct note_signer retired, forger;
	struct export_summary sum;
	struct members ms;
	struct pv_buf vk, note, problems;
	struct pv_error err;
	uint8_t seed[32];
	char p[256], q[256];

	fx_init(&f);
	pv_buf_init(&vk, 4096);
	pv_buf_init(&note, PV_NOTE_MAX);
	pv_buf_init(&problems, 1 << 20);
	note_signer_verifier(f.ar->archive_key, &pinned[0]);
	note_signer_verifier(f.ar->audit_key, &pinned[1]);
	retired = *f.ar->archive_key; /* the copy in an old backup */
	fx_must(archive_rotate_key(f.ar, f.ar->archive_log, "cli:test", &vk, &err), &err, "rotate");
	snprintf(p, sizeof(p), "%s/e.tar.gz", f.dir);
	snprintf(q, sizeof(q), "%s/forged.tar.gz", f.dir);
	struct export_opts o = {.query = "zzzznothing", .out = p, .bates_start = -1,
				.actor = "cli:test"};
	fx_must(export_run(f.ar, &o, &sum, &err), &err, "export");
	if (verify(p, pinned, &problems) != 0)
		fail_msg("the genuine bundle does not verify:\n%s", pv_buf_str(&problems));

	/* The retired key names the forger's key its successor; the forger
	 * signs the archive checkpoint and, after editing, the manifest. */
	memset(seed, 9, sizeof(seed));
	fx_must(note_signer_from_seed(retired.name, seed, &forger, &err), &err, "forger");
	read_members(p, &ms);
	forge_rotation(find(&ms, "rotations/archive/1"), &retired, &forger, &note);
	set_data(find(&ms, "rotations/archive/1"), &note);
	resign(find(&ms, "archive/checkpoint"), &forger);
	write_signed(q, &ms, &forger);
	assert_true(verify(q, pinned, &problems) > 0);
	assert_non_null(strstr(pv_buf_str(&problems), "rotations/archive/1 is not in the audit log"));

	/* Its copy among the logged rotations replaced too: the proof fails. */
	for (int i = 0; i < ms.n; i++)
		if (strncmp(ms.m[i].name, "audit/rotations/", 16) == 0 &&
		    strstr(ms.m[i].name, ".proof") == NULL &&
		    memmem(ms.m[i].data, ms.m[i].len, "archive", 7) != NULL)
			set_data(&ms.m[i], &note);
	write_signed(q, &ms, &forger);
	assert_true(verify(q, pinned, &problems) > 0);
	assert_non_null(strstr(pv_buf_str(&problems), "is not the log's leaf"));

	free_members(&ms);
	note_signer_wipe(&retired);
	note_signer_wipe(&forger);
	pv_buf_free(&vk);
	pv_buf_free(&note);
	pv_buf_free(&problems);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_rotation_note_the_audit_log_does_not_hold_extends_no_trust),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("ediscovery_trust", tests, NULL, NULL);
}
