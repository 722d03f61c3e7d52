/* Repeatable key options (--vkey, --witness, --log): each value is a key,
 * or a file of keys one a line. The common parser keeps only an option's
 * last value, so these read argv themselves. */
#include <stdlib.h>
#include <string.h>

#include "archiver/cli/cli.h"
#include "archiver/lib/fsutil.h"

/* One value: a key, else a file of keys. */
static int one_value(const char *opt, const char *v, cli_key_fn parse, void *ctx,
		     struct pv_error *err)
{
	unsigned char *data = NULL;
	size_t len;
	struct pv_error perr;
	int r = parse(ctx, v, strlen(v), &perr);
	if (r != PV_EINTEGRITY)
		return r == 0 ? 0 : pv_fail(err, r, "--%s: %s", opt, perr.msg);
	if (pv_read_file(v, 64 * 1024, &data, &len, err) < 0)
		return pv_fail(err, PV_EUSAGE, "--%s %s: not a key (%s), nor a readable file of keys",
			       opt, v, perr.msg);
	const char *p = (const char *)data, *end = p + len;
	r = 0;
	while (p < end && r == 0) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t l = eol ? (size_t)(eol - p) : (size_t)(end - p);
		if (l > 0 && (r = parse(ctx, p, l, &perr)) != 0)
			r = pv_fail(err, PV_EUSAGE, "%s: '%.*s': %s", v, (int)(l > 80 ? 80 : l), p,
				    perr.msg);
		p += l + 1;
	}
	free(data);
	return r;
}

int cli_key_options(int argc, char **argv, const char *opt, cli_key_fn parse, void *ctx,
		    size_t *count_r, struct pv_error *err)
{
	size_t ol = strlen(opt);
	int r;
	*count_r = 0;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *a = argv[i], *v = NULL;
		if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, opt, ol) != 0)
			continue;
		if (a[2 + ol] == '\0' && i + 1 < argc)
			v = argv[++i];
		else if (a[2 + ol] == '=')
			v = a + 3 + ol;
		if (v == NULL)
			continue;
		if ((r = one_value(opt, v, parse, ctx, err)) < 0)
			return r;
		(*count_r)++;
	}
	return 0;
}

int cli_note_key(void *ctx, const char *key, size_t len, struct pv_error *err)
{
	struct cli_keys *k = ctx;
	if (k->n >= CLI_KEYS_MAX)
		return pv_fail(err, PV_EUSAGE, "more than %d keys", CLI_KEYS_MAX);
	int r = note_verifier_parse(key, len, &k->note[k->n], err);
	if (r == 0)
		k->n++;
	return r;
}

int cli_cosig_key(void *ctx, const char *key, size_t len, struct pv_error *err)
{
	struct cli_keys *k = ctx;
	if (k->n >= CLI_KEYS_MAX)
		return pv_fail(err, PV_EUSAGE, "more than %d keys", CLI_KEYS_MAX);
	int r = cosig_verifier_parse(key, len, &k->cosig[k->n], err);
	if (r == 0)
		k->n++;
	return r;
}
