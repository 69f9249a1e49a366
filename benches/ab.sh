#!/usr/bin/env bash
# Before/after of two herald binaries on the ../shared/perf workload, in one
# run, alternating (A B A B ...), each on a fresh data directory.
#   usage: benches/ab.sh BIN_A BIN_B [ROUNDS] [OUTDIR]
#   env:   N (10000), GET_REQUESTS (20000), QUERY_REQUESTS (600), PORT (18808)
# Prints compare.py's side-by-side table of every run (ratios to the first A).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PERF="${PERF:-$ROOT/../shared/perf}"
A="$1" B="$2" ROUNDS="${3:-2}"
OUT="${4:-$(mktemp -d "${TMPDIR:-/tmp}/herald-ab.XXXXXX")}"
mkdir -p "$OUT"
N="${N:-10000}" PORT="${PORT:-18808}"
export GET_REQUESTS="${GET_REQUESTS:-20000}" QUERY_REQUESTS="${QUERY_REQUESTS:-600}"
PID=""
trap 'kill "$PID" 2>/dev/null || true' EXIT

one() {  # one LABEL BIN
  local label="$1" bin="$2" data
  data="$(mktemp -d "$OUT/data.XXXX")"
  HERALD_ADMIN_PASSWORD=perfpass RUST_LOG=herald=warn setsid "$bin" serve \
    --listen "127.0.0.1:$PORT" --data-dir "$data" >"$OUT/$label.server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
  LABEL="$label" "$PERF/bench.sh" "http://127.0.0.1:$PORT" admin perfpass \
    /dav/calendars/admin/bench10k/ "$N" "$OUT/$label" "$PID" >/dev/null
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  rm -rf "$data"
}

dirs=()
for r in $(seq "$ROUNDS"); do
  one "A$r" "$A"; dirs+=("$OUT/A$r")
  one "B$r" "$B"; dirs+=("$OUT/B$r")
done
python3 "$PERF/compare.py" "$OUT/cmp.md" "$OUT/cmp.json" "${dirs[@]}" >/dev/null
cat "$OUT/cmp.md"
echo "(A = $A, B = $B; logs in $OUT)"
