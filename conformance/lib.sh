# shellcheck shell=bash
# Shared helpers for Herald's conformance scripts.  Source it:
#     . "$(dirname "$0")/lib.sh"
#
# Server:
#   herald_start [USER] [PASS]   start target/release/herald (or $HERALD_BIN) on a free
#                                loopback port with a fresh temp data dir; first start
#                                creates USER (only "admin" is created by the server
#                                itself; any other name is added with `herald user add`).
#                                Sets HERALD_URL (root, ends in /), HERALD_USER,
#                                HERALD_PASS, HERALD_PID, HERALD_DATA, HERALD_LOG.
#   herald_stop                  stop the server started by herald_start (by its PID)
#                                and remove its data dir (HERALD_KEEP=1 keeps it).
#   herald_log_tail [N]          print the last N lines of the server log.
# Target:
#   conf_target [URL USER PASS]  with args: use that server; without: herald_start
#                                (and arrange herald_stop at exit).  Then discovers
#                                PRINCIPAL_URL, HOME_URL, CALENDAR_URL via PROPFIND.
# Results:
#   conf_pass NAME / conf_fail NAME REASON   print "PASS NAME" / "FAIL NAME: REASON"
#   conf_summary LABEL           print "LABEL: N passed, N failed"; returns 1 on failures
#
# Environment: HERALD_BIN, HERALD_PY (python with caldav/vdirsyncer installed; default
# python3), HERALD_START_TIMEOUT (seconds, default 30), HERALD_KEEP=1.

CONF_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$CONF_DIR/.." && pwd)"
HERALD_BIN="${HERALD_BIN:-$REPO_DIR/target/release/herald}"
HERALD_PY="${HERALD_PY:-python3}"
HERALD_START_TIMEOUT="${HERALD_START_TIMEOUT:-30}"

CONF_PASSED=0
CONF_FAILED=0
HERALD_PID=""
HERALD_DATA=""
HERALD_LOG=""

conf_log() { echo "[$(basename "$0")] $*" >&2; }

conf_pass() { CONF_PASSED=$((CONF_PASSED + 1)); echo "PASS $1"; }
conf_fail() { CONF_FAILED=$((CONF_FAILED + 1)); echo "FAIL $1: ${2:-failed}"; }

conf_summary() {
  echo "$1: $CONF_PASSED passed, $CONF_FAILED failed"
  [ "$CONF_FAILED" -eq 0 ] && [ "$CONF_PASSED" -gt 0 ]
}

conf_free_port() {
  "${CONF_SYS_PY:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# HTTP status of a URL (000 when nothing answers)
conf_http_code() {
  curl -s -o /dev/null -m 5 -w '%{http_code}' "$@" 2>/dev/null || true
}

herald_log_tail() {
  [ -n "$HERALD_LOG" ] && [ -f "$HERALD_LOG" ] && tail -n "${1:-40}" "$HERALD_LOG" | sed 's/^/  [herald] /' >&2
  return 0
}

herald_start() {
  local user="${1:-admin}" pass="${2:-}"
  [ -n "$pass" ] || pass="pw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  if [ ! -x "$HERALD_BIN" ]; then
    conf_log "herald binary not found: $HERALD_BIN (run: cargo build --release)"
    return 2
  fi
  HERALD_DATA="$(mktemp -d "${TMPDIR:-/tmp}/herald-conf.XXXXXX")"
  HERALD_LOG="$HERALD_DATA/server.log"
  mkdir -p "$HERALD_DATA/data"
  local port="" code="" i
  for _try in 1 2 3; do
    port="$(conf_free_port)"
    # HERALD_CONFIG: an optional herald.toml for this server.
    HERALD_ADMIN_PASSWORD="$pass" "$HERALD_BIN" serve --listen "127.0.0.1:$port" \
      ${HERALD_CONFIG:+--config "$HERALD_CONFIG"} \
      --data-dir "$HERALD_DATA/data" >>"$HERALD_LOG" 2>&1 </dev/null &
    HERALD_PID=$!
    code=000
    for ((i = 0; i < HERALD_START_TIMEOUT * 5; i++)); do
      code="$(conf_http_code "http://127.0.0.1:$port/.well-known/caldav")"
      [ "$code" != 000 ] && break
      kill -0 "$HERALD_PID" 2>/dev/null || break
      sleep 0.2
    done
    [ "$code" != 000 ] && break
    # died (port raced away?) or never answered: stop it and retry on another port
    kill "$HERALD_PID" 2>/dev/null || true
    wait "$HERALD_PID" 2>/dev/null || true
    HERALD_PID=""
  done
  if [ -z "$HERALD_PID" ]; then
    conf_log "herald did not become ready within ${HERALD_START_TIMEOUT}s; log:"
    herald_log_tail 40
    return 1
  fi
  HERALD_URL="http://127.0.0.1:$port/"
  if [ "$user" != admin ]; then
    # admin exists from HERALD_ADMIN_PASSWORD; create the wanted user too
    if ! printf '%s\n' "$pass" | "$HERALD_BIN" user add "$user" --email "$user@example.com" \
        --password-stdin --data-dir "$HERALD_DATA/data" >>"$HERALD_LOG" 2>&1; then
      conf_log "herald user add $user failed"; herald_log_tail 20; herald_stop; return 1
    fi
  fi
  HERALD_USER="$user"; HERALD_PASS="$pass"
  export HERALD_URL HERALD_USER HERALD_PASS HERALD_PID HERALD_DATA
  conf_log "herald pid $HERALD_PID listening on $HERALD_URL (data $HERALD_DATA)"
}

herald_stop() {
  if [ -n "$HERALD_PID" ]; then
    kill "$HERALD_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
      kill -0 "$HERALD_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$HERALD_PID" 2>/dev/null || true
    wait "$HERALD_PID" 2>/dev/null || true
    HERALD_PID=""
  fi
  if [ -n "$HERALD_DATA" ] && [ "${HERALD_KEEP:-0}" != 1 ]; then
    rm -rf "$HERALD_DATA"
    HERALD_DATA=""
  fi
}

# Discovery: sets PRINCIPAL_URL HOME_URL CALENDAR_URL (absolute).  Uses only the
# standard library (discover.py), not the client under test.
conf_discover() {
  local out
  if ! out="$("${CONF_SYS_PY:-python3}" "$CONF_DIR/discover.py" "$1" "$2" "$3" 2>&1)"; then
    conf_log "discovery failed: $out"
    return 1
  fi
  PRINCIPAL_URL="$(sed -n 's/^PRINCIPAL_URL=//p' <<<"$out")"
  HOME_URL="$(sed -n 's/^HOME_URL=//p' <<<"$out")"
  CALENDAR_URL="$(sed -n 's/^CALENDAR_URL=//p' <<<"$out")"
  export PRINCIPAL_URL HOME_URL CALENDAR_URL
  conf_log "principal=$PRINCIPAL_URL home=$HOME_URL calendar=${CALENDAR_URL:-<none>}"
}

# conf_target [URL USER PASS]: choose the server under test; sets TARGET_URL
# TARGET_USER TARGET_PASS and runs discovery.  Starts (and at exit stops) a
# herald when no args are given.
conf_target() {
  if [ $# -ge 3 ]; then
    TARGET_URL="$1"; TARGET_USER="$2"; TARGET_PASS="$3"
    case "$TARGET_URL" in */) ;; *) TARGET_URL="$TARGET_URL/" ;; esac
    TARGET_SELF_STARTED=0
  elif [ $# -eq 0 ]; then
    trap 'herald_stop' EXIT
    trap 'herald_stop; exit 130' INT TERM
    herald_start admin || return 2
    TARGET_URL="${HERALD_URL}dav/"; TARGET_USER="$HERALD_USER"; TARGET_PASS="$HERALD_PASS"
    TARGET_SELF_STARTED=1
  else
    conf_log "usage: $(basename "$0") [URL USER PASS]"
    return 2
  fi
  export TARGET_URL TARGET_USER TARGET_PASS TARGET_SELF_STARTED
  local code
  code="$(conf_http_code -X OPTIONS -u "$TARGET_USER:$TARGET_PASS" "$TARGET_URL")"
  if [ "$code" = 000 ]; then
    conf_log "server not reachable at $TARGET_URL"
    return 3
  fi
  conf_discover "$TARGET_URL" "$TARGET_USER" "$TARGET_PASS" || return 3
}
