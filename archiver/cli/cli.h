#ifndef PV_CLI_H
#define PV_CLI_H

/* The command line (ARCHITECTURE.md §10): main() finds the subcommand in the
 * table in commands.c; each subcommand lives in its own file and returns a
 * pv_status that main() turns into the exit code (0, 1, 2, 3). */

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "archiver/lib/error.h"
#include "audit/cosig.h"
#include "audit/note.h"

struct cli_ctx {
	const char *data_dir; /* --data, else $POPVAULT_DATA, else /var/lib/popvault */
	bool json;            /* --json */
	char actor[128];      /* "cli:<os user>" for the audit log */
};

struct cli_command {
	const char *name;
	const char *summary;
	const char *usage; /* full usage text, printed by COMMAND --help */
	int (*run)(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
};

const struct cli_command *cli_find_command(const char *name);
/* Prints the list of commands (for popvault --help). */
void cli_print_commands(FILE *out);

/* Common option parsing for subcommands. Options that every command accepts
 * (--data DIR, --json, --help) are handled here; the rest are described by
 * `spec`: a NULL-terminated array. argv[0] is the command name. Positional
 * arguments are returned in order. --help prints the command's usage and
 * returns 1 (main() exits 0): callers return any non-zero result as it is.
 * Errors return PV_EUSAGE with err filled. */
enum cli_opt_kind { CLI_FLAG, CLI_VALUE };
struct cli_opt {
	const char *name; /* long name without dashes */
	enum cli_opt_kind kind;
	const char *value; /* out: "1" for a given flag, the value, or NULL */
};
#define CLI_POSITIONAL_MAX 8
struct cli_args {
	struct cli_opt *opts;
	int n_opts;
	const char *pos[CLI_POSITIONAL_MAX];
	int n_pos;
	bool help;
};
int cli_parse(struct cli_ctx *ctx, const struct cli_command *cmd, int argc, char **argv,
	      struct cli_args *args, struct pv_error *err);
/* The value of option `name` (NULL if absent). */
const char *cli_opt(const struct cli_args *args, const char *name);
/* Parses a decimal integer option in [min, max]; PV_EUSAGE when not. */
int cli_opt_int(const struct cli_args *args, const char *name, long long def, long long min,
		long long max, long long *out_r, struct pv_error *err);

/* Whether to draw a progress line (lib/progress.h) for long work: only on
 * a terminal (stderr), never with --json, never into a pipe or a file. */
bool cli_progress_wanted(const struct cli_ctx *ctx);

/* A --listen value: "ADDR:PORT" or "[V6ADDR]:PORT", numeric addresses
 * only (listen.c). */
struct cli_listen {
	struct sockaddr_storage ss;
	char host[INET6_ADDRSTRLEN + 2];
	unsigned port;
	bool loopback;
};
int cli_parse_listen(const char *s, struct cli_listen *a, struct pv_error *err);

/* Repeatable key options (keyopts.c): every --OPT VALUE of argv, each a
 * key or a file of keys one a line, goes through parse (which returns
 * PV_EINTEGRITY for "not a key": then VALUE is read as a file). *count_r:
 * how many options were given. */
typedef int (*cli_key_fn)(void *ctx, const char *key, size_t len, struct pv_error *err);
int cli_key_options(int argc, char **argv, const char *opt, cli_key_fn parse, void *ctx,
		    size_t *count_r, struct pv_error *err);
#define CLI_KEYS_MAX 64
struct cli_keys {
	struct note_verifier note[CLI_KEYS_MAX];   /* cli_note_key: log verifier keys */
	struct cosig_verifier cosig[CLI_KEYS_MAX]; /* cli_cosig_key: witness keys */
	size_t n;
};
int cli_note_key(void *ctx, const char *key, size_t len, struct pv_error *err);
int cli_cosig_key(void *ctx, const char *key, size_t len, struct pv_error *err);
/* Long-running commands, before any thread: starts the signer process
 * (or attaches to the one in $POPVAULT_SIGNER_FD) and drops this
 * process's access to the log keys; every archive opened afterwards signs
 * through it. cli_privsep_end undoes it when the command is done. */
struct signer;
int cli_privsep_begin(struct cli_ctx *ctx, struct signer **sg_r, struct pv_error *err);
void cli_privsep_end(struct signer **sg);
/* The same, keeping this process's access to the keys: for a command
 * that writes them out afterwards (checkpoint --rotate-key
 * --identity-out, as identity export does). */
int cli_privsep_begin_keys(struct cli_ctx *ctx, struct signer **sg_r, struct pv_error *err);
/* Short commands (main.c, before the command runs): those that sign
 * (their audit entries, a bundle's manifest) get a signer of their own,
 * so every signature of the data directory passes the signer's checks
 * (extensions only, one history). All but backup (it copies the keys)
 * also lose access to the keys like the long-running ones (quietly where
 * the kernel allows no namespace). Nothing is started for --help, for a
 * command that keeps its own (init, checkpoint, harvest, serve) or signs
 * nothing of the archive (witness, verify-bundle, restore), for verify
 * (it must run on a copy with the public keys alone, names a missing or
 * swapped key itself, and reads the signer's records), or for a data
 * directory without both seeds in keys/sign (the command then says what
 * is wrong, as before). *sg_r NULL when none was started. */
int cli_privsep_short(struct cli_ctx *ctx, const char *command, int argc, char **argv,
		      struct signer **sg_r, struct pv_error *err);

/* A message ID argument: a positive integer. */
int cli_parse_message_id(const char *s, int64_t *id_r, struct pv_error *err);

/* Subcommands (one file each under archiver/cli/). */
int cli_account(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_harvest(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_show(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_stats(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_checkpoint(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_verify(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_search(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_reindex(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_user(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_init(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_identity(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_policy(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_hold(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_dispose(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_audit(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_verify_bundle(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_export(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_serve(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_backup(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_restore(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_migrate(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
/* DIR/serve.lock: serve holds it shared while it runs; migrate takes it
 * exclusive, so it refuses while serve runs (its parts opened the archive
 * as it was and chose their seccomp sets so). */
#define CLI_SERVE_LOCK "serve.lock"
/* Held alone by a serve that is not --web-only: one scheduler a directory. */
#define CLI_SERVE_SCHEDULER_LOCK "serve-scheduler.lock"
int cli_anchor(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
int cli_witness(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);
/* user_auth.c: user passwd NAME --password-file F | user totp NAME [--remove] |
 * user require-totp [ROLES|none], for cli_user. */
struct archive;
int cli_user_auth(struct cli_ctx *ctx, struct archive *ar, const struct cli_args *args,
		  struct pv_error *err);
/* dispose --dry-run and policy dry-run: the plan of what is due now. */
int cli_dispose_report(struct cli_ctx *ctx, bool dry_run, struct pv_error *err);
int cli_approvals(struct cli_ctx *ctx, int argc, char **argv, struct pv_error *err);

/* Shared printers (dispose.c, policy.c) for approvals.c: a disposal run
 * (plan and result) and a policy version set. nested: as a JSON value
 * inside another object (no newline). */
struct dispose_run;
struct policy_set_result;
void cli_dispose_print_run(const struct cli_ctx *ctx, const struct dispose_run *run, bool dry_run,
			   bool nested);
int cli_policy_print_set(const struct cli_ctx *ctx, const struct policy_set_result *res,
			 bool nested, struct pv_error *err);
/* approvals.c: approve or reject approval ID from argument `id`, with
 * --as-role, --reason, --break-glass from args (policy approve|reject and
 * approvals approve|reject). */
int cli_approval_decide(struct cli_ctx *ctx, const struct cli_args *args, const char *id,
			bool approve, struct pv_error *err);

#endif
