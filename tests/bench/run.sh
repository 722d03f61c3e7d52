#!/bin/bash
# make bench: every benchmark figure in one run, measured now, on this machine.
#   1. harvest: popvault against mpop, fetchmail, getmail6 and a client that
#      stores nothing, same Dovecot, same generated mailbox, plain and TLS
#      (tests/bench/harvest.py), and popvault with its catalog on PostgreSQL
#      (popvault-pg) in the same rounds; the index lag after the harvest; one 50 MB
#      message for peak RSS; scaling: harvest msg/s and verify --full MB/s
#      at 1,000 and 10,000 messages in the archive (and 100,000 on request)
#   2. tlog: appends in batches of 256 with a signed checkpoint, proofs at
#      1,000,000 leaves (bench_tlog)
#   3. index: messages/s indexed, query p50/p95/p99 per query class at
#      1,000,000 messages (bench_index; the index is built once and kept in
#      $BUILD/bench/index-N.db); then the same classes on PostgreSQL's
#      search beside FTS5 at 100,000 messages (tests/bench/pg_index.sh)
#   4. audit: single appends with a signed checkpoint each, bundle export
#      and offline verification (bench_audit, 10 x BENCH_N events)
#   5. export: eDiscovery bundle of BENCH_N harvested messages, verify-bundle
#      (bench_export.py)
#   6. api: popvault serve over BENCH_N harvested messages, wrk with 1 and 50
#      clients: req/s, p50/p95/p99 of search, message view and status
#      (bench_api.py; target search p95 < 100 ms at 50 clients)
#   7. postgresql (only with BENCH_PG=1): search p50/p95 per query class on
#      1 M documents and catalog lookups on 10 M rows (tests/bench/pg_scale.sh)
# Every target of issue 12 is printed as a line "target ...: FIGURE (target
# GOAL) MET|SHORT", a SHORT one followed by what bounds it; the summary at
# the end repeats them all.
# Knobs: BENCH_QUICK=1 (a check that every part runs: small sizes, one run,
# a minute or two; its figures say little), BENCH_N (messages, default
# 10000), BENCH_RUNS (default 3), BENCH_SCALE (archive sizes for the scaling
# figures, default 1000,10000; 1000,10000,100000 adds the 100,000 step:
# about 8 GB of mail and several more minutes), BENCH_INDEX_N (messages in
# the search index, default 1000000), BENCH_EXPORT_N (messages exported,
# default BENCH_N), BENCH_BUNDLE_N (small messages in the bundle whose
# verify-bundle memory is measured, default 100000: several minutes; 0: none), BENCH_API_SECONDS (per wrk run, default 10),
# BENCH_TOOL_RUNS (fewer runs for slow peers, default getmail=1),
# BENCH_PROFILE (auto: perf profile when popvault misses a harvest target |
# always | never), BENCH_ONLY (harvest,tlog,index,audit,export,api),
# BENCH_PG_HARVEST=0 (no popvault-pg in the harvest), BENCH_PG_INDEX_N
# (messages of the search comparison on PostgreSQL, default 100000; 0: none;
# both need PostgreSQL 15, which packaging/deps.sh installs), BENCH_PG=1 (the PostgreSQL scale part),
# BENCH_REV (what to call the measured source in the report; default: the
# work tree's commit).
# The report is printed and kept in $BUILD/bench/report.txt (JSON figures
# of the harvest in harvest.json).
set -eu -o pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
OUT=$BUILD/bench
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then
	QUICK=1
	N=${BENCH_N:-200}
	RUNS=${BENCH_RUNS:-1}
	SCALE=${BENCH_SCALE-200,1000}
	SCALE_PROBE=100
	BIG_MB=5
	INDEX_N=${BENCH_INDEX_N:-5000}
	PG_INDEX_N=${BENCH_PG_INDEX_N:-$INDEX_N}
	BUNDLE_N=${BENCH_BUNDLE_N:-300}
	QUERY_RUNS=20
	PROFILE=${BENCH_PROFILE:-never}
	export BENCH_API_SECONDS=${BENCH_API_SECONDS:-2}
else
	QUICK=
	N=${BENCH_N:-10000}
	RUNS=${BENCH_RUNS:-3}
	SCALE=${BENCH_SCALE-1000,10000}
	SCALE_PROBE=1000
	BIG_MB=50
	INDEX_N=${BENCH_INDEX_N:-1000000}
	PG_INDEX_N=${BENCH_PG_INDEX_N:-100000}
	BUNDLE_N=${BENCH_BUNDLE_N:-100000}
	QUERY_RUNS=100
	PROFILE=${BENCH_PROFILE:-auto}
fi
EXPORT_N=${BENCH_EXPORT_N:-$N}
TOOL_RUNS=${BENCH_TOOL_RUNS-getmail=1}
ONLY=${BENCH_ONLY:-harvest,tlog,index,audit,export,api}
REPORT=$OUT/report.txt
mkdir -p "$OUT"
: >"$REPORT"

want() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }
# PostgreSQL 15 (packaging/deps.sh installs it with everything make needs)
have_pg() { [ -x "${PG_BINDIR:-/usr/lib/postgresql/15/bin}/initdb" ]; }
HARVEST_TOOLS=popvault,mpop,fetchmail,getmail,null
if [ "${BENCH_PG_HARVEST:-1}" != 0 ]; then
	if have_pg; then
		HARVEST_TOOLS=popvault,popvault-pg,mpop,fetchmail,getmail,null
	else
		echo "bench: no PostgreSQL 15: the harvest runs without popvault-pg" >&2
	fi
fi
section() { printf '\n== %s\n' "$*" | tee -a "$REPORT"; }
start=$(date +%s)
rc=0

section "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)," \
	"source ${BENCH_REV:-$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- archiver audit policy 2>/dev/null || echo ' with uncommitted changes')}"

if want harvest; then
	section "harvest: $N messages, $RUNS runs (tests/bench/harvest.py)"
	python3 tests/bench/harvest.py --popvault "$BUILD/popvault" --null "$OUT/popnull" \
		--count "$N" --runs "$RUNS" --tool-runs "$TOOL_RUNS" --profile "$PROFILE" \
		--tools "$HARVEST_TOOLS" \
		--big-mb "$BIG_MB" --scale "$SCALE" --scale-probe "$SCALE_PROBE" \
		--json "$OUT/harvest.json" | tee -a "$REPORT" || rc=1
fi

if want tlog; then
	leaves=1000000
	if [ "$N" -lt 10000 ]; then leaves=$((N * 100)); fi
	section "tlog: $leaves leaves (bench_tlog)"
	"$OUT/bench_tlog" "$leaves" | tee -a "$REPORT" || rc=1
fi

if want index && [ -x "$OUT/bench_index" ]; then
	section "index: $INDEX_N messages, $QUERY_RUNS queries per class (bench_index)"
	"$OUT/bench_index" "$INDEX_N" "$QUERY_RUNS" "$OUT/index-$INDEX_N.db" | tee -a "$REPORT" || rc=1
fi

# Search on PostgreSQL beside FTS5: the same generated messages at
# PG_INDEX_N in both (index-N.db and a kept cluster in $OUT/pg-index),
# the same queries; figures and ratios, no targets (issue 12's are FTS5's).
if want index && [ "$PG_INDEX_N" != 0 ] && [ -x "$OUT/bench_index" ]; then
	if have_pg; then
		section "index on PostgreSQL beside FTS5: $PG_INDEX_N messages, $QUERY_RUNS queries per class (pg_index.sh)"
		BUILD=$BUILD tests/bench/pg_index.sh "$PG_INDEX_N" "$QUERY_RUNS" "$OUT/index-$PG_INDEX_N.db" |
			tee -a "$REPORT" || rc=1
	else
		section "index on PostgreSQL: left out, no PostgreSQL 15 (packaging/deps.sh installs postgresql-15)"
	fi
fi

if want audit && [ -x "$OUT/bench_audit" ]; then
	events=$((N * 10))
	section "audit: $events events (bench_audit)"
	"$OUT/bench_audit" "$events" | tee -a "$REPORT" || rc=1
fi

if want export && [ -f tests/bench/bench_export.py ]; then
	section "export: $EXPORT_N messages (bench_export.py)"
	python3 tests/bench/bench_export.py --popvault "$BUILD/popvault" --count "$EXPORT_N" \
		--bundle-count "$BUNDLE_N" \
		--json "$OUT/export.json" | tee -a "$REPORT" || rc=1
fi

if want api && [ -f tests/bench/bench_api.py ]; then
	section "api: popvault serve over $N messages (bench_api.py)"
	python3 tests/bench/bench_api.py --popvault "$BUILD/popvault" --count "$N" \
		--json "$OUT/api.json" | tee -a "$REPORT" || rc=1
fi

# Optional (BENCH_PG=1): the search index and catalog at scale on a private
# PostgreSQL (tests/bench/pg_scale.sh; 10 M catalog rows and 1 M search
# documents by default, about 15 min on this machine, mostly generation).
if [ "${BENCH_PG:-}" = 1 ] && [ -x "$OUT/bench_pg" ]; then
	section "postgresql: catalog rows and search at scale (pg_scale.sh)"
	BUILD=$BUILD tests/bench/pg_scale.sh | tee -a "$REPORT" || rc=1
fi

section "targets (issue 12): every one printed above, repeated"
grep -E '^target[ :]|^       (bound|\()' "$REPORT" >"$OUT/targets.txt" || true
tee -a "$REPORT" <"$OUT/targets.txt"
if [ -n "$QUICK" ]; then
	echo "(BENCH_QUICK: small sizes, one run: these figures only show that every part runs)" |
		tee -a "$REPORT"
fi
grep -m1 "^WARNING: other processes" "$REPORT" || true

section "done in $(($(date +%s) - start)) s, load $(cut -d' ' -f1-3 /proc/loadavg); report in $REPORT"
[ "$rc" -eq 0 ] || echo "bench: a benchmark FAILED (see above)"
exit "$rc"
