/* The search known answers (tests/data/search/known_answers.txt, below
 * $POPVAULT_SRC, else "."), for every test that runs them on a search
 * backend. Include after <cmocka.h>. */
#ifndef PV_TESTS_UNIT_KNOWN_ANSWERS_H
#define PV_TESTS_UNIT_KNOWN_ANSWERS_H

#include <stddef.h>

struct ka_entry {
	const char *section; /* the "[name]" above it */
	char *query;
	char *ids;           /* newest first, space separated; "" for none */
	int line;
};

/* Every entry, in file order; fails the running test when the file is
 * missing or a line is malformed. Free with ka_free. */
struct ka_entry *ka_load(size_t *n_r);
void ka_free(struct ka_entry *v, size_t n);

#endif
