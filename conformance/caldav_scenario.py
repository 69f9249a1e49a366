#!/usr/bin/env python3
"""End-to-end CalDAV scenario with the python `caldav` client library.

usage: caldav_scenario.py URL USER PASS [CALENDAR_URL]

URL is the DAV root the client connects to.  CALENDAR_URL (optional, found by
discover.py) is the calendar to work in; it must be among the principal's
calendars.  Without it the calendar whose last path segment is "default" is
used, else the first one; with no calendar at all, a scratch one is made (and
deleted at the end).

Every step prints "PASS name" or "FAIL name: reason" ("SKIP name: ..." when a
step it needs failed); the last line is "caldav-scenario: N passed, N failed".
Exit status 0 only if every step passed.

All test data lives in March/April 2031 with UIDs unique to this run; objects
that already were in the windows searched are taken as a baseline, so the
scenario can run against a calendar that holds other data.  Searches are
checked twice: through the library's search() (as an application sees them -
the library may filter or expand client-side) and with raw calendar-query
REPORTs (what the server itself answers: time-range filtering, RRULE/COUNT
handling, <C:expand>).
"""
import os
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
import warnings
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

warnings.simplefilter("ignore", DeprecationWarning)

try:
    import caldav
    from caldav.lib import error as caldav_error
    from caldav.lib.url import URL as CalURL
    import icalendar
except ImportError as e:  # pragma: no cover
    print(f"FAIL import: {e} (pip install caldav)")
    print("caldav-scenario: 0 passed, 1 failed")
    sys.exit(1)

NS = {"d": "DAV:", "c": "urn:ietf:params:xml:ns:caldav"}
UTC = timezone.utc
RUN = uuid.uuid4().hex[:10]
UID_SINGLE = f"herald-conf-{RUN}-single"
UID_WEEKLY = f"herald-conf-{RUN}-weekly"
UID_TODO = f"herald-conf-{RUN}-todo"
UID_SYNC = f"herald-conf-{RUN}-sync"
UID_NEWCAL = f"herald-conf-{RUN}-newcal"

ICS_SINGLE = f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//herald//conformance//EN
BEGIN:VEVENT
UID:{UID_SINGLE}
DTSTAMP:20250101T000000Z
DTSTART:20310304T100000Z
DTEND:20310304T110000Z
SUMMARY:Conformance single
END:VEVENT
END:VCALENDAR
"""

# Mondays 2031-03-03, 10, 17, 24, 31 09:00-10:00 UTC
ICS_WEEKLY = f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//herald//conformance//EN
BEGIN:VEVENT
UID:{UID_WEEKLY}
DTSTAMP:20250101T000000Z
DTSTART:20310303T090000Z
DTEND:20310303T100000Z
RRULE:FREQ=WEEKLY;COUNT=5
SUMMARY:Conformance weekly
END:VEVENT
END:VCALENDAR
"""

ICS_TODO = f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//herald//conformance//EN
BEGIN:VTODO
UID:{UID_TODO}
DTSTAMP:20250101T000000Z
DTSTART:20310305T100000Z
DUE:20310305T120000Z
SUMMARY:Conformance todo
STATUS:NEEDS-ACTION
END:VTODO
END:VCALENDAR
"""


def ics_event(uid, start, summary):
    return f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//herald//conformance//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20250101T000000Z
DTSTART:{start}
DURATION:PT1H
SUMMARY:{summary}
END:VEVENT
END:VCALENDAR
"""


def dt(s):
    return datetime.strptime(s, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


# windows: (start, end)
W_EARLY = ("20310302T000000Z", "20310312T000000Z")   # single, weekly#1, weekly#2, todo
W_LATE = ("20310323T000000Z", "20310325T000000Z")    # weekly#4 only
W_AFTER = ("20310401T000000Z", "20310430T000000Z")   # nothing: COUNT=5 ended 03-31


class Failed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failed(msg)


class Scenario:
    def __init__(self, url, user, pw, cal_url=None):
        self.url, self.user, self.pw, self.cal_url = url, user, pw, cal_url or None
        self.passed = self.failed = self.skipped = 0
        self.ok = {}
        self.client = self.principal = self.cal = None
        self.scratch_cal = None
        self.objs = {}
        self.baseline = {}

    # -- step machinery ---------------------------------------------------
    def step(self, name, fn, needs=()):
        missing = [n for n in needs if not self.ok.get(n)]
        if missing:
            self.skipped += 1
            self.ok[name] = False
            print(f"SKIP {name}: needs {', '.join(missing)}", flush=True)
            return
        t0 = time.monotonic()
        try:
            fn()
        except Failed as e:
            self._fail(name, str(e))
        except Exception as e:  # noqa: BLE001 - report anything the library raises
            tb = traceback.extract_tb(e.__traceback__)
            where = next((f"{os.path.basename(f.filename)}:{f.lineno}" for f in reversed(tb)
                          if f.filename == __file__), "")
            self._fail(name, f"{type(e).__name__}: {str(e).strip()[:400]} [{where}]")
        else:
            self.passed += 1
            self.ok[name] = True
            print(f"PASS {name} ({time.monotonic() - t0:.2f}s)", flush=True)

    def _fail(self, name, reason):
        self.failed += 1
        self.ok[name] = False
        reason = " ".join(reason.split())
        print(f"FAIL {name}: {reason}", flush=True)

    # -- raw HTTP helpers (independent of the library's workarounds) -------
    def report(self, url, body):
        resp = self.client.report(str(url), body, depth=1)
        check(resp.status == 207, f"REPORT answered {resp.status}, want 207")
        raw = resp.raw
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        root = ET.fromstring(raw.encode("utf-8"))
        out = {}
        for r in root.findall("d:response", NS):
            href = r.findtext("d:href", default="", namespaces=NS).strip()
            data = None
            for ps in r.findall("d:propstat", NS):
                st = ps.findtext("d:status", default="", namespaces=NS)
                cd = ps.find("d:prop/c:calendar-data", NS)
                if " 200 " in st and cd is not None:
                    data = cd.text or ""
            out[href] = data
        return out

    def query_body(self, comp, window, expand=False):
        s, e = window
        exp = f'<c:expand start="{s}" end="{e}"/>' if expand else ""
        return (f'<?xml version="1.0" encoding="utf-8"?>'
                f'<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
                f'<d:prop><d:getetag/><c:calendar-data>{exp}</c:calendar-data></d:prop>'
                f'<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="{comp}">'
                f'<c:time-range start="{s}" end="{e}"/></c:comp-filter></c:comp-filter></c:filter>'
                f'</c:calendar-query>')

    def raw_query(self, comp, window, expand=False):
        """-> {uid: [component, ...]} of what the server returned."""
        res = self.report(self.cal.url, self.query_body(comp, window, expand))
        by_uid = {}
        for href, data in res.items():
            check(data is not None, f"no calendar-data for {href}")
            cal = icalendar.Calendar.from_ical(data)
            comps = [c for c in cal.walk() if c.name in ("VEVENT", "VTODO", "VJOURNAL")]
            check(comps, f"{href}: calendar-data without components")
            uids = {str(c.get("UID")) for c in comps}
            check(len(uids) == 1, f"{href}: several UIDs {uids}")
            by_uid.setdefault(uids.pop(), []).extend(comps)
        return by_uid

    # -- library helpers ----------------------------------------------------
    def uids_of(self, objs):
        out = []
        for o in objs:
            comp = o.icalendar_component
            out.append(str(comp.get("UID")))
        return out

    def lib_search(self, window, **kw):
        s, e = window
        return self.cal.search(start=dt(s), end=dt(e), **kw)

    def add_event(self, cal, ics):
        fn = getattr(cal, "add_event", None) or cal.save_event
        return fn(ics)

    def add_todo(self, cal, ics):
        fn = getattr(cal, "add_todo", None) or cal.save_todo
        return fn(ics)

    def by_uid(self, uid):
        fn = getattr(self.cal, "get_event_by_uid", None) or self.cal.event_by_uid
        return fn(uid)

    def sync(self, token=None):
        fn = getattr(self.cal, "get_objects_by_sync_token", None) or self.cal.objects_by_sync_token
        return fn(sync_token=token, load_objects=False, disable_fallback=True)

    def mine(self, uids, window_key):
        """uids minus the baseline of that window (objects not made by this run)."""
        base = self.baseline.get(window_key, set())
        return sorted(u for u in uids if u not in base)

    # -- steps ----------------------------------------------------------------
    def s_well_known(self):
        p = urllib.parse.urlsplit(self.url)
        wk = f"{p.scheme}://{p.netloc}/.well-known/caldav"

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None

        req = urllib.request.Request(wk, method="GET")
        try:
            urllib.request.build_opener(NoRedirect).open(req, timeout=20)
            raise Failed(f"GET {wk} answered 2xx, want a redirect (RFC 6764)")
        except urllib.error.HTTPError as e:
            check(e.code in (301, 302, 303, 307, 308), f"GET {wk} answered {e.code}, want 301/302/307")
            check(e.headers.get("Location"), "redirect without Location")

    def s_connect(self):
        self.client = caldav.DAVClient(url=self.url, username=self.user, password=self.pw, timeout=60)
        self.principal = self.client.principal()
        check(self.principal is not None and self.principal.url, "no principal")

    def s_calendars(self):
        cals = self.principal.calendars()
        urls = [str(c.url.canonical()) for c in cals]
        if self.cal_url:
            want = str(CalURL.objectify(self.cal_url).canonical())
            match = [c for c in cals if str(c.url.canonical()) == want]
            check(match, f"calendar {self.cal_url} not among principal.calendars(): {urls}")
            self.cal = match[0]
        elif cals:
            dflt = [c for c in cals if str(c.url).rstrip("/").rsplit("/", 1)[-1] == "default"]
            self.cal = (dflt or cals)[0]
        else:
            # e.g. a fresh Radicale account: no calendar yet
            self.scratch_cal = self.principal.make_calendar(name=f"Conformance {RUN}",
                                                            cal_id=f"herald-conf-{RUN}")
            self.cal = self.scratch_cal
            print(f"  (no calendar found; made scratch calendar {self.cal.url})")
        print(f"  calendar: {self.cal.url}  ({len(cals)} calendar(s): {', '.join(urls)})")
        # baselines: whatever is already in our windows
        for key, w in (("early", W_EARLY), ("late", W_LATE), ("after", W_AFTER)):
            ev = self.raw_query("VEVENT", w)
            td = self.raw_query("VTODO", w)
            self.baseline[key] = set(ev) | set(td)
        if any(self.baseline.values()):
            print(f"  (baseline objects in the test windows: {self.baseline})")

    def s_create_event(self):
        ev = self.add_event(self.cal, ICS_SINGLE)
        check(ev.url, "no URL for the new event")
        self.objs["single"] = ev

    def s_create_recurring(self):
        ev = self.add_event(self.cal, ICS_WEEKLY)
        check(ev.url, "no URL for the new event")
        self.objs["weekly"] = ev

    def s_create_todo(self):
        td = self.add_todo(self.cal, ICS_TODO)
        check(td.url, "no URL for the new todo")
        self.objs["todo"] = td

    def s_search_expand(self):
        res = self.lib_search(W_EARLY, event=True, expand=True)
        got = []
        for o in res:
            c = o.icalendar_component
            uid = str(c.get("UID"))
            if uid in self.baseline["early"]:
                continue
            check("RRULE" not in c, f"expanded instance of {uid} still has an RRULE")
            rid = c.get("RECURRENCE-ID")
            got.append((uid, rid.dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") if rid else None))
        want = sorted([(UID_SINGLE, None), (UID_WEEKLY, "20310303T090000Z"),
                       (UID_WEEKLY, "20310310T090000Z")], key=str)
        check(sorted(got, key=str) == want, f"got {sorted(got, key=str)}, want {want}")

    def s_search_noexpand(self):
        res = self.lib_search(W_EARLY, event=True)
        got = self.mine(self.uids_of(res), "early")
        want = sorted([UID_SINGLE, UID_WEEKLY])
        check(got == want, f"got {got}, want {want}")
        late = self.mine(self.uids_of(self.lib_search(W_LATE, event=True)), "late")
        check(late == [UID_WEEKLY], f"window {W_LATE}: got {late}, want [{UID_WEEKLY}] (4th instance)")
        after = self.mine(self.uids_of(self.lib_search(W_AFTER, event=True)), "after")
        check(after == [], f"window {W_AFTER}: got {after}, want [] (COUNT=5 ends 2031-03-31)")

    def s_search_todo(self):
        res = self.lib_search(W_EARLY, todo=True)
        got = self.mine(self.uids_of(res), "early")
        check(got == [UID_TODO], f"got {got}, want [{UID_TODO}]")

    def s_raw_time_range(self):
        """calendar-query without expand, exactly as the server answers it."""
        for comp, w, key, want in (
            ("VEVENT", W_EARLY, "early", [UID_SINGLE, UID_WEEKLY]),
            ("VEVENT", W_LATE, "late", [UID_WEEKLY]),
            ("VEVENT", W_AFTER, "after", []),
            ("VTODO", W_EARLY, "early", [UID_TODO]),
            ("VTODO", W_LATE, "late", []),
        ):
            got = self.mine(self.raw_query(comp, w).keys(), key)
            check(got == sorted(want), f"{comp} {w[0]}..{w[1]}: server returned {got}, want {sorted(want)}")

    def s_raw_expand(self):
        """calendar-query with <C:expand>: RFC 4791 9.6.5 server-side expansion."""
        res = self.raw_query("VEVENT", W_EARLY, expand=True)
        got = {}
        for uid, comps in res.items():
            if uid in self.baseline["early"]:
                continue
            for c in comps:
                check("RRULE" not in c, f"{uid}: expanded data still has an RRULE")
                rid = c.get("RECURRENCE-ID")
                got.setdefault(uid, []).append(
                    rid.dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") if rid else None)
        want = {UID_SINGLE: [None], UID_WEEKLY: ["20310303T090000Z", "20310310T090000Z"]}
        got = {k: sorted(v, key=str) for k, v in got.items()}
        check(got == want, f"server returned {got}, want {want}")
        late = self.raw_query("VEVENT", W_LATE, expand=True).get(UID_WEEKLY, [])
        rids = sorted(str(c.get("RECURRENCE-ID").dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
                      for c in late if c.get("RECURRENCE-ID"))
        check(rids == ["20310324T090000Z"], f"window {W_LATE}: instances {rids}, want ['20310324T090000Z']")

    def s_event_by_uid(self):
        ev = self.by_uid(UID_SINGLE)
        c = ev.icalendar_component
        check(str(c.get("UID")) == UID_SINGLE, f"wrong UID {c.get('UID')}")
        check(str(c.get("SUMMARY")) == "Conformance single", f"SUMMARY {c.get('SUMMARY')!r}")
        check(str(ev.url.canonical()) == str(self.objs["single"].url.canonical()),
              f"URL {ev.url} != {self.objs['single'].url}")
        wk = self.by_uid(UID_WEEKLY)
        check("RRULE" in wk.icalendar_component, "recurring event lost its RRULE when stored")

    def s_update(self):
        ev = self.by_uid(UID_SINGLE)
        ev.icalendar_component["SUMMARY"] = "Conformance single (edited)"
        ev.save()
        again = self.by_uid(UID_SINGLE)
        s = str(again.icalendar_component.get("SUMMARY"))
        check(s == "Conformance single (edited)", f"re-read SUMMARY {s!r}")
        # and a plain GET of the resource
        fresh = self.cal.event_by_url(ev.url) if hasattr(self.cal, "event_by_url") else None
        if fresh is not None:
            fresh.load()
            s2 = str(fresh.icalendar_component.get("SUMMARY"))
            check(s2 == "Conformance single (edited)", f"GET after update: SUMMARY {s2!r}")

    def s_delete(self):
        ev = self.by_uid(UID_SINGLE)
        ev.delete()
        try:
            self.by_uid(UID_SINGLE)
            raise Failed("event still found by UID after DELETE")
        except caldav_error.NotFoundError:
            pass
        got = self.mine(self.raw_query("VEVENT", W_EARLY).keys(), "early")
        check(got == [UID_WEEKLY], f"after delete the server still returns {got}")

    def s_sync(self):
        try:
            self._s_sync()
        except caldav_error.ReportError as e:
            if "Depth" in str(e):
                raise Failed(f"{e} -- python-caldav sends sync-collection with Depth: 1 (RFC 6578 3.2 "
                             "says Depth: 0); without disable_fallback the library silently falls "
                             "back to fetching the whole calendar on every sync") from e
            raise

    def _s_sync(self):
        first = self.sync()
        tok0 = first.sync_token
        check(tok0, "no sync-token in the initial sync-collection")
        urls0 = {str(o.url.canonical()) for o in first}
        for k in ("weekly", "todo"):
            u = str(self.objs[k].url.canonical())
            check(u in urls0, f"initial sync lacks {k} ({u}); got {sorted(urls0)}")
        # change: one add, one modify
        new = self.add_event(self.cal, ics_event(UID_SYNC, "20310306T150000Z", "Conformance sync"))
        td = self.objs["todo"]
        td.load()
        td.icalendar_component["SUMMARY"] = "Conformance todo (edited)"
        td.save()
        d1 = self.sync(tok0)
        tok1 = d1.sync_token
        check(tok1 and tok1 != tok0, f"sync-token did not change ({tok0!r} -> {tok1!r})")
        got = {str(o.url.canonical()) for o in d1 if str(o.url.canonical()) not in d1.deleted_urls}
        want = {str(new.url.canonical()), str(td.url.canonical())}
        check(got == want, f"delta after add+modify: {sorted(got)}, want {sorted(want)}")
        check(not d1.deleted_urls, f"delta reports deletions {d1.deleted_urls}")
        # delete one, delta must say so (404 response)
        new.delete()
        d2 = self.sync(tok1)
        dels = {str(u) for u in d2.deleted_urls}
        check(dels == {str(new.url.canonical())},
              f"delta after delete: deleted {sorted(dels)}, want {str(new.url.canonical())}")
        d3 = self.sync(d2.sync_token)
        check(len(d3) == 0 and not d3.deleted_urls,
              f"no-op delta returned {[str(o.url) for o in d3]}")

    def raw_sync(self, token):
        """sync-collection REPORT exactly per RFC 6578 (Depth: 0).
        -> (token, {href: "200"|"404"})"""
        body = ('<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:">'
                f'<d:sync-token>{token or ""}</d:sync-token><d:sync-level>1</d:sync-level>'
                '<d:prop><d:getetag/></d:prop></d:sync-collection>')
        resp = self.client.report(str(self.cal.url), body, depth=0)
        check(resp.status == 207, f"sync-collection (Depth: 0) answered {resp.status}, want 207")
        raw = resp.raw if isinstance(resp.raw, str) else resp.raw.decode("utf-8", "replace")
        root = ET.fromstring(raw.encode("utf-8"))
        tok = (root.findtext("d:sync-token", default="", namespaces=NS) or "").strip()
        check(tok, "multistatus without DAV:sync-token")
        out = {}
        for r in root.findall("d:response", NS):
            href = urllib.parse.unquote(r.findtext("d:href", default="", namespaces=NS).strip())
            href = urllib.parse.urlsplit(href).path
            st = r.findtext("d:status", default="", namespaces=NS)
            if " 404 " in st:
                out[href] = "404"
            else:
                sts = [ps.findtext("d:status", default="", namespaces=NS) for ps in r.findall("d:propstat", NS)]
                out[href] = "200" if any(" 200 " in x for x in sts) else ",".join(sts) or "?"
        return tok, out

    def s_raw_sync(self):
        """Sync semantics independent of the library: initial, add+modify, delete, no-op."""
        def path(o):
            return urllib.parse.unquote(urllib.parse.urlsplit(str(o.url)).path)
        tok0, first = self.raw_sync(None)
        for k in ("weekly", "todo"):
            check(first.get(path(self.objs[k])) == "200", f"initial sync lacks {k} ({path(self.objs[k])}): {first}")
        new = self.add_event(self.cal, ics_event(UID_SYNC + "-raw", "20310307T150000Z", "Conformance raw sync"))
        td = self.objs["todo"]
        td.load()
        td.icalendar_component["SUMMARY"] = "Conformance todo (raw sync)"
        td.save()
        tok1, d1 = self.raw_sync(tok0)
        check(tok1 != tok0, "sync-token did not change after changes")
        want = {path(new): "200", path(td): "200"}
        check(d1 == want, f"delta after add+modify: {d1}, want {want}")
        new.delete()
        tok2, d2 = self.raw_sync(tok1)
        check(d2 == {path(new): "404"}, f"delta after delete: {d2}, want {{{path(new)!r}: '404'}}")
        _, d3 = self.raw_sync(tok2)
        check(d3 == {}, f"no-op delta returned {d3}")
        try:
            self.raw_sync("http://invalid.example/sync/nonexistent")
        except caldav_error.AuthorizationError:
            pass  # 403, as RFC 6578 3.2 wants (DAV:valid-sync-token)
        except (Failed, caldav_error.DAVError) as e:
            raise Failed(f"unknown sync-token: {type(e).__name__} {e}, want 403 DAV:valid-sync-token")
        else:
            raise Failed("unknown sync-token accepted (want 403 DAV:valid-sync-token)")

    def s_make_calendar(self):
        cid = f"herald-conf-{RUN}-new"
        nc = self.principal.make_calendar(name=f"Conformance new {RUN}", cal_id=cid)
        try:
            urls = [str(c.url.canonical()) for c in self.principal.calendars()]
            check(str(nc.url.canonical()) in urls, f"new calendar {nc.url} not listed: {urls}")
            e = self.add_event(nc, ics_event(UID_NEWCAL, "20310304T100000Z", "In new calendar"))
            got = self.uids_of(nc.search(start=dt(W_EARLY[0]), end=dt(W_EARLY[1]), event=True))
            check(got == [UID_NEWCAL], f"search in new calendar: {got}")
            # must not leak into the main calendar
            main = self.mine(self.raw_query("VEVENT", W_EARLY).keys(), "early")
            check(UID_NEWCAL not in main, "event of the new calendar shows up in the main one")
            check(e.url, "no URL")
        finally:
            nc.delete()
        urls = [str(c.url.canonical()) for c in self.principal.calendars()]
        check(str(nc.url.canonical()) not in urls, f"deleted calendar still listed: {urls}")
        try:
            nc.events()
            raise Failed("deleted calendar still answers a calendar-query")
        except (caldav_error.NotFoundError, caldav_error.ReportError, caldav_error.DAVError):
            pass

    def cleanup(self):
        for uid in (UID_SINGLE, UID_WEEKLY, UID_TODO, UID_SYNC, UID_SYNC + "-raw"):
            try:
                o = self.cal.get_object_by_uid(uid) if hasattr(self.cal, "get_object_by_uid") \
                    else self.cal.object_by_uid(uid)
                o.delete()
            except Exception:  # noqa: BLE001 - best effort
                pass
        if self.scratch_cal is not None:
            try:
                self.scratch_cal.delete()
            except Exception:  # noqa: BLE001
                pass

    def run(self):
        print(f"caldav {getattr(caldav, '__version__', '?')} against {self.url} as {self.user} (run {RUN})")
        self.step("well-known-redirect", self.s_well_known)
        self.step("connect-principal", self.s_connect)
        self.step("calendars", self.s_calendars, needs=["connect-principal"])
        c = ["calendars"]
        self.step("create-event", self.s_create_event, needs=c)
        self.step("create-recurring-event", self.s_create_recurring, needs=c)
        self.step("create-todo", self.s_create_todo, needs=c)
        created = ["create-event", "create-recurring-event"]
        self.step("search-expand", self.s_search_expand, needs=created)
        self.step("search-no-expand", self.s_search_noexpand, needs=created)
        self.step("search-todo", self.s_search_todo, needs=["create-todo"])
        self.step("server-time-range", self.s_raw_time_range, needs=created + ["create-todo"])
        self.step("server-expand", self.s_raw_expand, needs=created)
        self.step("event-by-uid", self.s_event_by_uid, needs=created)
        self.step("update-summary", self.s_update, needs=["create-event"])
        self.step("delete-event", self.s_delete, needs=["create-event"])
        self.step("server-sync-collection", self.s_raw_sync, needs=["create-recurring-event", "create-todo"])
        self.step("sync-collection", self.s_sync, needs=["create-recurring-event", "create-todo"])
        self.step("make-delete-calendar", self.s_make_calendar, needs=["connect-principal"])
        if self.cal is not None:
            self.cleanup()
        print(f"caldav-scenario: {self.passed} passed, {self.failed} failed"
              + (f", {self.skipped} skipped" if self.skipped else ""))
        return 0 if self.failed == 0 and self.skipped == 0 else 1


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    return Scenario(*sys.argv[1:]).run()


if __name__ == "__main__":
    sys.exit(main())
