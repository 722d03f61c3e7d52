/* The parsed policy: its arena, field names, rule accessors. */
#include "policy/policy_int.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct parena_chunk {
	struct parena_chunk *next;
	size_t used;
	size_t cap;
	max_align_t data[];
};

#define PARENA_CHUNK (16 * 1024)

void *parena_alloc(struct parena *a, size_t n)
{
	const size_t align = alignof(max_align_t);
	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + align - 1) / align * align;
	struct parena_chunk *c = a->head;
	if (c == NULL || c->cap - c->used < n) {
		size_t cap = n > PARENA_CHUNK ? n : PARENA_CHUNK;
		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	void *p = (unsigned char *)c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

char *parena_strndup(struct parena *a, const char *s, size_t n)
{
	char *p = parena_alloc(a, n + 1);
	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void parena_free(struct parena *a)
{
	struct parena_chunk *c = a->head;
	while (c != NULL) {
		struct parena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
}

static const struct {
	const char *name;
	enum pfield field;
	bool domain;
} pfields[] = {
	{"account", PF_ACCOUNT, false},
	{"from", PF_FROM, false},
	{"from.domain", PF_FROM, true},
	{"to", PF_TO, false},
	{"to.domain", PF_TO, true},
	{"cc", PF_CC, false},
	{"cc.domain", PF_CC, true},
	{"bcc", PF_BCC, false},
	{"bcc.domain", PF_BCC, true},
	{"recipient", PF_RECIPIENT, false},
	{"recipient.domain", PF_RECIPIENT, true},
	{"participant", PF_PARTICIPANT, false},
	{"participant.domain", PF_PARTICIPANT, true},
	{"subject", PF_SUBJECT, false},
	{"header", PF_HEADER, false},
	{"size", PF_SIZE, false},
};

const char *pfield_name(enum pfield f, bool domain)
{
	for (size_t i = 0; i < sizeof(pfields) / sizeof(pfields[0]); i++)
		if (pfields[i].field == f && pfields[i].domain == domain)
			return pfields[i].name;
	return "?";
}

bool pfield_lookup(const char *s, size_t n, enum pfield *f_r, bool *domain_r)
{
	for (size_t i = 0; i < sizeof(pfields) / sizeof(pfields[0]); i++) {
		if (strlen(pfields[i].name) == n && memcmp(pfields[i].name, s, n) == 0) {
			*f_r = pfields[i].field;
			*domain_r = pfields[i].domain;
			return true;
		}
	}
	return false;
}

bool pfield_is_address(enum pfield f)
{
	return f == PF_FROM || f == PF_TO || f == PF_CC || f == PF_BCC ||
	       f == PF_RECIPIENT || f == PF_PARTICIPANT;
}

const char *pop_name(enum pop op)
{
	switch (op) {
	case PO_EQ:
		return "=";
	case PO_GLOB:
		return "~";
	case PO_LT:
		return "<";
	case PO_LE:
		return "<=";
	case PO_GT:
		return ">";
	case PO_GE:
		return ">=";
	}
	return "?";
}

void policy_free(struct policy **pp)
{
	if (pp == NULL || *pp == NULL)
		return;
	struct policy *p = *pp;
	parena_free(&p->arena);
	free(p->rules);
	free(p->source);
	free(p);
	*pp = NULL;
}

size_t policy_rule_count(const struct policy *p)
{
	return p->n_rules;
}

const char *policy_rule_name(const struct policy *p, size_t i)
{
	return i < p->n_rules ? p->rules[i].name : NULL;
}

void policy_rule_retention(const struct policy *p, size_t i, struct policy_retention *r)
{
	if (i < p->n_rules)
		*r = p->rules[i].ret;
	else
		memset(r, 0, sizeof(*r));
}

long policy_rule_find(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_rules; i++)
		if (strcmp(p->rules[i].name, name) == 0)
			return (long)i;
	return -1;
}

const char *policy_action_name(enum policy_action a)
{
	return a == POLICY_ACTION_REVIEW ? "review" : "dispose";
}

const unsigned char *policy_source(const struct policy *p, size_t *len_r)
{
	*len_r = p->source_len;
	return p->source;
}

const char policy_initial_text[] =
	"# popvault retention policy. The first matching rule wins, top to\n"
	"# bottom; the default rule comes last and catches everything else.\n"
	"# Nothing is disposed until an administrator sets real retention\n"
	"# periods, for example:\n"
	"#   rule \"sec-7y\": retain 7y when from ~ \"*@sec.gov\"\n"
	"#   rule \"finance\": retain 10y when account = \"finance\" and has:attachment\n"
	"#   default: retain 6y\n"
	"# See policy/README.md for the full language.\n"
	"default: retain forever\n";
