"""One object, two views, with the python `caldav` client (nobody here wrote
it): an event made over the REST API is read over CalDAV with its
attendees' PARTSTATs, and an event the CalDAV client saves with attendees is
found, and cancelled, over the API; the client then sees STATUS:CANCELLED.

usage: api_caldav.py BASE_URL TOKEN USER PASSWORD ORGANIZER_EMAIL
Prints PASS/FAIL lines; exit 0 only when every step passed.
"""
import json
import sys
import urllib.request
import uuid

import caldav

base, token, user, password, email = sys.argv[1:6]
failed = 0


def step(name, ok, detail=""):
    global failed
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
    if not ok:
        failed += 1


def api(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


status, ev = api("POST", "/api/v1/events", {
    "summary": "Made over the API",
    "start": "2027-05-04T10:00:00", "end": "2027-05-04T11:00:00",
    "time_zone": "Europe/Berlin",
    "attendees": [{"email": "ann@example.org", "name": "Ann"},
                  {"email": "bob@example.net"}],
})
step("api-create", status == 201, f"{status} {ev}")

client = caldav.DAVClient(url=base + "/dav/", username=user, password=password)
calendar = client.principal().calendars()[0]
try:
    obj = calendar.event_by_uid(ev["uid"])
    comp = obj.icalendar_component
    parts = {str(a).lower().replace("mailto:", ""): a.params.get("PARTSTAT")
             for a in comp.get("attendee", [])}
    step("caldav-sees-api-event", str(comp.get("summary")) == "Made over the API", str(comp))
    step("caldav-sees-partstat",
         parts.get("ann@example.org") == "NEEDS-ACTION" and parts.get("bob@example.net") == "NEEDS-ACTION",
         str(parts))
except Exception as e:  # noqa: BLE001 - any failure of the client is a failed step
    step("caldav-sees-api-event", False, repr(e))

uid = f"caldav-{uuid.uuid4()}"
ics = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//python-caldav scenario//EN\r\n"
    f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20270101T000000Z\r\n"
    "DTSTART:20270506T090000Z\r\nDTEND:20270506T100000Z\r\nSUMMARY:Made over CalDAV\r\n"
    f"ORGANIZER:mailto:{email}\r\n"
    "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:carol@example.org\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)
calendar.save_event(ics)
status, page = api("GET", "/api/v1/events?limit=500")
mine = [e for e in (page or {}).get("events", []) if e.get("uid") == uid]
step("api-sees-caldav-event", status == 200 and len(mine) == 1, f"{status} {page}")
if mine:
    status, cancelled = api("POST", f"/api/v1/events/{mine[0]['id']}/cancel", {"notify": "all"})
    step("api-cancels-caldav-event", status == 200 and cancelled.get("status") == "cancelled",
         f"{status} {cancelled}")
    comp = calendar.event_by_uid(uid).icalendar_component
    step("caldav-sees-cancellation", str(comp.get("status")) == "CANCELLED", str(comp))

print(f"api-caldav: {6 - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
