#include "archiver/lib/config.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "archiver/lib/fsutil.h"
#include "archiver/lib/limits.h"
#include "archiver/lib/number.h"

void pv_config_defaults(struct pv_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->origin, sizeof(cfg->origin), "localhost/popvault");
	cfg->message_max = PV_MESSAGE_SIZE_DEFAULT_MAX;
	cfg->batch_max = PV_HARVEST_BATCH_MAX;
	cfg->batch_ms = PV_HARVEST_BATCH_MS;
	cfg->parallel = 4;
	cfg->io_timeout_s = PV_POP3_IO_TIMEOUT_MS / 1000;
	cfg->min_rate = PV_POP3_MIN_RATE_BPS;
	cfg->session_max_s = (uint32_t)(PV_POP3_SESSION_TIMEOUT_MS / 1000);
	snprintf(cfg->listen, sizeof(cfg->listen), "127.0.0.1:8443");
	cfg->anchor_interval_s = 3600;
	cfg->anchor_stale_s = 26 * 3600; /* a daily anchor, with two hours' grace */
	cfg->harvest_interval_s = PV_CONFIG_HARVEST_INTERVAL_S;
	cfg->dispose_interval_s = PV_CONFIG_DISPOSE_INTERVAL_S;
	cfg->verify_interval_s = PV_CONFIG_VERIFY_INTERVAL_S;
	cfg->verify_sample = PV_CONFIG_VERIFY_SAMPLE;
	cfg->verify_full_interval_s = PV_CONFIG_VERIFY_FULL_INTERVAL_S;
}

/* An http(s) URL without spaces or control characters. */
static int url_ok(const char *v, size_t max)
{
	size_t n = strlen(v);
	if (n == 0 || n > max || (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] <= 0x20 || v[i] == 0x7f)
			return 0;
	return 1;
}

/* "VKEY URL": the vkey's form (name+8 hex+base64) only; audit/cosig.h
 * parses it when it is used. */
static int witness_entry(const char *v, struct pv_witness_config *w)
{
	const char *sp = strchr(v, ' ');
	if (sp == NULL || (size_t)(sp - v) >= sizeof(w->vkey))
		return -1;
	while (*sp == ' ')
		sp++;
	if (!url_ok(sp, PV_URL_MAX))
		return -1;
	memset(w, 0, sizeof(*w));
	memcpy(w->vkey, v, (size_t)(strchr(v, ' ') - v));
	const char *p1 = strchr(w->vkey, '+'), *p2 = p1 ? strchr(p1 + 1, '+') : NULL;
	if (p1 == NULL || p1 == w->vkey || p2 == NULL || p2 - p1 != 9)
		return -1;
	snprintf(w->url, sizeof(w->url), "%s", sp);
	return 0;
}

struct load_state {
	struct pv_config *cfg;
	struct pv_error *err;
	int failed;
	const char *path;  /* for its messages */
	const char *text;  /* to find a setting's line */
	bool serve_only;   /* serve's --config: its own settings only */
};

/* The line of the nth (from 0) `name` in [section] of text, 0 when not found:
 * inih as Debian builds it does not hand its handler the line. */
static int line_of(const char *text, const char *section, const char *name, int nth)
{
	bool in = false;
	size_t sl = strlen(section), nl = strlen(name);
	int line = 1;
	for (const char *p = text; *p; line++) {
		const char *e = strchr(p, '\n'), *q = p + strspn(p, " \t");
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (*q == '[')
			in = strncmp(q + 1, section, sl) == 0 && q[1 + sl] == ']';
		else if (in && strncmp(q, name, nl) == 0 && strchr(" \t=:", q[nl]) != NULL &&
			 nth-- == 0)
			return line;
		p += len + (e != NULL);
	}
	return 0;
}

/* Digits with an optional K, M or G suffix (sizes), in [min, max]. */
static int parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	size_t n = strlen(v);
	unsigned shift = 0;
	uint64_t x;
	if (n > 0 && strchr("KMG", v[n - 1]) != NULL)
		shift = v[--n] == 'K' ? 10 : v[n] == 'M' ? 20 : 30;
	if (pv_parse_u64(v, n, 0, UINT64_MAX >> shift, 0, &x) < 0)
		return -1;
	x <<= shift;
	if (x < min || x > max)
		return -1;
	*out = x;
	return 0;
}

int pv_parse_duration(const char *v, int64_t min, int64_t max, int64_t *out)
{
	static const struct {
		char unit;
		uint64_t s;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	size_t n = strlen(v);
	uint64_t mul = 1, x;
	for (size_t i = 0; n > 0 && i < sizeof(units) / sizeof(units[0]); i++)
		if (v[n - 1] == units[i].unit) {
			mul = units[i].s;
			n--;
			break;
		}
	if (pv_parse_u64(v, n, 0, (uint64_t)max / mul, 0, &x) < 0 || (int64_t)(x * mul) < min)
		return -1;
	*out = (int64_t)(x * mul);
	return 0;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
	struct load_state *st = user;
	struct pv_config *cfg = st->cfg;
	uint64_t n;
	int64_t secs;

	const char *want = NULL;
	if (st->failed)
		return 0; /* inih reads on: the first error is the one said */
	/* Of a key that may repeat (witness), which one this is. */
	int nth = strcmp(section, "witnesses") == 0 && strcmp(name, "witness") == 0
			  ? (int)cfg->n_witnesses
			  : 0;
#define IS(s, k) (strcmp(section, s) == 0 && strcmp(name, k) == 0)
	/* Read from the data directory's file by whatever opens the archive
	 * (harvest, anchor, verify): here it would be ignored, silently. */
	if (st->serve_only && strcmp(section, "serve") != 0 && !IS("harvest", "interval") &&
	    !IS("harvest", "parallel")) {
		pv_fail(st->err, PV_ERR, "%s line %d: %s in [%s] belongs in the data directory's "
			"popvault.conf, which every harvest reads; serve reads only [serve] and "
			"[harvest] interval and parallel from this file", st->path,
			line_of(st->text, section, name, nth), name, section);
		st->failed = 1;
		return 0;
	}
#define BAD(w)             \
	do {               \
		want = (w); \
		goto bad;  \
	} while (0)
	if (IS("archive", "origin")) {
		if (value[0] == '\0' || strlen(value) >= sizeof(cfg->origin) ||
		    strpbrk(value, " +\t") != NULL)
			BAD("a name without spaces or '+'");
		snprintf(cfg->origin, sizeof(cfg->origin), "%s", value);
	} else if (IS("harvest", "message_max")) {
		if (parse_u64(value, 1024, 1ull << 40, &n) < 0)
			BAD("a size from 1K to 1024G (K, M, G)");
		cfg->message_max = n;
	} else if (IS("harvest", "batch_max")) {
		if (parse_u64(value, 1, 65536, &n) < 0)
			BAD("a number from 1 to 65536");
		cfg->batch_max = (uint32_t)n;
	} else if (IS("harvest", "batch_ms")) {
		if (parse_u64(value, 1, 600000, &n) < 0)
			BAD("milliseconds, from 1 to 600000");
		cfg->batch_ms = (uint32_t)n;
	} else if (IS("harvest", "parallel")) {
		if (parse_u64(value, 1, 64, &n) < 0)
			BAD("a number from 1 to 64");
		cfg->parallel = (uint32_t)n;
	} else if (IS("harvest", "io_timeout")) {
		if (pv_parse_duration(value, 1, 3600, &secs) < 0)
			BAD("a duration from 1s to 1h (90, 30s, 15m)");
		cfg->io_timeout_s = (uint32_t)secs;
	} else if (IS("harvest", "min_rate")) {
		if (parse_u64(value, 1, 1ull << 30, &n) < 0)
			BAD("bytes a second, from 1 to 1G");
		cfg->min_rate = (uint32_t)n;
	} else if (IS("harvest", "session_max")) {
		if (pv_parse_duration(value, 1, 7 * 24 * 3600, &secs) < 0)
			BAD("a duration from 1s to 7d");
		cfg->session_max_s = (uint32_t)secs;
	} else if (IS("anchor", "tsa_url")) {
		if (!url_ok(value, PV_URL_MAX))
			BAD("an http or https URL");
		snprintf(cfg->tsa_url, sizeof(cfg->tsa_url), "%s", value);
	} else if (IS("anchor", "tsa_ca_file")) {
		if (value[0] == '\0' || strlen(value) >= sizeof(cfg->tsa_ca_file))
			BAD("a file name");
		snprintf(cfg->tsa_ca_file, sizeof(cfg->tsa_ca_file), "%s", value);
	} else if (IS("anchor", "tsa_crl_file")) {
		if (value[0] == '\0' || strlen(value) >= sizeof(cfg->tsa_crl_file))
			BAD("a file name");
		snprintf(cfg->tsa_crl_file, sizeof(cfg->tsa_crl_file), "%s", value);
	} else if (IS("anchor", "tsa_policy")) {
		if (value[0] == '\0' || strlen(value) >= sizeof(cfg->tsa_policy) ||
		    strspn(value, "0123456789.") != strlen(value))
			BAD("an OID: digits and dots");
		snprintf(cfg->tsa_policy, sizeof(cfg->tsa_policy), "%s", value);
	} else if (IS("anchor", "interval")) {
		if (pv_parse_duration(value, 60, 7 * 86400, &secs) < 0)
			BAD("a duration from 1m to 7d");
		cfg->anchor_interval_s = (uint32_t)secs;
	} else if (IS("anchor", "stale_after")) {
		if (pv_parse_duration(value, 60, 365 * 86400, &secs) < 0)
			BAD("a duration from 1m to 365d");
		cfg->anchor_stale_s = (uint32_t)secs;
	} else if (IS("witnesses", "witness")) {
		if (cfg->n_witnesses >= PV_WITNESSES_MAX) {
			pv_fail(st->err, PV_ERR, "%s: more than %d witnesses", st->path,
				PV_WITNESSES_MAX);
			st->failed = 1;
			return 0;
		}
		if (witness_entry(value, &cfg->witnesses[cfg->n_witnesses]) < 0)
			BAD("a witness's verifier key, a space, its URL");
		cfg->n_witnesses++;
	} else if (IS("witnesses", "quorum")) {
		if (parse_u64(value, 1, PV_WITNESSES_MAX, &n) < 0)
			BAD("a number from 1 to the witnesses allowed");
		cfg->witness_quorum = (uint32_t)n;
	} else if (IS("harvest", "interval")) {
		if (pv_parse_duration(value, 1, 86400, &cfg->harvest_interval_s) < 0)
			BAD("a duration from 1s to 1d (90, 30s, 15m, 6h)");
	} else if (IS("serve", "dispose_interval")) {
		if (pv_parse_duration(value, 0, 366 * 86400, &cfg->dispose_interval_s) < 0)
			BAD("a duration up to 366d (0: never)");
	} else if (IS("serve", "verify_interval")) {
		if (pv_parse_duration(value, 0, 366 * 86400, &cfg->verify_interval_s) < 0)
			BAD("a duration up to 366d (0: never)");
	} else if (IS("serve", "verify_sample")) {
		if (parse_u64(value, 1, 1000000, &n) < 0)
			BAD("a number from 1 to 1000000");
		cfg->verify_sample = (uint32_t)n;
	} else if (IS("serve", "verify_full_interval")) {
		if (pv_parse_duration(value, 0, 366 * 86400, &cfg->verify_full_interval_s) < 0)
			BAD("a duration up to 366d (0: never)");
	} else if (IS("serve", "listen")) {
		if (value[0] == '\0' || strlen(value) >= sizeof(cfg->listen))
			BAD("HOST:PORT");
		snprintf(cfg->listen, sizeof(cfg->listen), "%s", value);
	} else {
		pv_fail(st->err, PV_ERR, "%s line %d: unknown setting '%s' in [%s]", st->path,
			line_of(st->text, section, name, nth), name, section);
		st->failed = 1;
		return 0;
	}
	return 1;
#undef IS
#undef BAD
bad:
	pv_fail(st->err, PV_ERR, "%s line %d: bad value for %s in [%s]: '%s' (want %s)", st->path,
		line_of(st->text, section, name, nth), name, section, value, want);
	st->failed = 1;
	return 0;
}

bool pv_config_anchors(const struct pv_config *cfg)
{
	return cfg->tsa_url[0] != '\0' || cfg->n_witnesses > 0;
}

int pv_config_load(const char *data_dir, struct pv_config *cfg, struct pv_error *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/popvault.conf", data_dir);
	return pv_config_load_file(path, cfg, err);
}

static int load_file(const char *path, bool serve_only, struct pv_config *cfg,
		     struct pv_error *err)
{
	unsigned char *text;
	size_t len;
	struct load_state st = {cfg, err, 0, path, NULL, serve_only};

	pv_config_defaults(cfg);
	int r = pv_read_file(path, PV_CONFIG_FILE_MAX, &text, &len, err);
	if (r < 0)
		return r;
	st.text = (const char *)text;
	int rc = ini_parse_string((const char *)text, on_entry, &st);
	free(text);
	if (st.failed)
		return PV_ERR;
	if (rc != 0)
		return pv_fail(err, PV_ERR, "%s line %d: syntax error", path, rc);
	return PV_OK;
}

int pv_config_load_file(const char *path, struct pv_config *cfg, struct pv_error *err)
{
	return load_file(path, false, cfg, err);
}

int pv_config_load_serve(const char *path, struct pv_config *cfg, struct pv_error *err)
{
	return load_file(path, true, cfg, err);
}

int pv_config_load_for_serve(const char *data_dir, const char *path, struct pv_config *cfg,
			     struct pv_error *err)
{
	char own[4096];
	struct stat a, b;
	snprintf(own, sizeof(own), "%s/popvault.conf", data_dir);
	bool same = stat(path, &a) == 0 && stat(own, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino;
	return same ? pv_config_load_file(path, cfg, err) : pv_config_load_serve(path, cfg, err);
}

int pv_config_write(const char *data_dir, const struct pv_config *cfg, struct pv_error *err)
{
	char path[4096], text[4096];
	snprintf(path, sizeof(path), "%s/popvault.conf", data_dir);
	int n = snprintf(text, sizeof(text),
			 "# popvault bootstrap configuration. Accounts, users and policies\n"
			 "# live in the database, versioned and audited; see `popvault --help`.\n"
			 "[archive]\n"
			 "# Names the logs: checkpoints are signed as ORIGIN/archive and ORIGIN/audit.\n"
			 "origin = %s\n\n"
			 "[harvest]\n"
			 "# Messages larger than this stay upstream and are reported.\n"
			 "message_max = %llu\n"
			 "batch_max = %u\n"
			 "batch_ms = %u\n"
			 "parallel = %u\n"
			 "# A slow or endless server: seconds without progress, bytes a second\n"
			 "# while waiting (over each io_timeout), seconds one session may last.\n"
			 "io_timeout = %u\n"
			 "min_rate = %u\n"
			 "session_max = %u\n\n"
			 "[serve]\n"
			 "listen = %s\n\n"
			 "# Anchors outside this machine (popvault anchor; popvault.conf(5)).\n"
			 "# An RFC 3161 Time-Stamp Authority stamps each log's checkpoint:\n"
			 "#[anchor]\n"
			 "#tsa_url = https://tsa.example.org/\n"
			 "#tsa_ca_file = /etc/popvault/tsa-ca.pem\n"
			 "# The CA's CRLs (PEM), kept fresh by you: a revoked TSA is refused.\n"
			 "#tsa_crl_file = /etc/popvault/tsa-ca.crl\n"
			 "#tsa_policy = 1.2.3.4.1\n"
			 "#interval = 1h\n"
			 "#stale_after = 26h\n"
			 "# C2SP tlog-witness witnesses cosign them (one line each: VKEY URL):\n"
			 "#[witnesses]\n"
			 "#witness = witness.example.org+1234abcd+BASE64 https://witness.example.org/\n",
			 cfg->origin, (unsigned long long)cfg->message_max, cfg->batch_max,
			 cfg->batch_ms, cfg->parallel, cfg->io_timeout_s, cfg->min_rate,
			 cfg->session_max_s, cfg->listen);
	return pv_write_file(path, text, (size_t)n, 0600, 1, err);
}
