/* Set-ups shared by the unit tests: see fixtures.h. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/fixtures.h"

#include "archiver/lib/buf.h"
#include "audit/auditlog.h"

void fx_must(int r, const struct pv_error *err, const char *what)
{
	if (r != 0)
		fail_msg("%s: %d %s", what, r, err->msg);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void fx_rmtree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

size_t fx_resident_pages(const char *path, uint64_t off, uint64_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t first = (off + (uint64_t)pg - 1) / (uint64_t)pg, end = (off + len) / (uint64_t)pg;
	if (end <= first)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	size_t n = (size_t)(end - first), in = 0;
	void *map = mmap(NULL, n * (size_t)pg, PROT_READ, MAP_SHARED, fd, (off_t)(first * (uint64_t)pg));
	assert_true(map != MAP_FAILED);
	unsigned char *vec = calloc(n, 1);
	assert_non_null(vec);
	assert_int_equal(mincore(map, n * (size_t)pg, vec), 0);
	for (size_t i = 0; i < n; i++)
		in += vec[i] & 1;
	free(vec);
	munmap(map, n * (size_t)pg);
	close(fd);
	return in;
}

bool fx_on_tmpfs(const char *path)
{
	struct statfs fs;
	assert_int_equal(statfs(path, &fs), 0);
	return fs.f_type == TMPFS_MAGIC;
}

void fx_cache_dir(char *tmpl)
{
	assert_non_null(mkdtemp(tmpl));
	if (fx_on_tmpfs(tmpl)) {
		rmdir(tmpl);
		skip();
	}
}

void fx_stderr_capture(struct fx_stderr *c)
{
	c->tmp = tmpfile();
	assert_non_null(c->tmp);
	fflush(stderr);
	c->saved = dup(2);
	assert_true(c->saved >= 0 && dup2(fileno(c->tmp), 2) == 2);
}

void fx_stderr_release(struct fx_stderr *c, char *said, size_t cap)
{
	fflush(stderr);
	assert_int_equal(dup2(c->saved, 2), 2);
	close(c->saved);
	rewind(c->tmp);
	said[fread(said, 1, cap - 1, c->tmp)] = '\0';
	fclose(c->tmp);
}

unsigned char *fx_mime_sample(const char *name, size_t *len_r)
{
	const char *src = getenv("POPVAULT_SRC");
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/data/mime/%s", src ? src : ".", name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	unsigned char *b = malloc(1 << 20);
	assert_non_null(b);
	*len_r = fread(b, 1, 1 << 20, f);
	fclose(f);
	return b;
}

void fx_audit_schema(sqlite3 *db)
{
	static const char *const ddl[] = {tlog_schema_sql, auditlog_schema_sql};
	for (size_t i = 0; i < sizeof(ddl) / sizeof(ddl[0]); i++) {
		char *msg = NULL;
		if (sqlite3_exec(db, ddl[i], NULL, NULL, &msg) != SQLITE_OK)
			fail_msg("audit schema: %s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
	}
}

void fx_logdir_make(const char *tag, char dir[FX_PATH_MAX], char keydir[FX_PATH_MAX],
		    char dbpath[FX_PATH_MAX])
{
	snprintf(dir, FX_PATH_MAX, "/tmp/pv-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(dir));
	snprintf(keydir, FX_PATH_MAX, "%s/keys", dir);
	snprintf(dbpath, FX_PATH_MAX, "%s/catalog.db", dir);
	assert_int_equal(mkdir(keydir, 0700), 0);
}

sqlite3 *fx_logdb_open(const char *path, const char *pragmas)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (pragmas != NULL)
		assert_int_equal(sqlite3_exec(db, pragmas, NULL, NULL, NULL), SQLITE_OK);
	fx_audit_schema(db);
	return db;
}

struct db *fx_conn(sqlite3 *h)
{
	/* A list reachable from here: not a leak to LeakSanitizer. A handle
	 * reopened at a freed one's address reuses its view, which is right:
	 * the view is only the address. */
	static struct conn {
		sqlite3 *h;
		struct db *db;
		struct conn *next;
	} *conns;
	struct pv_error err;
	for (struct conn *c = conns; c != NULL; c = c->next)
		if (c->h == h)
			return c->db;
	struct conn *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	fx_must(db_sqlite_wrap(h, &c->db, &err), &err, "db_sqlite_wrap");
	c->h = h;
	c->next = conns;
	conns = c;
	return c->db;
}

int fx_setup_sqlite(void **state)
{
	*state = NULL;
	return 0;
}

int fx_setup_pg(void **state)
{
	static int pg = 1;
	*state = &pg;
	return 0;
}

int fx_teardown_none(void **state)
{
	(void)state;
	return 0;
}

void fx_log_create(struct db *db, const char *keydir, const char *log, const char *origin,
		   char vkey_r[NOTE_VKEY_MAX + 1])
{
	struct pv_error err;
	struct pv_buf vk;
	pv_buf_init(&vk, NOTE_VKEY_MAX);
	fx_must(keys_init_log(db, keydir, log, origin, &vk, &err), &err, "keys_init_log");
	if (vkey_r != NULL)
		snprintf(vkey_r, NOTE_VKEY_MAX + 1, "%s", pv_buf_str(&vk));
	pv_buf_free(&vk);
}

void fx_log_open(struct db *db, const char *keydir, const char *log, struct tlog **t_r,
		 struct note_signer **s_r)
{
	struct pv_error err;
	fx_must(tlog_open(db, log, t_r, &err), &err, "tlog_open");
	fx_must(keys_load(keydir, *t_r, s_r, &err), &err, "keys_load");
}

int fx_run_both(const char *name, const struct CMUnitTest *tests, size_t n)
{
	struct CMUnitTest *run = calloc(n ? n : 1, sizeof(*run));
	size_t k = 0;
	if (run == NULL)
		return 1;
	for (size_t i = 0; i < n; i++)
		if ((i % 2 == 0 ? getenv("PV_TEST_PG_ONLY") == NULL : fx_pg_conninfo() != NULL) &&
		    tests[i].test_func != NULL)
			run[k++] = tests[i];
	int r = _cmocka_run_group_tests(name, run, k, NULL, NULL);
	free(run);
	return r;
}
