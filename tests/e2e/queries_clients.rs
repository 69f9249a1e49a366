//! Queries the way task and calendar clients send them (issue 9, points
//! 9-12 and 14): all-day and floating events in the calendar's time zone
//! (Thunderbird, Apple Calendar), VALARM time ranges over recurring and
//! repeating alarms (Apple's alarm polling), RANGE=THISANDFUTURE
//! overrides (Evolution), recurring VTODOs with DUE and no DTSTART
//! (tasks.org through DAVx5, Thunderbird) and refusals of invalid
//! filters with their CalDAV precondition.

use crate::util::*;

fn cal(body: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN\r\n{body}END:VCALENDAR\r\n"
    )
}

fn report(s: &Server, path: &str, body: &str) -> Resp {
    s.req(
        "REPORT",
        path,
        &[
            ("Depth", "1"),
            ("Content-Type", "application/xml; charset=utf-8"),
        ],
        body,
    )
}

/// A calendar-query for `comp` in [start, end), as Thunderbird sends it
/// (etags only, then a multiget).
fn range_query(comp: &str, start: &str, end: &str, extra: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="{comp}">
<C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:filter>{extra}
</C:calendar-query>"#
    )
}

fn names(body: &str) -> Vec<String> {
    let mut v: Vec<String> = hrefs(body)
        .into_iter()
        .filter_map(|h| h.rsplit('/').next().map(str::to_string))
        .filter(|n| !n.is_empty())
        .collect();
    v.sort();
    v
}

fn found(s: &Server, path: &str, body: &str) -> Vec<String> {
    let r = report(s, path, body);
    assert_eq!(r.status, 207, "{}", r.body);
    names(&r.body)
}

const AUCKLAND: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Apple Inc.//macOS 14.0//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Pacific/Auckland\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+1200\r\nDTSTART:20070930T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=9;BYDAY=-1SU\r\nTZNAME:NZDT\r\nTZOFFSETTO:+1300\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+1300\r\nDTSTART:20080406T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU\r\nTZNAME:NZST\r\nTZOFFSETTO:+1200\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";

fn set_calendar_timezone(s: &Server, vtimezone: &str) {
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<C:calendar-timezone>{}</C:calendar-timezone></D:prop></D:set></D:propertyupdate>"#,
        vtimezone.replace('\r', "&#13;")
    );
    let r = s.req(
        "PROPPATCH",
        CAL,
        &[("Content-Type", "application/xml")],
        &body,
    );
    assert_eq!(r.status, 207, "{}", r.body);
    assert!(r.body.contains("200 OK"), "{}", r.body);
}

#[test]
fn all_day_and_floating_events_in_the_calendars_time_zone() {
    let s = Server::start();
    // Apple Calendar in Auckland sets the calendar's zone (UTC+13 in January).
    set_calendar_timezone(&s, AUCKLAND);
    // Thunderbird writes all-day events as DATE values, and floating times.
    let day = cal(
        "BEGIN:VEVENT\r\nUID:day\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;VALUE=DATE:20240105\r\nDTEND;VALUE=DATE:20240106\r\nSUMMARY:Holiday\r\nEND:VEVENT\r\n",
    );
    let float = cal(
        "BEGIN:VEVENT\r\nUID:float\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240110T090000\r\nDTEND:20240110T100000\r\nSUMMARY:Standup\r\nEND:VEVENT\r\n",
    );
    assert_eq!(s.put_ics(&format!("{CAL}day.ics"), &day).status, 201);
    assert_eq!(s.put_ics(&format!("{CAL}float.ics"), &float).status, 201);
    // 5 January in Auckland is 4 January 11:00Z to 5 January 11:00Z.
    let q = |a: &str, b: &str| found(&s, CAL, &range_query("VEVENT", a, b, ""));
    assert_eq!(q("20240104T110000Z", "20240104T120000Z"), vec!["day.ics"]);
    assert!(q("20240105T110000Z", "20240105T230000Z").is_empty());
    // 09:00 floating is 20:00Z on 9 January.
    assert_eq!(q("20240109T200000Z", "20240109T203000Z"), vec!["float.ics"]);
    assert!(q("20240110T090000Z", "20240110T100000Z").is_empty());
    // The request's CALDAV:timezone wins over the calendar's (RFC 4791 9.8).
    let utc_tz = "<C:timezone>BEGIN:VCALENDAR&#13;\nVERSION:2.0&#13;\nBEGIN:VTIMEZONE&#13;\nTZID:UTC&#13;\nBEGIN:STANDARD&#13;\nDTSTART:19700101T000000&#13;\nTZOFFSETFROM:+0000&#13;\nTZOFFSETTO:+0000&#13;\nEND:STANDARD&#13;\nEND:VTIMEZONE&#13;\nEND:VCALENDAR&#13;\n</C:timezone>";
    let r = found(
        &s,
        CAL,
        &range_query("VEVENT", "20240110T090000Z", "20240110T100000Z", utc_tz),
    );
    assert_eq!(r, vec!["float.ics"]);
    // Expand gives the floating instance in UTC from the calendar's zone.
    let expand = r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><C:calendar-data><C:expand start="20240109T000000Z" end="20240111T000000Z"/></C:calendar-data></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="20240109T000000Z" end="20240111T000000Z"/></C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"#;
    let r = report(&s, CAL, expand);
    assert_eq!(r.status, 207, "{}", r.body);
    assert!(
        r.body.contains("DTSTART:20240109T200000Z") && r.body.contains("DTEND:20240109T210000Z"),
        "{}",
        r.body
    );
    // Free-busy in the calendar's zone too.
    let fb = r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20240104T000000Z" end="20240106T000000Z"/></C:free-busy-query>"#;
    let r = report(&s, CAL, fb);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body
            .contains("FREEBUSY:20240104T110000Z/20240105T110000Z"),
        "{}",
        r.body
    );
}

/// Apple Calendar's alarm query: events with an alarm due in a window.
fn alarm_query(start: &str, end: &str) -> String {
    format!(
        r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:comp-filter name="VALARM"><C:time-range start="{start}" end="{end}"/></C:comp-filter>
</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
    )
}

#[test]
fn alarms_of_recurring_events_and_repeats_are_found() {
    let s = Server::start();
    // Weekly 09:00Z meeting with a 10-minute warning, as Apple writes it.
    let weekly = cal(
        "BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101T090000Z\r\nDTEND:20240101T100000Z\r\nRRULE:FREQ=WEEKLY\r\nBEGIN:VALARM\r\nX-WR-ALARMUID:A1\r\nUID:A1\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\nEND:VEVENT\r\n",
    );
    // A one-off with an alarm repeated three times, five minutes apart.
    let repeat = cal(
        "BEGIN:VEVENT\r\nUID:repeat\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240301T120000Z\r\nDTEND:20240301T130000Z\r\nBEGIN:VALARM\r\nACTION:AUDIO\r\nTRIGGER:-PT30M\r\nREPEAT:3\r\nDURATION:PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\n",
    );
    assert_eq!(s.put_ics(&format!("{CAL}weekly.ics"), &weekly).status, 201);
    assert_eq!(s.put_ics(&format!("{CAL}repeat.ics"), &repeat).status, 201);
    let q = |a: &str, b: &str| found(&s, CAL, &alarm_query(a, b));
    // The alarm of the instance on 2024-06-03 (a Monday) at 08:50Z.
    assert_eq!(
        q("20240603T084500Z", "20240603T085500Z"),
        vec!["weekly.ics"]
    );
    assert!(q("20240604T084500Z", "20240604T085500Z").is_empty());
    // 11:30, 11:35, 11:40, 11:45: the last repetition alone is found.
    assert_eq!(
        q("20240301T114400Z", "20240301T114600Z"),
        vec!["repeat.ics"]
    );
    assert!(q("20240301T114600Z", "20240301T120000Z").is_empty());
}

#[test]
fn this_and_future_overrides_move_the_later_instances() {
    let s = Server::start();
    // Evolution: "this and future" moves a daily 10:00Z call to 15:00Z from
    // 4 March on, and makes it 30 minutes long.
    let ics = cal(
        "BEGIN:VEVENT\r\nUID:call\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240301T100000Z\r\nDTEND:20240301T110000Z\r\nRRULE:FREQ=DAILY;COUNT=10\r\nSUMMARY:Call\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:call\r\nDTSTAMP:20240101T000000Z\r\nRECURRENCE-ID;RANGE=THISANDFUTURE:20240304T100000Z\r\nDTSTART:20240304T150000Z\r\nDTEND:20240304T153000Z\r\nSUMMARY:Call (later)\r\nEND:VEVENT\r\n",
    );
    assert_eq!(s.put_ics(&format!("{CAL}call.ics"), &ics).status, 201);
    let q = |a: &str, b: &str| found(&s, CAL, &range_query("VEVENT", a, b, ""));
    assert_eq!(q("20240303T100000Z", "20240303T103000Z"), vec!["call.ics"]);
    assert!(q("20240306T100000Z", "20240306T110000Z").is_empty());
    assert_eq!(q("20240306T151000Z", "20240306T152000Z"), vec!["call.ics"]);
    assert!(q("20240306T153000Z", "20240306T160000Z").is_empty());
    let expand = r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><C:calendar-data><C:expand start="20240306T000000Z" end="20240308T000000Z"/></C:calendar-data></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="20240306T000000Z" end="20240308T000000Z"/></C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"#;
    let r = report(&s, CAL, expand);
    assert_eq!(r.status, 207, "{}", r.body);
    for day in ["06", "07"] {
        assert!(
            r.body.contains(&format!("DTSTART:202403{day}T150000Z")),
            "{}",
            r.body
        );
        assert!(
            r.body
                .contains(&format!("RECURRENCE-ID:202403{day}T100000Z"))
        );
    }
    assert_eq!(
        r.body.matches("SUMMARY:Call (later)").count(),
        2,
        "{}",
        r.body
    );
    let fb = r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20240306T000000Z" end="20240307T000000Z"/></C:free-busy-query>"#;
    let r = report(&s, CAL, fb);
    assert!(
        r.body
            .contains("FREEBUSY:20240306T150000Z/20240306T153000Z"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("20240306T100000Z"), "{}", r.body);
}

#[test]
fn recurring_tasks_without_dtstart_are_stored_and_found() {
    let s = Server::start();
    // tasks.org through DAVx5: a weekly chore with a due date and no start.
    let todo = cal(
        "BEGIN:VTODO\r\nUID:chore\r\nDTSTAMP:20240101T000000Z\r\nCREATED:20240101T000000Z\r\nSUMMARY:Take out the bins\r\nDUE:20240105T180000Z\r\nRRULE:FREQ=WEEKLY\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\n",
    );
    let r = s.put_ics(&format!("{CAL}chore.ics"), &todo);
    assert_eq!(r.status, 201, "{}", r.body);
    // DAVx5 asks for tasks in a window; 2024-03-01 is a Friday.
    let q = |a: &str, b: &str| found(&s, CAL, &range_query("VTODO", a, b, ""));
    assert_eq!(q("20240301T000000Z", "20240302T000000Z"), vec!["chore.ics"]);
    assert!(q("20240302T000000Z", "20240307T000000Z").is_empty());
    // DUE only (RFC 4791 section 9.9): start < DUE and end >= DUE.
    assert_eq!(q("20240301T120000Z", "20240301T180000Z"), vec!["chore.ics"]);
    assert!(q("20240301T180000Z", "20240301T200000Z").is_empty());
}

/// A calendar-query with `filter` inside CALDAV:filter.
fn filtered(filter: &str, prop: &str) -> String {
    format!(
        r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/>{prop}</D:prop><C:filter>{filter}</C:filter></C:calendar-query>"#
    )
}

#[test]
fn invalid_filters_and_calendar_data_requests_are_refused() {
    let s = Server::start();
    let ev = event("e", "20240101T100000Z", "20240101T110000Z", "");
    assert_eq!(s.put_ics(&format!("{CAL}e.ics"), &ev).status, 201);
    let ev_tr = |tr: &str| {
        format!(
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">{tr}</C:comp-filter></C:comp-filter>"#
        )
    };
    let cases = [
        // No VCALENDAR at the top.
        (
            filtered(
                r#"<C:comp-filter name="VEVENT"><C:time-range start="20240101T000000Z" end="20240102T000000Z"/></C:comp-filter>"#,
                "",
            ),
            "valid-filter",
        ),
        // An empty range, a backward one, local times.
        (
            filtered(
                &ev_tr(r#"<C:time-range start="20240101T000000Z" end="20240101T000000Z"/>"#),
                "",
            ),
            "valid-filter",
        ),
        (
            filtered(
                &ev_tr(r#"<C:time-range start="20240102T000000Z" end="20240101T000000Z"/>"#),
                "",
            ),
            "valid-filter",
        ),
        (
            filtered(
                &ev_tr(r#"<C:time-range start="20240101T000000" end="20240102T000000"/>"#),
                "",
            ),
            "valid-filter",
        ),
        (filtered("", ""), "valid-filter"),
        (
            filtered(
                r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:comp-filter name="VEVENT"/></C:comp-filter></C:comp-filter>"#,
                "",
            ),
            "supported-filter",
        ),
        (
            filtered(
                &ev_tr(
                    r#"<C:prop-filter name="SUMMARY"><C:text-match collation="i;klingon">x</C:text-match></C:prop-filter>"#,
                ),
                "",
            ),
            "supported-collation",
        ),
        (
            filtered(
                &ev_tr(""),
                r#"<C:calendar-data content-type="application/calendar+json" version="2.0"/>"#,
            ),
            "supported-calendar-data",
        ),
        (
            filtered(
                &ev_tr(""),
                r#"<C:calendar-data content-type="text/calendar" version="1.0"/>"#,
            ),
            "supported-calendar-data",
        ),
    ];
    for (body, condition) in cases {
        let r = report(&s, CAL, &body);
        assert_eq!(r.status, 403, "{body}: {}", r.body);
        assert!(
            r.body.contains(&format!("<C:{condition}/>")),
            "{body}: {}",
            r.body
        );
    }
    // What clients normally send still works.
    let ok = filtered(
        &ev_tr(""),
        r#"<C:calendar-data content-type="text/calendar" version="2.0"/>"#,
    );
    let r = report(&s, CAL, &ok);
    assert_eq!(r.status, 207, "{}", r.body);
    assert!(r.body.contains("UID:e"));
}

#[test]
fn declining_an_instance_after_a_this_and_future_change() {
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    let bob = Some(("bob", "bob-pass"));
    let people = "ORGANIZER;CN=Admin:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:admin@localhost\r\nATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com\r\n";
    // Evolution moves a daily meeting to 15:00Z from 4 March on.
    let ics = cal(&format!(
        "BEGIN:VEVENT\r\nUID:sync-1\r\nDTSTAMP:20240101T000000Z\r\nSEQUENCE:0\r\nDTSTART:20240301T100000Z\r\nDTEND:20240301T110000Z\r\nRRULE:FREQ=DAILY;COUNT=10\r\nSUMMARY:Sync\r\n{people}END:VEVENT\r\nBEGIN:VEVENT\r\nUID:sync-1\r\nDTSTAMP:20240101T000000Z\r\nSEQUENCE:0\r\nRECURRENCE-ID;RANGE=THISANDFUTURE:20240304T100000Z\r\nDTSTART:20240304T150000Z\r\nDTEND:20240304T160000Z\r\nSUMMARY:Sync (afternoon)\r\n{people}END:VEVENT\r\n"
    ));
    let r = s.put_ics(&format!("{CAL}sync.ics"), &ics);
    assert_eq!(r.status, 201, "{}", r.body);
    let bob_copy = "/dav/calendars/bob/default/sync-1.ics";
    assert!(wait_until(10, || s
        .request("GET", bob_copy, bob, &[], b"")
        .status
        == 200));
    // Bob's calendar shows 6 March in the afternoon.
    let q = range_query("VEVENT", "20240306T150000Z", "20240306T160000Z", "");
    let r = s.request(
        "REPORT",
        "/dav/calendars/bob/default/",
        bob,
        &[("Depth", "1"), ("Content-Type", "application/xml")],
        q.as_bytes(),
    );
    assert_eq!(names(&r.body), vec!["sync-1.ics"], "{}", r.body);
    // Apple Calendar declines 6 March: an override copied from the
    // instance it shows (the THISANDFUTURE override moved to that day).
    let copy = s.request("GET", bob_copy, bob, &[], b"").body;
    let copy = copy.replace("\r\n ", "");
    let declined = format!(
        "BEGIN:VEVENT\r\nUID:sync-1\r\nDTSTAMP:20240102T000000Z\r\nSEQUENCE:0\r\nRECURRENCE-ID:20240306T100000Z\r\nDTSTART:20240306T150000Z\r\nDTEND:20240306T160000Z\r\nSUMMARY:Sync (afternoon)\r\n{}END:VEVENT\r\nEND:VCALENDAR\r\n",
        people.replace(
            "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob",
            "PARTSTAT=DECLINED;RSVP=TRUE:mailto:bob"
        )
    );
    let new_copy = copy.replacen("END:VCALENDAR\r\n", &declined, 1);
    let r = s.request(
        "PUT",
        bob_copy,
        bob,
        &[("Content-Type", "text/calendar")],
        new_copy.as_bytes(),
    );
    assert!(
        r.status == 204 || r.status == 201,
        "{}: {}",
        r.status,
        r.body
    );
    // The organizer's copy gets bob's answer for that instance, at the moved time.
    assert!(
        wait_until(10, || {
            let o = s.req("GET", &format!("{CAL}sync.ics"), &[], "").body;
            let o = o.replace("\r\n ", "");
            o.split("BEGIN:VEVENT").any(|c| {
                c.contains("RECURRENCE-ID:20240306T100000Z")
                    && c.contains("DTSTART:20240306T150000Z")
                    && c.lines().any(|l| {
                        l.contains("mailto:bob@example.com") && l.contains("PARTSTAT=DECLINED")
                    })
            })
        }),
        "{}",
        s.req("GET", &format!("{CAL}sync.ics"), &[], "").body
    );
}
