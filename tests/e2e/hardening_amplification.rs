//! Issue 8, defect 6: mail amplification. A PUT may not list more than
//! `limits.max_attendees_per_instance` ATTENDEEs in a component, a REPLY may
//! not delegate to more than `limits.max_delegates_per_reply` addresses,
//! and a user may not queue more than `limits.invitations_per_hour`.

use crate::util::*;
use std::time::{Duration, Instant};

fn big_event(uid: &str, n: usize) -> String {
    let mut a = String::new();
    for i in 0..n {
        a.push_str(&format!(
            "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:guest{i}@example.org\r\n"
        ));
    }
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250310T100000Z\r\nDTEND:20250310T110000Z\r\nSUMMARY:Big\r\nORGANIZER:mailto:admin@localhost\r\n{a}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn outbox_lines(s: &Server) -> usize {
    s.cli(&["outbox", "list"], "").1.lines().count()
}

#[test]
fn attendees_per_instance_are_capped_and_advertised() {
    let s = Server::start();
    let r = s.req(
        "PROPFIND",
        CAL,
        &[("Depth", "0")],
        r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:max-attendees-per-instance/></D:prop></D:propfind>"#,
    );
    assert!(
        r.body
            .contains("<C:max-attendees-per-instance>2000</C:max-attendees-per-instance>"),
        "{}",
        r.body
    );
    let t = Instant::now();
    let r = s.put_ics(&format!("{CAL}big.ics"), &big_event("big-1", 2001));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("max-attendees-per-instance"), "{}", r.body);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(s.req("GET", &format!("{CAL}big.ics"), &[], "").status, 404);
    assert_eq!(outbox_lines(&s), 0);
}

#[test]
fn invitations_per_hour_are_counted_where_they_are_queued() {
    let s = Server::start_with_config("[limits]\ninvitations_per_hour = 5\n");
    assert_eq!(
        s.put_ics(&format!("{CAL}a.ics"), &big_event("a", 3)).status,
        201
    );
    assert_eq!(outbox_lines(&s), 3);
    // Three more would make six: refused whole, nothing stored or queued.
    let r = s.put_ics(&format!("{CAL}b.ics"), &big_event("b", 3));
    assert_eq!(r.status, 429, "{}", r.body);
    let after: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(after > 0 && after <= 7200, "{after}");
    assert!(r.body.contains("invitations per hour"), "{}", r.body);
    assert_eq!(s.req("GET", &format!("{CAL}b.ics"), &[], "").status, 404);
    assert_eq!(outbox_lines(&s), 3);
    // Two fit exactly; a change that sends nothing is never limited.
    assert_eq!(
        s.put_ics(&format!("{CAL}c.ics"), &big_event("c", 2)).status,
        201
    );
    assert_eq!(outbox_lines(&s), 5);
    let plain = event("plain", "20250310T100000Z", "20250310T110000Z", "");
    assert_eq!(s.put_ics(&format!("{CAL}plain.ics"), &plain).status, 201);
    let moved = big_event("a", 3).replace("SUMMARY:Big", "SUMMARY:Bigger");
    assert_eq!(s.put_ics(&format!("{CAL}a.ics"), &moved).status, 429);
}

fn delegated_to(n: usize) -> String {
    (0..n)
        .map(|i| format!("\"mailto:d{i}@elsewhere.example\""))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn a_local_reply_may_not_delegate_to_many() {
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    let bob = Some(("bob", "bob-pass"));
    let inv = big_event("deleg-1", 0).replace(
        "ORGANIZER:mailto:admin@localhost\r\n",
        "ORGANIZER:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com\r\n",
    );
    assert_eq!(s.put_ics(&format!("{CAL}deleg.ics"), &inv).status, 201);
    let copy = "/dav/calendars/bob/default/deleg-1.ics";
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.request("GET", copy, bob, &[], b"").status != 200 {
        assert!(Instant::now() < deadline, "no delivery");
        std::thread::sleep(Duration::from_millis(50));
    }
    let body = s
        .request("GET", copy, bob, &[], b"")
        .body
        .replace("\r\n ", "");
    let line = body
        .lines()
        .find(|l| l.contains("mailto:bob@example.com"))
        .unwrap()
        .to_string();
    let put = |n: usize| {
        let delegated = line.replace(
            "PARTSTAT=NEEDS-ACTION",
            &format!("PARTSTAT=DELEGATED;DELEGATED-TO={}", delegated_to(n)),
        );
        s.request(
            "PUT",
            copy,
            bob,
            &[("Content-Type", "text/calendar")],
            body.replace(&line, &delegated).as_bytes(),
        )
    };
    let r = put(11);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("valid-scheduling-message"), "{}", r.body);
    // Nothing reached the organizer's copy.
    let org = s
        .req("GET", &format!("{CAL}deleg.ics"), &[], "")
        .body
        .replace("\r\n ", "");
    assert!(!org.contains("elsewhere.example"), "{org}");
    assert_eq!(put(1).status, 204);
}

const IMIP: &str =
    "[imip]\nlmtp_listen = \"127.0.0.1:0\"\ntrusted_authserv_ids = [\"mx.herald.test\"]\n";

#[test]
fn a_mailed_reply_may_not_delegate_to_many() {
    let s = Server::start_with_config(IMIP);
    let inv = big_event("deleg-2", 0).replace(
        "ORGANIZER:mailto:admin@localhost\r\n",
        "ORGANIZER:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice@example.net\r\n",
    );
    assert_eq!(s.put_ics(&format!("{CAL}deleg2.ics"), &inv).status, 201);
    let mail = |id: &str, n: usize| {
        format!(
            "Authentication-Results: mx.herald.test; dmarc=pass header.from=example.net\r\nFrom: <alice@example.net>\r\nTo: admin@localhost\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; method=REPLY; charset=UTF-8\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:deleg-2\r\nDTSTAMP:20250102T000000Z\r\nSEQUENCE:0\r\nDTSTART:20250310T100000Z\r\nORGANIZER:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=DELEGATED;DELEGATED-TO={}:mailto:alice@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            delegated_to(n)
        )
    };
    let cfg = s.dir.path().join("herald.toml");
    let ingest = |m: &str| {
        let (_, out, err) = s.cli(&["ingest", "--config", cfg.to_str().unwrap()], m);
        format!("{out}{err}")
    };
    let out = ingest(&mail("many@example.net", 300));
    assert!(out.contains("rejected") && out.contains("300"), "{out}");
    let org = s
        .req("GET", &format!("{CAL}deleg2.ics"), &[], "")
        .body
        .replace("\r\n ", "");
    assert!(!org.contains("elsewhere.example"), "{org}");
    let out = ingest(&mail("one@example.net", 1));
    assert!(out.contains("processed"), "{out}");
    let org = s
        .req("GET", &format!("{CAL}deleg2.ics"), &[], "")
        .body
        .replace("\r\n ", "");
    assert_eq!(org.matches("elsewhere.example").count(), 2, "{org}");
}
