/* Unit tests for the bundle reader (audit/bundle_read.h) against archives
 * built to fool it or the tools a recipient uses beside it (tar, unzip):
 * entries that are not plain files or carry dangerous modes. Each case is
 * named after the fault it guards (issue 16). */
#include <archive.h>
#include <archive_entry.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/bundle_read.h"

/* One entry of an archive a test builds. */
struct ent {
	const char *name;
	unsigned type; /* AE_IFREG, AE_IFDIR, ... */
	unsigned mode; /* permission bits, setuid and the like included */
	const char *data;
};

#define REG(name, data) {name, AE_IFREG, 0644, data}

/* The entries as a .tar.gz (zip = false) or .zip, in memory. */
static uint8_t *build(const struct ent *e, size_t n, bool zip, size_t *len_r)
{
	size_t cap = 1 << 20, used = 0;
	uint8_t *buf = malloc(cap);
	struct archive *a = archive_write_new();
	assert_non_null(buf);
	if (zip) {
		assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	} else {
		assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
		assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	}
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		size_t dl = e[i].data ? strlen(e[i].data) : 0;
		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_filetype(ae, e[i].type);
		archive_entry_set_perm(ae, e[i].mode);
		archive_entry_set_size(ae, (la_int64_t)dl);
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (dl > 0)
			assert_int_equal(archive_write_data(a, e[i].data, dl), (la_ssize_t)dl);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	*len_r = used;
	return buf;
}

/* Opens the archive: 0, or the status with the reason in why. */
static int open_built(const struct ent *e, size_t n, bool zip, char *why, size_t why_len)
{
	struct bundle *b = NULL;
	struct pv_error err;
	size_t len;
	uint8_t *data = build(e, n, zip, &len);
	int r = bundle_open_memory(data, len, &b, &err);
	snprintf(why, why_len, "%s", r < 0 ? err.msg : "");
	bundle_free(&b);
	free(data);
	return r;
}

static void expect_refused(const struct ent *e, size_t n, bool zip, const char *needle)
{
	char why[512];
	int r = open_built(e, n, zip, why, sizeof(why));
	if (r != PV_EINTEGRITY || strstr(why, needle) == NULL)
		fail_msg("expected refusal naming '%s', got %d '%s'", needle, r, why);
}

/* --- entries ---------------------------------------------------------------------------- */

/* `./` with mode 0777 made the extraction directory world-writable when a
 * recipient ran `tar xzf` as root, and verify-bundle said OK. */
static void test_directory_entry_dot_world_writable_is_refused(void **state)
{
	(void)state;
	const struct ent e[] = {{"./", AE_IFDIR, 0777, NULL}, REG("BUNDLE", "x\n")};
	expect_refused(e, 2, false, "'./'");
	expect_refused(e, 2, true, "'./'");
}

static void test_directory_entry_outside_the_extraction_is_refused(void **state)
{
	(void)state;
	const struct ent up[] = {REG("BUNDLE", "x\n"), {"../../../tmp/x/", AE_IFDIR, 0755, NULL}};
	const struct ent abs[] = {REG("BUNDLE", "x\n"), {"/abs/dir/", AE_IFDIR, 0755, NULL}};
	expect_refused(up, 2, false, "is not allowed");
	expect_refused(abs, 2, false, "is not allowed");
	expect_refused(abs, 2, true, "is not allowed");
}

static void test_setuid_or_world_writable_files_are_refused(void **state)
{
	(void)state;
	const struct ent suid[] = {{"BUNDLE", AE_IFREG, 04755, "x\n"}};
	const struct ent ww[] = {REG("BUNDLE", "x\n"), {"VERIFY.md", AE_IFREG, 0666, "y\n"}};
	const struct ent sticky_dir[] = {{"audit/", AE_IFDIR, 01777, NULL}, REG("audit/x", "y\n")};
	expect_refused(suid, 1, false, "mode");
	expect_refused(ww, 2, false, "mode");
	expect_refused(sticky_dir, 2, false, "mode");
}

/* A bundle extracted and packed again by another tool has plain
 * directories: still a bundle. */
static void test_plain_directories_of_a_repacked_bundle_are_accepted(void **state)
{
	(void)state;
	char why[512];
	const struct ent e[] = {{"audit/", AE_IFDIR, 0755, NULL}, REG("BUNDLE", "x\n"),
				{"audit/checkpoint", AE_IFREG, 0600, "c\n"}};
	assert_int_equal(open_built(e, 3, false, why, sizeof(why)), 0);
	assert_int_equal(open_built(e, 3, true, why, sizeof(why)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_directory_entry_dot_world_writable_is_refused),
		cmocka_unit_test(test_directory_entry_outside_the_extraction_is_refused),
		cmocka_unit_test(test_setuid_or_world_writable_files_are_refused),
		cmocka_unit_test(test_plain_directories_of_a_repacked_bundle_are_accepted),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("bundle_reader", tests, NULL, NULL);
}
