//! Replies by email (issue 5): an external attendee's REPLY reaches herald
//! over LMTP or `herald ingest` and updates the organizer's copy; forged,
//! duplicate and broken mail changes nothing.

use crate::util::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const IMIP_CONFIG: &str =
    "[imip]\nlmtp_listen = \"127.0.0.1:0\"\ntrusted_authserv_ids = [\"mx.herald.test\"]\n";

fn invite(s: &Server) -> String {
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:mail-1\r\nDTSTAMP:20250101T000000Z\r\nSEQUENCE:2\r\nDTSTART:20250310T100000Z\r\nDTEND:20250310T110000Z\r\nSUMMARY:Review\r\nORGANIZER;CN=Admin:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:admin@localhost\r\nATTENDEE;CN=Alice;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(s.put_ics(&format!("{CAL}review.ics"), ics).status, 201);
    // The REQUEST leaves through the spool (no SMTP configured): take its UID and SEQUENCE.
    let dir = s.data_dir().join("mail-out");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(f) = std::fs::read_dir(&dir).ok().and_then(|mut d| d.next()) {
            let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
            assert!(text.contains("METHOD:REQUEST"));
            let seq = text
                .lines()
                .find_map(|l| l.strip_prefix("SEQUENCE:"))
                .unwrap_or("0")
                .trim()
                .to_string();
            return seq;
        }
        assert!(Instant::now() < deadline, "no REQUEST spooled");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Alice's mail client answering: a REPLY with PARTSTAT, as Thunderbird sends it.
fn reply_mail(message_id: &str, from: &str, auth: &str, partstat: &str, seq: &str) -> String {
    let ical = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Mozilla//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:mail-1\r\nDTSTAMP:20250102T000000Z\r\nSEQUENCE:{seq}\r\nDTSTART:20250310T100000Z\r\nORGANIZER:mailto:admin@localhost\r\nATTENDEE;PARTSTAT={partstat}:mailto:alice@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    format!(
        "Return-Path: <alice@example.net>\r\n{auth}From: Alice <{from}>\r\nTo: admin@localhost\r\nSubject: Accepted: Review\r\nMessage-ID: <{message_id}>\r\nDate: Thu, 2 Jan 2025 00:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nAlice has accepted.\r\n--b1\r\nContent-Type: text/calendar; charset=UTF-8; method=REPLY\r\n\r\n{ical}--b1--\r\n"
    )
}

const PASS: &str = "Authentication-Results: mx.herald.test; dmarc=pass header.from=example.net; dkim=pass header.d=example.net\r\n";

/// Deliver one message over LMTP; the per-recipient replies after DATA.
fn lmtp(port: u16, rcpts: &[&str], message: &str) -> Vec<String> {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    let mut read = |r: &mut BufReader<TcpStream>| -> String {
        let mut all = String::new();
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            all.push_str(&line);
            if line.len() < 4 || &line[3..4] != "-" {
                return all;
            }
        }
    };
    assert!(read(&mut r).starts_with("220"));
    w.write_all(b"LHLO test\r\n").unwrap();
    assert!(read(&mut r).starts_with("250"));
    w.write_all(b"MAIL FROM:<alice@example.net>\r\n").unwrap();
    assert!(read(&mut r).starts_with("250"));
    for rc in rcpts {
        w.write_all(format!("RCPT TO:<{rc}>\r\n").as_bytes())
            .unwrap();
        assert!(read(&mut r).starts_with("250"));
    }
    w.write_all(b"DATA\r\n").unwrap();
    assert!(read(&mut r).starts_with("354"));
    for l in message.split_inclusive("\r\n") {
        if l.starts_with('.') {
            w.write_all(b".").unwrap();
        }
        w.write_all(l.as_bytes()).unwrap();
    }
    w.write_all(b".\r\n").unwrap();
    let replies: Vec<String> = rcpts
        .iter()
        .map(|_| read(&mut r).trim().to_string())
        .collect();
    w.write_all(b"QUIT\r\n").unwrap();
    replies
}

fn lmtp_port(s: &Server) -> u16 {
    s.lmtp_port.expect("LMTP port")
}

fn organizer_copy(s: &Server) -> String {
    s.req("GET", &format!("{CAL}review.ics"), &[], "")
        .body
        .replace("\r\n ", "")
}

fn alice_line(s: &Server) -> String {
    organizer_copy(s)
        .lines()
        .find(|l| l.contains("alice@example.net"))
        .unwrap_or("")
        .to_string()
}

fn sync_token(s: &Server) -> String {
    let body = r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#;
    let r = s.req("REPORT", CAL, &[], body);
    r.body
        .split("<D:sync-token>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string()
}

/// The REQUEST as it reached the SMTP sink: its SEQUENCE.
fn request_at_sink(sink: &crate::smtp_sink::Sink) -> String {
    let got = sink.wait_for(1, 20);
    let data = &got[0].data;
    assert!(
        got[0].rcpt == "alice@example.net" && data.contains("METHOD:REQUEST"),
        "{data}"
    );
    assert!(data.contains("UID:mail-1"));
    data.lines()
        .find_map(|l| l.strip_prefix("SEQUENCE:"))
        .unwrap_or("0")
        .trim()
        .to_string()
}

#[test]
fn reply_over_lmtp_updates_partstat_once() {
    let sink = crate::smtp_sink::Sink::start(0, &[]);
    let s = Server::start_with_config(&format!(
        "{IMIP_CONFIG}[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n",
        sink.port
    ));
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:mail-1\r\nDTSTAMP:20250101T000000Z\r\nSEQUENCE:2\r\nDTSTART:20250310T100000Z\r\nDTEND:20250310T110000Z\r\nSUMMARY:Review\r\nORGANIZER;CN=Admin:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:admin@localhost\r\nATTENDEE;CN=Alice;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(s.put_ics(&format!("{CAL}review.ics"), ics).status, 201);
    // The test turns the REQUEST that reached the sink into Alice's REPLY.
    let seq = request_at_sink(&sink);
    let token = sync_token(&s);
    let mail = reply_mail(
        "r1@example.net",
        "alice@example.net",
        PASS,
        "ACCEPTED",
        &seq,
    );
    let replies = lmtp(lmtp_port(&s), &["admin@localhost"], &mail);
    assert!(replies[0].starts_with("250"), "{replies:?}");
    assert!(
        alice_line(&s).contains("PARTSTAT=ACCEPTED"),
        "{}",
        organizer_copy(&s)
    );
    assert!(alice_line(&s).contains("SCHEDULE-STATUS=2.0"));
    // The organizer's clients see the change on their next sync.
    let body = format!(
        r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#
    );
    let r = s.req("REPORT", CAL, &[], &body);
    assert!(r.body.contains("review.ics"), "{}", r.body);
    // The same mail again: accepted, nothing changes.
    let before = organizer_copy(&s);
    let replies = lmtp(lmtp_port(&s), &["admin@localhost"], &mail);
    assert!(
        replies[0].starts_with("250") && replies[0].contains("already"),
        "{replies:?}"
    );
    assert_eq!(organizer_copy(&s), before);
    // A calendar-query sees the answer.
    let q = r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="ATTENDEE"><C:param-filter name="PARTSTAT"><C:text-match>ACCEPTED</C:text-match></C:param-filter></C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#;
    let r = s.req("REPORT", CAL, &[("Depth", "1")], q);
    assert!(r.body.contains("review.ics"));
}

#[test]
fn reply_through_herald_ingest_while_serving() {
    let s = Server::start_with_config(IMIP_CONFIG);
    let seq = invite(&s);
    let mail = reply_mail(
        "r2@example.net",
        "alice@example.net",
        PASS,
        "TENTATIVE",
        &seq,
    );
    let cfg = s.dir.path().join("herald.toml");
    let (ok, out, err) = s.cli(&["ingest", "--config", cfg.to_str().unwrap()], &mail);
    assert!(ok, "{out} {err}");
    assert!(
        alice_line(&s).contains("PARTSTAT=TENTATIVE"),
        "{}",
        organizer_copy(&s)
    );
}

#[test]
fn hostile_replies_change_nothing() {
    let s = Server::start_with_config(IMIP_CONFIG);
    let seq = invite(&s);
    std::thread::sleep(Duration::from_millis(300));
    let before = organizer_copy(&s);
    let port = lmtp_port(&s);
    let forged_ar = "Authentication-Results: evil.example; dmarc=pass header.from=example.net\r\n";
    let cases = [
        // No authentication at all.
        reply_mail("h1@x", "alice@example.net", "", "ACCEPTED", &seq),
        // Authentication-Results from someone else's server.
        reply_mail("h2@x", "alice@example.net", forged_ar, "ACCEPTED", &seq),
        // Authenticated, but From is not the attendee it speaks for.
        reply_mail("h3@x", "mallory@example.net", "Authentication-Results: mx.herald.test; dmarc=pass header.from=example.net\r\n", "ACCEPTED", &seq),
        // Stale: an older SEQUENCE than the organizer's (2).
        reply_mail("h4@x", "alice@example.net", PASS, "DECLINED", "1"),
        // Unknown PARTSTAT value.
        reply_mail("h5@x", "alice@example.net", PASS, "MAYBE-LATER", &seq),
        // Not iCalendar at all.
        "From: alice@example.net\r\nMessage-ID: <h6@x>\r\nContent-Type: text/calendar; method=REPLY\r\n\r\n<html>hi</html>\r\n".to_string(),
        // Broken base64.
        "From: alice@example.net\r\nMessage-ID: <h7@x>\r\nContent-Type: text/calendar; method=REPLY\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!not base64****\r\n".to_string(),
    ];
    for (i, m) in cases.iter().enumerate() {
        let replies = lmtp(port, &["admin@localhost"], m);
        assert!(!replies[0].is_empty(), "case {i}");
        assert_eq!(
            organizer_copy(&s),
            before,
            "case {i} changed the event: {replies:?}"
        );
    }
    // A MIME bomb of deep nesting.
    let mut bomb = String::from("From: alice@example.net\r\nMessage-ID: <h8@x>\r\n");
    for i in 0..60 {
        bomb.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    bomb.push_str("Content-Type: text/plain\r\n\r\nx\r\n");
    let replies = lmtp(port, &["admin@localhost"], &bomb);
    assert!(replies[0].starts_with('5') || replies[0].starts_with("250"));
    assert_eq!(organizer_copy(&s), before);
    // Nothing was queued by any of them, and the server still answers quickly.
    let (_, out, _) = s.cli(&["outbox", "list"], "");
    assert_eq!(out.lines().count(), 1, "{out}");
    let t = Instant::now();
    assert_eq!(
        s.req("GET", &format!("{CAL}review.ics"), &[], "").status,
        200
    );
    assert!(t.elapsed() < Duration::from_secs(1));
}

/// The organizer's event that a fixture answers.
fn fixture_event(uid: &str, seq: u32, attendee: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20240301T000000Z\r\nSEQUENCE:{seq}\r\nDTSTART:20240307T090000Z\r\nDTEND:20240307T100000Z\r\nSUMMARY:Fixture\r\nORGANIZER;CN=Olivia:mailto:organizer@herald.test\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:organizer@herald.test\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{attendee}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

#[test]
fn client_shaped_replies_from_the_fixtures() {
    let s = Server::start_with_config("[imip]\ntrusted_authserv_ids = [\"mx.herald.test\"]\n");
    s.add_user("olivia", "organizer@herald.test", "olivia-pass");
    let olivia = Some(("olivia", "olivia-pass"));
    let cases = [
        // (fixture, UID, SEQUENCE, attendee, expected PARTSTAT after)
        (
            "gmail-accept.eml",
            "sync-20240305@herald.test",
            0,
            "alice@gmail.example",
            "ACCEPTED",
        ),
        // Outlook: no ORGANIZER, no DTSTART, a COMMENT, Windows zone names.
        (
            "outlook-accept.eml",
            "budget-review-20240307@herald.test",
            2,
            "bob@outlook.example",
            "ACCEPTED",
        ),
        // Apple Mail carries no Authentication-Results: refused under the strict policy.
        (
            "apple-mail-accept.eml",
            "design-review-20240306@herald.test",
            0,
            "carol@icloud.example",
            "NEEDS-ACTION",
        ),
    ];
    for (file, uid, seq, attendee, _) in &cases {
        let path = format!("/dav/calendars/olivia/default/{file}.ics");
        let r = s.request(
            "PUT",
            &path,
            olivia,
            &[("Content-Type", "text/calendar")],
            fixture_event(uid, *seq, attendee).as_bytes(),
        );
        assert_eq!(r.status, 201, "{file}: {}", r.body);
    }
    let cfg = s.dir.path().join("herald.toml");
    for (file, _, _, attendee, expected) in &cases {
        let mail = std::fs::read_to_string(format!(
            "{}/tests/fixtures/imip/{file}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let (ok, out, err) = s.cli(&["ingest", "--config", cfg.to_str().unwrap()], &mail);
        assert!(ok, "{file}: {out} {err}");
        let path = format!("/dav/calendars/olivia/default/{file}.ics");
        let body = s
            .request("GET", &path, olivia, &[], b"")
            .body
            .replace("\r\n ", "");
        let line = body
            .lines()
            .find(|l| l.contains(attendee))
            .unwrap_or("")
            .to_string();
        assert!(
            line.contains(&format!("PARTSTAT={expected}")),
            "{file}: {line} ({err})"
        );
    }
}

#[test]
fn refresh_sends_the_request_again_and_oversized_mail_is_refused() {
    let s = Server::start_with_config(IMIP_CONFIG);
    invite(&s);
    let dir = s.data_dir().join("mail-out");
    let count = || std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while count() < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let refresh = format!(
        "{PASS}From: <alice@example.net>\r\nTo: admin@localhost\r\nMessage-ID: <refresh-1@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; method=REFRESH; charset=UTF-8\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REFRESH\r\nBEGIN:VEVENT\r\nUID:mail-1\r\nDTSTAMP:20250103T000000Z\r\nORGANIZER:mailto:admin@localhost\r\nATTENDEE:mailto:alice@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let replies = lmtp(lmtp_port(&s), &["admin@localhost"], &refresh);
    assert!(replies[0].starts_with("250"), "{replies:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while count() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(count(), 2, "the REQUEST was not sent again");
    // 20 MB through `herald ingest`: refused as a bad message (EX_DATAERR), quickly.
    let big = format!(
        "From: <alice@example.net>\r\nMessage-ID: <big@x>\r\n\r\n{}",
        "x".repeat(20 * 1024 * 1024)
    );
    let t = Instant::now();
    let out = std::process::Command::new(bin())
        .args(["ingest", "--data-dir"])
        .arg(s.data_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write as _;
            let _ = c.stdin.take().unwrap().write_all(big.as_bytes());
            c.wait()
        })
        .unwrap();
    assert_eq!(out.code(), Some(65));
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn invitation_from_outside_lands_in_the_inbox_only() {
    let s = Server::start_with_config(IMIP_CONFIG);
    let request = |id: &str, organizer: &str| {
        format!(
            "Authentication-Results: mx.herald.test; dmarc=pass header.from=partner.example\r\nFrom: Frank <{organizer}>\r\nTo: admin@localhost\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; method=REQUEST; charset=UTF-8\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:outside-1\r\nDTSTAMP:20250103T000000Z\r\nDTSTART:20250312T100000Z\r\nDTEND:20250312T110000Z\r\nSUMMARY:Partner call\r\nORGANIZER:mailto:{organizer}\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:admin@localhost\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    };
    let replies = lmtp(
        lmtp_port(&s),
        &["admin@localhost"],
        &request("req-1@partner.example", "frank@partner.example"),
    );
    assert!(replies[0].contains("processed"), "{replies:?}");
    let r = s.req(
        "PROPFIND",
        "/dav/calendars/admin/inbox/",
        &[("Depth", "1")],
        "",
    );
    assert_eq!(hrefs(&r.body).len(), 2, "{}", r.body);
    // Not in the calendar: calendar spam is real (imip.auto_add_invitations = false).
    assert_eq!(
        s.req("GET", &format!("{CAL}outside-1.ics"), &[], "").status,
        404
    );
    // Someone outside may not speak for an organizer of this server.
    let replies = lmtp(
        lmtp_port(&s),
        &["admin@localhost"],
        &request("req-2@partner.example", "admin@localhost"),
    );
    assert!(replies[0].contains("rejected"), "{replies:?}");
    let r = s.req(
        "PROPFIND",
        "/dav/calendars/admin/inbox/",
        &[("Depth", "1")],
        "",
    );
    assert_eq!(hrefs(&r.body).len(), 2);
}

#[test]
fn reply_token_binds_the_answer_to_its_attendee() {
    let sink = crate::smtp_sink::Sink::start(0, &[]);
    let s = Server::start_with_config(&format!(
        "[imip]\nlmtp_listen = \"127.0.0.1:0\"\nreply_tokens = true\nreply_address = \"calendar@herald.test\"\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n",
        sink.port
    ));
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:tok-1\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250310T100000Z\r\nDTEND:20250310T110000Z\r\nSUMMARY:Tokens\r\nORGANIZER;CN=Admin:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice@example.net\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(s.put_ics(&format!("{CAL}tok.ics"), ics).status, 201);
    let got = sink.wait_for(2, 20);
    let to_alice = got.iter().find(|m| m.rcpt == "alice@example.net").unwrap();
    let data = to_alice.data.replace("\r\n ", "");
    // The REQUEST names a per-invitation address as ORGANIZER; the stored event does not change.
    let token_addr = data
        .lines()
        .find(|l| l.starts_with("ORGANIZER"))
        .and_then(|l| l.split("mailto:").nth(1))
        .unwrap()
        .trim()
        .to_string();
    assert!(
        token_addr.starts_with("calendar+") && token_addr.ends_with("@herald.test"),
        "{token_addr}"
    );
    assert!(
        s.req("GET", &format!("{CAL}tok.ics"), &[], "")
            .body
            .contains("ORGANIZER;CN=Admin:mailto:admin@localhost")
    );
    let reply = |id: &str, who: &str| {
        format!(
            "From: <{who}>\r\nTo: {token_addr}\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; method=REPLY; charset=UTF-8\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:tok-1\r\nDTSTAMP:20250102T000000Z\r\nORGANIZER:mailto:{token_addr}\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{who}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    };
    let line_of = |who: &str| {
        s.req("GET", &format!("{CAL}tok.ics"), &[], "")
            .body
            .replace("\r\n ", "")
            .lines()
            .find(|l| l.contains(who))
            .unwrap_or("")
            .to_string()
    };
    // Bob answering through Alice's address is refused, even with no other checks configured.
    let r = lmtp(
        lmtp_port(&s),
        &[&token_addr],
        &reply("t-1@x", "bob@example.net"),
    );
    assert!(r[0].contains("rejected"), "{r:?}");
    assert!(line_of("bob@example.net").contains("NEEDS-ACTION"));
    // Alice's answer to her address counts (no Authentication-Results needed).
    let r = lmtp(
        lmtp_port(&s),
        &[&token_addr],
        &reply("t-2@x", "alice@example.net"),
    );
    assert!(r[0].contains("processed"), "{r:?}");
    assert!(line_of("alice@example.net").contains("PARTSTAT=ACCEPTED"));
}
