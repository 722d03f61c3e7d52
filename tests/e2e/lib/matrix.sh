#!/bin/bash
# The backend matrix (tests/README): an e2e suite run again on other
# backends.  make links build/e2e-BACKENDS/SUITE.t to this file, BACKENDS
# being words joined by "-": "s3" keeps the sealed packs in a real S3
# (POPVAULT_TEST_STORE=s3), "pg" the catalog in a real PostgreSQL
# (POPVAULT_TEST_CATALOG=pg); e2e-pg-s3 is both.  Run, it is
# tests/e2e/SUITE.t under those switches (the TAP is the suite's own),
# with POPVAULT_MATRIX_ENV's VAR=VALUE words added (lighter settings for
# the matrix run only, e.g. fewer crash rounds).
self=$(readlink -f "$0") || exit 1
src=$(cd "$(dirname "$self")/../../.." && pwd) || exit 1
dir=$(dirname "$0")
backends=${dir##*/e2e-}
switches=()
IFS=- read -r -a words <<<"$backends"
for w in "${words[@]}"; do
	case $w in
	s3) switches+=(POPVAULT_TEST_STORE=s3) ;;
	pg) switches+=(POPVAULT_TEST_CATALOG=pg) ;;
	*) echo "Bail out! matrix.sh: unknown backend '$w' in $dir"; exit 1 ;;
	esac
done
# shellcheck disable=SC2086 # POPVAULT_MATRIX_ENV is a list of words
exec env "${switches[@]}" ${POPVAULT_MATRIX_ENV:-} "$src/tests/e2e/$(basename "$0")"
