//! Cancelling and changing the guest list over the REST API (issue 10):
//! real HTTP, a real SMTP sink, replies through a real `herald ingest`.
//! `accepted_or_tentative` reaches exactly those attendees; a second cancel
//! sends nothing; one instance of a weekly event is cancelled alone; added
//! attendees are the only ones invited; a removed one is the only one told.

use crate::smtp_sink::{Received, Sink};
use crate::util::*;
use std::time::Duration;

const SHOP: &str = "/dav/calendars/shop/default/";

pub(crate) struct Api {
    pub s: Server,
    pub sink: Sink,
    pub token: String,
}

fn last_line(out: &str) -> String {
    out.lines().last().unwrap_or("").trim().to_string()
}

pub(crate) fn start() -> Api {
    start_with("")
}

/// [`start`] with more configuration (whole sections, e.g. `[limits]`).
pub(crate) fn start_with(extra: &str) -> Api {
    let sink = Sink::start(0, &[]);
    let s = Server::start_with_config(&format!(
        "[imip]\nsender_verification = \"from-only\"\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n{extra}",
        sink.port
    ));
    let (ok, out, err) = s.cli(
        &[
            "organizer",
            "add",
            "shop",
            "--email",
            "shop@example.com",
            "--password-stdin",
        ],
        "shop-pass",
    );
    assert!(ok, "{out} {err}");
    let (ok, out, err) = s.cli(&["token", "create", "--principal", "shop"], "");
    assert!(ok, "{out} {err}");
    Api {
        s,
        sink,
        token: last_line(&out),
    }
}

fn id_of(path: &str) -> String {
    use base64ct::Encoding;
    base64ct::Base64UrlUnpadded::encode_string(path.as_bytes())
}

impl Api {
    pub fn call(&self, method: &str, path: &str, body: &str) -> Resp {
        let auth = format!("Bearer {}", self.token);
        self.s.request(
            method,
            path,
            None,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
    }

    /// PUT an event over CalDAV as the organizer principal; its API id.
    pub fn put(&self, name: &str, ics: &str) -> String {
        let r = self.s.request(
            "PUT",
            &format!("{SHOP}{name}"),
            Some(("shop", "shop-pass")),
            &[("Content-Type", "text/calendar")],
            ics.as_bytes(),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        id_of(&format!("default/{name}"))
    }

    pub fn stored(&self, name: &str) -> String {
        self.s
            .request(
                "GET",
                &format!("{SHOP}{name}"),
                Some(("shop", "shop-pass")),
                &[],
                b"",
            )
            .body
            .replace("\r\n ", "")
    }

    /// An attendee's REPLY, ingested by `herald ingest`.
    pub fn reply(&self, uid: &str, who: &str, partstat: &str) {
        let ical = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Mozilla//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nSEQUENCE:0\r\nDTSTART:20260310T130000Z\r\nORGANIZER:mailto:shop@example.com\r\nATTENDEE;PARTSTAT={partstat}:mailto:{who}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let mail = format!(
            "From: <{who}>\r\nTo: shop@example.com\r\nSubject: {partstat}\r\nMessage-ID: <{uid}.{who}@example.net>\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; charset=UTF-8; method=REPLY\r\n\r\n{ical}"
        );
        let cfg = self.s.dir.path().join("herald.toml");
        let (ok, out, err) = self
            .s
            .cli(&["ingest", "--config", cfg.to_str().unwrap()], &mail);
        assert!(ok, "{out} {err}");
    }

    /// The messages that arrived after the first `seen`, once `n` more have
    /// come, checking for a while that no others follow.
    pub fn next(&self, seen: usize, n: usize) -> Vec<Received> {
        self.sink.wait_for(seen + n, 20);
        std::thread::sleep(Duration::from_millis(1500));
        let all = self.sink.messages();
        assert_eq!(all.len(), seen + n, "{:#?}", &all[seen..]);
        all[seen..].to_vec()
    }
}

fn rcpts(ms: &[Received]) -> Vec<String> {
    let mut v: Vec<String> = ms.iter().map(|m| m.rcpt.clone()).collect();
    v.sort();
    v
}

fn meeting(uid: &str, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260310T130000Z\r\nDTEND:20260310T140000Z\r\nSUMMARY:Viewing\r\n{extra}ORGANIZER;CN=Shop:mailto:shop@example.com\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:a@example.net\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:b@example.net\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:c@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

#[test]
fn cancel_reaches_exactly_the_accepted_and_tentative_once() {
    let api = start();
    let id = api.put("m.ics", &meeting("cancel-1", ""));
    let invites = api.next(0, 3);
    assert!(invites.iter().all(|m| m.data.contains("METHOD:REQUEST")));
    api.reply("cancel-1", "a@example.net", "ACCEPTED");
    api.reply("cancel-1", "b@example.net", "TENTATIVE");
    api.reply("cancel-1", "c@example.net", "DECLINED");
    let stored = api.stored("m.ics");
    for (who, ps) in [("a@", "ACCEPTED"), ("b@", "TENTATIVE"), ("c@", "DECLINED")] {
        let line = stored.lines().find(|l| l.contains(who)).unwrap();
        assert!(line.contains(&format!("PARTSTAT={ps}")), "{stored}");
    }
    let url = format!("/api/v1/events/{id}/cancel");
    let r = api.call("POST", &url, r#"{"notify":"accepted_or_tentative"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    let first: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(first["status"], "cancelled");
    assert_eq!(first["sequence"], 1);
    let cancels = api.next(3, 2);
    assert_eq!(rcpts(&cancels), ["a@example.net", "b@example.net"]);
    for m in &cancels {
        assert!(m.data.contains("METHOD:CANCEL") && m.data.contains("SEQUENCE:1"));
    }
    let stored = api.stored("m.ics");
    assert!(stored.contains("STATUS:CANCELLED") && stored.contains("SEQUENCE:1"));
    // Again: the same answer, nothing sent.
    let r = api.call("POST", &url, r#"{"notify":"all"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    let second: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    // The same event (only the delivery of the CANCELs moved on).
    let answers = |v: &serde_json::Value| {
        let parts: Vec<String> = v["attendees"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| format!("{} {}", a["email"], a["partstat"]))
            .collect();
        (v["status"].clone(), v["sequence"].clone(), parts)
    };
    assert_eq!(answers(&first), answers(&second));
    api.next(5, 0);
    assert_eq!(api.stored("m.ics"), stored);
}

#[test]
fn one_instance_of_a_weekly_event_is_cancelled_alone() {
    let api = start();
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Paris:20260310T140000\r\nDTEND;TZID=Europe/Paris:20260310T150000\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Weekly\r\nORGANIZER:mailto:shop@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.net\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:b@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let id = api.put("w.ics", ics);
    api.next(0, 2);
    let url = format!("/api/v1/events/{id}/cancel");
    let body = r#"{"notify":"all","recurrence_id":"2026-03-17T14:00:00"}"#;
    let r = api.call("POST", &url, body);
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["status"], "confirmed");
    let cancels = api.next(2, 2);
    assert_eq!(rcpts(&cancels), ["a@example.net", "b@example.net"]);
    for m in &cancels {
        assert!(m.data.contains("METHOD:CANCEL"), "{}", m.data);
        assert!(
            m.data
                .contains("RECURRENCE-ID;TZID=Europe/Paris:20260317T140000"),
            "{}",
            m.data
        );
    }
    let stored = api.stored("w.ics");
    assert!(
        stored.contains("EXDATE;TZID=Europe/Paris:20260317T140000"),
        "{stored}"
    );
    assert!(!stored.contains("STATUS:CANCELLED") && stored.contains("SEQUENCE:1"));
    // The same instance again (named in UTC): nothing; a time that is no instance: 422.
    let r = api.call("POST", &url, r#"{"recurrence_id":"2026-03-17T13:00:00Z"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api.call("POST", &url, r#"{"recurrence_id":"2026-03-18T14:00:00"}"#);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("\"field\":\"recurrence_id\""), "{}", r.body);
    api.next(4, 0);
    assert_eq!(api.stored("w.ics"), stored);
}

#[test]
fn added_attendees_alone_are_invited_and_a_removed_one_alone_is_told() {
    let api = start();
    let id = api.put("g.ics", &meeting("guests-1", ""));
    api.next(0, 3);
    let url = format!("/api/v1/events/{id}/attendees");
    let body = r#"{"attendees":[{"email":"d@example.net","name":"Dee","role":"optional"},{"email":"E@Example.net"},{"email":"f@example.net","role":"non-participant"},{"email":"A@example.net"},{"email":"d@example.net"}]}"#;
    let r = api.call("POST", &url, body);
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        v["added"],
        serde_json::json!(["d@example.net", "e@example.net", "f@example.net"])
    );
    assert_eq!(
        v["skipped_duplicates"],
        serde_json::json!(["a@example.net", "d@example.net"])
    );
    assert_eq!(v["event"]["sequence"], 0);
    assert_eq!(v["event"]["attendees"].as_array().unwrap().len(), 6);
    let invites = api.next(3, 3);
    assert_eq!(
        rcpts(&invites),
        ["d@example.net", "e@example.net", "f@example.net"]
    );
    assert!(invites.iter().all(|m| m.data.contains("METHOD:REQUEST")));
    let stored = api.stored("g.ics");
    let d = stored
        .lines()
        .find(|l| l.contains("d@example.net"))
        .unwrap();
    assert!(
        d.contains("CN=Dee") && d.contains("ROLE=OPT-PARTICIPANT") && d.contains("RSVP=TRUE"),
        "{d}"
    );
    // The same call again adds and sends nothing.
    let r = api.call("POST", &url, body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("\"added\":[]"), "{}", r.body);
    // A name and role change: no message.
    let r = api.call(
        "PATCH",
        &format!("{url}/d@example.net"),
        r#"{"name":null,"role":"chair"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("\"role\":\"chair\""), "{}", r.body);
    // Removing e: one CANCEL, to e.
    let r = api.call("DELETE", &format!("{url}/e@example.net"), "");
    assert_eq!(r.status, 200, "{}", r.body);
    let told = api.next(6, 1);
    assert_eq!(rcpts(&told), ["e@example.net"]);
    assert!(told[0].data.contains("METHOD:CANCEL"));
    assert!(!api.stored("g.ics").contains("e@example.net"));
    // Not an attendee (any more): 404, nothing sent.
    let r = api.call("DELETE", &format!("{url}/e@example.net"), "");
    assert_eq!(r.status, 404, "{}", r.body);
    api.next(7, 0);
}

#[test]
fn bad_requests_and_other_principals_change_nothing() {
    let api = start();
    let id = api.put("x.ics", &meeting("bad-1", ""));
    api.next(0, 3);
    let before = api.stored("x.ics");
    let url = format!("/api/v1/events/{id}/attendees");
    for (body, status, field) in [
        (
            r#"{"attendees":[{"email":"ok@example.net"},{"email":"nope"}]}"#,
            422,
            "attendees[1].email",
        ),
        (
            r#"{"attendees":[{"email":"ok@example.net","name":"a\"b"}]}"#,
            422,
            "attendees[0].name",
        ),
        (r#"{"attendees":[]}"#, 422, "attendees"),
        (
            r#"{"attendees":[{"email":"ok@example.net","role":"boss"}]}"#,
            422,
            "attendees[0].role",
        ),
        (
            r#"{"attendees":[{"email":"ok@example.net","x":1}]}"#,
            422,
            "attendees[0]",
        ),
    ] {
        let r = api.call("POST", &url, body);
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert!(
            r.body.contains(&format!("\"field\":\"{field}")),
            "{body}: {}",
            r.body
        );
    }
    let r = api.call(
        "POST",
        &format!("/api/v1/events/{id}/cancel"),
        r#"{"notify":"some"}"#,
    );
    assert_eq!(r.status, 422, "{}", r.body);
    // Over api.async_threshold (500), with one bad address: refused before
    // any job is queued (a job for a valid list: tests/e2e/api_jobs.rs).
    let mut many: Vec<String> = (0..501)
        .map(|i| format!(r#"{{"email":"g{i}@example.net"}}"#))
        .collect();
    many[500] = r#"{"email":"nope"}"#.into();
    let r = api.call(
        "POST",
        &url,
        &format!(r#"{{"attendees":[{}]}}"#, many.join(",")),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("\"field\":\"attendees[500].email\""),
        "{}",
        r.body
    );
    // Another organizer's token: the event does not exist for it.
    let (ok, _, err) = api.s.cli(
        &["organizer", "add", "rival", "--email", "rival@example.com"],
        "",
    );
    assert!(ok, "{err}");
    let (_, out, _) = api.s.cli(&["token", "create", "--principal", "rival"], "");
    let auth = format!("Bearer {}", last_line(&out));
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    for (m, p, b) in [
        ("POST", format!("/api/v1/events/{id}/cancel"), "{}"),
        (
            "POST",
            url.clone(),
            r#"{"attendees":[{"email":"z@example.net"}]}"#,
        ),
        ("DELETE", format!("{url}/a@example.net"), ""),
    ] {
        let r = api.s.request(m, &p, None, &headers, b.as_bytes());
        assert_eq!(r.status, 404, "{m} {p}: {}", r.body);
    }
    let r = api.call("POST", "/api/v1/events/bm9wZQ/cancel", "{}");
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(api.stored("x.ics"), before);
    api.next(3, 0);
}
