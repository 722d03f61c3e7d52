#!/bin/bash
# Static analysis in `make test`: `make lint` (cppcheck and scan-build over
# the program's sources, tests/static/lint.sh) reports nothing that
# tests/static/suppressions.txt does not excuse with a reason, and no
# excuse is stale. Each analyzer must also find the bugs planted in
# tests/static/planted.c, so a lint that stopped looking cannot pass.
# A fresh build dir on a machine that never ran lint analyses every file
# (about 10 CPU-minutes); later runs only what changed, and a clean
# checkout takes every unchanged file's report from lint.sh's cache
# (keyed by the preprocessed source): about a minute. The planted bugs
# are always analysed afresh (LINT_CACHE empty).
set -u
. "$(dirname "$0")/lib/harness.sh"
h_init
cd "$H_SRC" || exit 1
h_plan 4

out=$(make -s --no-print-directory lint 2>&1)
if [ $? -eq 0 ]; then
	h_pass "make lint: $(echo "$out" | tail -n1)"
else
	h_fail "make lint: no finding without a justified suppression" "$out"
fi

planted=$(BUILD="$H_RUN/build" LINT_CACHE= LINT_SUPPRESSIONS=/dev/null tests/static/lint.sh tests/static/planted.c 2>&1)
h_like "$planted" "planted.c:13: cppcheck: nullPointer" "cppcheck finds the planted NULL dereference"
h_like "$planted" "planted.c:13: scan-build: core.NullDereference" "scan-build finds the planted NULL dereference"
h_like "$planted" "planted.c:20: scan-build: unix.Malloc: Potential leak" "scan-build finds the planted leak"
