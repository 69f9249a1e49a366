#!/usr/bin/env bash
# swaks (a real SMTP/LMTP client nobody here wrote) delivers an attendee's
# iMIP REPLY to herald's LMTP listener; the organizer's event must then show
# the answer. Also: the same mail twice is processed once, and a reply
# without a trusted Authentication-Results changes nothing.
#
# usage: conformance/swaks-lmtp.sh      (starts its own herald; needs swaks, curl)
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
command -v swaks >/dev/null || { echo "swaks not installed (apt-get install swaks)"; exit 2; }

LMTP_PORT="$(conf_free_port)"
CFG="$(mktemp "${TMPDIR:-/tmp}/herald-lmtp.XXXXXX.toml")"
cat >"$CFG" <<TOML
[imip]
lmtp_listen = "127.0.0.1:$LMTP_PORT"
trusted_authserv_ids = ["mx.conformance.test"]
TOML
export HERALD_CONFIG="$CFG"
PASS_="pw-swaks-$$"
herald_start admin "$PASS_" || exit 1
trap 'herald_stop; rm -f "$CFG"' EXIT
EVENT="${HERALD_URL}dav/calendars/admin/default/swaks.ics"

ics=$'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//conformance//EN\r\nBEGIN:VEVENT\r\nUID:swaks-1\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250310T100000Z\r\nDTEND:20250310T110000Z\r\nSUMMARY:Swaks\r\nORGANIZER:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n'
code="$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$PASS_" -X PUT -H 'Content-Type: text/calendar' --data-binary "$ics" "$EVENT")"
[ "$code" = 201 ] && conf_pass create-event || conf_fail create-event "PUT answered $code"

reply_body() {  # reply_body MESSAGE-ID AUTH-HEADER-LINE
  printf 'Message-ID: <%s>\r\n%sFrom: Alice <alice@example.net>\r\nTo: admin@localhost\r\nSubject: Accepted: Swaks\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; charset=UTF-8; method=REPLY\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Mozilla//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:swaks-1\r\nDTSTAMP:20250102T000000Z\r\nSEQUENCE:0\r\nDTSTART:20250310T100000Z\r\nORGANIZER:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' "$1" "$2"
}
deliver() {  # deliver FILE -> swaks transcript
  swaks --protocol LMTP --server 127.0.0.1 --port "$LMTP_PORT" \
    --from alice@example.net --to admin@localhost --data "@$1" 2>&1
}
alice_line() {
  curl -s -u "admin:$PASS_" "$EVENT" | tr -d '\r' | sed -e ':a' -e 'N' -e '$!ba' -e 's/\n //g' | grep 'alice@example.net'
}

tmp="$(mktemp -d)"
reply_body "forged-1@example.net" "" >"$tmp/forged.eml"
out="$(deliver "$tmp/forged.eml")"
if grep -Eq '^<[-~]* +250' <<<"$out" && alice_line | grep -q 'PARTSTAT=NEEDS-ACTION'; then
  conf_pass unauthenticated-reply-changes-nothing
else
  conf_fail unauthenticated-reply-changes-nothing "$(alice_line) / $(tail -5 <<<"$out")"
fi

reply_body "real-1@example.net" $'Authentication-Results: mx.conformance.test; dmarc=pass header.from=example.net\r\n' >"$tmp/real.eml"
out="$(deliver "$tmp/real.eml")"
if grep -Eq '^<[-~]* +250' <<<"$out" && alice_line | grep -q 'PARTSTAT=ACCEPTED'; then
  conf_pass reply-updates-partstat
else
  conf_fail reply-updates-partstat "$(alice_line) / $(tail -5 <<<"$out")"
fi

before="$(curl -s -u "admin:$PASS_" -D - -o /dev/null "$EVENT" | grep -i '^etag')"
out="$(deliver "$tmp/real.eml")"
after="$(curl -s -u "admin:$PASS_" -D - -o /dev/null "$EVENT" | grep -i '^etag')"
if grep -qi 'already processed' <<<"$out" && [ "$before" = "$after" ]; then
  conf_pass same-mail-twice-processed-once
else
  conf_fail same-mail-twice-processed-once "$before -> $after / $(tail -5 <<<"$out")"
fi
rm -rf "$tmp"
conf_summary swaks-lmtp
