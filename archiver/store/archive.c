#include "archiver/store/archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int archive_open(const char *data_dir, struct archive **ar_r, struct pv_error *err)
{
	struct archive *ar = calloc(1, sizeof(*ar));
	int r;

	if (ar == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	if (strlen(data_dir) >= sizeof(ar->dir)) {
		free(ar);
		return pv_fail(err, PV_ERR, "data directory path too long");
	}
	snprintf(ar->dir, sizeof(ar->dir), "%s", data_dir);
	if ((r = catalog_open(data_dir, 0, &ar->cat, err)) < 0 ||
	    (r = pv_config_load(data_dir, &ar->cfg, err)) < 0 ||
	    (r = keyring_open(data_dir, &ar->kr, err)) < 0) {
		archive_close(&ar);
		return r;
	}
	*ar_r = ar;
	return PV_OK;
}

void archive_close(struct archive **arp)
{
	struct archive *ar = *arp;
	if (ar == NULL)
		return;
	keyring_free(&ar->kr);
	catalog_close(&ar->cat);
	free(ar);
	*arp = NULL;
}
