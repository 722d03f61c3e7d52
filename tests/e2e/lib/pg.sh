# A private PostgreSQL 15 on loopback for tests and benchmarks (issue 18).
# Source it (bash), after harness.sh when there is one:
#     . "$(dirname "$0")/lib/pg.sh"
#     pg_start "$H_RUN/pg"            # initdb + pg_ctl start; sets PG_*
#     psql "$PG_URL" -c 'select 1'
#     pg_stop                         # also done at exit (h_register)
# or run it: `tests/e2e/lib/pg.sh start DIR [--fsync]` prints the PG_*
# assignments (eval them) and leaves the server running;
# `tests/e2e/lib/pg.sh stop DIR` stops it.
#
# pg_start DIR [--fsync]: initdb in DIR/data as an unprivileged user (root
# runs it as the system user `postgres` that postgresql-15 creates, or
# makes a system user `popvault-pg` when there is none: PostgreSQL refuses
# to run as root), then `pg_ctl start` on a free loopback port with its
# socket in DIR/sock (no shared /run/postgresql), and waits until it
# answers. fsync is off unless --fsync (tests of durability need it on).
# PG_OPTS (optional): more server options, e.g. "-c shared_buffers=1GB".
# Sets and exports PG_DIR PG_DATA PG_SOCKDIR PG_PORT PG_HOST PG_USER
# PG_PID PG_LOG PG_CONNINFO (libpq key=value) PG_URL (postgresql://...).
# Checked settings: ../../../../shared/reference/scale.md.
#
# pg_stop: `pg_ctl -m fast stop`, then by PID (TERM, wait, KILL) in case
# pg_ctl could not.

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

pg__user() {
	if [ "$(id -u)" -ne 0 ]; then
		id -un
		return
	fi
	if getent passwd postgres >/dev/null; then
		echo postgres
		return
	fi
	getent passwd popvault-pg >/dev/null ||
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin popvault-pg || return 1
	echo popvault-pg
}

# pg__as CMD...: CMD as $PG_USER (root drops to it; anyone else is it).
pg__as() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$PG_USER" -- "$@"
	else
		"$@"
	fi
}

pg__port() {
	local lib
	lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	"${H_PY:-python3}" "$lib/pvharness.py" port
}

pg_start() {
	local dir=$1 fsync=off tries
	[ "${2:-}" = --fsync ] && fsync=on
	[ -x "$PG_BINDIR/initdb" ] || {
		echo "pg.sh: no $PG_BINDIR/initdb (packaging/deps.sh installs postgresql-15)" >&2
		return 1
	}
	mkdir -p "$dir" || return 1
	PG_DIR=$(cd "$dir" && pwd)
	PG_DATA=$PG_DIR/data
	PG_SOCKDIR=$PG_DIR/sock
	PG_LOG=$PG_DIR/postgres.log
	PG_HOST=127.0.0.1
	PG_USER=$(pg__user) || { echo "pg.sh: no unprivileged user" >&2; return 1; }
	mkdir -p "$PG_SOCKDIR" || return 1
	if [ "$(id -u)" -eq 0 ]; then
		chown "$PG_USER" "$PG_DIR" "$PG_SOCKDIR" || return 1
		# the user must reach DIR: open the path's directories for traversal
		local d=$PG_DIR
		while [ "$d" != / ]; do
			d=$(dirname "$d")
			chmod o+x "$d" 2>/dev/null || true
		done
	fi
	if [ ! -s "$PG_DATA/PG_VERSION" ]; then
		# -N: no fsync during initdb (a test cluster; seconds, not minutes)
		pg__as "$PG_BINDIR/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 \
			--locale=C.UTF-8 -N >"$PG_DIR/initdb.log" 2>&1 || {
			echo "pg.sh: initdb failed (see $PG_DIR/initdb.log)" >&2
			return 1
		}
	fi
	# A lost port race (another test took it between the probe and the
	# bind) fails the start: try again on another port.
	for tries in 1 2 3 4 5; do
		PG_PORT=$(pg__port) || return 1
		pg__as "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 30 start \
			-o "-k $PG_SOCKDIR -h $PG_HOST -p $PG_PORT -c fsync=$fsync \
-c full_page_writes=$fsync -c listen_addresses=$PG_HOST ${PG_OPTS:-}" >>"$PG_DIR/pg_ctl.log" 2>&1 && break
		PG_PORT=
	done
	[ -n "$PG_PORT" ] || { echo "pg.sh: postgres did not start (see $PG_LOG)" >&2; return 1; }
	PG_PID=$(head -n 1 "$PG_DATA/postmaster.pid")
	PG_CONNINFO="host=$PG_HOST port=$PG_PORT user=postgres dbname=postgres"
	PG_URL="postgresql://postgres@$PG_HOST:$PG_PORT/postgres"
	export PG_DIR PG_DATA PG_SOCKDIR PG_PORT PG_HOST PG_USER PG_PID PG_LOG PG_CONNINFO PG_URL
	# stopped with the harness's servers, also when the test dies
	if declare -F h_register >/dev/null; then
		h_register postgres "$PG_PID" >/dev/null
	fi
	# pg_ctl -w waited for the socket; one real query proves it serves
	local n=50
	until "$PG_BINDIR/psql" "$PG_URL" -qAtc 'select 1' >/dev/null 2>&1; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || { echo "pg.sh: postgres does not answer (see $PG_LOG)" >&2; return 1; }
		sleep 0.1
	done
}

# pg_stop [DIR]: stops the server of DIR (default: the one pg_start started).
pg_stop() {
	local dir=${1:-${PG_DIR:-}} pid n
	[ -n "$dir" ] && [ -f "$dir/data/postmaster.pid" ] || return 0
	pid=$(head -n 1 "$dir/data/postmaster.pid")
	[ -n "${PG_USER:-}" ] || PG_USER=$(stat -c %U "$dir/data")
	pg__as "$PG_BINDIR/pg_ctl" -D "$dir/data" -m fast -w -t 20 stop >/dev/null 2>&1 || true
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		n=100
		while kill -0 "$pid" 2>/dev/null && [ "$n" -gt 0 ]; do
			sleep 0.1
			n=$((n - 1))
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	return 0
}

# Run as a program: start prints the assignments, stop stops.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	case "${1:-}" in
	start)
		[ $# -ge 2 ] || { echo "usage: $0 start DIR [--fsync]" >&2; exit 2; }
		pg_start "$2" "${3:-}" >&2 || exit 1
		for v in PG_DIR PG_DATA PG_SOCKDIR PG_PORT PG_HOST PG_USER PG_PID PG_LOG PG_CONNINFO PG_URL; do
			printf "%s='%s'\n" "$v" "${!v}"
		done
		;;
	stop)
		[ $# -ge 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
		pg_stop "$2"
		;;
	*)
		echo "usage: $0 start DIR [--fsync] | stop DIR" >&2
		exit 2
		;;
	esac
fi
