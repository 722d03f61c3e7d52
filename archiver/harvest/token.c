#include "archiver/harvest/token.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "archiver/lib/limits.h"

int harvest_token_run(const char *command, char **token_r, struct pv_error *err)
{
	char *buf = malloc(PV_SECRET_FILE_MAX + 1);
	size_t len = 0;
	if (buf == NULL)
		return pv_fail(err, PV_ERR, "out of memory");
	FILE *p = popen(command, "re");
	if (p == NULL) {
		free(buf);
		return pv_fail(err, PV_ERR, "cannot run the token command");
	}
	len = fread(buf, 1, PV_SECRET_FILE_MAX, p);
	int extra = fgetc(p) != EOF;
	while (fgetc(p) != EOF) /* drain so the command is not killed by SIGPIPE */
		;
	int status = pclose(p);
	buf[len] = '\0';
	char *nl = strpbrk(buf, "\r\n");
	if (nl != NULL)
		*nl = '\0';
	int r = PV_OK;
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		r = pv_fail(err, PV_EAUTH, "the token command failed (status %d)",
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	else if (extra && nl == NULL)
		r = pv_fail(err, PV_ELIMIT, "the token command printed more than %d bytes",
			    PV_SECRET_FILE_MAX);
	else if (buf[0] == '\0')
		r = pv_fail(err, PV_EAUTH, "the token command printed no token");
	if (r < 0) {
		sodium_memzero(buf, PV_SECRET_FILE_MAX + 1);
		free(buf);
		return r;
	}
	*token_r = buf;
	return PV_OK;
}
