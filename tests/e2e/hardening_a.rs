//! Issue 8, defect 1: an iTIP message may change only the matching
//! scheduling object (same ORGANIZER, recipient an attendee), whichever
//! door it comes through: local delivery by the outbox worker, LMTP or
//! `herald ingest`. A UID alone grants nothing.

use crate::util::*;
use std::time::Duration;

const IMIP_CONFIG: &str = "[imip]\nlmtp_listen = \"127.0.0.1:0\"\ntrusted_authserv_ids = [\"mx.herald.test\"]\nauto_add_invitations = true\n";

fn unfold(s: &str) -> String {
    s.replace("\r\n ", "").replace("\r\n\t", "")
}

/// Admin's private appointment (no ORGANIZER, no ATTENDEE).
fn private_event(s: &Server, uid: &str) -> String {
    let ics = event(
        uid,
        "20250320T090000Z",
        "20250320T100000Z",
        "SUMMARY:Doctor\r\n",
    )
    .replace(&format!("SUMMARY:Event {uid}\r\n"), "");
    let path = format!("{CAL}{uid}.ics");
    assert_eq!(s.put_ics(&path, &ics).status, 201);
    s.req("GET", &path, &[], "").body
}

/// Wait until the outbox has nothing pending.
fn outbox_idle(s: &Server) -> String {
    let mut last = String::new();
    let idle = wait_until(15, || {
        last = s.cli(&["outbox", "list"], "").1;
        !last.is_empty() && !last.contains("pending")
    });
    assert!(idle, "outbox still busy: {last}");
    last
}

#[test]
fn local_request_and_cancel_cannot_take_over_an_event() {
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    let bob = Some(("bob", "bob-pass"));
    let before = private_event(&s, "secret-1");
    // Bob "invites" admin to an event with the UID of admin's appointment.
    let takeover = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//evil//EN\r\nBEGIN:VEVENT\r\nUID:secret-1\r\nDTSTAMP:20250101T000000Z\r\nSEQUENCE:999\r\nDTSTART:20250401T120000Z\r\nDTEND:20250401T130000Z\r\nSUMMARY:Owned by Bob\r\nORGANIZER:mailto:bob@example.com\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:admin@localhost\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let bobs = "/dav/calendars/bob/default/secret-1.ics";
    let r = s.request(
        "PUT",
        bobs,
        bob,
        &[("Content-Type", "text/calendar")],
        takeover.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let list = outbox_idle(&s);
    let after = s.req("GET", &format!("{CAL}secret-1.ics"), &[], "");
    assert_eq!(after.body, before, "admin's appointment was changed");
    assert!(
        list.contains("REQUEST") && list.contains("failed"),
        "{list}"
    );
    // Bob's copy says why: 3.8 No authority (RFC 5546 section 3.6). The
    // worker writes a round's statuses into the organizer's object after
    // recording its results, so the status may follow the record briefly.
    let mut copy = String::new();
    let marked = wait_until(10, || {
        copy = unfold(&s.request("GET", bobs, bob, &[], b"").body);
        copy.contains("SCHEDULE-STATUS=3.8:mailto:admin@localhost")
    });
    assert!(marked, "{copy}");
    // Nothing reached admin's schedule inbox.
    let inbox = s.req(
        "PROPFIND",
        "/dav/calendars/admin/inbox/",
        &[("Depth", "1")],
        "",
    );
    assert_eq!(hrefs(&inbox.body).len(), 1, "{}", inbox.body);

    // Bob deletes his copy: the CANCEL must not cancel admin's appointment.
    assert_eq!(s.request("DELETE", bobs, bob, &[], b"").status, 204);
    let list = outbox_idle(&s);
    assert!(list.contains("CANCEL"), "{list}");
    let after = s.req("GET", &format!("{CAL}secret-1.ics"), &[], "");
    assert!(!after.body.contains("CANCELLED"), "{}", after.body);
    assert_eq!(after.body, before);
}

#[test]
fn local_delivery_still_updates_the_real_invitation() {
    // The rule refuses strangers only: the organizer's own update and
    // cancellation reach the attendee's copy.
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    let bob = Some(("bob", "bob-pass"));
    let inv = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:real-1\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250401T120000Z\r\nDTEND:20250401T130000Z\r\nSUMMARY:Sync\r\nORGANIZER:mailto:bob@example.com\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:admin@localhost\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let bobs = "/dav/calendars/bob/default/real-1.ics";
    let put = |body: &str| {
        s.request(
            "PUT",
            bobs,
            bob,
            &[("Content-Type", "text/calendar")],
            body.as_bytes(),
        )
        .status
    };
    assert_eq!(put(inv), 201);
    outbox_idle(&s);
    let mine = format!("{CAL}real-1.ics");
    assert!(s.req("GET", &mine, &[], "").body.contains("SUMMARY:Sync"));
    let bob_now = s.request("GET", bobs, bob, &[], b"").body;
    assert_eq!(put(&bob_now.replace("SUMMARY:Sync", "SUMMARY:Moved")), 204);
    outbox_idle(&s);
    assert!(s.req("GET", &mine, &[], "").body.contains("SUMMARY:Moved"));
    assert_eq!(s.request("DELETE", bobs, bob, &[], b"").status, 204);
    outbox_idle(&s);
    assert!(
        s.req("GET", &mine, &[], "")
            .body
            .contains("STATUS:CANCELLED")
    );
}

fn mail(id: &str, from_domain: &str, organizer: &str, method: &str, uid: &str, seq: u32) -> String {
    format!(
        "Authentication-Results: mx.herald.test; dmarc=pass header.from={from_domain}\r\nFrom: <{organizer}>\r\nTo: admin@localhost\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; method={method}; charset=UTF-8\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:{method}\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250103T000000Z\r\nSEQUENCE:{seq}\r\nDTSTART:20250412T100000Z\r\nDTEND:20250412T110000Z\r\nSUMMARY:From {organizer}\r\nORGANIZER:mailto:{organizer}\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:admin@localhost\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn ingest(s: &Server, message: &str) -> String {
    let cfg = s.dir.path().join("herald.toml");
    let (ok, out, err) = s.cli(&["ingest", "--config", cfg.to_str().unwrap()], message);
    assert!(ok, "{out} {err}");
    format!("{out}{err}")
}

fn inbox_count(s: &Server) -> usize {
    let r = s.req(
        "PROPFIND",
        "/dav/calendars/admin/inbox/",
        &[("Depth", "1")],
        "",
    );
    hrefs(&r.body).len() - 1
}

#[test]
fn mail_from_another_organizer_changes_nothing() {
    let s = Server::start_with_config(IMIP_CONFIG);
    // Admin's private appointment, and an invitation from Frank.
    let private = private_event(&s, "secret-2");
    let out = ingest(
        &s,
        &mail(
            "f1@partner.example",
            "partner.example",
            "frank@partner.example",
            "REQUEST",
            "frank-1",
            1,
        ),
    );
    assert!(out.contains("processed"), "{out}");
    let franks = format!("{CAL}frank-1.ics");
    let frank_copy = s.req("GET", &franks, &[], "").body;
    assert!(frank_copy.contains("ORGANIZER:mailto:frank@partner.example"));
    let inbox = inbox_count(&s);

    // Eve passes DMARC for her own domain and aims at both UIDs.
    for (i, (method, uid)) in [
        ("REQUEST", "secret-2"),
        ("CANCEL", "secret-2"),
        ("REQUEST", "frank-1"),
        ("CANCEL", "frank-1"),
    ]
    .into_iter()
    .enumerate()
    {
        let m = mail(
            &format!("e{i}@evil.example"),
            "evil.example",
            "eve@evil.example",
            method,
            uid,
            999,
        );
        let out = ingest(&s, &m);
        assert!(
            out.contains("rejected") && out.contains("no authority"),
            "{method} {uid}: {out}"
        );
    }
    // The same over LMTP.
    let m = mail(
        "e9@evil.example",
        "evil.example",
        "eve@evil.example",
        "CANCEL",
        "secret-2",
        999,
    );
    let replies = lmtp(s.lmtp_port.expect("LMTP port"), "admin@localhost", &m);
    assert!(replies.contains("rejected"), "{replies}");
    assert_eq!(
        s.req("GET", &format!("{CAL}secret-2.ics"), &[], "").body,
        private
    );
    assert_eq!(s.req("GET", &franks, &[], "").body, frank_copy);
    assert_eq!(
        inbox_count(&s),
        inbox,
        "a refused message reached the inbox"
    );

    // Frank himself still may cancel his invitation.
    let out = ingest(
        &s,
        &mail(
            "f2@partner.example",
            "partner.example",
            "frank@partner.example",
            "CANCEL",
            "frank-1",
            2,
        ),
    );
    assert!(out.contains("processed"), "{out}");
    assert!(
        s.req("GET", &franks, &[], "")
            .body
            .contains("STATUS:CANCELLED")
    );
}

/// One message over LMTP to one recipient; the reply after DATA.
fn lmtp(port: u16, rcpt: &str, message: &str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = c.try_clone().unwrap();
    let mut r = BufReader::new(c);
    let mut read = || {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            all.push_str(&line);
            if line.len() < 4 || &line[3..4] != "-" {
                return all;
            }
        }
    };
    read();
    for cmd in [
        "LHLO test".to_string(),
        "MAIL FROM:<eve@evil.example>".into(),
        format!("RCPT TO:<{rcpt}>"),
        "DATA".into(),
    ] {
        w.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
        read();
    }
    w.write_all(message.as_bytes()).unwrap();
    w.write_all(b".\r\n").unwrap();
    let reply = read();
    w.write_all(b"QUIT\r\n").unwrap();
    reply
}

#[test]
fn a_reply_changes_only_the_recipients_own_event() {
    // Frank invites admin and eve; admin's copy lists eve. Eve "replies" to
    // admin as if admin organized it: admin's copy of Frank's event must
    // not change (only Frank's own copy is the organizer's).
    let s = Server::start_with_config(IMIP_CONFIG);
    let invite = mail(
        "f1@partner.example",
        "partner.example",
        "frank@partner.example",
        "REQUEST",
        "frank-2",
        1,
    )
    .replace(
        "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:admin@localhost\r\n",
        "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:eve@evil.example\r\n",
    );
    assert!(ingest(&s, &invite).contains("processed"));
    let path = format!("{CAL}frank-2.ics");
    let before = s.req("GET", &path, &[], "").body;
    assert!(before.contains("eve@evil.example"), "{before}");
    let reply = "Authentication-Results: mx.herald.test; dmarc=pass header.from=evil.example\r\nFrom: <eve@evil.example>\r\nTo: admin@localhost\r\nMessage-ID: <r1@evil.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; method=REPLY; charset=UTF-8\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:frank-2\r\nDTSTAMP:20250104T000000Z\r\nSEQUENCE:1\r\nDTSTART:20250412T100000Z\r\nORGANIZER:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=DELEGATED;DELEGATED-TO=\"mailto:x@evil.example\":mailto:eve@evil.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let out = ingest(&s, reply);
    assert!(
        out.contains("rejected") && out.contains("no authority"),
        "{out}"
    );
    assert_eq!(s.req("GET", &path, &[], "").body, before);
}
