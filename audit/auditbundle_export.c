/* Writing audit bundles (layout in auditbundle.h). */
#include "audit/auditbundle.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/lib/clock.h"
#include "archiver/lib/limits.h"
#include "audit/auditlog.h"
#include "audit/bundle_trust.h"
#include "audit/checkpoint.h"

/* VERIFY.md: the checks verify-bundle makes, spelled out for a person with
 * a shell, OpenSSL and Python 3 (tests/e2e/audit_bundle.t runs these very
 * commands, so they stay true). */
#define VERIFY_MD_FMT \
	"# Audit log bundle\n" \
	"\n" \
	"This bundle is an export of the audit log `%s` of a popvault archive:\n" \
	"%llu entries (leaves %llu to %llu, from %s to %s), followed by leaf %llu,\n" \
	"the record of this export itself. The log had %llu leaves when it was made.\n" \
	"\n" \
	"To check it automatically, on any machine, with no data directory:\n" \
	"\n" \
	"    popvault verify-bundle THIS-FILE --vkey 'VKEY' [--last-checkpoint FILE]\n" \
	"\n" \
	"where VKEY is the audit log's verifier key that you received out of band\n" \
	"(printed by `popvault init`; `trust/vkeys` inside this bundle is only a\n" \
	"reminder: a forger would put his own key there), and FILE is the\n" \
	"`audit/checkpoint` of the previous bundle you accepted. Exit code 0 means\n" \
	"every check below passed; 3 means one failed, and the report says which.\n" \
	"\n" \
	"## What the files are\n" \
	"\n" \
	"- `MANIFEST.sha256`: the SHA-256 of every other file (`sha256sum` format).\n" \
	"- `MANIFEST.note`: a signed note (c2sp.org/signed-note, Ed25519) whose\n" \
	"  text names the bundle kind and the SHA-256 of `MANIFEST.sha256`.\n" \
	"- `audit/checkpoint`: the log's signed checkpoint (c2sp.org/tlog-checkpoint):\n" \
	"  origin, tree size N, base64 Merkle root (RFC 9162 §2.1), time.\n" \
	"- `audit/leaves`: the log entries, each as a 2-byte big-endian length and\n" \
	"  the entry's bytes. An entry is text: `popvault/audit/v1`, then `seq`,\n" \
	"  `time`, `actor`, `type`, `object`, `outcome` and `commit` lines; seq is\n" \
	"  the entry's position in the log. Key-rotation notes may also appear.\n" \
	"- `audit/tree-proof`: the hashes of the parts of the tree that are not in\n" \
	"  this bundle (entries before leaf %llu, and between leaf %llu and the\n" \
	"  final leaf), so the root can be recomputed from the included entries.\n" \
	"- `audit/checkpoints/A` and `audit/consistency/A-N`: earlier checkpoints\n" \
	"  (the one where this range starts, and the last one of each earlier audit\n" \
	"  export) with RFC 9162 §2.1.4 proofs that the final tree extends them.\n" \
	"- `audit/timestamps/A.note`, `A.tsr` (when the log was anchored): a\n" \
	"  checkpoint and the RFC 3161 time-stamp of its SHA-256 (step 7).\n" \
	"- `audit/cosigned/A` (when witnesses cosigned the log): a checkpoint\n" \
	"  and, after the audit key's signature line, the witnesses' (step 8).\n" \
	"- `audit/rotations/I` and `I.proof` (after a key rotation): the note in\n" \
	"  which the old audit key names its successor (leaf I of the log), and its\n" \
	"  RFC 9162 inclusion proof. Check it with the old key as in step 2; from\n" \
	"  leaf I+1 on, checkpoints are signed by the new key.\n" \
	"- `audit/entries.jsonl`, `audit/entries.csv`: the same entries, readable;\n" \
	"  a CSV cell that a spreadsheet would run as a formula starts with `'`.\n" \
	"- `audit/personal.jsonl` (when present): personal data kept out of the log\n" \
	"  (search queries, file names), each with the salt of its `commit` line:\n" \
	"  commit = BLAKE2b-256(key = salt, data).\n" \
	"\n" \
	"## Checking by hand\n" \
	"\n" \
	"Extract the bundle into an empty directory (`tar xzf` or `unzip`) and work\n" \
	"there.\n" \
	"\n" \
	"1. Every file is listed, unchanged, and nothing else is there:\n" \
	"\n" \
	"       sha256sum -c MANIFEST.sha256\n" \
	"       find . -type f ! -name 'MANIFEST.*' | sed 's|^\\./||' | sort |\n" \
	"           diff - <(awk '{print $2}' MANIFEST.sha256 | sort)     # bash\n" \
	"\n" \
	"2. The manifest is the one the archive signed. Its note must name the\n" \
	"   manifest's hash, and carry a valid signature by the audit key:\n" \
	"\n" \
	"       sha256sum MANIFEST.sha256; cat MANIFEST.note\n" \
	"       vkey='NAME+KEYID+BASE64'            # the audit vkey you trust\n" \
	"       echo \"$vkey\" | cut -d+ -f3- | base64 -d | tail -c 32 > pk.raw\n" \
	"       { printf '\\060\\052\\060\\005\\006\\003\\053\\145\\160\\003\\041\\000'; cat pk.raw; } > pk.der\n" \
	"       check() {  # a signed note: text up to the blank line, then signatures\n" \
	"           sed '/^$/,$d' \"$1\" > note.txt\n" \
	"           grep \"^— ${vkey%%%%+*} \" \"$1\" | cut -d' ' -f3 | base64 -d | tail -c 64 > note.sig\n" \
	"           openssl pkeyutl -verify -pubin -keyform DER -inkey pk.der -rawin \\\n" \
	"               -in note.txt -sigfile note.sig\n" \
	"       }\n" \
	"       check MANIFEST.note\n" \
	"       check audit/checkpoint\n" \
	"\n" \
	"   (The 12 bytes before the key are the fixed DER header of an Ed25519\n" \
	"   public key, RFC 8410.) Check every file in `audit/checkpoints/` the\n" \
	"   same way.\n" \
	"\n" \
	"3. The entries are exactly the log the checkpoint signed: this rebuilds\n" \
	"   the Merkle root (RFC 9162 §2.1.1) from `audit/leaves` and\n" \
	"   `audit/tree-proof`, checks each entry's seq, and checks the personal\n" \
	"   data against its commitments:\n" \
	"\n" \
	"```python\n" \
	"import base64, hashlib, json, os\n" \
	"H = lambda b: hashlib.sha256(b).digest()\n" \
	"tp = open('audit/tree-proof').read().splitlines()\n" \
	"assert tp[0] == 'popvault/tree-proof/v1'\n" \
	"size = int(tp[1].split()[1])\n" \
	"lo, hi = (int(x) for x in tp[2].split()[1:])\n" \
	"stack = []  # complete subtrees (height, hash), largest first\n" \
	"def push(height, h):\n" \
	"    while stack and stack[-1][0] == height:\n" \
	"        h = H(b'\\x01' + stack.pop()[1] + h)\n" \
	"        height += 1\n" \
	"    stack.append((height, h))\n" \
	"for line in tp[3:]:\n" \
	"    if line.startswith('left '):\n" \
	"        stack.append((int(line.split()[1]), base64.b64decode(line.split()[2])))\n" \
	"data, i, leaves = open('audit/leaves', 'rb').read(), 0, []\n" \
	"while i < len(data):\n" \
	"    n = int.from_bytes(data[i:i + 2], 'big')\n" \
	"    leaves.append(data[i + 2:i + 2 + n])\n" \
	"    i += 2 + n\n" \
	"assert len(leaves) == hi - lo + 1, 'wrong number of entries'\n" \
	"seqs = list(range(lo, hi)) + [size - 1]\n" \
	"for k, leaf in enumerate(leaves):\n" \
	"    if leaf.startswith(b'popvault/audit/v1\\n'):\n" \
	"        assert leaf.split(b'\\n')[1] == b'seq %%d' %% seqs[k], 'entry out of place'\n" \
	"    if k == hi - lo:\n" \
	"        for line in tp[3:]:\n" \
	"            if line.startswith('right '):\n" \
	"                push(int(line.split()[1]), base64.b64decode(line.split()[2]))\n" \
	"    push(0, H(b'\\x00' + leaf))\n" \
	"root = stack[-1][1]\n" \
	"for height, h in reversed(stack[:-1]):\n" \
	"    root = H(b'\\x01' + h + root)\n" \
	"cp = open('audit/checkpoint').read().splitlines()\n" \
	"assert int(cp[1]) == size and base64.b64decode(cp[2]) == root, 'root differs'\n" \
	"commits = {}\n" \
	"for leaf in leaves:\n" \
	"    f = dict(l.split(' ', 1) for l in leaf.decode().splitlines()[1:] if ' ' in l)\n" \
	"    if f.get('commit', '-') != '-':\n" \
	"        commits[int(f['seq'])] = f['commit']\n" \
	"if os.path.exists('audit/personal.jsonl'):\n" \
	"    for line in open('audit/personal.jsonl', encoding='utf-8'):\n" \
	"        p = json.loads(line)\n" \
	"        d = hashlib.blake2b(p['data'].encode(), key=bytes.fromhex(p['salt']),\n" \
	"                            digest_size=32).hexdigest()\n" \
	"        assert commits[p['seq']] == d, 'personal data of %%d differs' %% p['seq']\n" \
	"print('root OK:', len(leaves), 'entries, tree size', size)\n" \
	"```\n" \
	"\n" \
	"4. The last entry (seq N-1) is this export: type `audit-export`, object\n" \
	"   `leaves=LO-HI ...` naming the range above. A bundle that does not end\n" \
	"   with its own export event was cut or assembled from another one.\n" \
	"\n" \
	"5. Continuity with what you held before: if you kept the `audit/checkpoint`\n" \
	"   of an earlier bundle (size A), this bundle must carry\n" \
	"   `audit/checkpoints/A` with the same root and `audit/consistency/A-N`, a\n" \
	"   proof that the log only grew since (RFC 9162 §2.1.4.2; `verify-bundle\n" \
	"   --last-checkpoint` checks it). A smaller N than yours means a rolled-back\n" \
	"   or replayed log. A checkpoint inside the range is checked directly\n" \
	"   against the recomputed tree.\n" \
	"\n" \
	"6. Gaps: entries are written at least every 15 minutes (heartbeats); a\n" \
	"   longer silence between consecutive entries means the archive was not\n" \
	"   running, or entries are missing. verify-bundle lists such gaps.\n" \
	"\n" \
	"7. Time-stamps, when the bundle has `audit/timestamps/`: an RFC 3161\n" \
	"   Time-Stamp Authority stamped the SHA-256 of the signed checkpoint\n" \
	"   `audit/timestamps/A.note` (A entries) at the time its token `A.tsr`\n" \
	"   says. With the TSA's CA certificate (get it from the TSA, not from this\n" \
	"   bundle) in TSA-CA.pem:\n" \
	"\n" \
	"       for t in audit/timestamps/*.tsr; do\n" \
	"           openssl ts -verify -in \"$t\" -data \"${t%%.tsr}.note\" -CAfile TSA-CA.pem\n" \
	"       done\n" \
	"\n" \
	"   Check each `.note` with the audit key as in step 2, and\n" \
	"   `audit/consistency/A-N` as in step 5: then the log held those A\n" \
	"   entries at that time, whoever holds its key now. `tsa-certs.pem`\n" \
	"   beside them holds the certificates the tokens carry (to read with\n" \
	"   `openssl x509`). `verify-bundle --tsa-ca TSA-CA.pem` makes these checks.\n" \
	"\n" \
	"8. Witnesses, when the bundle has `audit/cosigned/`: after the audit key's\n" \
	"   line, each `— NAME BASE64` line is a witness's cosignature (C2SP\n" \
	"   tlog-cosignature): BASE64 holds its 4-byte key ID, an 8-byte big-endian\n" \
	"   time T and an Ed25519 signature over `cosignature/v1`, `time T` and the\n" \
	"   checkpoint's text. A witness cosigns only a log that extends what it\n" \
	"   cosigned before. With the witness's key WVKEY (from the witness, not\n" \
	"   from this bundle), for each file F of `audit/cosigned/`:\n" \
	"\n" \
	"```python\n" \
	"import base64, sys\n" \
	"from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey\n" \
	"F, WVKEY = sys.argv[1], sys.argv[2]\n" \
	"name, kid, key = WVKEY.split('+', 2)\n" \
	"text, sigs = open(F).read().split('\\n\\n', 1)\n" \
	"for line in sigs.splitlines():\n" \
	"    if line.startswith('\\u2014 ' + name + ' '):\n" \
	"        sig = base64.b64decode(line.split(' ')[2])\n" \
	"        t = int.from_bytes(sig[4:12], 'big')\n" \
	"        msg = ('cosignature/v1\\ntime %%d\\n%%s\\n' %% (t, text)).encode()\n" \
	"        assert sig[:4].hex() == kid, 'another key of that name'\n" \
	"        Ed25519PublicKey.from_public_bytes(base64.b64decode(key)[1:]).verify(sig[12:], msg)\n" \
	"        print(F, 'cosigned by', name, 'at', t)\n" \
	"```\n" \
	"\n" \
	"   and `audit/consistency/A-N` ties it to the bundle's checkpoint as in\n" \
	"   step 5. `verify-bundle --witness WVKEY [--witness-quorum K]` makes\n" \
	"   these checks for K of the witnesses you trust.\n" \
	"\n" \
	"Trust nothing in this bundle that you cannot tie to the verifier key you\n" \
	"hold: the keys and notes inside are there to be checked, not believed.\n"


static int tree_proof(struct tlog *t, uint64_t lo, uint64_t hi, uint64_t n, struct pv_buf *out,
		      struct pv_error *err)
{
	char b64[sodium_base64_ENCODED_LEN(MERKLE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL)];
	merkle_hash h;
	uint64_t p = 0;
	int r = pv_buf_printf(out, err, "popvault/tree-proof/v1\nsize %llu\nleaves %llu %llu\n",
			      (unsigned long long)n, (unsigned long long)lo, (unsigned long long)hi);
	for (int j = 63; j >= 0 && r == 0; j--) {
		if (!((lo >> j) & 1))
			continue;
		if ((r = tlog_range_hash(t, p, p + (1ull << j), h, err)) < 0)
			break;
		sodium_bin2base64(b64, sizeof(b64), h, MERKLE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
		r = pv_buf_printf(out, err, "left %d %s\n", j, b64);
		p += 1ull << j;
	}
	for (p = hi; p < n - 1 && r == 0;) {
		unsigned j = 0;
		while (j < 63 && (p & ((2ull << j) - 1)) == 0 && p + (2ull << j) <= n - 1)
			j++;
		if ((r = tlog_range_hash(t, p, p + (1ull << j), h, err)) < 0)
			break;
		sodium_bin2base64(b64, sizeof(b64), h, MERKLE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
		r = pv_buf_printf(out, err, "right %u %s\n", j, b64);
		p += 1ull << j;
	}
	return r;
}

/* The four streamed members, fed one leaf at a time. */
struct feed {
	struct tlog *t;
	struct bundle_writer *w;
	struct bundle_member *leaves, *jsonl, *csv, *personal;
	struct db_stmt *pers; /* audit_personal rows from lo, in seq order */
	bool pers_row;      /* pers is on a row */
	uint64_t lo, next, hi;
	uint64_t n_personal;
	const struct pv_progress *progress;
	struct pv_buf line, pdata;
	struct pv_error *err;
	int r;
};

static int pers_step(struct feed *f)
{
	int rc = db_step(f->pers, f->err);
	f->pers_row = rc == DB_ROW;
	return rc >= 0 ? 0 : pv_error_prefix(f->err, "audit side table");
}

/* The side data of seq from the ordered cursor (NULL when none). */
static int pers_for(struct feed *f, uint64_t seq, const struct audit_entry *e, const char **p_r,
		    size_t *len_r, uint8_t salt[AUDIT_SALT_LEN])
{
	int r;
	*p_r = NULL;
	while (f->pers != NULL && f->pers_row &&
	       (uint64_t)db_column_int64(f->pers, 0) < seq)
		if ((r = pers_step(f)) < 0)
			return r;
	if (f->pers == NULL || !f->pers_row || (uint64_t)db_column_int64(f->pers, 0) != seq)
		return 0;
	uint8_t commit[AUDIT_COMMIT_LEN];
	size_t slen, n;
	const void *s = db_column_blob(f->pers, 1, &slen);
	const void *d = db_column_blob(f->pers, 2, &n);
	if (s == NULL || slen != AUDIT_SALT_LEN || !e->has_commit)
		return pv_fail(f->err, PV_EINTEGRITY, "entry %llu: malformed personal data row",
			       (unsigned long long)seq);
	memcpy(salt, s, AUDIT_SALT_LEN);
	auditlog_commitment(salt, d ? d : "", n, commit);
	if (sodium_memcmp(commit, e->commit, sizeof(commit)) != 0)
		return pv_fail(f->err, PV_EINTEGRITY,
			       "entry %llu: personal data does not match its commitment "
			       "(run popvault verify)", (unsigned long long)seq);
	pv_buf_reset(&f->pdata);
	if ((r = pv_buf_append(&f->pdata, d ? d : "", n, f->err)) < 0)
		return r;
	*p_r = (const char *)f->pdata.data;
	*len_r = n;
	return 0;
}

static int feed_leaf(struct feed *f, uint64_t index, const void *data, size_t len)
{
	struct audit_entry e;
	uint8_t salt[AUDIT_SALT_LEN], lenb[2] = {(uint8_t)(len >> 8), (uint8_t)len};
	const char *p = NULL;
	size_t plen = 0;
	int r;
	if ((r = auditlog_leaf_parse(data, len, index, &e, f->err)) < 0) {
		pv_error_prefix(f->err, "the audit log is damaged (run popvault verify)");
		return r;
	}
	if ((r = pers_for(f, index, &e, &p, &plen, salt)) < 0)
		return r;
	if ((r = bundle_member_write(f->leaves, lenb, 2, f->err)) < 0 ||
	    (r = bundle_member_write(f->leaves, data, len, f->err)) < 0)
		return r;
	pv_buf_reset(&f->line);
	if ((r = auditlog_entry_json(&e, p, plen, &f->line, f->err)) < 0 ||
	    (r = bundle_member_write(f->jsonl, f->line.data, f->line.len, f->err)) < 0)
		return r;
	pv_buf_reset(&f->line);
	if ((r = auditlog_entry_csv(&e, p, plen, &f->line, f->err)) < 0 ||
	    (r = bundle_member_write(f->csv, f->line.data, f->line.len, f->err)) < 0)
		return r;
	if (p != NULL) {
		pv_buf_reset(&f->line);
		if ((r = auditlog_personal_json(index, salt, p, plen, &f->line, f->err)) < 0 ||
		    (r = bundle_member_write(f->personal, f->line.data, f->line.len, f->err)) < 0)
			return r;
		f->n_personal++;
	}
	sodium_memzero(salt, sizeof(salt));
	return 0;
}

#define FEED_STOP 1

static int feed_cb(void *ctx, uint64_t index, const void *data, size_t len)
{
	struct feed *f = ctx;
	if (index >= f->hi)
		return FEED_STOP;
	if (index != f->next)
		return f->r = pv_fail(f->err, PV_EINTEGRITY, "audit log: leaf %llu is missing",
				      (unsigned long long)f->next);
	f->next++;
	int r = feed_leaf(f, index, data, len);
	if (r < 0)
		return f->r = r;
	pv_progress_report(f->progress, f->next - f->lo, f->hi - f->lo);
	return 0;
}

static int write_entries(struct tlog *t, struct bundle_writer *w, const struct auditbundle_opts *o,
			 uint64_t lo, uint64_t hi, uint64_t n, struct auditbundle_summary *sum,
			 struct pv_error *err)
{
	struct feed f = {.t = t, .w = w, .lo = lo, .next = lo, .hi = hi, .progress = &o->progress,
			 .err = err};
	struct pv_buf leaf;
	int r;

	pv_buf_init(&f.line, 8 * (PV_TLOG_ENTRY_MAX + PV_AUDIT_PERSONAL_MAX));
	pv_buf_init(&f.pdata, PV_AUDIT_PERSONAL_MAX + 1);
	pv_buf_init(&leaf, PV_TLOG_ENTRY_MAX);
	if ((r = bundle_member_begin(w, "audit/leaves", &f.leaves, err)) < 0 ||
	    (r = bundle_member_begin(w, "audit/entries.jsonl", &f.jsonl, err)) < 0 ||
	    (r = bundle_member_begin(w, "audit/entries.csv", &f.csv, err)) < 0 ||
	    (o->personal && (r = bundle_member_begin(w, "audit/personal.jsonl", &f.personal, err)) < 0) ||
	    (r = bundle_member_write(f.csv, AUDITLOG_CSV_HEADER, strlen(AUDITLOG_CSV_HEADER), err)) < 0)
		goto out;
	if (o->personal) {
		if ((r = db_prepare(tlog_db(t),
				    "SELECT seq, salt, data FROM audit_personal WHERE seq >= ?"
				    " ORDER BY seq",
				    &f.pers, err)) < 0) {
			r = pv_error_prefix(err, "audit side table");
			goto out;
		}
		db_bind_int64(f.pers, 1, (int64_t)lo);
		if ((r = pers_step(&f)) < 0)
			goto out;
	}
	if (lo < hi) {
		r = tlog_leaf_scan(t, lo, feed_cb, &f, err);
		if (f.r != 0) {
			r = f.r;
			goto out;
		}
		if (r == FEED_STOP)
			r = 0;
		if (r == 0 && f.next != hi)
			r = pv_fail(err, PV_EINTEGRITY, "audit log: leaf %llu is missing",
				    (unsigned long long)f.next);
		if (r < 0)
			goto out;
	}
	if ((r = tlog_leaf(t, n - 1, &leaf, err)) < 0 ||
	    (r = feed_leaf(&f, n - 1, leaf.data ? leaf.data : (const uint8_t *)"", leaf.len)) < 0)
		goto out;
	if ((r = bundle_member_end(w, &f.leaves, err)) < 0 ||
	    (r = bundle_member_end(w, &f.jsonl, err)) < 0 ||
	    (r = bundle_member_end(w, &f.csv, err)) < 0 ||
	    (f.personal != NULL && (r = bundle_member_end(w, &f.personal, err)) < 0))
		goto out;
	sum->personal = f.n_personal;
out:
	bundle_member_abort(&f.leaves);
	bundle_member_abort(&f.jsonl);
	bundle_member_abort(&f.csv);
	bundle_member_abort(&f.personal);
	db_finalize(&f.pers);
	pv_buf_free(&f.line);
	pv_buf_free_secret(&f.pdata);
	pv_buf_free(&leaf);
	return r;
}

/* Every epoch's key (a reminder), the final checkpoint, the anchors (the
 * checkpoint where the range starts, earlier exports' final ones) and
 * every rotation of this log's key recorded in it, with its place in the
 * final tree: the verifier follows the chain from the key it holds. */
static int write_trust(struct tlog *t, struct bundle_writer *w, const struct tlog_checkpoint_row *fin,
		       uint64_t lo, uint64_t n, const struct bundle_external *x,
		       struct pv_error *err)
{
	struct tlog_checkpoint_row start;
	struct bundle_anchors anch = {0};
	struct pv_buf vkeys;
	int r;

	tlog_checkpoint_row_init(&start);
	pv_buf_init(&vkeys, 64 * 1024);
	if ((r = bundle_trust_vkeys(t, &vkeys, err)) < 0 ||
	    (r = bundle_add(w, "trust/vkeys", vkeys.data, vkeys.len, err)) < 0 ||
	    (r = bundle_add(w, "audit/checkpoint", fin->note.data, fin->note.len, err)) < 0 ||
	    (r = tlog_checkpoint_at_most(t, lo, &start, err)) < 0 ||
	    (r = bundle_anchors_find(t, n - 1, BUNDLE_ANCHOR_AUDIT_EXPORTS, start.size, &anch,
				     err)) < 0 ||
	    (x != NULL && (r = bundle_external_anchor_sizes(x, &anch, true, err)) < 0) ||
	    (r = bundle_trust_add_anchors(w, t, "audit", anch.audit, anch.n_audit, n, err)) < 0 ||
	    (x != NULL && (r = bundle_external_write(w, "audit", x, n, err)) < 0))
		goto out;
	r = bundle_trust_add_logged_rotations(w, t, t, "audit", n, err);
out:
	bundle_anchors_free(&anch);
	tlog_checkpoint_row_free(&start);
	pv_buf_free(&vkeys);
	return r;
}

static int write_bundle(struct tlog *t, struct bundle_writer *w, const struct auditbundle_opts *o,
			uint64_t lo, uint64_t hi, uint64_t n, struct auditbundle_summary *sum,
			struct pv_error *err)
{
	struct tlog_checkpoint_row fin;
	struct pv_buf text;
	char from[PV_RFC3339_LEN] = "the start", to[PV_RFC3339_LEN] = "now";
	int r;

	tlog_checkpoint_row_init(&fin);
	pv_buf_init(&text, 64 * 1024);
	if ((r = tlog_checkpoint_at_most(t, n, &fin, err)) < 0)
		goto out;
	if (fin.size != n) {
		r = pv_fail(err, PV_EINTEGRITY, "no checkpoint covers the export event");
		goto out;
	}
	if (o->since != INT64_MIN)
		pv_clock_format_rfc3339(o->since, from);
	if (o->until != INT64_MAX)
		pv_clock_format_rfc3339(o->until, to);
	if ((r = pv_buf_printf(&text, err, VERIFY_MD_FMT, tlog_origin(t),
			       (unsigned long long)(hi - lo), (unsigned long long)lo,
			       (unsigned long long)(hi > lo ? hi - 1 : lo), from, to,
			       (unsigned long long)(n - 1), (unsigned long long)n,
			       (unsigned long long)lo, (unsigned long long)(hi > lo ? hi - 1 : lo))) < 0 ||
	    (r = bundle_add(w, "VERIFY.md", text.data, text.len, err)) < 0 ||
	    (r = write_trust(t, w, &fin, lo, n, o->external, err)) < 0)
		goto out;
	pv_buf_reset(&text);
	if ((r = tree_proof(t, lo, hi, n, &text, err)) < 0 ||
	    (r = bundle_add(w, "audit/tree-proof", text.data, text.len, err)) < 0)
		goto out;
	r = write_entries(t, w, o, lo, hi, n, sum, err);
out:
	tlog_checkpoint_row_free(&fin);
	pv_buf_free(&text);
	return r;
}

int auditbundle_export(struct tlog *t, const struct note_signer *key,
		       const struct auditbundle_opts *o, struct auditbundle_summary *sum,
		       struct pv_error *err)
{
	struct bundle_writer *w = NULL;
	struct tlog_tx tx;
	char object[256], since[PV_RFC3339_LEN] = "-", until[PV_RFC3339_LEN] = "-";
	uint64_t lo, hi, seq;
	int r;

	memset(sum, 0, sizeof(*sum));
	if ((r = bundle_writer_open(o->out, AUDITBUNDLE_KIND, &w, err)) < 0)
		return r;
	if (o->since != INT64_MIN)
		pv_clock_format_rfc3339(o->since, since);
	if (o->until != INT64_MAX)
		pv_clock_format_rfc3339(o->until, until);
	/* The range and the export event in one transaction: nothing lands
	 * between them. Recorded first: no record, no bundle. */
	if ((r = tlog_tx_begin(tlog_db(t), &tx, err)) < 0)
		goto fail;
	if ((r = auditlog_range(t, o->since, o->until, &lo, &hi, err)) == 0) {
		snprintf(object, sizeof(object), "leaves=%llu-%llu since=%s until=%s personal=%s",
			 (unsigned long long)lo, (unsigned long long)hi, since, until,
			 o->personal ? "yes" : "no");
		struct audit_event ev = {o->actor, AUDIT_AUDIT_EXPORT, object, "ok", o->out};
		r = auditlog_append(t, key, &ev, &seq, err);
	}
	/* With the signer process, the checkpoint the bundle ends on is signed
	 * after the commit: now. */
	if ((r = tlog_tx_end(&tx, r, err)) < 0 ||
	    (!db_in_transaction(tlog_db(t)) && (r = checkpoint_seal(t, key, NULL, err)) < 0)) {
		pv_error_prefix(err, "audit log");
		goto fail;
	}
	sum->lo = lo;
	sum->hi = hi;
	sum->size = seq + 1;
	sum->entries = hi - lo + 1;
	if ((r = write_bundle(t, w, o, lo, hi, seq + 1, sum, err)) < 0 ||
	    (r = bundle_writer_finish(&w, key, err)) < 0) {
		char outcome[AUDIT_OUTCOME_MAX + 1];
		struct pv_error ignore;
		snprintf(outcome, sizeof(outcome), "failed: %s", err ? err->msg : "?");
		snprintf(object, sizeof(object), "export=%llu", (unsigned long long)seq);
		struct audit_event ev = {o->actor, AUDIT_AUDIT_EXPORT, object, outcome, NULL};
		(void)auditlog_append(t, key, &ev, NULL, &ignore);
		goto fail;
	}
	return 0;
fail:
	bundle_writer_abort(&w);
	return r;
}
