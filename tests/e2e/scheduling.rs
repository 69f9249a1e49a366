//! Server-side scheduling (RFC 6638) end to end: local delivery between two
//! users, and iMIP REQUESTs through the outbox to a real SMTP conversation.

use crate::smtp_sink::{Sink, free_port};
use crate::util::*;
use std::time::Duration;

fn invite(uid: &str, attendees: &[&str], extra: &str) -> String {
    let mut a = String::new();
    for who in attendees {
        a.push_str(&format!(
            "ATTENDEE;CN={who};PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{who}\r\n"
        ));
    }
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250310T100000Z\r\nDTEND:20250310T110000Z\r\nSUMMARY:Planning\r\nORGANIZER;CN=Admin:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:admin@localhost\r\n{a}{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// Undo iCalendar line folding (RFC 5545 section 3.1).
fn unfold(s: &str) -> String {
    s.replace("\r\n ", "").replace("\r\n\t", "")
}

fn smtp_config(port: u16) -> String {
    format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\nfrom = \"herald@example.org\"\nretry_base_seconds = 1\nretry_max_seconds = 2\n"
    )
}

#[test]
fn advertises_auto_schedule_and_mailboxes() {
    let s = Server::start();
    let r = s.req("OPTIONS", CAL, &[], "");
    assert!(r.header("dav").unwrap().contains("calendar-auto-schedule"));
    let body = r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop>
        <C:schedule-inbox-URL/><C:schedule-outbox-URL/><C:schedule-default-calendar-URL/></D:prop></D:propfind>"#;
    let r = s.req(
        "PROPFIND",
        "/dav/principals/admin/",
        &[("Depth", "0")],
        body,
    );
    assert!(
        r.body
            .contains("<C:schedule-inbox-URL><D:href>/dav/calendars/admin/inbox/</D:href>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("/dav/calendars/admin/outbox/"));
    assert!(
        r.body
            .contains("<C:schedule-default-calendar-URL><D:href>/dav/calendars/admin/default/")
    );
}

#[test]
fn local_attendee_gets_the_invitation_and_accepts() {
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    let bob = Some(("bob", "bob-pass"));
    let r = s.put_ics(
        &format!("{CAL}plan.ics"),
        &invite("plan-1", &["bob@example.com"], ""),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.header("schedule-tag").is_some());
    let bob_copy = "/dav/calendars/bob/default/plan-1.ics";
    assert!(wait_until(10, || s
        .request("GET", bob_copy, bob, &[], b"")
        .status
        == 200));
    let r = s.request("GET", bob_copy, bob, &[], b"");
    assert!(r.body.contains("SUMMARY:Planning"));
    assert!(r.body.contains("PARTSTAT=NEEDS-ACTION"));
    assert!(!r.body.contains("METHOD:"));
    // A copy of the REQUEST is in bob's schedule inbox.
    let r = s.request(
        "PROPFIND",
        "/dav/calendars/bob/inbox/",
        bob,
        &[("Depth", "1")],
        b"",
    );
    assert_eq!(hrefs(&r.body).len(), 2, "{}", r.body);

    // Bob accepts by changing only his PARTSTAT.
    let r = s.request("GET", bob_copy, bob, &[], b"");
    let tag_before = r.header("schedule-tag").map(str::to_string);
    let accepted = unfold(&r.body).replace(
        "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com",
        "PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob@example.com",
    );
    assert_ne!(accepted, unfold(&r.body), "{}", r.body);
    let r = s.request(
        "PUT",
        bob_copy,
        bob,
        &[("Content-Type", "text/calendar")],
        accepted.as_bytes(),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    // Schedule-Tag stays the same on a PARTSTAT-only change (RFC 6638 3.2.10).
    assert_eq!(r.header("schedule-tag").map(str::to_string), tag_before);
    assert!(wait_until(10, || {
        let o = s.req("GET", &format!("{CAL}plan.ics"), &[], "");
        unfold(&o.body)
            .lines()
            .any(|l| l.contains("mailto:bob@example.com") && l.contains("PARTSTAT=ACCEPTED"))
    }));
    // Bob may not change the organizer's data.
    let r = s.request("GET", bob_copy, bob, &[], b"");
    let moved = unfold(&r.body).replace("SUMMARY:Planning", "SUMMARY:Mine now");
    let r = s.request(
        "PUT",
        bob_copy,
        bob,
        &[("Content-Type", "text/calendar")],
        moved.as_bytes(),
    );
    assert_eq!(r.status, 403);
    assert!(
        r.body.contains("allowed-attendee-scheduling-object-change"),
        "{}",
        r.body
    );

    // The organizer deletes: bob's copy is cancelled.
    assert_eq!(
        s.req("DELETE", &format!("{CAL}plan.ics"), &[], "").status,
        204
    );
    assert!(wait_until(10, || s
        .request("GET", bob_copy, bob, &[], b"")
        .body
        .contains("STATUS:CANCELLED")));
}

#[test]
fn three_external_attendees_three_messages() {
    let sink = Sink::start(0, &[]);
    let s = Server::start_with_config(&smtp_config(sink.port));
    let r = s.put_ics(
        &format!("{CAL}ext.ics"),
        &invite(
            "ext-1",
            &["a@example.net", "b@example.net", "c@example.net"],
            "",
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let got = sink.wait_for(3, 20);
    let mut rcpts: Vec<String> = got.iter().map(|m| m.rcpt.clone()).collect();
    rcpts.sort();
    assert_eq!(rcpts, ["a@example.net", "b@example.net", "c@example.net"]);
    for m in &got {
        assert!(m.data.contains("method=REQUEST"), "{}", m.data);
        assert!(m.data.contains("METHOD:REQUEST"));
        assert!(m.data.contains("ext-1"));
    }
    // Nothing more arrives later; one connection served them all.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sink.messages().len(), 3);
    assert_eq!(sink.connections(), 1);
    // SCHEDULE-STATUS says "sent" for each.
    assert!(wait_until(10, || {
        let o = s.req("GET", &format!("{CAL}ext.ics"), &[], "");
        unfold(&o.body).matches("SCHEDULE-STATUS=1.1").count() == 3
    }));
    // A description-only change sends nothing new.
    let o = s.req("GET", &format!("{CAL}ext.ics"), &[], "");
    let quiet = o
        .body
        .replace("SUMMARY:Planning", "DESCRIPTION:notes\r\nSUMMARY:Planning");
    assert!(matches!(
        s.put_ics(&format!("{CAL}ext.ics"), &quiet).status,
        201 | 204
    ));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sink.messages().len(), 3);
}

#[test]
fn relay_down_then_up_delivers_each_once() {
    let port = free_port();
    let s = Server::start_with_config(&smtp_config(port));
    let r = s.put_ics(
        &format!("{CAL}later.ics"),
        &invite("later-1", &["x@example.net", "y@example.net"], ""),
    );
    assert_eq!(r.status, 201);
    std::thread::sleep(Duration::from_secs(2));
    let sink = Sink::start(port, &[]);
    let got = sink.wait_for(2, 30);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sink.messages().len(), 2, "{got:?}");
    let ids: std::collections::HashSet<String> = sink
        .messages()
        .iter()
        .map(|m| {
            m.data
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("message-id"))
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 2);
}

#[test]
fn restart_mid_queue_loses_nothing() {
    let port = free_port();
    let mut s = Server::start_with_config(&smtp_config(port));
    let r = s.put_ics(
        &format!("{CAL}crash.ics"),
        &invite(
            "crash-1",
            &["p@example.net", "q@example.net", "r@example.net"],
            "",
        ),
    );
    assert_eq!(r.status, 201);
    s.stop(true);
    let sink = Sink::start(port, &[]);
    s.kill_and_restart();
    sink.wait_for(3, 30);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sink.messages().len(), 3);
}

#[test]
fn refused_recipient_marked_failed_alone() {
    let sink = Sink::start(0, &["bad@example.net"]);
    let s = Server::start_with_config(&smtp_config(sink.port));
    let r = s.put_ics(
        &format!("{CAL}mixed.ics"),
        &invite("mixed-1", &["good@example.net", "bad@example.net"], ""),
    );
    assert_eq!(r.status, 201);
    sink.wait_for(1, 20);
    assert!(wait_until(10, || {
        let o = s.req("GET", &format!("{CAL}mixed.ics"), &[], "");
        let body = unfold(&o.body);
        let lines: Vec<&str> = body.split("\r\n").collect();
        let bad = lines
            .iter()
            .any(|l| l.contains("mailto:bad@example.net") && l.contains("SCHEDULE-STATUS=5."));
        let good = lines
            .iter()
            .any(|l| l.contains("mailto:good@example.net") && l.contains("SCHEDULE-STATUS=1.1"));
        bad && good
    }));
    let (ok, out, _) = s.cli(&["outbox", "list"], "");
    assert!(ok);
    assert!(
        out.contains("failed") && out.contains("bad@example.net"),
        "{out}"
    );
}

#[test]
fn without_smtp_mail_is_spooled() {
    let s = Server::start();
    let r = s.put_ics(
        &format!("{CAL}spool.ics"),
        &invite("spool-1", &["z@example.net"], ""),
    );
    assert_eq!(r.status, 201);
    let dir = s.data_dir().join("mail-out");
    assert!(wait_until(10, || std::fs::read_dir(&dir)
        .map(|d| d.count() == 1)
        .unwrap_or(false)));
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(file.extension().unwrap() == "eml");
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains("METHOD:REQUEST") && text.contains("z@example.net"));
}

#[test]
fn if_schedule_tag_match_is_honoured() {
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    let path = format!("{CAL}tagged.ics");
    let r = s.put_ics(&path, &invite("tag-1", &["bob@example.com"], ""));
    assert_eq!(r.status, 201);
    let tag = r.header("schedule-tag").unwrap().to_string();
    let body = s.req("GET", &path, &[], "").body;
    let changed = unfold(&body).replace("SUMMARY:Planning", "SUMMARY:Planning (moved)");
    let r = s.req(
        "PUT",
        &path,
        &[
            ("Content-Type", "text/calendar"),
            ("If-Schedule-Tag-Match", "\"stale\""),
        ],
        &changed,
    );
    assert_eq!(r.status, 412);
    let r = s.req(
        "PUT",
        &path,
        &[
            ("Content-Type", "text/calendar"),
            ("If-Schedule-Tag-Match", &tag),
        ],
        &changed,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    // A significant change by the organizer gives a new Schedule-Tag.
    assert_ne!(r.header("schedule-tag"), Some(tag.as_str()));
    let q = r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:schedule-tag/></D:prop></D:propfind>"#;
    let r = s.req("PROPFIND", &path, &[("Depth", "0")], q);
    assert!(r.body.contains("<C:schedule-tag>"), "{}", r.body);
}

#[test]
fn free_busy_request_to_the_outbox() {
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    let bob = Some(("bob", "bob-pass"));
    let busy = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:busy-1\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250310T090000Z\r\nDTEND:20250310T100000Z\r\nSUMMARY:Private\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let r = s.request(
        "PUT",
        "/dav/calendars/bob/default/busy.ics",
        bob,
        &[("Content-Type", "text/calendar")],
        busy.as_bytes(),
    );
    assert_eq!(r.status, 201);
    let fb = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:fb-1\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250310T000000Z\r\nDTEND:20250311T000000Z\r\nORGANIZER:mailto:admin@localhost\r\nATTENDEE:mailto:bob@example.com\r\nATTENDEE:mailto:stranger@example.net\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    let r = s.req(
        "POST",
        "/dav/calendars/admin/outbox/",
        &[("Content-Type", "text/calendar")],
        fb,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("schedule-response"));
    assert!(r.body.contains("2.0;Success"));
    assert!(
        r.body.contains("20250310T090000Z/20250310T100000Z"),
        "{}",
        r.body
    );
    assert!(r.body.contains("3.7"));
    // Only busy time, never the event itself.
    assert!(!r.body.contains("Private"));
    // POST elsewhere is refused.
    assert_eq!(s.req("POST", CAL, &[], fb).status, 405);
}
