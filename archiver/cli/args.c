#include "archiver/cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct cli_opt *find_opt(struct cli_args *args, const char *name, size_t len)
{
	for (int i = 0; i < args->n_opts; i++)
		if (strlen(args->opts[i].name) == len && strncmp(args->opts[i].name, name, len) == 0)
			return &args->opts[i];
	return NULL;
}

int cli_parse(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv,
	      struct cli_args *args, struct pv_error *err)
{
	bool only_positional = false;

	args->n_pos = 0;
	args->help = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (only_positional || a[0] != '-' || a[1] == '\0') {
			if (args->n_pos == CLI_POSITIONAL_MAX)
				return pv_fail(err, PV_EUSAGE, "%s: too many arguments", cmd->name);
			args->pos[args->n_pos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_positional = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			args->help = true;
			continue;
		}
		if (a[1] != '-') {
			/* Only long options exist (and -h): "-word" is an argument, so
			 * `search -has:attachment` means what it says. */
			if (args->n_pos == CLI_POSITIONAL_MAX)
				return pv_fail(err, PV_EUSAGE, "%s: too many arguments", cmd->name);
			args->pos[args->n_pos++] = a;
			continue;
		}
		const char *name = a + 2;
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		const char *value = eq ? eq + 1 : NULL;

		if (len == 4 && strncmp(name, "json", 4) == 0 && value == NULL) {
			ctx->json = true;
			continue;
		}
		if (len == 4 && strncmp(name, "data", 4) == 0) {
			if (value == NULL && (value = argv[++i]) == NULL)
				return pv_fail(err, PV_EUSAGE, "%s: --data needs a directory", cmd->name);
			ctx->data_dir = value;
			continue;
		}
		struct cli_opt *o = find_opt(args, name, len);
		if (o == NULL)
			return pv_fail(err, PV_EUSAGE, "%s: unknown option '--%.*s'", cmd->name,
				       (int)len, name);
		if (o->kind == CLI_FLAG) {
			if (value != NULL)
				return pv_fail(err, PV_EUSAGE, "%s: --%s takes no value", cmd->name, o->name);
			o->value = "1";
		} else {
			if (value == NULL && (value = argv[++i]) == NULL)
				return pv_fail(err, PV_EUSAGE, "%s: --%s needs a value", cmd->name, o->name);
			o->value = value;
		}
	}
	if (args->help) {
		fputs(cmd->usage, stdout);
		return 1;
	}
	return PV_OK;
}

const char *cli_opt(const struct cli_args *args, const char *name)
{
	for (int i = 0; i < args->n_opts; i++)
		if (strcmp(args->opts[i].name, name) == 0)
			return args->opts[i].value;
	return NULL;
}

int cli_opt_int(const struct cli_args *args, const char *name, long long def, long long min,
		long long max, long long *out_r, struct pv_error *err)
{
	const char *v = cli_opt(args, name);
	char *end;

	if (v == NULL) {
		*out_r = def;
		return PV_OK;
	}
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min || n > max)
		return pv_fail(err, PV_EUSAGE, "--%s must be an integer from %lld to %lld", name, min, max);
	*out_r = n;
	return PV_OK;
}

bool cli_progress_wanted(const struct cli_ctx *ctx)
{
	return !ctx->json && isatty(STDERR_FILENO);
}
