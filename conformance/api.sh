#!/usr/bin/env bash
# The REST API against its own OpenAPI document, with tools nobody here wrote:
# openapi-spec-validator (PyPI) checks /api/v1/openapi.json is a valid OpenAPI
# 3.1 document, then schemathesis (PyPI) generates requests from it (valid and
# invalid ones, single calls and create/read/delete sequences) against the
# live server with an organizer's bearer token. It fails on any 5xx, any
# response whose status, content type, headers or body the document does not
# declare, an invalid request the API accepts, a route that ignores the token,
# or a panic in the server log.
#
# usage: conformance/api.sh      (starts its own herald; needs curl and a python
#                                 with schemathesis + openapi-spec-validator)
# SCHEMATHESIS / OPENAPI_SPEC_VALIDATOR: the binaries (default: beside $HERALD_PY,
# else on PATH; keep them out of the caldav venv: caldav's urllib3-future breaks
# schemathesis). HERALD_PY: a python with `caldav` for api_caldav.py. API_EXAMPLES: test cases per operation and phase (default 40).
# API_SEED: a schemathesis seed to replay a run (each run prints its seed).
# API_CHECKS: the schemathesis checks (default below). Not in the default:
# positive_data_acceptance, which demands 2xx for every schema-valid body, while
# a schema-valid value can still be wrong for this server (an unknown calendar
# name, a time zone that does not exist) and is rightly a 422 naming the field.
# Nor the stateful ensure_resource_availability and use_after_free: schemathesis
# reuses generated Idempotency-Key values, and a POST replayed under a key
# whose resource was deleted since rightly answers the first 201 again (the
# id of a resource that is gone), which those checks report as a failure.
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

API_EXAMPLES="${API_EXAMPLES:-40}"
API_CHECKS="${API_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,missing_required_header,unsupported_method,ignored_auth}"

beside_py() {  # beside_py NAME: the NAME binary next to $HERALD_PY, else on PATH
  local d
  d="$(dirname "$(command -v "$HERALD_PY" 2>/dev/null || echo "$HERALD_PY")")"
  if [ -x "$d/$1" ]; then echo "$d/$1"; else command -v "$1" || true; fi
}
SCHEMATHESIS="${SCHEMATHESIS:-$(beside_py schemathesis)}"
OPENAPI_SPEC_VALIDATOR="${OPENAPI_SPEC_VALIDATOR:-$(beside_py openapi-spec-validator)}"
for tool in "$SCHEMATHESIS" "$OPENAPI_SPEC_VALIDATOR"; do
  if [ -z "$tool" ] || [ ! -x "$tool" ]; then
    echo "schemathesis or openapi-spec-validator not found (pip install schemathesis openapi-spec-validator; set HERALD_PY)" >&2
    exit 2
  fi
done

herald_start admin || exit 1
WORK="$(mktemp -d "${TMPDIR:-/tmp}/herald-api.XXXXXX")"
trap 'herald_stop; rm -rf "$WORK"' EXIT
BASE="${HERALD_URL%/}"
cli() { "$HERALD_BIN" "$@" --data-dir "$HERALD_DATA/data"; }

# An organizer principal and its token, made with the CLI as a user would.
if cli organizer add conformance-shop --email shop@conformance.test >"$WORK/cli.out" 2>&1 &&
  cli token create --principal conformance-shop --label conformance >>"$WORK/cli.out" 2>&1; then
  TOKEN="$(tail -n 1 "$WORK/cli.out")"
  conf_pass organizer-and-token
else
  conf_fail organizer-and-token "$(cat "$WORK/cli.out")"
  conf_summary api
  exit 1
fi
AUTH="Authorization: Bearer $TOKEN"
code="$(conf_http_code -H "$AUTH" "$BASE/api/v1/principal")"
[ "$code" = 200 ] && conf_pass token-authenticates || conf_fail token-authenticates "GET /api/v1/principal answered $code"

# The document: served without a token, JSON, OpenAPI 3.1, valid.
code="$(curl -s -o "$WORK/openapi.json" -w '%{http_code}' -m 20 "$BASE/api/v1/openapi.json")"
version="$("${CONF_SYS_PY:-python3}" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("openapi",""))' "$WORK/openapi.json" 2>/dev/null)"
if [ "$code" = 200 ] && [ "$version" = 3.1.0 ]; then
  conf_pass openapi-document-served
else
  conf_fail openapi-document-served "HTTP $code, openapi '$version'"
fi
if out="$("$OPENAPI_SPEC_VALIDATOR" "$WORK/openapi.json" 2>&1)"; then
  conf_pass openapi-spec-validator
else
  conf_fail openapi-spec-validator "$(tail -n 20 <<<"$out")"
fi
echo "$("$OPENAPI_SPEC_VALIDATOR" --version 2>/dev/null | head -1 || true)"

# schemathesis against the live API, every phase, a bounded number of cases.
seed=()
[ -n "${API_SEED:-}" ] && seed=(--seed "$API_SEED")
t0=$(date +%s)
"$SCHEMATHESIS" --version
"$SCHEMATHESIS" run "$WORK/openapi.json" --url "$BASE" \
  --header "$AUTH" \
  --checks "$API_CHECKS" \
  --max-examples "$API_EXAMPLES" "${seed[@]}" \
  --request-timeout 30 --no-color --generation-database none \
  >"$WORK/schemathesis.log" 2>&1
rc=$?
# Keep the log readable in CI: the summary and every failure, not the progress.
sed -n '/FAILURES\|SUMMARY/,$p' "$WORK/schemathesis.log" | head -n 400
[ "$rc" = 0 ] || grep -q 'FAILURES\|SUMMARY' "$WORK/schemathesis.log" || tail -n 60 "$WORK/schemathesis.log"
echo "schemathesis took $(( $(date +%s) - t0 ))s (exit $rc)"
[ -n "${CONF_OUT:-}" ] && cp "$WORK/schemathesis.log" "$CONF_OUT/api-schemathesis.log" 2>/dev/null
[ "$rc" = 0 ] && conf_pass schemathesis || conf_fail schemathesis "exit $rc (see the failures above)"

# One object, two views, with the python caldav client.
if printf 'caldav-pass\n' | cli organizer add caldav-shop --email caldav-shop@conformance.test --password-stdin >"$WORK/cli2.out" 2>&1 &&
  cli token create --principal caldav-shop >>"$WORK/cli2.out" 2>&1; then
  TOKEN2="$(tail -n 1 "$WORK/cli2.out")"
  if "$HERALD_PY" "$HERE/api_caldav.py" "$BASE" "$TOKEN2" caldav-shop caldav-pass caldav-shop@conformance.test; then
    conf_pass api-and-caldav-one-object
  else
    conf_fail api-and-caldav-one-object "see the steps above"
  fi
else
  conf_fail api-and-caldav-one-object "$(cat "$WORK/cli2.out")"
fi

# The server survived it, and nothing panicked on the way.
code="$(conf_http_code -H "$AUTH" "$BASE/api/v1/principal")"
[ "$code" = 200 ] && conf_pass server-still-answers || conf_fail server-still-answers "GET /api/v1/principal answered $code"
if grep -q 'panicked' "$HERALD_LOG"; then
  conf_fail no-panic "$(grep -m 5 'panicked' "$HERALD_LOG")"
else
  conf_pass no-panic
fi
conf_summary api
