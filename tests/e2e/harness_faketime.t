#!/bin/bash
# Harness self-test: h_faketime (lib/harness.sh), how every suite moves
# popvault's clock (pv_at), runs its command days ahead without the
# faketime program, whose per-PID semaphore failed tamper.t in the backend
# matrix: a semaphore left in /dev/shm by a faketime that was killed makes
# the next faketime given the same PID exit 1 before running anything, and
# `show` then printed nothing.
set -u
. "$(dirname "$0")/lib/harness.sh"
h_init
h_plan 4

# The fault, provoked: a shell makes the semaphore of its own PID, then
# becomes faketime (exec keeps the PID).
pidf=$H_RUN/faketime.pid
bash -c 'echo $$ >"$1"; [ ! -e "/dev/shm/sem.faketime_sem_$$" ] || exit 99
	: >"/dev/shm/sem.faketime_sem_$$"; exec faketime -f +1d echo ran' _ "$pidf" \
	>"$H_RUN/ft.out" 2>"$H_RUN/ft.err"
rc=$?
pid=$(cat "$pidf")
if [ "$rc" = 99 ]; then
	h_skip "a stale faketime semaphore stops the faketime program" \
		"/dev/shm/sem.faketime_sem_$pid was already there (not ours to remove)"
else
	rm -f "/dev/shm/sem.faketime_sem_$pid"
	if [ "$rc" = 1 ] && [ ! -s "$H_RUN/ft.out" ] && grep -q 'sem_open: File exists' "$H_RUN/ft.err"; then
		h_pass "a stale faketime semaphore stops the faketime program (exit 1, command not run)"
	else
		h_fail "a stale faketime semaphore stops the faketime program (exit 1, command not run)" \
			"exit $rc" "$(cat "$H_RUN/ft.out" "$H_RUN/ft.err")"
	fi
fi

now=$(date -u +%s)
ahead=$(h_faketime 1 date -u +%s)
h_check "h_faketime 1: its command sees the clock a day ahead" \
	test $((ahead - now)) -ge 86390 -a $((ahead - now)) -le 86460
# (A shell that forks, not one that execs its last command: libfaketime's
# semaphore is made by the first process it is loaded in, and removed
# when that one exits, which an exec never does.)
child=$(h_faketime 1 bash -c 'date -u +%s; exit 0')
h_check "…and so do the programs it starts" \
	test $((child - now)) -ge 86390 -a $((child - now)) -le 86460
# The same stale pair for the PID of a command run as h_faketime runs it.
bash -c 'echo $$ >"$1"; shift; [ ! -e "/dev/shm/sem.faketime_sem_$$" ] || exit 99
	: >"/dev/shm/sem.faketime_sem_$$"; exec env "$@" date -u +%s' _ "$pidf" \
	$(h_faketime_env 1) >"$H_RUN/ft.out" 2>"$H_RUN/ft.err"
rc=$?
pid=$(cat "$pidf")
if [ "$rc" = 99 ]; then
	h_skip "h_faketime's command runs despite a stale semaphore of its PID" \
		"/dev/shm/sem.faketime_sem_$pid was already there (not ours to remove)"
else
	rm -f "/dev/shm/sem.faketime_sem_$pid"
	got=$(cat "$H_RUN/ft.out")
	# (A number checked first: anything else in the arithmetic would end
	# the script before the test is reported.)
	if [ "$rc" = 0 ] && [[ $got =~ ^[0-9]+$ ]] && [ $((got - now)) -ge 86390 ]; then
		h_pass "h_faketime's command runs despite a stale semaphore of its PID, a day ahead"
	else
		h_fail "h_faketime's command runs despite a stale semaphore of its PID, a day ahead" \
			"exit $rc" "$(cat "$H_RUN/ft.out" "$H_RUN/ft.err")"
	fi
fi
