#!/bin/bash
# The backend matrix (tests/README): an e2e suite run again with its
# sealed packs in another store.  make links build/e2e-STORE/SUITE.t to
# this file; run, it is tests/e2e/SUITE.t under POPVAULT_TEST_STORE=STORE
# (the TAP is the suite's own), with POPVAULT_MATRIX_ENV's VAR=VALUE words
# added (lighter settings for the matrix run only, e.g. fewer crash rounds).
self=$(readlink -f "$0") || exit 1
src=$(cd "$(dirname "$self")/../../.." && pwd) || exit 1
dir=$(dirname "$0")
store=${dir##*/e2e-}
# shellcheck disable=SC2086 # POPVAULT_MATRIX_ENV is a list of words
exec env POPVAULT_TEST_STORE="$store" ${POPVAULT_MATRIX_ENV:-} "$src/tests/e2e/$(basename "$0")"
