#!/usr/bin/env bash
# Runs a command and checks its exit status as well as its output: CTest's
# PASS_REGULAR_EXPRESSION alone ignores the status, so a run that printed the expected line and
# then crashed, or an error that exited 0, would pass.
# Usage: expect_output.sh ok|error REGEX COMMAND [ARGS...]   (REGEX: grep -E, on stdout + stderr)
# ok: exit status 0; error: a clean failure (1..125, not a signal's 128+N).
set -u
want=$1 regex=$2
shift 2
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
case $want in
  ok) [ "$rc" -eq 0 ] || { echo "expect_output: exit status $rc, expected 0"; exit 1; } ;;
  error) [ "$rc" -ge 1 ] && [ "$rc" -le 125 ] || { echo "expect_output: exit status $rc, expected a clean error (1..125)"; exit 1; } ;;
  *) echo "expect_output: first argument must be ok or error, got '$want'"; exit 2 ;;
esac
printf '%s\n' "$out" | grep -Eq -- "$regex" || { echo "expect_output: no line matches '$regex'"; exit 1; }
