/* popvault: main() — global options, subcommand dispatch, exit codes. */
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/cli/cli.h"

static void usage(FILE *out)
{
	fputs("usage: popvault [--data DIR] [--json] COMMAND [ARGS]\n"
	      "       popvault COMMAND --help\n"
	      "       popvault --version\n\n"
	      "popvault harvests mail from POP3 mailboxes into a sealed, tamper-evident\n"
	      "archive and deletes it upstream only once it is durably stored.\n\n"
	      "Commands:\n",
	      out);
	cli_print_commands(out);
	fputs("\nDIR is --data DIR, else $POPVAULT_DATA, else /var/lib/popvault.\n"
	      "Exit codes: 0 ok, 1 error, 2 usage, 3 integrity failure.\n",
	      out);
}

/* cli:LOGIN. Run as the archive's user through sudo (sudo -u popvault
 * popvault ...), LOGIN is the person who ran sudo: the audit trail tells
 * them apart, and the two-person rule works between them on the command
 * line. (Whoever may run sudo could name anyone, as they could approve
 * with --break-glass: the command line is the appliance owner's.) */
static void set_actor(struct cli_ctx *ctx)
{
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw = getpwuid(getuid());
	size_t n = sudo ? strlen(sudo) : 0;
	if (getuid() != 0 && n > 0 && n <= 64 &&
	    strspn(sudo, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n &&
	    (pw == NULL || strcmp(sudo, pw->pw_name) != 0))
		snprintf(ctx->actor, sizeof(ctx->actor), "cli:%s", sudo);
	else
		snprintf(ctx->actor, sizeof(ctx->actor), "cli:%s", pw ? pw->pw_name : "unknown");
}

int main(int argc, char **argv)
{
	struct cli_ctx ctx = {0};
	struct pv_error err = {0};
	int i = 1;

	umask(077); /* archive data is nobody else's business */
	if (sodium_init() < 0) {
		fputs("popvault: libsodium failed to initialise\n", stderr);
		return 1;
	}
	ctx.data_dir = getenv("POPVAULT_DATA");
	if (ctx.data_dir == NULL || ctx.data_dir[0] == '\0')
		ctx.data_dir = "/var/lib/popvault";
	set_actor(&ctx);

	/* Global options before the command. */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("popvault %s\n", PV_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--json") == 0) {
			ctx.json = true;
		} else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
			ctx.data_dir = argv[++i];
		} else if (strncmp(argv[i], "--data=", 7) == 0) {
			ctx.data_dir = argv[i] + 7;
		} else {
			fprintf(stderr, "popvault: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i == argc) {
		usage(stderr);
		return 2;
	}
	const struct cli_command *cmd = cli_find_command(argv[i]);
	if (cmd == NULL) {
		fprintf(stderr, "popvault: unknown command '%s'\n", argv[i]);
		usage(stderr);
		return 2;
	}
	/* Those that sign do it through a signer (cli_privsep_short). */
	struct signer *sg = NULL;
	int r = cli_privsep_short(&ctx, cmd->name, argc - i, argv + i, &sg, &err);
	if (r == PV_OK)
		r = cmd->run(&ctx, argc - i, argv + i, &err);
	cli_privsep_end(&sg);
	if (r == 1) /* --help was printed */
		return 0;
	if (r < 0) {
		fprintf(stderr, "popvault: %s\n", err.msg[0] ? err.msg : "failed");
		if (r == PV_EUSAGE)
			fprintf(stderr, "usage: %s", cmd->usage);
	}
	fflush(stdout);
	return pv_exit_code(r < 0 ? r : PV_OK);
}
