#include "archiver/store/catalog_url.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archiver/lib/db.h"
#include "archiver/lib/fsutil.h"
#include "archiver/lib/limits.h"

int catalog_url_check(const char *url, struct pv_error *err)
{
	if (url[0] == '\0' || strlen(url) > PV_URL_MAX || strpbrk(url, "\r\n") != NULL)
		return pv_fail(err, PV_EUSAGE, "the catalog URL must be one line of at most %d bytes",
			       PV_URL_MAX);
	if (!db_url_is_postgres(url))
		return pv_fail(err, PV_EUSAGE, "the catalog URL must be postgresql://..., "
					       "postgres://... or a libpq conninfo (key=value)");
	return db_url_check_no_password(url, err);
}

int catalog_url_read(const char *data_dir, char **url_r, struct pv_error *err)
{
	char path[4096];
	unsigned char *data = NULL;
	size_t len;
	*url_r = NULL;
	snprintf(path, sizeof(path), "%s/" CATALOG_URL_FILE, data_dir);
	struct stat st;
	if (lstat(path, &st) != 0 && errno == ENOENT)
		return PV_OK; /* the catalog is DIR/catalog.db */
	int r = pv_read_file(path, PV_URL_MAX + 2, &data, &len, err);
	if (r < 0)
		return r;
	if (len > 0 && data[len - 1] == '\n')
		data[--len] = '\0';
	if (strlen((char *)data) != len) {
		free(data);
		return pv_fail(err, PV_ERR, "%s: not one line of text", path);
	}
	if ((r = catalog_url_check((char *)data, err)) < 0) {
		free(data);
		return pv_error_prefix(err, "%s", path);
	}
	*url_r = (char *)data;
	return PV_OK;
}

bool catalog_url_present(const char *data_dir)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/" CATALOG_URL_FILE, data_dir);
	return lstat(path, &st) == 0;
}

int catalog_url_write(const char *data_dir, const char *url, struct pv_error *err)
{
	char path[4096], line[PV_URL_MAX + 2];
	int r = catalog_url_check(url, err);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/" CATALOG_URL_FILE, data_dir);
	int n = snprintf(line, sizeof(line), "%s\n", url);
	return pv_write_file(path, line, (size_t)n, 0600, 1, err);
}
