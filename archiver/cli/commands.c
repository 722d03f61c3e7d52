/* The table of subcommands and their usage texts (ARCHITECTURE.md §10). */
#include <string.h>

#include "archiver/cli/cli.h"

static const struct cli_command commands[] = {
	{"init", "create the data directory: keys, database, default policy",
	 "popvault init [--data DIR] [--origin NAME]\n"
	 "         [--store 's3://BUCKET?endpoint=URL&region=R' --store-key-file F]\n"
	 "         [--catalog postgresql://USER@HOST:PORT/DB]\n"
	 "  --catalog: the catalog in that PostgreSQL database (recorded in DIR/catalog.url)\n"
	 "  instead of DIR/catalog.db; no password in the URL: libpq reads it from\n"
	 "  PGPASSFILE or ~/.pgpass.\n"
	 "       popvault init [--data DIR] --catalog URL --join FILE --passphrase-file F\n"
	 "  --join: another harvester of the archive whose catalog is at URL, from the\n"
	 "  identity FILE that 'popvault identity export' wrote there (sealed to the\n"
	 "  passphrase in F); refused unless its keys are that catalog's. Audited.\n", cli_init},
	{"identity", "export this archive's identity, or install one after a key rotation",
	 "popvault identity export --out FILE --passphrase-file F\n"
	 "  The secrets key and both logs' signing keys, with the origin, encrypted to\n"
	 "  the passphrase in F (Argon2id; at least 12 characters), for\n"
	 "  'popvault init --catalog URL --join FILE' on another machine. Only for a\n"
	 "  catalog on PostgreSQL. Audited before the file is written.\n"
	 "       popvault identity update FILE --passphrase-file F\n"
	 "  On every other harvester after 'checkpoint --rotate-key --identity-out FILE'\n"
	 "  on one: installs the new log keys from FILE, refused unless it is this\n"
	 "  archive's identity and its keys are the catalog's current ones (an older\n"
	 "  file is refused). Audited. Until then this machine signs nothing.\n",
	 cli_identity},
	{"account", "add, change, list or remove upstream POP3 accounts",
	 "popvault account add NAME --host H [--port P] [--tls implicit|starttls|none]\n"
	 "         --user U (--password-file F | --token-command-file F)\n"
	 "         [--auth auto|user|apop|plain|login|cram-md5|scram-sha-256|xoauth2|\n"
	 "         oauthbearer] [--ca-file F] [--insecure-skip-verify] [--keep-upstream]\n"
	 "         [--interval DURATION]\n"
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
	 "  --insecure-skip-verify needs an explicit --auth: with the certificate\n"
	 "  unchecked, auto never sends the password (PLAIN, LOGIN, USER).\n"
	 "  test: connect, TLS, CAPA, log in, STAT, QUIT (no RETR, no DELE).\n"
	 "  --interval: serve harvests this account this often (30s, 15m, 1h; 1s to\n"
	 "  1d), not every [harvest] interval of its config.\n",
	 cli_account},
	{"harvest", "pull mail from upstream, seal it, then delete it upstream",
	 "popvault harvest [--account NAME] [--once] [--interval SECONDS] [--wait] [--json]\n"
	 "  Without --once, harvests every --interval seconds (default 300; an\n"
	 "  account added with its own --interval keeps that) until\n"
	 "  SIGTERM, backing off an account after temporary failures; up to\n"
	 "  [harvest] parallel accounts at once, never two sessions on one mailbox.\n"
	 "  One harvest per data directory at a time: --wait waits (up to 10 min)\n"
	 "  for another one, e.g. serve's, to end instead of failing at once.\n",
	 cli_harvest},
	{"stats", "counts, bytes, log sizes, last runs", "popvault stats [--json]\n", cli_stats},
	{"search", "search the archive",
	 "popvault search QUERY [--limit N] [--offset N] [--exact-total] [--json]\n"
	 "  QUERY: words, \"phrases\", from: to: cc: bcc: participant: subject: body:\n"
	 "  has:attachment filename: before: after: on: (YYYY-MM-DD) larger: smaller:\n"
	 "  account: message-id:, AND OR NOT - and parentheses. Newest first;\n"
	 "  --limit (default 50, at most 10000) and --offset page through all matches.\n"
	 "  The total is counted up to 10,000 (\"more than 10,000\"; JSON:\n"
	 "  \"total_exact\": false); --exact-total counts every match.\n",
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
	 "popvault verify [--full | --sample N] [--checkpoint FILE] [--tsa-ca FILE]\n"
	 "                [--tsa-crl FILE] [--witness VKEY]... [--witness-quorum K] [--json]\n"
	 "  Recomputes both logs, checks every signature, catalog row and blob hash;\n"
	 "  --full also decrypts every message and checks it against its commitment;\n"
	 "  --sample N: the blobs of about N random messages only, each decrypted and\n"
	 "  checked (what serve runs every hour);\n"
	 "  --checkpoint: a checkpoint saved earlier (off this machine) that the logs\n"
	 "  must still be consistent with. So must every checkpoint an RFC 3161 TSA\n"
	 "  stamped (popvault anchor): each token is checked, its TSA's chain against\n"
	 "  --tsa-ca (default [anchor] tsa_ca_file), and the newest is reported with\n"
	 "  its age; --tsa-crl (default [anchor] tsa_crl_file): the CRLs of the TSA's\n"
	 "  CA (PEM or DER): a TSA certificate revoked for keyCompromise or with no\n"
	 "  reason voids all its tokens, one superseded or retired those made after\n"
	 "  its revocation (RFC 3161 section 4). So must every checkpoint a witness\n"
	 "  cosigned, under the witness keys of [witnesses] (or --witness, a key or a\n"
	 "  file of keys); with a quorum ([witnesses] quorum, --witness-quorum K;\n"
	 "  every --witness given when only they are), each log needs a checkpoint\n"
	 "  cosigned by K of them.\n"
	 "  Exit 3 when anything fails.\n",
	 cli_verify},
	{"verify-bundle", "verify an exported bundle offline",
	 "popvault verify-bundle FILE --vkey VKEY [--vkey VKEY] [--last-checkpoint F]\n"
	 "                       [--tsa-ca FILE [--tsa-crl FILE]] [--witness VKEY]...\n"
	 "                       [--witness-quorum K] [--json]\n"
	 "  Needs no data directory. Trusts only the --vkey keys (a key, or a file of\n"
	 "  keys one per line), never keys inside the bundle; --last-checkpoint: the\n"
	 "  audit/checkpoint of the last bundle you accepted, which this one must\n"
	 "  extend; --tsa-ca: the CA certificate of the Time-Stamp Authority: every\n"
	 "  RFC 3161 time-stamp the bundle carries must verify under it, at least one\n"
	 "  per log, and the bundle's log must extend each stamped checkpoint;\n"
	 "  --tsa-crl: the CRLs of that CA: a revoked TSA's tokens fail as verify says;\n"
	 "  --witness: a witness's key (a key or a file of keys): the bundle must\n"
	 "  carry, for each log, a checkpoint its log extends that K of them cosigned\n"
	 "  (--witness-quorum K, default all of them).\n"
	 "  Names every problem found; exit 3 when there is any.\n",
	 cli_verify_bundle},
	{"checkpoint", "print the latest signed checkpoint or the verifier key",
	 "popvault checkpoint [--log archive|audit] [--vkey] [--heartbeat] [--witnessed]\n"
	 "                    [--rotate-key [--identity-out FILE --passphrase-file F]]\n"
	 "  Prints the latest signed checkpoint (C2SP signed note) of the log, with\n"
	 "  the cosignatures witnesses gave it (popvault anchor); --witnessed: the\n"
	 "  newest checkpoint witnesses cosigned instead;\n"
	 "  --vkey: its verifier key instead; --heartbeat: sign a fresh one first\n"
	 "  (run every 15 minutes by the daemon, or from cron; it is also an audit\n"
	 "  entry); --rotate-key: a new signing key for the log, announced by a note\n"
	 "  the old key signs (logged), after which the old key is destroyed.\n"
	 "  --identity-out FILE --passphrase-file F: with --rotate-key, on an archive\n"
	 "  whose identity other harvesters share (identity export): writes the new\n"
	 "  identity to FILE as identity export does (audited first), for\n"
	 "  'popvault identity update FILE' on each of them; required there.\n",
	 cli_checkpoint},
	{"anchor", "have the logs' checkpoints time-stamped and witnessed outside",
	 "popvault anchor [--log archive|audit] [--tsa URL --tsa-ca FILE] [--no-tsa]\n"
	 "                [--no-witnesses] [--json]\n"
	 "  Shows the latest signed checkpoint of each log (or of --log) to parties\n"
	 "  the archive's owner does not control: an RFC 3161 Time-Stamp Authority\n"
	 "  ([anchor] tsa_url, tsa_ca_file in popvault.conf, or --tsa/--tsa-ca)\n"
	 "  stamps its SHA-256; the token is checked (status, nonce, imprint, policy,\n"
	 "  the TSA's certificate chain) and kept beside the checkpoint. Every\n"
	 "  attempt is an 'anchor' audit entry; one that fails changes nothing else.\n"
	 "  verify then checks every token and that the log still extends each\n"
	 "  stamped checkpoint. Exit 1 when a party failed.\n",
	 cli_anchor},
	{"witness", "run a C2SP tlog-witness for other logs",
	 "popvault witness init --name NAME [--data WDIR | --key F --state F]\n"
	 "       popvault witness vkey [--data WDIR | --key F]\n"
	 "       popvault witness serve --listen ADDR:PORT --log VKEY [--log VKEY]...\n"
	 "               [--data WDIR | --key F --state F] [--tls-cert F --tls-key F]\n"
	 "  A witness cosigns other logs' checkpoints (C2SP tlog-witness and\n"
	 "  tlog-cosignature): run it on a machine the archive's owner does not\n"
	 "  control. init makes its Ed25519 key (WDIR/witness.key, or --key) and\n"
	 "  its state (WDIR/witness.db, or --state) and prints its verifier key, for\n"
	 "  the logs' [witnesses] and for verifiers; vkey prints it again. serve\n"
	 "  answers POST /add-checkpoint for the logs whose keys --log names (a key,\n"
	 "  or a file of keys one a line: popvault checkpoint --log L --vkey): it\n"
	 "  cosigns a checkpoint only if it extends the last one it cosigned of\n"
	 "  that log (the consistency proof is checked) and answers 409 Conflict\n"
	 "  with the size it holds otherwise. Plain HTTP unless --tls-cert/--tls-key:\n"
	 "  everything it says is signed. Until SIGINT or SIGTERM.\n",
	 cli_witness},
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
	 "    user-access   asked for by an admin's change approved by compliance\n"
	 "                  of a user (a legal or compliance account made, one of\n"
	 "                  those roles given, or such a user's password set in\n"
	 "                  the web): until then the account cannot sign in\n"
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
	 "                 [--one-time]\n"
	 "       popvault user passwd NAME --password-file F [--one-time]\n"
	 "       popvault user totp NAME [--remove]\n"
	 "       popvault user require-totp [ROLE,ROLE...|none]\n"
	 "       popvault user list|remove NAME\n"
	 "  Passwords (at least 12 characters, 5 of them different, holding neither\n"
	 "  the user's name nor \"popvault\") are kept only as Argon2id hashes;\n"
	 "  --replace changes an existing user's role and password; a new role or\n"
	 "  password ends the user's web sessions. --one-time: the password signs\n"
	 "  in once, with a new one of the user's choosing (always so when an admin\n"
	 "  sets it in the web).\n"
	 "  totp enrols a second factor (RFC 6238: prints the otpauth:// URI and the\n"
	 "  secret for an authenticator app; in the web users set up their own);\n"
	 "  --remove takes it away (they set up a new one at their next sign-in).\n"
	 "  require-totp names the roles that must use one (without ROLES: shows\n"
	 "  them). All audited.\n",
	 cli_user},
	{"backup", "copy the archive while it runs, with a manifest",
	 "popvault backup --out DIR [--with-keys --passphrase-file F] [--json]\n"
	 "  A consistent copy while harvests and serve go on: the catalog (SQLite\n"
	 "  online backup; a catalog on PostgreSQL as a SQLite copy taken in one\n"
	 "  snapshot, which restore checks the same way), its packs (each copied up\n"
	 "  to its committed length; packs in an S3 store are not copied: the\n"
	 "  store's locked objects are their copy), its blob files from before\n"
	 "  packs (hard-linked on the same file system, else copied), the config,\n"
	 "  the latest signed checkpoint of each log (DIR/checkpoint-archive,\n"
	 "  DIR/checkpoint-audit: what the copy covers) and DIR/MANIFEST with the\n"
	 "  SHA-256 of every file. DIR must not exist or be empty. Keys stay out\n"
	 "  unless --with-keys: then DIR/keys.enc holds them, encrypted to the\n"
	 "  passphrase in F (Argon2id; at least 12 characters).\n"
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
	{"migrate", "move an archive's packs into an S3 store, or its catalog onto PostgreSQL",
	 "popvault migrate --to-store 's3://BUCKET?endpoint=URL&region=R' --store-key-file F\n"
	 "         [--json]\n"
	 "popvault migrate --to-catalog postgresql://USER@HOST:PORT/DB [--json]\n"
	 "  --to-catalog: for an archive whose catalog is DIR/catalog.db, into an empty\n"
	 "  PostgreSQL database (no password in the URL: libpq's passfile; refused,\n"
	 "  as init --catalog refuses, when it holds a catalog). Audits the move in\n"
	 "  the SQLite catalog, then makes the schema and copies every row (ids kept)\n"
	 "  in one PostgreSQL transaction, which commits only when every table's\n"
	 "  rows and both logs' size and root, recomputed from the copy, equal the\n"
	 "  SQLite catalog's. Then writes DIR/catalog.url, renames catalog.db to\n"
	 "  catalog.db.migrated (kept: remove it yourself), moves the bucket keys into\n"
	 "  the catalog and builds the search index. Killed anywhere, the SQLite\n"
	 "  archive still works or a rerun with the same URL finishes.\n"
	 "  --to-store:\n"
	 "  For an archive made without --store: checks the store (reachable, these\n"
	 "  credentials, a bucket with Object Lock; F holds ACCESS_KEY:SECRET_KEY),\n"
	 "  audits the move, records the store (credentials sealed), then seals and\n"
	 "  uploads every pack as a harvest's end does (COMPLIANCE-locked to the end\n"
	 "  of its bucket's expiry month, legal hold on where a hold covers it) and\n"
	 "  removes each local file once the store has confirmed it. Prints both\n"
	 "  logs' size and root before and after: the archive log is unchanged, the\n"
	 "  audit log before is a prefix of after (checked by a consistency proof).\n"
	 "  Refused while serve or a harvest runs (stop serve first, start it again\n"
	 "  after); harvests are kept out meanwhile. Interrupted, or with packs the store\n"
	 "  refused, run it again with the same store: it resumes. Messages in\n"
	 "  legacy blob files (from before packs) stay in DIR/blobs, counted.\n",
	 cli_migrate},
	{"serve", "run the appliance: harvests, index, heartbeats, web UI and API",
	 "popvault serve [--listen ADDR:PORT] [--tls-cert F --tls-key F] [--plain-http]\n"
	 "               [--web-root DIR] [--config F] [--metrics-token-file F] [--web-only]\n"
	 "  Until SIGTERM/SIGINT, each in a process of its own: the web UI and JSON\n"
	 "  API (docs/api.md), every account harvested every [harvest] interval, the\n"
	 "  indexer, heartbeat checkpoints every 15 minutes, disposal proposals,\n"
	 "  a verify of a sample and a full verify on the [serve] schedule, and,\n"
	 "  when a TSA or a witness is configured ([anchor], [witnesses] in\n"
	 "  DIR/popvault.conf), both logs anchored every [anchor] interval and\n"
	 "  within five minutes after a disposal run; a part that dies is started\n"
	 "  again. Below 1 GiB free in DIR's file system the harvest stops until\n"
	 "  there is room. SIGHUP reads the config again.\n"
	 "  --listen: a numeric address and port (default: [serve] listen in the\n"
	 "  config, 127.0.0.1:8443; port 0 takes a free one, printed on start).\n"
	 "  HTTPS with --tls-cert/--tls-key, else a self-signed certificate made on\n"
	 "  first start in DIR/tls/. --plain-http: no TLS, loopback addresses only.\n"
	 "  --web-root: default web-static/ beside the binary's directory, else\n"
	 "  /usr/share/popvault/web-static. --config: read this file, not\n"
	 "  DIR/popvault.conf. --metrics-token-file: the SHA-256 (hex) of a token\n"
	 "  that GET /metrics takes as \"Authorization: Bearer TOKEN\". --web-only:\n"
	 "  the web UI and API alone (nothing harvested, indexed or signed).\n",
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
