#ifndef PV_HARVEST_PROBE_H
#define PV_HARVEST_PROBE_H

/* "Test account" (the admin's check of an upstream account, `popvault
 * account test`, POST /api/v1/accounts/{name}/test): connect, TLS as a
 * harvest would verify it, CAPA, log in with the stored secret, STAT,
 * QUIT. Read-only upstream: no RETR, no DELE, so QUIT commits nothing. */

#include <stdbool.h>
#include <stdint.h>

#include "archiver/lib/error.h"
#include "archiver/pop3/pop3.h"
#include "archiver/store/datadir.h"

/* The stage a test reached: where it stopped, or "done". */
#define PROBE_CONNECT "connect" /* TCP, TLS, greeting, CAPA (and STLS) */
#define PROBE_LOGIN "login"
#define PROBE_STAT "stat"
#define PROBE_QUIT "quit"
#define PROBE_DONE "done"

/* The capabilities as text, one per line ("TOP", "SASL PLAIN LOGIN",
 * "EXPIRE 30", "LOGIN-DELAY 900", ...). */
#define PROBE_CAPS_MAX 512

struct probe_result {
	bool ok;                       /* every stage passed */
	const char *stage;             /* PROBE_* */
	char error[PV_ERROR_MSG_MAX];  /* why it stopped ("" when ok) */
	bool connected;                /* tls and caps below are valid */
	struct pop3_tls_info tls;      /* tls.active false: clear text */
	char caps[PROBE_CAPS_MAX];     /* after login when it got that far */
	char implementation[64];
	const char *auth;              /* the mechanism used, NULL before login */
	bool stat_ok;
	uint32_t messages;
	uint64_t octets;
	int64_t elapsed_ms;
};

/* Tests the active account name and records it: an "account-test" entry
 * ("account=NAME server=HOST:PORT stage=S"; outcome "ok" or "failed:
 * why") after the test, since the test hands out no archived content.
 * Returns PV_OK when the test ran, whatever it found (res_r says);
 * PV_ENOTFOUND for no such account; the audit failure when the entry could
 * not be written (then res_r must not be shown: the test is not on record). */
int harvest_probe_account(struct archive *ar, const char *actor, const char *name,
			  struct probe_result *res_r, struct pv_error *err);

/* Writes caps as text lines (see PROBE_CAPS_MAX) into out. */
void harvest_probe_caps(const struct pop3_caps *caps, char out[PROBE_CAPS_MAX]);

#endif
