//! REPORTs: calendar-query (recurrence, time zones, filters), expand,
//! calendar-multiget, sync-collection, free-busy-query. Expected hrefs are
//! worked out by hand in the comments.

use crate::util::*;

fn cal(body: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n")
}

fn vevent(uid: &str, lines: &str) -> String {
    format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\nSUMMARY:{uid}\r\n{lines}END:VEVENT\r\n"
    )
}

fn query(range_start: &str, range_end: &str) -> String {
    format!(
        r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="{range_start}" end="{range_end}"/></C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"#
    )
}

fn names(body: &str) -> Vec<String> {
    let mut v: Vec<String> = hrefs(body)
        .into_iter()
        .map(|h| h.trim_start_matches(CAL).to_string())
        .collect();
    v.sort();
    v
}

fn load_recurring(s: &Server) {
    let objects = [
        // 2025-01-06 10:00Z: inside the week of Jan 6.
        (
            "single",
            vevent(
                "single",
                "DTSTART:20250106T100000Z\r\nDTEND:20250106T110000Z\r\n",
            ),
        ),
        // Weekly from Mon 2024-12-02, 10 times: Dec 2..30, Jan 6 (in range), 13...
        (
            "weekly",
            vevent(
                "weekly",
                "DTSTART:20241202T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=10\r\n",
            ),
        ),
        // Weekly Tuesdays; the only one in the week (Jan 7) is excluded.
        (
            "exdate",
            vevent(
                "exdate",
                "DTSTART:20241203T090000Z\r\nDTEND:20241203T100000Z\r\nRRULE:FREQ=WEEKLY;UNTIL=20250201T000000Z\r\nEXDATE:20250107T090000Z\r\n",
            ),
        ),
        // Weekly Wednesdays; the Jan 8 instance is moved to Jan 20.
        (
            "moved",
            format!(
                "{}{}",
                vevent(
                    "moved",
                    "DTSTART:20241204T090000Z\r\nDTEND:20241204T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=10\r\n"
                ),
                vevent(
                    "moved",
                    "RECURRENCE-ID:20250108T090000Z\r\nDTSTART:20250120T090000Z\r\nDTEND:20250120T100000Z\r\n"
                )
            ),
        ),
        // A June event with an extra date on Jan 10.
        (
            "rdate",
            vevent(
                "rdate",
                "DTSTART:20240601T100000Z\r\nDTEND:20240601T110000Z\r\nRDATE:20250110T100000Z\r\n",
            ),
        ),
        // 20:00 New York on Jan 12 is 01:00Z on Jan 13: after the range.
        (
            "newyork",
            vevent(
                "newyork",
                "DTSTART;TZID=America/New_York:20250112T200000\r\nDTEND;TZID=America/New_York:20250112T210000\r\n",
            ),
        ),
        // 00:30 Berlin on Jan 6 is 23:30Z on Jan 5, ending 00:30Z Jan 6: overlaps the start.
        (
            "berlin",
            vevent(
                "berlin",
                "DTSTART;TZID=Europe/Berlin:20250106T003000\r\nDTEND;TZID=Europe/Berlin:20250106T013000\r\n",
            ),
        ),
        // All-day Jan 12 (floating, evaluated in UTC): inside.
        (
            "allday",
            vevent(
                "allday",
                "DTSTART;VALUE=DATE:20250112\r\nDTEND;VALUE=DATE:20250113\r\n",
            ),
        ),
        // Weekly on Mondays forever since 2020-01-06: Jan 6 2025 12:00Z.
        (
            "forever",
            vevent(
                "forever",
                "DTSTART:20200106T120000Z\r\nDTEND:20200106T130000Z\r\nRRULE:FREQ=WEEKLY\r\n",
            ),
        ),
    ];
    for (name, body) in objects {
        let r = s.put_ics(&format!("{CAL}{name}.ics"), &cal(&body));
        assert_eq!(r.status, 201, "{name}: {}", r.body);
    }
}

#[test]
fn time_range_with_recurrence_and_zones() {
    let s = Server::start();
    load_recurring(&s);
    let r = s.req(
        "REPORT",
        CAL,
        &[("Depth", "1")],
        &query("20250106T000000Z", "20250113T000000Z"),
    );
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(
        names(&r.body),
        [
            "allday.ics",
            "berlin.ics",
            "forever.ics",
            "rdate.ics",
            "single.ics",
            "weekly.ics"
        ]
    );
    // The moved instance of "moved" lands on Jan 20 (its regular Jan 22 is
    // outside); "weekly" has its 8th instance on Jan 20; "exdate" is on Tuesdays.
    let r = s.req(
        "REPORT",
        CAL,
        &[("Depth", "1")],
        &query("20250120T000000Z", "20250121T000000Z"),
    );
    assert_eq!(names(&r.body), ["forever.ics", "moved.ics", "weekly.ics"]);
    // Far in the future only the endless rule remains (2030-01-07 is a Monday).
    let r = s.req(
        "REPORT",
        CAL,
        &[("Depth", "1")],
        &query("20300107T000000Z", "20300108T000000Z"),
    );
    assert_eq!(names(&r.body), ["forever.ics"]);
}

#[test]
fn expand_returns_instances() {
    let s = Server::start();
    load_recurring(&s);
    let body = r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><C:calendar-data><C:expand start="20250106T000000Z" end="20250120T000000Z"/></C:calendar-data></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:prop-filter name="UID"><C:text-match collation="i;octet">weekly</C:text-match></C:prop-filter>
<C:time-range start="20250106T000000Z" end="20250120T000000Z"/></C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"#;
    let r = s.req("REPORT", CAL, &[("Depth", "1")], body);
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(names(&r.body), ["weekly.ics"]);
    // Jan 6 and Jan 13 instances, no RRULE left.
    assert_eq!(r.body.matches("BEGIN:VEVENT").count(), 2, "{}", r.body);
    assert!(r.body.contains("RECURRENCE-ID:20250106T090000Z"));
    assert!(r.body.contains("RECURRENCE-ID:20250113T090000Z"));
    assert!(!r.body.contains("RRULE"));
}

#[test]
fn text_and_param_filters() {
    let s = Server::start();
    let a = vevent(
        "a",
        "DTSTART:20250106T100000Z\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:x@example.com\r\n",
    );
    let b = vevent(
        "b",
        "DTSTART:20250106T100000Z\r\nATTENDEE;PARTSTAT=DECLINED:mailto:y@example.com\r\nLOCATION:Room 1\r\n",
    );
    s.put_ics(&format!("{CAL}a.ics"), &cal(&a));
    s.put_ics(&format!("{CAL}b.ics"), &cal(&b));
    let q = |inner: &str| {
        format!(
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">{inner}</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
        )
    };
    let r = s.req("REPORT", CAL, &[("Depth", "1")], &q(r#"<C:prop-filter name="ATTENDEE"><C:param-filter name="PARTSTAT"><C:text-match>accepted</C:text-match></C:param-filter></C:prop-filter>"#));
    assert_eq!(names(&r.body), ["a.ics"]);
    let r = s.req(
        "REPORT",
        CAL,
        &[("Depth", "1")],
        &q(r#"<C:prop-filter name="LOCATION"><C:is-not-defined/></C:prop-filter>"#),
    );
    assert_eq!(names(&r.body), ["a.ics"]);
    let r = s.req("REPORT", CAL, &[("Depth", "1")], &q(r#"<C:prop-filter name="SUMMARY"><C:text-match negate-condition="yes">a</C:text-match></C:prop-filter>"#));
    assert_eq!(names(&r.body), ["b.ics"]);
    let r = s.req("REPORT", CAL, &[("Depth", "1")], &q(r#"<C:prop-filter name="SUMMARY"><C:text-match collation="i;nope">a</C:text-match></C:prop-filter>"#));
    assert_eq!(r.status, 403);
    assert!(r.body.contains("supported-collation"));
}

#[test]
fn multiget_with_missing_href() {
    let s = Server::start();
    s.put_ics(
        &format!("{CAL}a.ics"),
        &event("a", "20250105T100000Z", "20250105T110000Z", ""),
    );
    let body = format!(
        r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/><C:calendar-data/></D:prop><D:href>{CAL}a.ics</D:href><D:href>{CAL}missing.ics</D:href></C:calendar-multiget>"#
    );
    let r = s.req("REPORT", CAL, &[("Depth", "1")], &body);
    assert_eq!(r.status, 207);
    assert!(r.body.contains("UID:a"));
    assert!(
        r.body
            .contains("missing.ics</D:href><D:status>HTTP/1.1 404"),
        "{}",
        r.body
    );
}

fn sync(s: &Server, token: &str) -> (Vec<String>, Vec<String>, String) {
    let body = format!(
        r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#
    );
    let r = s.req("REPORT", CAL, &[], &body);
    assert_eq!(r.status, 207, "{}", r.body);
    let mut changed = Vec::new();
    let mut removed = Vec::new();
    for resp in r.body.split("<D:response>").skip(1) {
        let href = hrefs(resp)[0].trim_start_matches(CAL).to_string();
        if resp.contains("<D:status>HTTP/1.1 404") && !resp.contains("propstat") {
            removed.push(href);
        } else {
            changed.push(href);
        }
    }
    changed.sort();
    let token = r
        .body
        .split("<D:sync-token>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    (changed, removed, token)
}

#[test]
fn sync_collection_tracks_changes() {
    let s = Server::start();
    let ev = |u: &str| event(u, "20250105T100000Z", "20250105T110000Z", "");
    s.put_ics(&format!("{CAL}a.ics"), &ev("a"));
    s.put_ics(&format!("{CAL}b.ics"), &ev("b"));
    s.put_ics(&format!("{CAL}c.ics"), &ev("c"));
    let (changed, removed, t1) = sync(&s, "");
    assert_eq!(changed, ["a.ics", "b.ics", "c.ics"]);
    assert!(removed.is_empty());

    s.put_ics(
        &format!("{CAL}a.ics"),
        &ev("a").replace("SUMMARY", "LOCATION:x\r\nSUMMARY"),
    );
    s.put_ics(&format!("{CAL}d.ics"), &ev("d"));
    assert_eq!(s.req("DELETE", &format!("{CAL}b.ics"), &[], "").status, 204);
    let (changed, removed, t2) = sync(&s, &t1);
    assert_eq!(changed, ["a.ics", "d.ics"]);
    assert_eq!(removed, ["b.ics"]);
    assert_ne!(t1, t2);

    let (changed, removed, t3) = sync(&s, &t2);
    assert!(changed.is_empty() && removed.is_empty());
    assert_eq!(t2, t3);

    let bad = r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token>http://herald.invalid/sync/999-1</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#;
    let r = s.req("REPORT", CAL, &[], bad);
    assert_eq!(r.status, 403);
    assert!(r.body.contains("valid-sync-token"));
}

#[test]
fn free_busy_query() {
    let s = Server::start();
    load_recurring(&s);
    let body = r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20250106T000000Z" end="20250107T000000Z"/></C:free-busy-query>"#;
    let r = s.req("REPORT", CAL, &[("Depth", "1")], body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("BEGIN:VFREEBUSY"));
    // "single" 10:00-11:00 and "weekly" 09:00-10:00 merge into one period.
    assert!(
        r.body.contains("20250106T090000Z/20250106T110000Z"),
        "{}",
        r.body
    );
}
