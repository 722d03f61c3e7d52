#ifndef PV_POLICY_INT_H
#define PV_POLICY_INT_H

/* Private to policy/: the parsed form of a policy, shared by the parser,
 * the formatter and the evaluator. Everything a policy owns lives in its
 * arena (one free) except the rules array and the source copy. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

struct parena_chunk;

struct parena {
	struct parena_chunk *head;
};

/* Zeroed memory of n bytes, aligned for any type; NULL on ENOMEM. */
void *parena_alloc(struct parena *a, size_t n);
/* A NUL-terminated copy of n bytes. */
char *parena_strndup(struct parena *a, const char *s, size_t n);
void parena_free(struct parena *a);

enum pfield {
	PF_ACCOUNT,
	PF_FROM,
	PF_TO,
	PF_CC,
	PF_BCC,
	PF_RECIPIENT,   /* to, cc or bcc */
	PF_PARTICIPANT, /* from, to, cc or bcc */
	PF_SUBJECT,
	PF_HEADER,
	PF_SIZE,
};

enum pop { PO_EQ, PO_GLOB, PO_LT, PO_LE, PO_GT, PO_GE };

enum pnode_kind { PN_AND, PN_OR, PN_NOT, PN_CMP, PN_HAS_ATTACHMENT };

struct pnode {
	enum pnode_kind kind;
	struct pnode *kids; /* PN_AND, PN_OR (two or more), PN_NOT (one) */
	struct pnode *next; /* sibling */
	/* PN_CMP */
	enum pfield field;
	bool domain;        /* the ".domain" form of an address field */
	enum pop op;
	const char *header; /* PF_HEADER: the header name */
	const char *value;  /* string fields */
	uint64_t size;      /* PF_SIZE, bytes */
};

struct prule {
	const char *name;
	struct policy_retention ret;
	struct pnode *cond; /* NULL only for the default rule */
	uint32_t line;
};

struct policy {
	struct parena arena;
	unsigned char *source;
	size_t source_len;
	struct prule *rules;
	size_t n_rules;
	size_t cap_rules;
};

/* Field names as written in policies ("from", "from.domain", ...). */
const char *pfield_name(enum pfield f, bool domain);
/* Looks up a field name of n bytes; false when unknown. */
bool pfield_lookup(const char *s, size_t n, enum pfield *f_r, bool *domain_r);
bool pfield_is_address(enum pfield f);
const char *pop_name(enum pop op);

/* Appends the canonical text of a condition (as policy_format writes it
 * after "when"): two conditions with the same text match the same mail. */
int pformat_cond(const struct pnode *n, struct pv_buf *out, struct pv_error *err);

/* Calendar helpers (policy_time.c), proleptic Gregorian, UTC. */
int64_t ptime_days_from_civil(int64_t y, unsigned m, unsigned d);
void ptime_civil_from_days(int64_t z, int64_t *y_r, unsigned *m_r, unsigned *d_r);

#endif
