/* Bugs planted for tests/e2e/static.t: both analyzers must report them,
 * or `make lint` could pass without looking. Not part of the program. */
#include <stdlib.h>

int planted_null(int k);
char *planted_leak(int k);

int planted_null(int k)
{
	int *p = NULL;
	if (k > 3)
		p = &k;
	return *p; /* NULL when k <= 3 */
}

char *planted_leak(int k)
{
	char *s = malloc(8);
	if (s == NULL || k != 0)
		return NULL; /* leaks s when k != 0 */
	return s;
}
