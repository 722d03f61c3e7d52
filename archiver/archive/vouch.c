#include "archiver/archive/vouch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/limits.h"
#include "archiver/store/users.h"

typedef char actor_name[AUDIT_ACTOR_MAX + 1];

/* The web users who could sign in as some account, found so far. */
struct vouch_set {
	actor_name v[PV_VOUCH_USERS_MAX];
	size_t n;
	unsigned steps; /* rows read */
	bool full;      /* a limit was reached */
};

static void add(struct vouch_set *s, const char *actor)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], actor) == 0)
			return;
	if (s->n == PV_VOUCH_USERS_MAX)
		s->full = true;
	else
		snprintf(s->v[s->n++], sizeof(s->v[0]), "%s", actor);
}

/* Adds to s every web user who set the password of user name before
 * vouch row `before`, back to the last setting at the shell (root gave
 * that password to its user: whoever set it earlier knows it no more),
 * and, for each, whoever could sign in as that setter when they set it
 * (their own setters before that row). Every such setter counts, not only
 * the last: one who reset an account their maker made up (in good faith:
 * "I forgot my password") handed it back to that maker. Settings from
 * before migration 22 have no time but came before every timed one: a
 * step from one looks only at those, and meets a name twice at most. */
static int setters(struct archive *ar, const char *name, int64_t before, bool untimed,
		   struct vouch_set *s, struct pv_error *err)
{
	actor_name actor;
	int64_t id;
	bool timed;
	while (!s->full) {
		if (++s->steps > PV_VOUCH_STEPS_MAX) {
			s->full = true;
			break;
		}
		int r = user_vouch_before(ar->cat->conn, name, before, untimed, &id, &timed, actor,
					  sizeof(actor), err);
		if (r == PV_ENOTFOUND) {
			pv_error_clear(err);
			return PV_OK;
		}
		if (r < 0)
			return r;
		if (strncmp(actor, "web:", 4) != 0)
			return PV_OK; /* the shell's */
		size_t had = s->n;
		add(s, actor);
		/* (an untimed setter already in the set was followed already) */
		if ((timed || s->n > had) &&
		    (r = setters(ar, actor + 4, timed ? id : INT64_MAX, !timed, s, err)) < 0)
			return r;
		before = id;
	}
	return PV_OK;
}

/* actor and whoever could sign in as them (when a web user). */
static int circle(struct archive *ar, const char *actor, struct vouch_set *s,
		  struct pv_error *err)
{
	memset(s, 0, sizeof(*s));
	add(s, actor);
	return strncmp(actor, "web:", 4) == 0 ? setters(ar, actor + 4, INT64_MAX, false, s, err)
					     : PV_OK;
}

int archive_user_independent(struct archive *ar, const char *name, const char *other,
			     bool *independent_r, char via_r[AUDIT_ACTOR_MAX + 1],
			     struct pv_error *err)
{
	struct vouch_set *a = calloc(2, sizeof(*a));
	char me[AUDIT_ACTOR_MAX + 1];
	*independent_r = true;
	via_r[0] = '\0';
	if (a == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	struct vouch_set *p = a + 1;
	snprintf(me, sizeof(me), "web:%s", name);
	int r = circle(ar, me, a, err);
	if (r == PV_OK)
		r = circle(ar, other, p, err);
	/* Whoever set up both (or one the other) can be both: not two people. */
	for (size_t i = 0; r == PV_OK && i < a->n && *independent_r; i++)
		for (size_t j = 0; j < p->n && *independent_r; j++)
			if (strncmp(a->v[i], "web:", 4) == 0 && strcmp(a->v[i], p->v[j]) == 0) {
				*independent_r = false;
				snprintf(via_r, AUDIT_ACTOR_MAX + 1, "%s", a->v[i]);
			}
	if (r == PV_OK && *independent_r && (a->full || p->full)) {
		*independent_r = false;
		snprintf(via_r, AUDIT_ACTOR_MAX + 1, "more users than can be followed (%d)",
			 PV_VOUCH_USERS_MAX);
	}
	free(a);
	return r;
}
