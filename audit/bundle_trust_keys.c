/* The keys a bundle verifier trusts, and the rotations that move that
 * trust from one key to the next (bundle_trust.h). */
#include "audit/bundle_trust.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/limits.h"
#include "audit/keys.h"

struct trusted {
	struct note_verifier v;
	uint64_t from, to; /* tree sizes of its log */
};

struct bundle_keys {
	struct trusted *key;
	size_t n, cap;
	struct note_verifier *at; /* bundle_keys_at's answer */
};

int bundle_keys_new(const struct note_verifier *given, size_t n, struct bundle_keys **k_r,
		    struct pv_error *err)
{
	struct bundle_keys *k = calloc(1, sizeof(*k));
	*k_r = NULL;
	if (k == NULL || n > SIZE_MAX / 2 - PV_BUNDLE_ROTATIONS_MAX)
		goto oom;
	k->cap = n + PV_BUNDLE_ROTATIONS_MAX;
	if ((k->key = calloc(k->cap, sizeof(*k->key))) == NULL ||
	    (k->at = calloc(k->cap, sizeof(*k->at))) == NULL)
		goto oom;
	for (size_t i = 0; i < n; i++)
		k->key[k->n++] = (struct trusted){given[i], 0, UINT64_MAX};
	*k_r = k;
	return 0;
oom:
	bundle_keys_free(&k);
	return pv_fail(err, PV_ERR, "out of memory");
}

void bundle_keys_free(struct bundle_keys **kp)
{
	struct bundle_keys *k = *kp;
	if (k == NULL)
		return;
	free(k->key);
	free(k->at);
	free(k);
	*kp = NULL;
}

const struct note_verifier *bundle_keys_at(struct bundle_keys *k, uint64_t size, size_t *n_r)
{
	size_t n = 0;
	for (size_t i = 0; i < k->n; i++)
		if (size >= k->key[i].from && size <= k->key[i].to)
			k->at[n++] = k->key[i].v;
	*n_r = n;
	return k->at;
}

int bundle_keys_open_checkpoint(struct bundle_keys *k, const uint8_t *note, size_t len,
				struct checkpoint *cp_r, struct pv_error *err)
{
	struct checkpoint ok;
	size_t text_len, nsigs, nkeys;
	/* The size first (unverified), to pick the keys of its epoch. */
	if (note_split((const char *)note, len, &text_len, &nsigs, err) != 0 ||
	    checkpoint_parse((const char *)note, text_len, cp_r, err) != 0)
		return -1;
	const struct note_verifier *keys = bundle_keys_at(k, cp_r->size, &nkeys);
	if (checkpoint_open((const char *)note, len, keys, nkeys, &ok, err) != 0)
		return 0;
	*cp_r = ok;
	return 1;
}

int bundle_keys_open_last(struct bundle_keys *k, struct bundle_report *rep, const char *note,
			  size_t len, struct checkpoint *cp_r)
{
	struct pv_error e;
	int r = bundle_keys_open_checkpoint(k, (const uint8_t *)note, len, cp_r, &e);
	if (r == 1)
		return 0;
	if (r < 0)
		bundle_problem(rep, "--last-checkpoint is not a checkpoint (%s)", e.msg);
	else
		bundle_problem(rep, "--last-checkpoint is not a checkpoint signed by a trusted key "
				    "(%s)", e.msg);
	return -1;
}

static bool same_key(const struct note_verifier *a, const struct note_verifier *b)
{
	return a->id == b->id && strcmp(a->name, b->name) == 0 &&
	       sodium_memcmp(a->pk, b->pk, sizeof(a->pk)) == 0;
}

/* The note's body and keys, both named after the log it rotates. */
static int parse_rotation(const uint8_t *note, size_t len, struct keys_rotation *rot,
			  struct note_verifier *oldk, struct note_verifier *newk,
			  struct pv_error *err)
{
	size_t text_len, nsigs;
	if (note_split((const char *)note, len, &text_len, &nsigs, err) != 0 ||
	    keys_rotation_parse((const char *)note, text_len, rot, err) != 0 ||
	    note_verifier_parse(rot->old_vkey, strlen(rot->old_vkey), oldk, err) != 0 ||
	    note_verifier_parse(rot->new_vkey, strlen(rot->new_vkey), newk, err) != 0)
		return PV_EINTEGRITY;
	if (strcmp(oldk->name, rot->origin) != 0 || strcmp(newk->name, rot->origin) != 0)
		return pv_fail(err, PV_EINTEGRITY, "its keys are not those of log %s", rot->origin);
	return 0;
}

void bundle_keys_follow(struct bundle_keys *k, struct bundle_report *rep, const char *name,
			const uint8_t *note, size_t len, bool self, uint64_t leaf)
{
	struct keys_rotation rot;
	struct note_verifier oldk, newk;
	struct pv_error e;
	size_t text_len;
	if (note == NULL) {
		bundle_problem(rep, "%s is too big to be a key-rotation note", name);
		return;
	}
	if (parse_rotation(note, len, &rot, &oldk, &newk, &e) != 0) {
		bundle_problem(rep, "%s is not a key-rotation note (%s)", name, e.msg);
		return;
	}
	if (self && leaf != UINT64_MAX && rot.size != leaf) {
		bundle_problem(rep, "%s: the note is for tree size %llu, not its place", name,
			       (unsigned long long)rot.size);
		return;
	}
	/* Logged in its own log, the note is one more leaf before the old
	 * key's closing checkpoint (keys_rotate). */
	uint64_t closing = rot.size + (self ? 1 : 0);
	struct trusted *old = NULL;
	bool new_given = false;
	for (size_t i = 0; i < k->n; i++) {
		if (same_key(&k->key[i].v, &oldk) && rot.size >= k->key[i].from &&
		    rot.size <= k->key[i].to)
			old = &k->key[i];
		new_given |= same_key(&k->key[i].v, &newk);
	}
	if (old == NULL && new_given) {
		bundle_info(rep, "%s: the key of %s was rotated at size %llu to a key you gave; the "
				 "previous key was not given, so its signature is not checked",
			    name, rot.origin, (unsigned long long)rot.size);
		return;
	}
	if (old == NULL) {
		bundle_warn(rep, "%s is not signed by a key you gave: the key it introduces is not "
				 "trusted from it", name);
		return;
	}
	if (note_open((const char *)note, len, &old->v, 1, &text_len, NULL, &e) != 0) {
		bundle_problem(rep, "%s is not signed by the key it retires (%s)", name, e.msg);
		return;
	}
	if (old->to > closing)
		old->to = closing;
	if (!new_given) {
		if (k->n == k->cap) {
			bundle_problem(rep, "%s: more than %d key rotations", name,
				       PV_BUNDLE_ROTATIONS_MAX);
			return;
		}
		k->key[k->n++] = (struct trusted){newk, closing, UINT64_MAX};
	}
	bundle_info(rep, "ok: %s: %s is the next key of %s from size %llu, signed by the one before",
		    name, rot.new_vkey, rot.origin, (unsigned long long)closing);
}
