#!/bin/bash
# The disk fills up during a harvest. Guards: nothing is deleted upstream
# (the session ends without QUIT, so even the chunks already committed are
# only deleted by a later session), nothing half-stored, the error says
# what happened, and once there is room the next run completes with every
# message archived exactly once.
#   1. an LD_PRELOAD shim makes blob writes fail with ENOSPC partway through
#      a blob (works anywhere);
#   2. a real, small tmpfs under the data directory (needs mount rights,
#      i.e. root with CAP_SYS_ADMIN; skipped otherwise): whatever write
#      fails first, blob, SQLite or syncfs.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 14

pv_enospc_shim
h_genmail --count 30 --seed 41 --out "$H_RUN/small" --max-attachment 3000
# In the backend matrix (tests/README) the catalog is in PostgreSQL and the
# sealed packs in the S3 store: what fills up is the data directory's
# spool of blobs, and "nothing half-stored" is read wherever records lie.
# 20 messages of about 150 KB that do not compress much (random base64).
python3 - "$H_RUN/big" <<'EOF'
import base64, os, random, sys
os.makedirs(sys.argv[1])
r = random.Random(42)
for i in range(1, 21):
    body = base64.encodebytes(r.randbytes(110000)).replace(b"\n", b"\r\n")
    open("%s/%05d.eml" % (sys.argv[1], i), "wb").write(
        b"From: big@example.org\r\nSubject: big %d\r\n\r\n" % i + body)
EOF
h_dovecot_start --seed "alice=$H_RUN/small" --seed "bob=$H_RUN/big"

# newdata DIR USER: a fresh archive at DIR for the Dovecot user USER, 8 messages a chunk.
newdata() {
	pv_init "$1"
	pv_dovecot_account "$2"
	printf '[harvest]\nbatch_max = 8\n' >>"$D/popvault.conf"
}

# ---- 1. the shim: 60 KB of blob bytes, then ENOSPC mid-blob ----
newdata "$H_RUN/data-shim" alice
pv_harvest env PVTEST_ENOSPC_AFTER=60000 LD_PRELOAD="$H_RUN/enospc.so"
h_is "$RC" 1 "shim: the harvest fails"
h_like "$OUT$ERR" 'No space left on device' "shim: the error names the full disk"
h_is "$(maildir_count alice)" 30 "shim: nothing deleted upstream"
n=$(pv_count)
h_is "$(ls "$D/tmp" | wc -l) $(pv_stored_records)" "0 $n" \
	"shim: nothing half-stored ($n archived, one blob each, no temp file)"
pv_harvest
h_is "$RC $(maildir_count alice)" "0 0" "shim: with room again the next run completes"
h_is "$(pv_archived)" "$(h_hashes "$H_RUN"/small/*.eml)" "shim: every message archived exactly once"

# ---- 2. a real tmpfs that fills up ----
mkdir -p "$H_RUN/fs"
if mount -t tmpfs -o size=4m tmpfs "$H_RUN/fs" 2>/dev/null; then
	h_at_exit "umount '$H_RUN/fs'"
	newdata "$H_RUN/fs/data" bob
	used=$(df -k --output=used "$H_RUN/fs" | tail -1)
	# About 1 MB free for some 3 MB of mail.
	mount -o remount,size=$((used + 1024))k "$H_RUN/fs"
	pv_harvest
	h_is "$RC" 1 "tmpfs: the harvest fails when the disk is full"
	h_like "$OUT$ERR" 'No space left on device|disk is full' "tmpfs: the error names the full disk"
	h_diag "what the admin sees: $(grep -v "^time=" "$H_RUN/out.err" | head -3)"
	h_is "$(maildir_count bob)" 20 "tmpfs: nothing deleted upstream"
	n=$(pv_count)
	h_is "$(ls "$D/tmp" | wc -l) $(pv_stored_records)" "0 $n" \
		"tmpfs: nothing half-stored ($n archived, one blob each, no temp file)"
	h_check "tmpfs: the archive still opens and verifies" eval "pv verify >/dev/null"
	mount -o remount,size=64m "$H_RUN/fs"
	pv_harvest
	h_is "$RC $(maildir_count bob)" "0 0" "tmpfs: with room again the next run completes"
	h_is "$(pv_archived)" "$(h_hashes "$H_RUN"/big/*.eml)" "tmpfs: every message archived exactly once"
	h_check "tmpfs: verify passes" eval "pv verify >/dev/null"
else
	h_skip "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)" 8
fi
