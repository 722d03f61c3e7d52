#!/bin/bash
# Search on PostgreSQL beside FTS5 at the same size (make bench, part
# "index"): a private PostgreSQL 15 (tests/e2e/lib/pg.sh) whose database
# pv_index_N holds the search index of the N messages bench_index
# generates, written as popvault's indexer writes them; bench_index --pg
# then runs every query class on both backends, the same queries, and
# prints them side by side. The cluster is kept in BENCH_PG_INDEX_DIR
# (default $BUILD/bench/pg-index) and its index reused while N, the
# generator and the catalog schema stay the same, as index-N.db is; the
# server is started for the run and stopped after it (by pg_ctl, then by
# its PID).
#   pg_index.sh N QUERY_RUNS FTS5_CACHE_FILE
set -eu -o pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
N=$1 RUNS=$2 CACHE=$3
DIR=${BENCH_PG_INDEX_DIR:-$BUILD/bench/pg-index}
. tests/e2e/lib/pg.sh

# As pg_scale.sh: one query, one core (FTS5 uses one too), no JIT; the
# index is derived data, so fsync stays off (pg.sh's default).
export PG_OPTS="-c shared_buffers=512MB -c work_mem=64MB -c max_parallel_workers_per_gather=0 \
-c random_page_cost=1.1 -c jit=off"
pg_start "$DIR"
trap 'pg_stop' EXIT
PSQL=("$PG_BINDIR/psql" "$PG_URL" -qAt -v ON_ERROR_STOP=1)
db=pv_index_$N
# one size kept at a time (a database per size would only grow)
for old in $("${PSQL[@]}" -c "SELECT datname FROM pg_database WHERE datname LIKE 'pv\_index\_%' AND datname <> '$db'"); do
	"${PSQL[@]}" -c "DROP DATABASE $old"
done
[ -n "$("${PSQL[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ] ||
	"${PSQL[@]}" -c "CREATE DATABASE $db"
"$BUILD/bench/bench_index" --pg "host=$PG_HOST port=$PG_PORT user=postgres dbname=$db" \
	"$N" "$RUNS" "$CACHE"
