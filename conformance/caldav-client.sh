#!/usr/bin/env bash
# End-to-end scenario with the python `caldav` client (caldav_scenario.py).
#
# usage: conformance/caldav-client.sh [URL USER PASS]
#   no args: starts target/release/herald (temp data dir, user admin), runs the
#            scenario against its DAV root /dav/ and its default calendar, stops it.
#   URL USER PASS: an already running server (URL = where the client connects);
#            the calendar is discovered by PROPFIND (current-user-principal ->
#            calendar-home-set -> the "default" or first calendar; none: the
#            scenario makes a scratch calendar).
# HERALD_PY: the python that has `caldav` installed (default python3).
# Exit 0 only if every step passed.
set -uo pipefail
# shellcheck source=conformance/lib.sh
. "$(dirname "$0")/lib.sh"

if ! "$HERALD_PY" -c 'import caldav' 2>/dev/null; then
  echo "python caldav library not importable with $HERALD_PY (set HERALD_PY to a venv's python)" >&2
  exit 2
fi
conf_target "$@" || exit $?
timeout -k 10 "${SCENARIO_TIMEOUT:-300}" "$HERALD_PY" "$CONF_DIR/caldav_scenario.py" \
  "$TARGET_URL" "$TARGET_USER" "$TARGET_PASS" "$CALENDAR_URL" </dev/null
rc=$?
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
  echo "FAIL caldav-scenario: timed out after ${SCENARIO_TIMEOUT:-300}s"
fi
if [ "$rc" != 0 ] && [ "${TARGET_SELF_STARTED:-0}" = 1 ]; then herald_log_tail 20; fi
exit "$rc"
