#!/usr/bin/env bash
# Two-way sync with vdirsyncer between a CalDAV calendar and a local folder.
#
# usage: conformance/vdirsyncer.sh [URL USER PASS]
#   no args: starts target/release/herald (temp data dir, user admin) and syncs
#            its default calendar /dav/calendars/admin/default/; stops it at the end.
#   URL USER PASS: an already running server; the calendar home and the calendar
#            ("default" or the first one) are discovered by PROPFIND; with no
#            calendar at all a scratch one is made with MKCALENDAR (and deleted).
# vdirsyncer itself discovers the calendar from the home URL (pair with
# collections = ["<calendar name>"]).  Steps: discover, initial sync, a local new
# .ics reaches the server (curl GET), a server-side change (curl PUT) reaches the
# local file, a server-side new event and deletion reach the local folder, a
# local deletion reaches the server.
# VDIRSYNCER: the vdirsyncer binary (default: beside $HERALD_PY, else on PATH).
# Exit 0 only if every step passed.
set -uo pipefail
# shellcheck source=conformance/lib.sh
. "$(dirname "$0")/lib.sh"

VDIRSYNCER="${VDIRSYNCER:-}"
if [ -z "$VDIRSYNCER" ]; then
  py_dir="$(dirname "$(command -v "$HERALD_PY" 2>/dev/null || echo "$HERALD_PY")")"
  if [ -x "$py_dir/vdirsyncer" ]; then VDIRSYNCER="$py_dir/vdirsyncer"; else VDIRSYNCER="$(command -v vdirsyncer || true)"; fi
fi
if [ -z "$VDIRSYNCER" ] || [ ! -x "$VDIRSYNCER" ]; then
  echo "vdirsyncer not found (pip install vdirsyncer; set VDIRSYNCER or HERALD_PY)" >&2
  exit 2
fi

conf_target "$@" || exit $?
WORK="$(mktemp -d "${TMPDIR:-/tmp}/herald-vds.XXXXXX")"
RUN="$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')"
SCRATCH_CAL=""
cleanup_vds() {
  [ -n "$SCRATCH_CAL" ] && curl -s -o /dev/null -m 20 -u "$TARGET_USER:$TARGET_PASS" -X DELETE "$SCRATCH_CAL"
  rm -rf "$WORK"
  [ "${TARGET_SELF_STARTED:-0}" = 1 ] && herald_stop
}
trap cleanup_vds EXIT
trap 'cleanup_vds; trap - EXIT; exit 130' INT TERM

CURL=(curl -s -m 30 -u "$TARGET_USER:$TARGET_PASS")
echo "vdirsyncer $("$VDIRSYNCER" --version 2>/dev/null | awk '{print $NF}') against ${CALENDAR_URL:-$HOME_URL}"

if [ -z "$CALENDAR_URL" ]; then
  CALENDAR_URL="${HOME_URL}herald-vds-$RUN/"
  code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -X MKCALENDAR "$CALENDAR_URL")"
  if [ "$code" != 201 ]; then
    conf_fail setup "no calendar in $HOME_URL and MKCALENDAR $CALENDAR_URL answered $code"
    conf_summary vdirsyncer; exit 1
  fi
  SCRATCH_CAL="$CALENDAR_URL"
  echo "  (no calendar found; made scratch calendar $CALENDAR_URL)"
fi
CALNAME="$(basename "${CALENDAR_URL%/}")"
LOCAL="$WORK/local/$CALNAME"
CFG="$WORK/config"
# TOML-ish strings: escape backslashes and quotes in the password
esc() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
cat >"$CFG" <<CFGEOF
[general]
status_path = "$WORK/status/"

[pair herald]
a = "herald_local"
b = "herald_remote"
collections = ["$(esc "$CALNAME")"]
implicit = "create"
conflict_resolution = "b wins"

[storage herald_local]
type = "filesystem"
path = "$WORK/local/"
fileext = ".ics"

[storage herald_remote]
type = "caldav"
url = "$(esc "$HOME_URL")"
username = "$(esc "$TARGET_USER")"
password = "$(esc "$TARGET_PASS")"
CFGEOF

VLOG="$WORK/vdirsyncer.log"
vds() {  # vds STEP ARGS...: run vdirsyncer, fail STEP with its output when it fails
  local step="$1"; shift
  if timeout -k 5 "${VDS_TIMEOUT:-120}" "$VDIRSYNCER" -c "$CFG" "$@" </dev/null >"$VLOG" 2>&1; then
    return 0
  fi
  conf_fail "$step" "vdirsyncer $* failed: $(grep -v '^debug' "$VLOG" | tail -5 | tr '\n' ' ' | cut -c1-400)"
  return 1
}
ics() {  # ics UID SUMMARY DTSTART
  printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//herald//conformance//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:%s\r\nDURATION:PT1H\r\nSUMMARY:%s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' "$1" "$3" "$2"
}
local_file_with() {  # path of the local .ics holding UID (empty if none)
  grep -l -- "UID:$1" "$LOCAL"/*.ics 2>/dev/null | head -1
}

# 1. discover + initial sync
ok_sync=0
if vds discover discover; then
  if [ -d "$LOCAL" ]; then conf_pass discover; else conf_fail discover "local collection $LOCAL not created (log: $(tail -3 "$VLOG" | tr '\n' ' '))"; fi
fi
if vds initial-sync sync; then conf_pass initial-sync; ok_sync=1; fi

if [ "$ok_sync" = 1 ]; then
  # 2. local new item -> server
  UID1="herald-vds-$RUN-local"
  ics "$UID1" "Made locally" 20310310T100000Z >"$LOCAL/$UID1.ics"
  # an anchor that stays, so that deleting UID1 later does not empty the local
  # side (vdirsyncer refuses to sync a collection that was emptied completely)
  ics "herald-vds-$RUN-anchor" "Anchor" 20310309T100000Z >"$LOCAL/herald-vds-$RUN-anchor.ics"
  if vds local-add-to-server sync; then
    body="$("${CURL[@]}" "$CALENDAR_URL$UID1.ics")"
    if grep -q "UID:$UID1" <<<"$body" && grep -q "SUMMARY:Made locally" <<<"$body"; then
      conf_pass local-add-to-server
    else
      conf_fail local-add-to-server "GET $CALENDAR_URL$UID1.ics after sync did not return the event (got: $(head -c 200 <<<"$body" | tr '\r\n' '  '))"
    fi
  fi

  # 3. server change (PUT) -> local file
  hdrs="$WORK/hdrs"
  body="$("${CURL[@]}" -D "$hdrs" "$CALENDAR_URL$UID1.ics")"
  etag="$(sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' "$hdrs" | tr -d '\r' | tail -1)"
  newbody="$(printf '%s' "$body" | sed 's/^SUMMARY:Made locally/SUMMARY:Changed on server/')"
  ifm=(); [ -n "$etag" ] && ifm=(-H "If-Match: $etag")
  code="$(printf '%s' "$newbody" | "${CURL[@]}" -o /dev/null -w '%{http_code}' -X PUT \
           -H 'Content-Type: text/calendar; charset=utf-8' "${ifm[@]}" --data-binary @- "$CALENDAR_URL$UID1.ics")"
  if [[ "$code" != 2?? ]]; then
    conf_fail server-change-to-local "PUT $CALENDAR_URL$UID1.ics (If-Match: ${etag:-none}) answered $code"
  elif vds server-change-to-local sync; then
    f="$(local_file_with "$UID1")"
    if [ -n "$f" ] && grep -q "SUMMARY:Changed on server" "$f"; then
      conf_pass server-change-to-local
    else
      conf_fail server-change-to-local "local file ${f:-<missing>} does not have the new SUMMARY: $(grep -h SUMMARY "$LOCAL"/*.ics 2>/dev/null | tr '\r\n' '  ' | cut -c1-200)"
    fi
  fi

  # 4. server new item -> local, then server delete -> local removal
  UID2="herald-vds-$RUN-server"
  code="$(ics "$UID2" "Made on server" 20310311T100000Z | "${CURL[@]}" -o /dev/null -w '%{http_code}' -X PUT \
           -H 'Content-Type: text/calendar; charset=utf-8' -H 'If-None-Match: *' --data-binary @- "$CALENDAR_URL$UID2.ics")"
  if [ "$code" != 201 ] && [ "$code" != 204 ]; then
    conf_fail server-add-to-local "PUT (If-None-Match: *) $CALENDAR_URL$UID2.ics answered $code, want 201"
  elif vds server-add-to-local sync; then
    if [ -n "$(local_file_with "$UID2")" ]; then conf_pass server-add-to-local
    else conf_fail server-add-to-local "no local file with UID $UID2 after sync"; fi
    code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' -X DELETE "$CALENDAR_URL$UID2.ics")"
    if [[ "$code" != 2?? ]]; then
      conf_fail server-delete-to-local "DELETE $CALENDAR_URL$UID2.ics answered $code"
    elif vds server-delete-to-local sync; then
      if [ -z "$(local_file_with "$UID2")" ]; then conf_pass server-delete-to-local
      else conf_fail server-delete-to-local "local file with UID $UID2 still there after sync"; fi
    fi
  fi

  # 5. local delete -> server
  f="$(local_file_with "$UID1")"
  if [ -z "$f" ]; then
    conf_fail local-delete-to-server "no local file with UID $UID1 to delete"
  else
    rm -f "$f"
    if vds local-delete-to-server sync; then
      code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$CALENDAR_URL$UID1.ics")"
      if [ "$code" = 404 ]; then conf_pass local-delete-to-server
      else conf_fail local-delete-to-server "GET $CALENDAR_URL$UID1.ics after sync answered $code, want 404"; fi
    fi
  fi

  # 6. nothing left to do: a second sync must be a no-op and succeed
  if vds idempotent-sync sync; then conf_pass idempotent-sync; fi
  # leave the calendar as it was
  "${CURL[@]}" -o /dev/null -X DELETE "${CALENDAR_URL}herald-vds-$RUN-anchor.ics"
fi

if ! conf_summary vdirsyncer; then
  [ "${TARGET_SELF_STARTED:-0}" = 1 ] && herald_log_tail 20
  exit 1
fi
exit 0
