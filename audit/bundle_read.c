/* Opening a bundle: the first pass over every member, and finding them
 * again (bundle_read.h). */
#include "audit/bundle_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/lib/sha256.h"

/* --- members by name during the first pass (the manifest's lines) --- */

static uint64_t name_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

static void hidx_put(uint32_t *t, size_t cap, const struct bundle_file *files, uint32_t i)
{
	size_t k = name_hash(files[i].name, strlen(files[i].name)) % cap;
	while (t[k] != UINT32_MAX)
		k = k + 1 < cap ? k + 1 : 0;
	t[k] = i;
}

/* Room for one more member in the index (built on first use). Filled to
 * two thirds at most, and no power of two: 6 bytes a member rather than
 * up to 32 (it lives beside a zip's central directory). */
static int hidx_grow(struct bundle *b)
{
	if (b->hidx != NULL && 3 * (b->n_files + 1) <= 2 * b->hcap)
		return 0;
	size_t cap = 1021 + 3 * (b->n_files + 1) / 2;
	uint32_t *t = malloc(cap * sizeof(*t));
	if (t == NULL)
		return PV_ERR;
	memset(t, 0xff, cap * sizeof(*t));
	for (size_t i = 0; i < b->n_files; i++)
		hidx_put(t, cap, b->files, (uint32_t)i);
	free(b->hidx);
	b->hidx = t;
	b->hcap = cap;
	return 0;
}

struct bundle_file *bundle_lookup(struct bundle *b, const char *name, size_t n)
{
	if (b->hidx == NULL && hidx_grow(b) < 0)
		return NULL;
	for (size_t k = name_hash(name, n) % b->hcap; b->hidx[k] != UINT32_MAX;
	     k = k + 1 < b->hcap ? k + 1 : 0) {
		struct bundle_file *f = &b->files[b->hidx[k]];
		if (strncmp(f->name, name, n) == 0 && f->name[n] == '\0')
			return f;
	}
	return NULL;
}

/* The bytes of b->listed (a bit a member) for room for cap members. */
static size_t listed_bytes(size_t cap)
{
	return cap == 0 ? 0 : cap / 8 + 1;
}

static int add_file(struct bundle *b, const char *name, struct bundle_file **f_r,
		    struct pv_error *err)
{
	if (b->n_files == b->cap_files) {
		size_t cap = b->cap_files ? b->cap_files + b->cap_files / 2 : 32;
		struct bundle_file *p;
		if (b->n_files >= PV_BUNDLE_FILES_MAX)
			return pv_fail(err, PV_EINTEGRITY, "bundle has more than %d members",
				       PV_BUNDLE_FILES_MAX);
		uint8_t *l;
		if ((p = realloc(b->files, cap * sizeof(*p))) == NULL)
			return pv_fail(err, PV_ERR, "out of memory");
		b->files = p;
		if ((l = realloc(b->listed, listed_bytes(cap))) == NULL)
			return pv_fail(err, PV_ERR, "out of memory");
		memset(l + listed_bytes(b->cap_files), 0, listed_bytes(cap) - listed_bytes(b->cap_files));
		b->listed = l;
		b->cap_files = cap;
	}
	if (b->hidx != NULL && hidx_grow(b) < 0)
		return pv_fail(err, PV_ERR, "out of memory");
	struct bundle_file *f = &b->files[b->n_files];
	memset(f, 0, sizeof(*f));
	if ((f->name = pv_strpool_add(&b->names, name, strlen(name))) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	b->n_files++;
	if (b->hidx != NULL)
		hidx_put(b->hidx, b->hcap, b->files, (uint32_t)(b->n_files - 1));
	*f_r = f;
	return 0;
}

static int cmp_file(const void *x, const void *y)
{
	return strcmp(((const struct bundle_file *)x)->name, ((const struct bundle_file *)y)->name);
}

static void parse_kind(struct bundle *b)
{
	const struct bundle_file *f = bundle_find(b, BUNDLE_KIND_FILE);
	const size_t ml = sizeof(BUNDLE_MAGIC "\nkind ") - 1;
	if (f == NULL || f->data == NULL || f->size <= ml + 1 ||
	    memcmp(f->data, BUNDLE_MAGIC "\nkind ", ml) != 0 || f->data[f->size - 1] != '\n')
		return;
	const char *k = (const char *)f->data + ml;
	size_t n = f->size - ml - 1;
	if (!bundle_kind_valid(k, n))
		return;
	memcpy(b->kind, k, n);
	b->kind[n] = '\0';
	b->has_kind = true;
}

/* Keeps the small members in memory, within the budget; a member that
 * grows past it is dropped from memory (read again by streaming). */
static int keep_chunk(struct bundle *b, struct bundle_file *f, const uint8_t *chunk, size_t k,
		      bool must_keep, size_t *cap)
{
	uint64_t nsize = f->size + (uint64_t)k;
	if (nsize <= PV_BUNDLE_SMALL_MAX && (must_keep || b->kept + (uint64_t)k <= PV_BUNDLE_KEPT_MAX) &&
	    (f->size == 0 || f->data != NULL)) {
		/* The first chunk exactly (most members come in one): room
		 * allocated ahead and given back later leaves holes between
		 * the members kept, which count in the resident set. A longer
		 * member doubles. */
		if (nsize + 1 > *cap) {
			size_t ncap = *cap == 0 || 2 * *cap < nsize + 1 ? (size_t)nsize + 1 : 2 * *cap;
			uint8_t *p = realloc(f->data, ncap);
			if (p == NULL)
				return PV_ERR;
			f->data = p;
			*cap = ncap;
		}
		memcpy(f->data + f->size, chunk, k);
		f->data[nsize] = '\0';
		b->kept += (uint64_t)k;
	} else if (f->data != NULL) {
		b->kept -= f->size;
		free(f->data);
		f->data = NULL;
	}
	f->size = nsize;
	return 0;
}

static int first_pass(struct bundle *b, struct pv_error *err)
{
	struct bundle_source *src = NULL;
	struct bundle_manifest_state *ms = calloc(1, sizeof(*ms));
	uint8_t *chunk = malloc(BUNDLE_IO_CHUNK);
	const char *name;
	uint64_t total = 0;
	int r;

	if (ms == NULL || chunk == NULL) {
		r = pv_fail(err, PV_ERR, "out of memory");
		goto out;
	}
	if ((r = bundle_source_open(b->fd, b->mem, b->size, false, &src, err)) < 0)
		goto out;
	while ((r = bundle_source_next(src, &name, err)) == 1) {
		struct bundle_file *f = NULL;
		struct pv_sha256 st;
		bool is_man = strcmp(name, BUNDLE_MANIFEST) == 0;
		/* The kind and the signed manifest note are always kept, whatever
		 * the budget the members before them used up: the checks need them. */
		bool must_keep = strcmp(name, BUNDLE_KIND_FILE) == 0 ||
				 strcmp(name, BUNDLE_MANIFEST_NOTE) == 0;
		size_t cap = 0;
		if ((r = add_file(b, name, &f, err)) < 0)
			goto out;
		if ((r = pv_sha256_init(&st, err)) < 0)
			goto out;
		for (;;) {
			int64_t k = bundle_source_read(src, chunk, BUNDLE_IO_CHUNK, err);
			if (k < 0) {
				r = (int)k;
				pv_sha256_abort(&st);
				goto out;
			}
			if (k == 0)
				break;
			total += (uint64_t)k;
			if (total > PV_BUNDLE_BYTES_MAX) {
				r = pv_fail(err, PV_ELIMIT, "bundle holds more than %llu bytes",
					    (unsigned long long)PV_BUNDLE_BYTES_MAX);
				pv_sha256_abort(&st);
				goto out;
			}
			pv_sha256_update(&st, chunk, (size_t)k);
			if ((is_man && (r = bundle_manifest_feed(b, ms, chunk, (size_t)k, err)) < 0) ||
			    (keep_chunk(b, f, chunk, (size_t)k, must_keep, &cap) < 0 &&
			     (r = pv_fail(err, PV_ERR, "out of memory")) < 0)) {
				pv_sha256_abort(&st);
				goto out;
			}
		}
		/* What was kept takes no more than its size. */
		if (f->data != NULL && cap > f->size + 1) {
			uint8_t *p = realloc(f->data, f->size + 1);
			if (p != NULL)
				f->data = p;
		}
		if (f->size == 0 && f->data == NULL && (f->data = calloc(1, 1)) == NULL) {
			r = pv_fail(err, PV_ERR, "out of memory");
			goto out;
		}
		pv_sha256_final(&st, f->sha256);
		if (is_man)
			bundle_manifest_end(b, ms);
	}
	if (r == 0)
		r = bundle_source_end(src, err);
	/* A zip reader holds its central directory: gone before the list is
	 * settled and sorted (which need memory of their own). */
	bundle_source_free(&src);
	if (r == 0)
		r = bundle_manifest_settle(b, err);
	if (r < 0)
		goto out;
	free(b->hidx);
	b->hidx = NULL;
	/* The list is what stays: no more room than it takes. */
	if (b->n_files > 0 && b->n_files < b->cap_files) {
		struct bundle_file *p = realloc(b->files, b->n_files * sizeof(*p));
		if (p != NULL) {
			b->files = p;
			b->cap_files = b->n_files;
		}
	}
	if (b->n_files > 1)
		qsort(b->files, b->n_files, sizeof(*b->files), cmp_file);
	for (size_t i = 1; i < b->n_files; i++)
		if (strcmp(b->files[i - 1].name, b->files[i].name) == 0) {
			r = pv_fail(err, PV_EINTEGRITY, "bundle member %s appears twice",
				    b->files[i].name);
			goto out;
		}
	parse_kind(b);
out:
	bundle_source_free(&src);
	free(ms);
	free(chunk);
	return r;
}

static int open_common(struct bundle *b, struct bundle **b_r, struct pv_error *err)
{
	int r = first_pass(b, err);
	if (r < 0) {
		bundle_free(&b);
		return r;
	}
	*b_r = b;
	return 0;
}

int bundle_open_file(const char *path, struct bundle **b_r, struct pv_error *err)
{
	struct bundle *b = calloc(1, sizeof(*b));
	struct stat st;
	*b_r = NULL;
	if (b == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if ((b->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		int e = errno;
		free(b);
		return pv_fail(err, PV_ERR, "%s: %s", path, strerror(e));
	}
	if (fstat(b->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(b->fd);
		free(b);
		return pv_fail(err, PV_ERR, "%s: not a regular file", path);
	}
	b->size = (uint64_t)st.st_size;
	return open_common(b, b_r, err);
}

int bundle_open_memory(const void *data, size_t len, struct bundle **b_r, struct pv_error *err)
{
	struct bundle *b = calloc(1, sizeof(*b));
	*b_r = NULL;
	if (b == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	b->fd = -1;
	b->mem = data;
	b->size = len;
	return open_common(b, b_r, err);
}

void bundle_free(struct bundle **bp)
{
	struct bundle *b = *bp;
	if (b == NULL)
		return;
	if (b->fd >= 0)
		close(b->fd);
	for (size_t i = 0; i < b->n_files; i++)
		free(b->files[i].data);
	pv_strpool_free(&b->names);
	pv_buf_free(&b->man_problems);
	free(b->hidx);
	free(b->listed);
	free(b->unlisted);
	free(b->files);
	free(b->man);
	free(b);
	*bp = NULL;
}

const char *bundle_kind(const struct bundle *b)
{
	return b->has_kind ? b->kind : NULL;
}

size_t bundle_count(const struct bundle *b)
{
	return b->n_files;
}

const struct bundle_file *bundle_file_at(const struct bundle *b, size_t i)
{
	return i < b->n_files ? &b->files[i] : NULL;
}

const struct bundle_file *bundle_find(const struct bundle *b, const char *name)
{
	struct bundle_file key = {.name = (char *)name};
	if (b->n_files == 0)
		return NULL;
	return bsearch(&key, b->files, b->n_files, sizeof(*b->files), cmp_file);
}

