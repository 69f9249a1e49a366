#!/usr/bin/env bash
# The figures of docs/SECURITY.md (issue 8), on this machine.
#   usage: benches/hardening.sh [path/to/herald]   (default: target/release/herald)
# Part 1 starts the given binary on a fresh data directory and measures with
# curl and /proc: an expand over 200 years of a 1 MB daily event, and the
# BYxxx rule at PUT. Part 2 runs the end-to-end tests that print their
# figures (unauthenticated bodies, 2,000 idle connections at ulimit -n 1024,
# SIGTERM grace, login timing, 1,000 invitations under 20 kills).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$ROOT/target/release/herald}"
PORT="${PORT:-18971}"
U="http://127.0.0.1:$PORT/dav/calendars/admin/default"
A=admin:pw
W="$(mktemp -d "${TMPDIR:-/tmp}/herald-hardening.XXXXXX")"
trap 'kill "${PID:-}" 2>/dev/null; rm -rf "$W"' EXIT

python3 - "$W" <<'PY'
import sys
w = sys.argv[1]
l = lambda n, f: ",".join(str(i) for i in range(f, f + n))
head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nDTSTAMP:20250101T000000Z\r\n"
tail = "END:VEVENT\r\nEND:VCALENDAR\r\n"
desc = "DESCRIPTION:" + ("x" * 73 + "\r\n ") * 13150 + "end\r\n"  # ~1 MB
open(f"{w}/big.ics", "w").write(head + "UID:big\r\nDTSTART:20000101T090000Z\r\nDTEND:20000101T100000Z\r\nRRULE:FREQ=DAILY\r\n" + desc + tail)
rule = f"RRULE:FREQ=YEARLY;BYMONTH={l(12,1)};BYMONTHDAY={l(31,1)};BYHOUR={l(24,0)};BYMINUTE={l(60,0)};BYSECOND={l(60,0)}\r\n"
open(f"{w}/byxxx.ics", "w").write(head + "UID:boom\r\nDTSTART:20250101T000000Z\r\n" + rule + tail)
q = lambda s, e: f'<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data><C:expand start="{s}" end="{e}"/></C:calendar-data></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="{s}" end="{e}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>'
open(f"{w}/200y.xml", "w").write(q("19000101T000000Z", "21000101T000000Z"))
open(f"{w}/27y.xml", "w").write(q("20000101T000000Z", "20270101T000000Z"))
PY

start() {
  local d; d="$(mktemp -d "$W/data.XXXX")"
  HERALD_ADMIN_PASSWORD=pw RUST_LOG=herald=warn "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$d" >/dev/null 2>&1 &
  PID=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return; sleep 0.1; done
}
hwm() { awk '/VmHWM/{printf "%.1f MiB", $2/1024}' "/proc/$PID/status"; }
cpu() { awk '{print $14+$15}' "/proc/$PID/stat"; }

echo "== part 1: $BIN"
start
echo "server VmHWM at start $(hwm)"
curl -s -o /dev/null -w "PUT 1 MB daily event (%{size_upload} B): %{http_code}\n" -u $A -T "$W/big.ics" -H 'Content-Type: text/calendar' "$U/big.ics"
for r in 200y 27y; do
  curl -s -o /dev/null -w "REPORT expand $r: %{http_code} in %{time_total} s; " -u $A -X REPORT -H 'Depth: 1' --data-binary "@$W/$r.xml" "$U/"
  echo "server VmHWM $(hwm)"
done
curl -s -o /dev/null -w "GET afterwards: %{http_code}\n" -u $A "$U/big.ics"
kill "$PID"; wait "$PID" 2>/dev/null
start
curl -s -o /dev/null -u $A "$U/"  # warm the credential cache (argon2)
echo "fresh server VmHWM $(hwm)"; C0=$(cpu)
curl -s -o /dev/null -w "PUT BYxxx rule (%{size_upload} B): %{http_code} in %{time_total} s; " -u $A -T "$W/byxxx.ics" -H 'Content-Type: text/calendar' "$U/boom.ics"
echo "server CPU $(( $(cpu) - C0 )) ticks of 10 ms, VmHWM $(hwm)"
kill "$PID"; wait "$PID" 2>/dev/null

echo "== part 2: end-to-end tests that print figures"
cd "$ROOT" && RUST_LOG=herald=error cargo test -q --test e2e -- --include-ignored --nocapture --test-threads 1 \
  hardening_conn::unauthenticated_bodies_are_not_read \
  hardening_conn::idle_flood_at_1024_descriptors_locks_no_one_out \
  hardening_conn::sigterm_stops_within_the_grace_during_long_requests \
  hardening_conn::unknown_and_known_users_cost_the_same_and_failures_are_throttled \
  crash::outbox_1000_invitations_20_kills 2>&1 | grep -vE '^(running|test result|$)| WARN '
