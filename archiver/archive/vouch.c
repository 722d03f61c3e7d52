#include "archiver/archive/vouch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/store/users.h"

/* actor, then who set its password last, who set that one's last before
 * then, ... while they are web users (the command line and "system" end
 * it): whoever set a password could sign in as its user from then until
 * the next setting, so each step looks before the one it came from (two
 * accounts that reset each other's passwords do not hide who made them;
 * an account reset since by someone else is no longer its old setter's).
 * At most INDEPENDENCE_DEPTH, *long_r when it went on. */
#define INDEPENDENCE_DEPTH 16
typedef char actor_name[AUDIT_ACTOR_MAX + 1];
static int vouch_chain(struct archive *ar, const char *actor, actor_name *v, size_t *n_r,
		       bool *long_r, struct pv_error *err)
{
	int64_t before = INT64_MAX, id;
	bool untimed = false; /* the last step was recorded before migration 22 */
	size_t n = 0;
	*long_r = false;
	snprintf(v[n++], sizeof(v[0]), "%s", actor);
	while (strncmp(v[n - 1], "web:", 4) == 0) {
		if (n == INDEPENDENCE_DEPTH) {
			*long_r = true;
			break;
		}
		bool timed;
		int r = user_vouch_before(ar->cat->conn, v[n - 1] + 4, before, untimed, &id, &timed,
					  v[n], sizeof(v[0]), err);
		if (r == PV_ENOTFOUND)
			break;
		if (r < 0)
			return r;
		/* A setting recorded before migration 22 has no place in time, but
		 * came before every timed one: the step from it looks at those
		 * recorded then too, and a loop among them ends (its members are
		 * all in the chain). Timed steps only go back. */
		untimed = !timed;
		bool seen = false;
		for (size_t i = 0; untimed && i < n; i++)
			seen = seen || strcmp(v[i], v[n]) == 0;
		if (seen)
			break;
		n++;
		before = timed ? id : INT64_MAX;
	}
	*n_r = n;
	return PV_OK;
}

int archive_user_independent(struct archive *ar, const char *name, const char *other,
			     bool *independent_r, char via_r[AUDIT_ACTOR_MAX + 1],
			     struct pv_error *err)
{
	actor_name *a = calloc(2 * INDEPENDENCE_DEPTH, sizeof(*a));
	size_t na = 0, np = 0;
	bool long_a = false, long_p = false;
	char me[AUDIT_ACTOR_MAX + 1];
	*independent_r = true;
	via_r[0] = '\0';
	if (a == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	actor_name *p = a + INDEPENDENCE_DEPTH;
	snprintf(me, sizeof(me), "web:%s", name);
	int r = vouch_chain(ar, me, a, &na, &long_a, err);
	if (r == PV_OK)
		r = vouch_chain(ar, other, p, &np, &long_p, err);
	/* Whoever set up both (or one the other) can be both: not two people.
	 * A chain too long to follow is not taken as proof of the contrary. */
	for (size_t i = 0; r == PV_OK && i < na && *independent_r; i++)
		for (size_t j = 0; j < np && *independent_r; j++)
			if (strncmp(a[i], "web:", 4) == 0 && strcmp(a[i], p[j]) == 0) {
				*independent_r = false;
				snprintf(via_r, AUDIT_ACTOR_MAX + 1, "%s", a[i]);
			}
	if (r == PV_OK && *independent_r && (long_a || long_p)) {
		*independent_r = false;
		snprintf(via_r, AUDIT_ACTOR_MAX + 1, "a chain of more than %d users",
			 INDEPENDENCE_DEPTH);
	}
	free(a);
	return r;
}
