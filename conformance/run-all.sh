#!/usr/bin/env bash
# Run all conformance checks: litmus.sh, caldav-client.sh, vdirsyncer.sh, and
# (with no args) swaks-lmtp.sh and api.sh.
#
# usage: conformance/run-all.sh [URL USER PASS]
#   no args: builds the release binary (cargo build --release; a no-op when it is
#            up to date; HERALD_NO_BUILD=1 skips it) and lets each script start its
#            own fresh herald (temp data dir, own port), so they cannot disturb
#            each other.
#   URL USER PASS: run all three against that server.
# Prints each script's output, then a summary table; exits non-zero if any failed.
# Logs: $CONF_OUT (default: a temp dir, printed).
# Needs: litmus (apt), curl, and a python with caldav + vdirsyncer (HERALD_PY, or
# vdirsyncer on PATH / VDIRSYNCER).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
export CONF_OUT="${CONF_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/herald-conformance.XXXXXX")}"
mkdir -p "$CONF_OUT"

if [ $# -ne 0 ] && [ $# -ne 3 ]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
if [ $# -eq 0 ] && [ "${HERALD_NO_BUILD:-0}" != 1 ] && [ -z "${HERALD_BIN:-}" ]; then
  echo "== building herald (cargo build --release)"
  if ! (cd "$REPO" && cargo build --release); then
    echo "conformance: build failed"
    echo "conformance: 0 passed, 1 failed"
    exit 1
  fi
fi

names=(); results=(); details=(); times=()
run_one() {  # run_one NAME SCRIPT ARGS...
  local name="$1" script="$2"; shift 2
  local log="$CONF_OUT/$name.log" t0 rc
  echo
  echo "== $name"
  t0=$(date +%s)
  bash "$HERE/$script" "$@" 2>&1 </dev/null | tee "$log"
  rc=${PIPESTATUS[0]}
  names+=("$name"); times+=("$(( $(date +%s) - t0 ))s")
  if [ "$rc" = 0 ]; then results+=("PASS"); else results+=("FAIL(rc=$rc)"); fi
  case "$name" in
    litmus) details+=("$(grep -E '^litmus total:' "$log" | tail -1 | sed 's/ (logs:.*//; s/^litmus total: //')") ;;
    *) details+=("$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | sed 's/^[a-z-]*: //')") ;;
  esac
}

run_one litmus litmus.sh "$@"
run_one caldav-client caldav-client.sh "$@"
run_one vdirsyncer vdirsyncer.sh "$@"
if [ $# -eq 0 ]; then
  # needs its own herald (LMTP enabled by config)
  run_one swaks-lmtp swaks-lmtp.sh
  # the REST API against its OpenAPI document (openapi-spec-validator, schemathesis)
  run_one api api.sh
fi

echo
echo "== conformance summary (${1:-herald, one fresh instance per suite})"
printf '%-15s %-13s %-7s %s\n' suite result time detail
nfail=0; npass=0
for i in "${!names[@]}"; do
  printf '%-15s %-13s %-7s %s\n' "${names[$i]}" "${results[$i]}" "${times[$i]}" "${details[$i]:--}"
  if [ "${results[$i]}" = PASS ]; then npass=$((npass + 1)); else nfail=$((nfail + 1)); fi
done
echo "logs: $CONF_OUT"
echo "conformance: $npass passed, $nfail failed"
[ "$nfail" = 0 ]
