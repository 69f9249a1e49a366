#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ from tests/fixtures
and the small hand-made inputs below. Run from the repository root:
python3 fuzz/seeds/make_seeds.py (idempotent; file names are content hashes)."""
import email, email.policy, glob, hashlib, os, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "fuzz", "corpus")


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def cal(body):
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//seed//EN\r\n" + body + "END:VCALENDAR\r\n"


def ev(extra, start="DTSTART:20240105T100000Z", uid="s1"):
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20240101T000000Z\r\n{start}\r\n{extra}END:VEVENT\r\n"


BERLIN = ("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n"
          "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n"
          "END:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\n"
          "TZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n")

ICAL = [
    cal(ev("DTEND:20240105T110000Z\r\nSUMMARY:plain\r\n")),
    cal(ev("DURATION:PT1H\r\nSUMMARY;LANGUAGE=de:Caf\u00e9 \\, long line that needs folding because it is longer than seventy-five octets\r\n")),
    cal(ev("", start="DTSTART;VALUE=DATE:20240105")),
    cal(BERLIN + ev("DTEND;TZID=Europe/Berlin:20240105T110000\r\n", start="DTSTART;TZID=Europe/Berlin:20240105T100000")),
    cal(ev("ORGANIZER;CN=Alice:mailto:alice@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.org\r\n"
           "ATTENDEE;CUTYPE=GROUP;SCHEDULE-AGENT=CLIENT:mailto:team@example.org\r\nSEQUENCE:2\r\n")),
    cal("BEGIN:VTODO\r\nUID:t1\r\nDTSTAMP:20240101T000000Z\r\nDUE;VALUE=DATE:20240110\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\n"),
    cal("BEGIN:VJOURNAL\r\nUID:j1\r\nDTSTART;VALUE=DATE:20240110\r\nDESCRIPTION:n\\nl\r\nEND:VJOURNAL\r\n"),
    cal("BEGIN:VFREEBUSY\r\nUID:f1\r\nDTSTART:20240101T000000Z\r\nDTEND:20240102T000000Z\r\n"
        "FREEBUSY;FBTYPE=BUSY:20240101T090000Z/PT1H,20240101T120000Z/20240101T130000Z\r\nEND:VFREEBUSY\r\n"),
    cal(ev("DTEND:20240105T110000Z\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:x\r\nEND:VALARM\r\n")),
    cal(ev("X-VENDOR;X-P=\"quoted;:,\":v\r\n") + "BEGIN:X-THING\r\nX-A:1\r\nEND:X-THING\r\n").replace("\r\n", "\n"),
]

RRULE = [
    cal(ev("DURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=10\r\n")),
    cal(ev("DURATION:PT1H\r\nRRULE:FREQ=DAILY\r\n")),
    cal(ev("DTEND:20240105T110000Z\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20241231T000000Z\r\nEXDATE:20240108T100000Z\r\n")),
    cal(ev("RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1\r\n")),
    cal(ev("RRULE:FREQ=MONTHLY;BYMONTHDAY=31;INTERVAL=2\r\n")),
    cal(ev("RRULE:FREQ=YEARLY;BYWEEKNO=1,20;BYDAY=MO;WKST=SU\r\n")),
    cal(ev("RRULE:FREQ=YEARLY;BYYEARDAY=1,100,-1\r\n", start="DTSTART;VALUE=DATE:20240229")),
    cal(ev("RRULE:FREQ=HOURLY;INTERVAL=7;BYHOUR=9,10,11;COUNT=50\r\n")),
    cal(ev("RRULE:FREQ=MINUTELY;INTERVAL=90;UNTIL=20240106\r\n")),
    cal(BERLIN + ev("DTEND;TZID=Europe/Berlin:20240105T030000\r\nRRULE:FREQ=WEEKLY;INTERVAL=1\r\n",
                    start="DTSTART;TZID=Europe/Berlin:20240105T023000")),
    cal(ev("DURATION:PT30M\r\nRRULE:FREQ=DAILY;COUNT=5\r\n", start="DTSTART:20240105T100000")),
    cal(ev("DURATION:P1D\r\nRDATE;VALUE=PERIOD:20240201T000000Z/PT3H,20240301T000000Z/20240302T000000Z\r\nRDATE;VALUE=DATE:20240401\r\n")),
    cal(ev("DURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n")
        + ev("DURATION:PT2H\r\nRECURRENCE-ID:20240112T100000Z\r\nSUMMARY:moved\r\n", start="DTSTART:20240112T150000Z")
        + ev("RECURRENCE-ID;RANGE=THISANDFUTURE:20240119T100000Z\r\n", start="DTSTART:20240119T080000Z")),
    cal("BEGIN:VTODO\r\nUID:t2\r\nDTSTART:20240101T090000Z\r\nDUE:20240101T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nEND:VTODO\r\n"),
    cal(ev("DURATION:PT1H\r\nRRULE:FREQ=SECONDLY;INTERVAL=3600;BYMINUTE=0;COUNT=30\r\n", start="DTSTART:19000101T000000Z")),
]

X = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"'
XML = [
    f'<?xml version="1.0" encoding="utf-8"?><D:propfind {X}><D:allprop/><D:include><C:calendar-data/></D:include></D:propfind>',
    f'<D:propfind {X}><D:prop><D:displayname/><D:resourcetype/><C:calendar-home-set/><D:getetag/></D:prop></D:propfind>',
    '<propfind xmlns="DAV:"><propname/></propfind>',
    f'<D:propertyupdate {X} xmlns:A="http://apple.com/ns/ical/"><D:set><D:prop><D:displayname>Work &amp; more</D:displayname>'
    '<A:calendar-color>#FF0000</A:calendar-color><X:dead xmlns:X="urn:x"><X:inner a="1">t</X:inner></X:dead></D:prop></D:set>'
    '<D:remove><D:prop><C:calendar-description/></D:prop></D:remove></D:propertyupdate>',
    f'<C:mkcalendar {X}><D:set><D:prop><D:displayname>Cal</D:displayname><C:supported-calendar-component-set>'
    '<C:comp name="VEVENT"/><C:comp name="VTODO"/></C:supported-calendar-component-set>'
    '<C:calendar-timezone><![CDATA[BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n]]></C:calendar-timezone>'
    '</D:prop></D:set></C:mkcalendar>',
    f'<D:mkcol {X}><D:set><D:prop><D:resourcetype><D:collection/><C:calendar/></D:resourcetype></D:prop></D:set></D:mkcol>',
    f'<C:calendar-query {X}><D:prop><D:getetag/><C:calendar-data><C:comp name="VCALENDAR"><C:prop name="VERSION"/>'
    '<C:comp name="VEVENT"><C:prop name="SUMMARY"/><C:prop name="DTSTART"/></C:comp></C:comp>'
    '<C:expand start="20240101T000000Z" end="20240201T000000Z"/></C:calendar-data></D:prop>'
    '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
    '<C:time-range start="20240101T000000Z" end="20250101T000000Z"/></C:comp-filter></C:comp-filter></C:filter>'
    '<C:timezone-id>Europe/Berlin</C:timezone-id></C:calendar-query>',
    f'<C:calendar-query {X}><D:prop><C:calendar-data><C:limit-recurrence-set start="20240101T000000Z" end="20240201T000000Z"/>'
    '<C:limit-freebusy-set start="20240101T000000Z" end="20240201T000000Z"/></C:calendar-data></D:prop>'
    '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY">'
    '<C:text-match collation="i;unicode-casemap" negate-condition="yes">CAF\u00c9</C:text-match></C:prop-filter>'
    '<C:prop-filter name="ATTENDEE"><C:param-filter name="PARTSTAT"><C:text-match collation="i;octet">ACCEPTED</C:text-match>'
    '</C:param-filter></C:prop-filter><C:prop-filter name="LOCATION"><C:is-not-defined/></C:prop-filter>'
    '<C:comp-filter name="VALARM"><C:time-range start="20240101T000000Z"/></C:comp-filter>'
    '</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>',
    f'<C:calendar-multiget {X}><D:prop><D:getetag/><C:calendar-data/></D:prop><D:href>/dav/calendars/alice/work/a.ics</D:href>'
    '<D:href> /dav/calendars/alice/work/b%20c.ics </D:href></C:calendar-multiget>',
    f'<C:free-busy-query {X}><C:time-range start="20240101T000000Z" end="20240108T000000Z"/></C:free-busy-query>',
    '<D:sync-collection xmlns:D="DAV:"><D:sync-token>http://herald/sync/12</D:sync-token><D:sync-level>1</D:sync-level>'
    '<D:limit><D:nresults>10</D:nresults></D:limit><D:prop><D:getetag/></D:prop></D:sync-collection>',
    '<D:expand-property xmlns:D="DAV:"><D:property name="current-user-principal"><D:property name="displayname"/>'
    '</D:property></D:expand-property>',
    '<D:principal-property-search xmlns:D="DAV:" test="anyof"><D:property-search><D:prop><D:displayname/></D:prop>'
    '<D:match>ali</D:match></D:property-search><D:prop><D:displayname/></D:prop></D:principal-property-search>',
    '<D:acl-principal-prop-set xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:acl-principal-prop-set>',
    '<D:principal-match xmlns:D="DAV:"><D:self/><D:prop><D:displayname/></D:prop></D:principal-match>',
    '<x:propfind xmlns:x="DAV:"><x:prop><y:a xmlns:y="urn:y"><y:b><y:c/></y:b></y:a></x:prop></x:propfind>',
]

def main():
    fixtures = sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "imip*", "*.eml")))
    for path in fixtures:
        raw = open(path, "rb").read()
        put("imip_inbound", raw)
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        for part in msg.walk():
            if part.get_content_type() == "text/calendar":
                try:
                    body = part.get_payload(decode=True)
                except Exception:
                    continue
                if body and b"BEGIN:VCALENDAR" in body:
                    put("ical_object", body)
                    if b"RRULE" in body or b"RECURRENCE-ID" in body:
                        put("rrule_expand", body)
    for s in ICAL:
        put("ical_object", s)
    for s in RRULE:
        put("rrule_expand", s)
        put("ical_object", s)
    for s in XML:
        put("xml_request", s)
    put("imip_inbound", "From: Eve <eve@evil.example>\r\nTo: herald+abcdefgh@example.org\r\n"
        "Authentication-Results: mx.example.org; dmarc=pass header.from=evil.example; dkim=pass header.d=evil.example\r\n"
        "Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        + cal("METHOD:REQUEST\r\n" + ev("ORGANIZER:mailto:eve@evil.example\r\nATTENDEE:mailto:alice@example.org\r\n")))


if __name__ == "__main__":
    sys.exit(main())
