#!/bin/bash
# The first make on a fresh machine (issue 11). The compiler flags come from
# pkg-config, which knows nothing until packaging/deps.sh has installed the
# packages; a Makefile that asks pkg-config when it is read compiles without
# GMime's flags ("glib.h: No such file or directory"), and under -j even
# compiles beside the install ("sodium.h: No such file or directory").
# CI has every package already, so the fresh machine is played here: the
# real Makefile runs in a scratch tree where
#   pkg-config fails until a marker exists,
#   packaging/deps.sh is a stand-in that writes the marker after a pause,
#   cc refuses to run before the marker exists,
#   the sources are a small program that needs every package's flags,
# and each top-level make must build it the first time.
set -u
. "$(dirname "$0")/lib/harness.sh"
h_init
h_plan 16

REAL_PKG_CONFIG=$(command -v pkg-config) || h_skip_all "pkg-config is not installed"
REAL_CC=$(command -v cc) || h_skip_all "cc is not installed"
PKGS="openssl sqlite3 libsodium libarchive libzstd jansson inih gmime-3.0"
"$REAL_PKG_CONFIG" --exists $PKGS || h_skip_all "the packages are not installed (packaging/deps.sh)"
GMIME_I=$("$REAL_PKG_CONFIG" --cflags-only-I gmime-3.0 | awk '{print $1}')

# fresh NAME: a new scratch tree $T with nothing "installed" yet.
fresh() {
	T=$H_RUN/$1
	mkdir -p "$T/bin" "$T/packaging" "$T/archiver/cli" "$T/lib" "$T/tests/e2e" "$T/state"
	cp "$H_SRC/Makefile" "$T/"
	cat >"$T/packaging/deps.sh" <<-EOF
		#!/bin/sh
		echo run >>"$T/state/deps.log"
		sleep 1
		touch "$T/state/installed"
	EOF
	cat >"$T/bin/pkg-config" <<-EOF
		#!/bin/sh
		if [ ! -e "$T/state/installed" ]; then
			echo "pkg-config \$*" >>"$T/state/early.log"
			exit 1
		fi
		exec "$REAL_PKG_CONFIG" "\$@"
	EOF
	cat >"$T/bin/cc" <<-EOF
		#!/bin/sh
		if [ ! -e "$T/state/installed" ]; then
			echo "cc: run before packaging/deps.sh finished" >&2
			exit 1
		fi
		exec "$REAL_CC" "\$@"
	EOF
	cat >"$T/tests/e2e/demo.sh" <<-EOF
		#!/bin/sh
		exec "$T/out/popvault" demo
	EOF
	chmod +x "$T/packaging/deps.sh" "$T/bin/pkg-config" "$T/bin/cc" "$T/tests/e2e/demo.sh"
	cat >"$T/lib/word.h" <<-'EOF'
		const char *word(void);
	EOF
	cat >"$T/lib/word.c" <<-'EOF'
		#include "lib/word.h"
		const char *word(void) { return "built"; }
	EOF
	cat >"$T/archiver/cli/main.c" <<-'EOF'
		#include <archive.h>
		#include <gmime/gmime.h>
		#include <ini.h>
		#include <jansson.h>
		#include <openssl/crypto.h>
		#include <sodium.h>
		#include <sqlite3.h>
		#include <stdio.h>
		#include <zstd.h>
		#include "lib/word.h"
		static int handler(void *u, const char *s, const char *n, const char *v)
		{
			(void)u; (void)s; (void)n; (void)v;
			return 1;
		}
		int main(int argc, char **argv)
		{
			json_t *j = json_integer(1);
			g_mime_init();
			printf("%s %s: gmime %u, sodium %s, sqlite %s, zstd %u, %s, %s, ini %d, json %d\n",
			       word(), argc > 1 ? argv[1] : "", gmime_major_version,
			       sodium_version_string(), sqlite3_libversion(), ZSTD_versionNumber(),
			       archive_version_string(), OpenSSL_version(OPENSSL_VERSION),
			       ini_parse_string("", handler, NULL), (int)json_integer_value(j));
			json_decref(j);
			return 0;
		}
	EOF
}

# tmake ARGS...: make in $T as on a fresh machine; output in $T/make.out.
# A clean environment: the make running this test (make test) exports
# MAKEFLAGS, PV_DEPS_DONE and the like, which must not reach the makes
# under test.
tmake() {
	(cd "$T" && env -i PATH="$T/bin:$PATH" HOME="$HOME" ${PKG_CONFIG_PATH:+PKG_CONFIG_PATH="$PKG_CONFIG_PATH"} \
		make BUILD=out SRC_DIRS=lib "$@") >"$T/make.out" 2>&1
}
deps_runs() { cat "$T/state/deps.log" 2>/dev/null | wc -l; }
why() { printf '%s\n' "$(tail -n 15 "$T/make.out")" "early: $(cat "$T/state/early.log" 2>/dev/null)"; }

# ---- make: the default goal ----
fresh plain
tmake
rc=$?
h_is "$rc" 0 "make: the first run builds"
[ "$rc" -eq 0 ] || h_diag "$(why)"
h_like "$(grep -- ' -c -o out/obj/archiver/cli/main.o' "$T/make.out")" " $GMIME_I( |$)" \
	"make: the compile has pkg-config's flags ($GMIME_I)"
h_like "$("$T/out/popvault" 2>&1)" '^built : gmime 3,' "make: the program runs, linked with pkg-config's libraries"
h_is "$(deps_runs)" 1 "make: packaging/deps.sh ran once"
tmake
h_is "$? $(deps_runs)" "0 2" "make again: deps.sh checks again, the build still succeeds"
h_like "$(cat "$T/make.out")" "Nothing to be done for 'all'" "make again: ... and rebuilds nothing"

# ---- make -j2 demo: deps.sh and the compile must not run side by side ----
fresh demo
tmake -j2 demo
rc=$?
h_is "$rc" 0 "make -j2 demo: the first run builds and runs the demo"
[ "$rc" -eq 0 ] || h_diag "$(why)"
h_like "$(cat "$T/make.out")" '^built demo: gmime 3,' "make -j2 demo: the demo ran the program"
h_check "make -j2 demo: no compile ran before deps.sh finished" \
	eval '! grep -q "run before packaging/deps.sh finished" "$T/make.out"'
h_is "$(deps_runs)" 1 "make -j2 demo: packaging/deps.sh ran once"

# ---- make -j2 all asan: two goals, one install ----
fresh asan
tmake -j2 all asan
rc=$?
h_is "$rc" 0 "make -j2 all asan: the first run builds both"
[ "$rc" -eq 0 ] || h_diag "$(why)"
h_like "$("$T/out/asan/popvault" x 2>&1)" '^built x: gmime 3,' "make -j2 all asan: the ASan program runs"
h_is "$(deps_runs)" 1 "make -j2 all asan: packaging/deps.sh ran once for both goals"

# ---- make clean installs nothing ----
fresh clean
tmake clean
h_is "$? $(deps_runs)" "0 0" "make clean: runs without packaging/deps.sh"

# ---- a package that deps.sh did not install: make stops and names it ----
fresh missing
printf '#!/bin/sh\nexit 0\n' >"$T/packaging/deps.sh"
tmake
h_is "$?" 2 "make without the packages fails"
h_like "$(cat "$T/make.out")" 'pkg-config does not find all of: openssl .*gmime-3\.0.* \(packaging/deps\.sh installs them\)' \
	"... naming the packages, not with a compiler error"
