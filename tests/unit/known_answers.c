#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/known_answers.h"

/* Sections are few: their names are kept here for the entries to point at. */
static char sections[32][64];

struct ka_entry *ka_load(size_t *n_r)
{
	const char *src = getenv("POPVAULT_SRC");
	char path[4096], line[8192];
	snprintf(path, sizeof(path), "%s/tests/data/search/known_answers.txt", src ? src : ".");
	FILE *f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	struct ka_entry *v = NULL;
	size_t n = 0, nsec = 0;
	const char *section = "";
	for (int no = 1; fgets(line, sizeof(line), f) != NULL; no++) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (line[0] == '[') {
			char *end = strchr(line, ']');
			if (end == NULL || nsec == sizeof(sections) / sizeof(sections[0]))
				fail_msg("%s:%d: bad section", path, no);
			snprintf(sections[nsec], sizeof(sections[0]), "%.*s", (int)(end - line - 1),
				line + 1);
			section = sections[nsec++];
			continue;
		}
		char *tab = strchr(line, '\t');
		if (tab == NULL)
			fail_msg("%s:%d: no tab between the query and its answer", path, no);
		*tab = '\0';
		char *ids = tab + 1, *comment = strchr(ids, '\t');
		if (comment != NULL)
			*comment = '\0';
		v = realloc(v, (n + 1) * sizeof(*v));
		assert_non_null(v);
		v[n] = (struct ka_entry){section, strdup(line), strdup(ids), no};
		n++;
	}
	fclose(f);
	if (n == 0)
		fail_msg("%s: no known answers", path);
	*n_r = n;
	return v;
}

void ka_free(struct ka_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].query);
		free(v[i].ids);
	}
	free(v);
}
