#!/bin/bash
# A revoked TSA (RFC 3161 §4): verify --tsa-crl, verify-bundle --tsa-crl
# and [anchor] tsa_crl_file check each time-stamp's TSA certificate
# against the CRLs its CA (the harness's, `openssl ca`) published. A
# revocation for keyCompromise or with no reason code voids every token
# of that key; one for superseded (or unspecified, affiliationChanged,
# cessationOfOperation) leaves the tokens made before it standing; a
# token made after it is void. A CRL of another CA, one forged in the
# CA's name, and a file with no CRL check nothing and say so. anchor
# refuses a token from a TSA whose certificate is revoked.
set -u
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/popvault.sh"
h_init
h_plan 25

h_genmail --count 3 --seed 8 --out "$H_RUN/mail"
h_dovecot_start --seed alice="$H_RUN/mail"
h_tsa_start
pv_init "$H_RUN/a"
pv_dovecot_account alice
pv_tsa_anchor
pv harvest --once >/dev/null 2>&1
tokens() { pv_sql "SELECT count(*) FROM anchor_tokens"; }
pv anchor >"$H_RUN/out" 2>&1
h_is "$(tokens)" 2 "the TSA stamps both logs" "$(cat "$H_RUN/out")"
sleep 1 # each revocation below comes after these time-stamps

# ca_copy DIR: the TSA's CA in a directory of its own (its own index of
# revocations); revoke DIR [REASON]; crl DIR OUT: the CRL it publishes.
ca_copy() {
	cp -r "$TSA_DIR" "$1"
	sed -i "s|^dir = .*|dir = $1|" "$1/ca.cnf"
}
revoke() {
	openssl ca -config "$1/ca.cnf" -keyfile "$1/ca.key" -cert "$1/ca.pem" \
		-revoke "$1/tsa.pem" ${2:+-crl_reason "$2"} >>"$H_RUN/openssl.log" 2>&1
}
crl() {
	openssl ca -config "$1/ca.cnf" -keyfile "${3:-$1/ca.key}" -cert "${4:-$1/ca.pem}" \
		-gencrl -crldays 30 -out "$2" >>"$H_RUN/openssl.log" 2>&1
}
for c in clean kc noreason sup other forged; do ca_copy "$H_RUN/$c"; done
crl "$H_RUN/clean" "$H_RUN/clean.crl"
revoke "$H_RUN/kc" keyCompromise && crl "$H_RUN/kc" "$H_RUN/kc.crl"
revoke "$H_RUN/noreason" && crl "$H_RUN/noreason" "$H_RUN/noreason.crl"
revoke "$H_RUN/sup" superseded && crl "$H_RUN/sup" "$H_RUN/sup.crl"
crl "$H_RUN/other" "$H_RUN/other.crl" "$H_RUN/other/other-ca.key" "$H_RUN/other/other-ca.pem"
# A CA certificate with the TSA CA's very name and a key of its own.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
	-subj "/CN=popvault test TSA CA" -keyout "$H_RUN/forged/f.key" \
	-out "$H_RUN/forged/f.pem" >>"$H_RUN/openssl.log" 2>&1
crl "$H_RUN/forged" "$H_RUN/forged.crl" "$H_RUN/forged/f.key" "$H_RUN/forged/f.pem"
h_check "openssl ca published the CRLs" \
	test -s "$H_RUN/clean.crl" -a -s "$H_RUN/kc.crl" -a -s "$H_RUN/noreason.crl" -a \
	-s "$H_RUN/sup.crl" -a -s "$H_RUN/other.crl" -a -s "$H_RUN/forged.crl"

# --- verify ---------------------------------------------------------------------------
pv verify --tsa-crl "$H_RUN/clean.crl" >"$H_RUN/out" 2>&1
h_is $? 0 "verify --tsa-crl: a CRL that does not list the TSA leaves both time-stamps standing" \
	"$(cat "$H_RUN/out")"
h_like "$(cat "$H_RUN/out")" "^revocation: +2 time-stamps checked against the TSA CA's CRL of 20" \
	"…and says what was checked against which CRL"
openssl crl -in "$H_RUN/clean.crl" -outform DER -out "$H_RUN/clean.der"
pv verify --tsa-crl "$H_RUN/clean.der" >"$H_RUN/out" 2>&1
h_is $? 0 "…a DER CRL is read too" "$(cat "$H_RUN/out")"
h_fails "a TSA revoked for keyCompromise voids its earlier time-stamps" 3 \
	"revoked on 20.* for keyCompromise, which voids every time-stamp of its key" \
	"$PV" --data "$D" verify --tsa-crl "$H_RUN/kc.crl"
h_is "$(grep -c 'keyCompromise' "$H_RUN/fails.out")" 2 "…both of them, each named"
h_fails "a revocation with no reason code voids them too (RFC 3161 §4)" 3 \
	"revoked on 20.* with no reason code, which voids every time-stamp" \
	"$PV" --data "$D" verify --tsa-crl "$H_RUN/noreason.crl"
pv verify --tsa-crl "$H_RUN/sup.crl" >"$H_RUN/out" 2>&1
h_is $? 0 "a TSA superseded after its time-stamps leaves them standing" "$(cat "$H_RUN/out")"
h_like "$(cat "$H_RUN/out")" "revoked on 20.*, after it, for a reason that leaves earlier time-stamps standing" \
	"…and verify says it was revoked since"
h_fails "a CRL of another CA checks nothing, and says so" 3 \
	"holds no CRL of /CN=popvault test TSA CA, the TSA certificate's issuer: revocation not checked" \
	"$PV" --data "$D" verify --tsa-crl "$H_RUN/other.crl"
h_fails "a CRL in the CA's name under another key is refused" 3 \
	"holds a CRL in the name of /CN=popvault test TSA CA that its key did not sign" \
	"$PV" --data "$D" verify --tsa-crl "$H_RUN/forged.crl"
printf 'not a CRL\n' >"$H_RUN/junk.crl"
h_fails "a file with no CRL in it is named" 3 "TSA CRL file .*junk.crl: no CRL could be read" \
	"$PV" --data "$D" verify --tsa-crl "$H_RUN/junk.crl"
h_fails "--tsa-crl of a file that is not there is a usage error" 2 "--tsa-crl .*: cannot be read" \
	"$PV" --data "$D" verify --tsa-crl "$H_RUN/none.crl"
echo "tsa_crl_file = $H_RUN/kc.crl" >>"$D/popvault.conf"
h_fails "[anchor] tsa_crl_file is what a plain verify checks against" 3 "for keyCompromise" \
	"$PV" --data "$D" verify

# --- anchor ---------------------------------------------------------------------------
sed -i "s|^tsa_crl_file = .*|tsa_crl_file = $H_RUN/sup.crl|" "$D/popvault.conf"
n=$(tokens)
h_fails "anchor refuses a token from a TSA whose certificate is revoked" 1 \
	"tsa: FAILED: time-stamp token: made after its TSA's certificate was revoked" \
	"$PV" --data "$D" anchor --log archive
h_is "$(tokens)" "$n" "…and stores nothing"
h_like "$(pv audit list --type anchor | tail -n 1)" "outcome=failed|failed" "…the refusal audited"
sed -i '/^tsa_crl_file = /d' "$D/popvault.conf"
pv anchor --log archive >"$H_RUN/out" 2>&1
h_is "$(tokens)" $((n + 1)) "without a CRL the revoked TSA's token is taken (nobody told popvault)" \
	"$(cat "$H_RUN/out")"
h_fails "verify --tsa-crl then voids that token, made after the revocation" 3 \
	"made after its TSA's certificate was revoked" \
	"$PV" --data "$D" verify --tsa-crl "$H_RUN/sup.crl"
h_is "$(grep -c 'made after its TSA' "$H_RUN/fails.out")" 1 "…and only that one"

# --- bundles --------------------------------------------------------------------------
UK=$(pv checkpoint --log audit --vkey)
pv audit export --out "$H_RUN/audit.tar.gz" >/dev/null
vb() { "$PV" verify-bundle "$H_RUN/audit.tar.gz" --vkey "$UK" --tsa-ca "$TSA_CA" "$@"; }
vb --tsa-crl "$H_RUN/clean.crl" >"$H_RUN/out" 2>&1
h_is $? 0 "verify-bundle --tsa-crl: the audit bundle's time-stamp stands against a clean CRL" \
	"$(cat "$H_RUN/out")"
h_like "$(cat "$H_RUN/out")" "ok: audit/timestamps/[0-9]+.tsr: its TSA's certificate is not revoked by the CRL of 20" \
	"…and says so"
h_fails "verify-bundle --tsa-crl: a TSA revoked for keyCompromise fails the bundle" 3 \
	"FAIL: audit/timestamps/[0-9]+.tsr: time-stamp token: .*for keyCompromise" \
	vb --tsa-crl "$H_RUN/kc.crl"
h_fails "verify-bundle --tsa-crl without --tsa-ca is a usage error" 2 "--tsa-crl goes with --tsa-ca" \
	"$PV" verify-bundle "$H_RUN/audit.tar.gz" --vkey "$UK" --tsa-crl "$H_RUN/clean.crl"
