/* The table of subcommands and their usage texts (ARCHITECTURE.md §10). */
#include <string.h>

#include "archiver/cli/cli.h"

static const struct cli_command commands[] = {
	{"init", "create the data directory: keys, database, default policy",
	 "popvault init [--data DIR] [--origin NAME]\n", cli_init},
	{"account", "add, change, list or remove upstream POP3 accounts",
	 "popvault account add NAME --host H [--port P] [--tls implicit|starttls|none]\n"
	 "         --user U (--password-file F | --token-command-file F)\n"
	 "         [--auth auto|user|apop|plain|login|cram-md5|scram-sha-256|xoauth2|\n"
	 "         oauthbearer] [--ca-file F] [--insecure-skip-verify] [--keep-upstream]\n"
	 "       popvault account change NAME [--host H] [--port P] [--tls T] [--user U]\n"
	 "         [--auth A] [--ca-file F] [--password-file F | --token-command-file F]\n"
	 "       popvault account list|remove NAME\n"
	 "       popvault account test NAME\n"
	 "  Secrets come from files, sealed at once and never shown again.\n"
	 "  --token-command-file: OAuth (--auth xoauth2 or oauthbearer); the file holds\n"
	 "  one line, the absolute path of a program that prints a fresh token and\n"
	 "  its arguments, separated by spaces. It is run without a shell: no quotes,\n"
	 "  escapes, variables, pipes or redirections (a line with ' \" \\ $ ` | ; & < >\n"
	 "  is refused: put such a command in a script).\n"
	 "  change: changing --host, --port, --tls or --ca-file needs the password or\n"
	 "  token command again, so a stored secret never goes to a new server.\n"
	 "  test: connect, TLS, CAPA, log in, STAT, QUIT (no RETR, no DELE).\n",
	 cli_account},
	{"harvest", "pull mail from upstream, seal it, then delete it upstream",
	 "popvault harvest [--account NAME] [--once] [--interval SECONDS] [--json]\n"
	 "  Without --once, harvests every --interval seconds (default 300) until\n"
	 "  SIGTERM, backing off an account after temporary failures; up to\n"
	 "  [harvest] parallel accounts at once, never two sessions on one mailbox.\n",
	 cli_harvest},
	{"stats", "counts, bytes, log sizes, last runs", "popvault stats [--json]\n", cli_stats},
	{"search", "search the archive",
	 "popvault search QUERY [--limit N] [--offset N] [--json]\n"
	 "  QUERY: words, \"phrases\", from: to: cc: bcc: participant: subject: body:\n"
	 "  has:attachment filename: before: after: on: (YYYY-MM-DD) larger: smaller:\n"
	 "  account: message-id:, AND OR NOT - and parentheses. Newest first;\n"
	 "  --limit (default 50, at most 10000) and --offset page through all matches.\n",
	 cli_search},
	{"reindex", "rebuild the search index from the archive", "popvault reindex\n", cli_reindex},
	{"show", "show an archived message",
	 "popvault show ID [--raw]\n  --raw: exactly the bytes the server sent, nothing else\n", cli_show},
	{"export", "export an eDiscovery bundle",
	 "popvault export QUERY --out FILE [--matter NAME] [--bates-prefix P]\n"
	 "         [--bates-start N] [--json]\n"
	 "  Writes every message matching QUERY (see search) to FILE (.zip, .tar.gz\n"
	 "  or .tgz), signed: the .eml files named by Bates number, one mbox, a\n"
	 "  Concordance DAT and a CSV load file, per message a proof against the\n"
	 "  archive log, and the audit record of this export. A matter keeps its\n"
	 "  Bates prefix (default PV) and numbers across exports; --bates-start\n"
	 "  (default 1) applies to a matter's first export. Check the bundle with\n"
	 "  popvault verify-bundle FILE --vkey ARCHIVE-VKEY --vkey AUDIT-VKEY.\n",
	 cli_export},
	{"verify", "verify the archive and audit logs, blobs and catalog",
	 "popvault verify [--full] [--checkpoint FILE] [--json]\n"
	 "  Recomputes both logs, checks every signature, catalog row and blob hash;\n"
	 "  --full also decrypts every message and checks it against its commitment;\n"
	 "  --checkpoint: a checkpoint saved earlier (off this machine) that the logs\n"
	 "  must still be consistent with. Exit 3 when anything fails.\n",
	 cli_verify},
	{"verify-bundle", "verify an exported bundle offline",
	 "popvault verify-bundle FILE --vkey VKEY [--vkey VKEY] [--last-checkpoint F] [--json]\n"
	 "  Needs no data directory. Trusts only the --vkey keys (a key, or a file of\n"
	 "  keys one per line), never keys inside the bundle; --last-checkpoint: the\n"
	 "  audit/checkpoint of the last bundle you accepted, which this one must\n"
	 "  extend. Names every problem found; exit 3 when there is any.\n",
	 cli_verify_bundle},
	{"checkpoint", "print the latest signed checkpoint or the verifier key",
	 "popvault checkpoint [--log archive|audit] [--vkey] [--heartbeat] [--rotate-key]\n"
	 "  Prints the latest signed checkpoint (C2SP signed note) of the log;\n"
	 "  --vkey: its verifier key instead; --heartbeat: sign a fresh one first\n"
	 "  (run every 15 minutes by the daemon, or from cron; it is also an audit\n"
	 "  entry); --rotate-key: a new signing key for the log, announced by a note\n"
	 "  the old key signs (logged), after which the old key is destroyed.\n",
	 cli_checkpoint},
	{"audit", "list or export the audit log",
	 "popvault audit list [--since T] [--until T] [--actor A] [--type TYPE]\n"
	 "                    [--object 'KEY=VALUE ...'] [--json]\n"
	 "       popvault audit export --out FILE [--since T] [--until T] [--no-personal]\n"
	 "  T: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC). export writes a signed bundle\n"
	 "  (.tar.gz or .zip) that popvault verify-bundle checks offline; the export\n"
	 "  is itself an audit entry, covered by the bundle's final checkpoint.\n"
	 "  --no-personal leaves out the personal data (queries, file names); the\n"
	 "  entries keep their commitments to it. --object: entries whose object\n"
	 "  holds each KEY=VALUE word (message=42: what was done with message 42).\n",
	 cli_audit},
	{"policy", "show, check, set, propose or dry-run the retention policy",
	 "popvault policy show [--version N] [--json]\n"
	 "       popvault policy check FILE\n"
	 "       popvault policy set FILE\n"
	 "       popvault policy propose FILE [--reason T] [--as-role ROLE]\n"
	 "       popvault policy approve ID --as-role ROLE [--reason T] [--break-glass]\n"
	 "       popvault policy reject ID --reason T [--as-role ROLE]\n"
	 "       popvault policy list [--json]\n"
	 "       popvault policy dry-run [--json]\n"
	 "  check: errors with line and column; set: stores FILE as a new version\n"
	 "  (old versions are never edited), re-evaluates every message and prints\n"
	 "  the impact per rule; show: the exact text of a version (default: the one\n"
	 "  in force); dry-run: what dispose would do now, and why.\n"
	 "  Two-person rule: set refuses a version that shortens any retention.\n"
	 "  propose shows what FILE would change and, if it shortens retention,\n"
	 "  stores it as approval ID (role admin unless --as-role says otherwise)\n"
	 "  until another user with another role approves it (policy approve ID =\n"
	 "  approvals approve ID; see popvault approvals --help). The language:\n"
	 "  policy/README.md.\n",
	 cli_policy},
	{"hold", "place, list or release legal holds",
	 "popvault hold add NAME --query Q [--note TEXT]\n"
	 "       popvault hold list [--all] [--json]\n"
	 "       popvault hold release NAME [--reason T] [--as-role ROLE]\n"
	 "  A hold covers every message matching the search query Q now and every\n"
	 "  later one that matches; a held message is never disposed of. release\n"
	 "  only proposes it (role legal unless --as-role says otherwise): the hold\n"
	 "  stays in force until another user with another role approves it\n"
	 "  (popvault approvals approve ID).\n",
	 cli_hold},
	{"dispose", "propose disposing of expired messages by policy",
	 "popvault dispose [--reason T] [--as-role ROLE] [--json]\n"
	 "       popvault dispose --dry-run [--json]\n"
	 "  Plans the disposal of messages whose retention has expired under the\n"
	 "  policy (unless a hold covers them or their rule says 'then review') and\n"
	 "  proposes it as approval ID (role admin unless --as-role says otherwise):\n"
	 "  nothing is destroyed until another user with another role approves it\n"
	 "  (popvault approvals approve ID); then the keys and blobs of the planned\n"
	 "  messages that are still due and not held are destroyed, each leaving a\n"
	 "  tombstone in the archive log. --dry-run lists what is due and why, and\n"
	 "  changes nothing.\n",
	 cli_dispose},
	{"approvals", "the two-person rule: list, approve or reject proposals",
	 "popvault approvals list [--all] [--json]       (without a command: list)\n"
	 "       popvault approvals show ID [--json]\n"
	 "       popvault approvals approve ID --as-role ROLE [--reason T]\n"
	 "       popvault approvals approve ID --break-glass --reason T [--as-role ROLE]\n"
	 "       popvault approvals reject ID --reason T [--as-role ROLE]\n"
	 "  A policy version that shortens retention (policy propose), a hold\n"
	 "  release (hold release) and a disposal run (dispose) take effect only\n"
	 "  once another user, with another role than the proposer's, approves:\n"
	 "    policy        proposed by admin              approved by compliance\n"
	 "    hold-release  proposed by legal              approved by legal or compliance\n"
	 "    dispose       proposed by admin, compliance  approved by compliance or legal\n"
	 "  On the command line the user is cli:USER (the login name) and states\n"
	 "  the role it acts in with --as-role (recorded, not checked: whoever can\n"
	 "  open the data directory holds its keys). list: the pending ones (--all: every\n"
	 "  one, newest first); show: one, with what it proposes. Every proposal,\n"
	 "  approval and rejection is audited with who, the role and the reason.\n"
	 "  --break-glass: for an appliance with a single operator, approves without\n"
	 "  a second person or role; needs --reason, is recorded as a 'break-glass'\n"
	 "  audit entry and printed as a warning. Use it only when no second person\n"
	 "  exists.\n",
	 cli_approvals},
	{"user", "add, change, list or remove web users",
	 "popvault user add NAME --role admin|legal|compliance --password-file F [--replace]\n"
	 "       popvault user passwd NAME --password-file F\n"
	 "       popvault user totp NAME [--remove]\n"
	 "       popvault user require-totp [ROLE,ROLE...|none]\n"
	 "       popvault user list|remove NAME\n"
	 "  Passwords (at least 12 characters) are kept only as Argon2id hashes;\n"
	 "  --replace changes an existing user's role and password; a new role or\n"
	 "  password ends the user's web sessions. totp enrols a second factor (RFC\n"
	 "  6238: prints the otpauth:// URI and the secret for an authenticator app);\n"
	 "  require-totp names the roles that must use one (without ROLES: shows\n"
	 "  them). All audited.\n",
	 cli_user},
	{"backup", "copy the archive while it runs, with a manifest",
	 "popvault backup --out DIR [--with-keys --passphrase-file F] [--json]\n"
	 "  A consistent copy while harvests and serve go on: the catalog (SQLite\n"
	 "  online backup), its blobs (hard-linked on the same file system, else\n"
	 "  copied), the config, the latest signed checkpoint of each log\n"
	 "  (DIR/checkpoint-archive, DIR/checkpoint-audit: what the copy covers) and\n"
	 "  DIR/MANIFEST with the SHA-256 of every file. DIR must not exist or be\n"
	 "  empty. Keys stay out unless --with-keys: then DIR/keys.enc holds them,\n"
	 "  encrypted to the passphrase in F (Argon2id; at least 12 characters).\n"
	 "  A copy without keys cannot be read alone; a copy with keys keeps what\n"
	 "  later disposals destroy here. Audited (backup, backup-done).\n",
	 cli_backup},
	{"restore", "restore a backup into a new data directory, verified",
	 "popvault restore BACKUP --data NEWDIR [--passphrase-file F | --keys DIR]\n"
	 "         [--checkpoint F] [--json]\n"
	 "  Checks every file of BACKUP against its MANIFEST, decrypts its keys with\n"
	 "  the passphrase in F (or, for a backup without keys, takes them from DIR,\n"
	 "  the keys/ of the archive it came from), then runs verify --full with the\n"
	 "  backup's checkpoints and --checkpoint F (one kept off this machine): a\n"
	 "  copy older than F, or that does not verify, is refused and nothing is\n"
	 "  left. NEWDIR must not exist or be empty; it is made only when all\n"
	 "  checks pass, with a restore audit entry. Exit 3 when the copy fails them.\n",
	 cli_restore},
	{"serve", "run the web UI and JSON API (HTTPS)",
	 "popvault serve [--listen ADDR:PORT] [--tls-cert F --tls-key F] [--plain-http]\n"
	 "               [--web-root DIR] [--config F] [--metrics-token-file F]\n"
	 "  Serves web-static/ and the JSON API (docs/api.md) until SIGINT/SIGTERM.\n"
	 "  --listen: a numeric address and port (default: [serve] listen in the\n"
	 "  config, 127.0.0.1:8443; port 0 takes a free one, printed on start).\n"
	 "  HTTPS with --tls-cert/--tls-key, else a self-signed certificate made on\n"
	 "  first start in DIR/tls/. --plain-http: no TLS, loopback addresses only.\n"
	 "  --web-root: default web-static/ beside the binary's directory, else\n"
	 "  /usr/share/popvault/web-static. --config: read this file, not\n"
	 "  DIR/popvault.conf. --metrics-token-file: the SHA-256 (hex) of a token\n"
	 "  that GET /metrics takes as \"Authorization: Bearer TOKEN\".\n",
	 cli_serve},
};

const struct cli_command *cli_find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

void cli_print_commands(FILE *out)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
}
