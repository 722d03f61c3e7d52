#include "archiver/lib/cmdline.h"

#include <string.h>

#include "archiver/lib/secret.h"

/* What a shell would have read as syntax, not text. */
static const char shell_syntax[] = "'\"\\$`|;&<>";

int pv_cmdline_split(const char *line, struct pv_cmdline *c, struct pv_error *err)
{
	size_t n = strlen(line);
	memset(c, 0, sizeof(*c));
	if (n > 0 && line[n - 1] == '\n')
		n--;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)line[i];
		if (ch == '\n')
			return pv_fail(err, PV_EUSAGE, "the command is more than one line");
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return pv_fail(err, PV_EUSAGE, "the command holds a control character");
		if (strchr(shell_syntax, ch) != NULL)
			return pv_fail(err, PV_EUSAGE,
				       "the command holds '%c': it is run without a shell, so quotes, "
				       "variables, pipes and redirections mean nothing; put it in a "
				       "script and give the script's path", ch);
	}
	if ((c->buf = pv_secret_dup(line, n)) == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	for (char *p = c->buf; *p;) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (c->argc == PV_CMDLINE_ARGS_MAX) {
			pv_cmdline_free(c);
			return pv_fail(err, PV_EUSAGE, "the command has more than %d words",
				       PV_CMDLINE_ARGS_MAX);
		}
		c->argv[c->argc++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	int r = PV_OK;
	if (c->argc == 0)
		r = pv_fail(err, PV_EUSAGE, "the command is empty");
	else if (c->argv[0][0] != '/')
		r = pv_fail(err, PV_EUSAGE,
			    "the command must start with the program's absolute path ('%.64s' is "
			    "not one)", c->argv[0]);
	if (r < 0) {
		pv_cmdline_free(c);
		return r;
	}
	return PV_OK;
}

void pv_cmdline_free(struct pv_cmdline *c)
{
	pv_secret_free(&c->buf);
	memset(c, 0, sizeof(*c));
}
