/* eDiscovery verifier: which trust members this kind carries, checked by
 * audit/bundle_trust.h. Both logs' keys rotate along rotations/<log>/<E>,
 * each note also a leaf of the audit log (audit/rotations/<I> and its
 * proof); the checkpoints of earlier exports are anchors of either log;
 * the caller's own checkpoint may be of either. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "archiver/export/ediscovery_int.h"
#include "audit/bundle_trust.h"

/* The index I of audit/rotations/<I>, the same note as f, or UINT64_MAX. */
static uint64_t logged_as(const struct vst *v, const struct bundle_file *f)
{
	for (size_t k = 0; k < bundle_count(v->b); k++) {
		const struct bundle_file *g = bundle_file_at(v->b, k);
		uint64_t i;
		bool proof;
		if (bundle_trust_rotation_name(g->name, "audit", &i, &proof) && !proof &&
		    g->size == f->size && sodium_memcmp(g->sha256, f->sha256, 32) == 0)
			return i;
	}
	return UINT64_MAX;
}

void edv_follow_rotations(struct vst *v, const char *dir)
{
	char prefix[32], name[64];
	snprintf(prefix, sizeof(prefix), "rotations/%s", dir);
	/* Every rotation note is a leaf of the audit log (archive_rotate_key):
	 * the audit key's is a leaf of its own log, the archive key's is not. */
	bool self = strcmp(dir, "audit") == 0;
	for (uint64_t e = 1; e <= UINT32_MAX; e++) {
		snprintf(name, sizeof(name), "%s/%llu", prefix, (unsigned long long)e);
		const struct bundle_file *f = bundle_find(v->b, name);
		if (f == NULL)
			break;
		bundle_keys_follow(v->keys, v->rep, name, f->data, f->size, self, logged_as(v, f));
	}
}

void edv_check_rotations_logged(struct vst *v)
{
	static const char *const dirs[2] = {"archive", "audit"};
	char name[64];
	for (int d = 0; d < 2; d++)
		for (uint64_t e = 1; e <= UINT32_MAX; e++) {
			snprintf(name, sizeof(name), "rotations/%s/%llu", dirs[d], (unsigned long long)e);
			const struct bundle_file *f = bundle_find(v->b, name);
			if (f == NULL)
				break;
			if (logged_as(v, f) == UINT64_MAX)
				bundle_problem(v->rep, "%s is not in the audit log: no audit/rotations/<I> "
						       "holds the same note", name);
		}
	for (size_t k = 0; v->aucp_state >= 0 && k < bundle_count(v->b); k++) {
		uint64_t i;
		bool proof;
		if (bundle_trust_rotation_name(bundle_file_at(v->b, k)->name, "audit", &i, &proof) &&
		    !proof)
			(void)bundle_trust_check_logged(v->b, v->rep, "audit", i, &v->aucp);
	}
}

void edv_check_anchors(struct vst *v, const char *dir, const struct checkpoint *fin, int state)
{
	if (state >= 0) {
		bundle_trust_check_anchors(v->b, v->keys, v->rep, dir, fin, NULL, NULL);
		bundle_external_check(v->b, v->keys, v->rep, dir, fin, v->pol, NULL, NULL);
	}
}

void edv_check_last(struct vst *v, const char *last, size_t len)
{
	static const char *const dirs[2] = {"archive", "audit"};
	const struct checkpoint *fins[2] = {&v->acp, &v->aucp};
	const int states[2] = {v->acp_state, v->aucp_state};
	struct checkpoint cp;
	if (bundle_keys_open_last(v->keys, v->rep, last, len, &cp) < 0)
		return;
	for (int i = 0; i < 2; i++) {
		if (states[i] < 0 || strcmp(cp.origin, fins[i]->origin) != 0)
			continue;
		if (bundle_trust_extends(v->b, v->rep, dirs[i], fins[i], &cp, "--last-checkpoint",
					 NULL, NULL) == BUNDLE_TRUST_SHOWN)
			bundle_info(v->rep, "ok: the %s log extends your last checkpoint (%llu -> "
					    "%llu leaves)", dirs[i], (unsigned long long)cp.size,
				    (unsigned long long)fins[i]->size);
		return;
	}
	bundle_problem(v->rep, "--last-checkpoint is of log %s, neither of this bundle's logs",
		       cp.origin);
}
