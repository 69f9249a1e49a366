#!/usr/bin/env bash
# litmus (WebDAV, RFC 4918) against Herald's calendar home.
#
# usage: conformance/litmus.sh [URL USER PASS]
#   no args: starts target/release/herald on a free port (temp data dir), runs
#            against /dav/calendars/admin/ (discovered), stops it at the end.
#   URL USER PASS: an already running server; the collection litmus works in is
#            its calendar home, discovered by PROPFIND (current-user-principal ->
#            calendar-home-set).  LITMUS_URL overrides it.
# Suites basic copymove props locks http, each run separately (own timeout,
# LITMUS_TIMEOUT s, default 300).
# Exit 0 only if every test of every suite passed (skipped tests, a suite that
# aborted or timed out, count as failures).  Logs: $CONF_OUT/litmus/<suite>.txt
# (CONF_OUT defaults to a temp dir, printed at the end).
set -uo pipefail
# shellcheck source=conformance/lib.sh
. "$(dirname "$0")/lib.sh"

LITMUS_SUITES="${LITMUS_SUITES:-basic copymove props locks http}"
LITMUS_TESTROOT="${LITMUS_TESTROOT:-/usr/libexec/litmus}"
LITMUS_HTDOCS="${LITMUS_HTDOCS:-/usr/share/litmus/htdocs}"
LITMUS_TIMEOUT="${LITMUS_TIMEOUT:-300}"
# number of test slots of each suite in litmus 0.13 (init counts as a test)
declare -A SLOTS=([basic]=16 [copymove]=13 [props]=30 [locks]=41 [http]=4)

if [ ! -x "$LITMUS_TESTROOT/basic" ]; then
  echo "litmus not installed ($LITMUS_TESTROOT/basic missing): apt-get install litmus" >&2
  exit 2
fi

conf_target "$@" || exit $?
URL="${LITMUS_URL:-$HOME_URL}"
OUT="${CONF_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/herald-litmus.XXXXXX")}/litmus"
mkdir -p "$OUT"
echo "litmus $(dpkg-query -W -f='${Version}' litmus 2>/dev/null || echo '?') against $URL"

all_ok=1; tot_pass=0; tot_slots=0
for suite in $LITMUS_SUITES; do
  log="$OUT/$suite.txt"
  wdir="$(mktemp -d "${TMPDIR:-/tmp}/herald-litmus-$suite.XXXXXX")"
  ( cd "$wdir" && timeout -k 5 "$LITMUS_TIMEOUT" "$LITMUS_TESTROOT/$suite" \
      --htdocs "$LITMUS_HTDOCS" "$URL" "$TARGET_USER" "$TARGET_PASS" </dev/null >"$log.raw" 2>&1 )
  rc=$?
  [ -f "$wdir/debug.log" ] && mv "$wdir/debug.log" "$OUT/$suite.debug.log"
  rm -rf "$wdir"
  # litmus prints random binary names; keep the log printable
  # and one line per test: litmus writes "N. name...." then "\rN. name.... verdict"
  LC_ALL=C tr -c '\11\12\15\40-\176' '?' <"$log.raw" | tr '\r' '\n' \
    | grep -vE '^ *[0-9]+\. [A-Za-z0-9_]+\.* *$' | grep -v '^$' >"$log"; rm -f "$log.raw"

  slots="${SLOTS[$suite]:-0}"
  summary="$(grep -E "<- summary for \`$suite'" "$log" | tail -1)"
  if [[ "$summary" =~ of\ ([0-9]+)\ tests\ run:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    ran="${BASH_REMATCH[1]}"; passed="${BASH_REMATCH[2]}"; failed="${BASH_REMATCH[3]}"
    status="rc=$rc"
  else
    ran="?"; failed="?"
    passed="$(grep -cE '\.{2,} (pass|WARNING)' "$log" || true)"
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then status="TIMEOUT after ${LITMUS_TIMEOUT}s"; else status="aborted rc=$rc"; fi
  fi
  skipped="$(sed -nE 's/.*-> ([0-9]+) tests? (was|were) skipped.*/\1/p' "$log" | tail -1)"
  [ "$passed" -gt "$slots" ] 2>/dev/null && slots="$passed"
  tot_pass=$((tot_pass + passed)); tot_slots=$((tot_slots + slots))
  if [ "$rc" = 0 ] && [ "$passed" = "$slots" ] && [ "${failed:-0}" = 0 ]; then
    echo "litmus $suite: $passed/$slots passed"
  else
    all_ok=0
    echo "litmus $suite: $passed/$slots passed (ran $ran, failed $failed, skipped ${skipped:-0}, $status)"
    # every failing test with litmus' own message, then warnings
    grep -E '^ *[0-9]+\. [A-Za-z0-9_]+\.* FAIL' "$log" \
      | sed -E 's/^ *([0-9]+)\. ([A-Za-z0-9_]+)\.* FAIL \((.*)$/  FAIL \1.\2: \3/; s/\)$//' | cut -c1-300
    grep -E '^ *[0-9]+\. [A-Za-z0-9_]+\.* SKIPPED' "$log" \
      | sed -E 's/^ *([0-9]+)\. ([A-Za-z0-9_]+)\.* SKIPPED.*/  SKIPPED \1.\2/' | cut -c1-300
    if [[ "$status" != rc=* ]]; then echo "  (no summary line; last lines of the log:)"; tail -5 "$log" | sed 's/^/  | /'; fi
  fi
  # warnings do not fail a test; show them anyway
  grep -E 'WARNING:' "$log" \
    | sed -E "s/^ *([0-9]+)\. ([A-Za-z0-9_]+)\.* *WARNING: /  WARN $suite \1.\2: /; s/^WARNING: /  WARN $suite: /" | cut -c1-300
done
echo "litmus total: $tot_pass/$tot_slots passed (logs: $OUT)"
if [ "$all_ok" = 1 ]; then
  echo "litmus: PASS"
  exit 0
fi
[ "${TARGET_SELF_STARTED:-0}" = 1 ] && herald_log_tail 20
echo "litmus: FAIL"
exit 1
