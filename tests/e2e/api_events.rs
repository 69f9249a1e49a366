//! The event resource of the REST API (issue 10), end to end: real HTTP,
//! a real SMTP sink, answers through a real `herald ingest`. The matched
//! strangers in relay mode (invitations, an answer reflected to the other,
//! a COUNTER accepted and rescheduled, the history in order), the
//! delegate-organizer hand-over, CalDAV and the API seeing one object, bad
//! input refused by field with nothing stored, pages stable under inserts,
//! PATCH conditions, and one principal's token blind to another's events.

use crate::api_cancel::{Api, start};
use crate::util::*;

const A: &str = "ann@example.org";
const B: &str = "bob@example.net";

fn json(r: &Resp) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

fn ingest(api: &Api, from: &str, method: &str, msgid: &str, vevent: &str) -> String {
    let ical = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Client//EN\r\nMETHOD:{method}\r\nBEGIN:VEVENT\r\n{vevent}END:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let mail = format!(
        "From: <{from}>\r\nTo: shop@example.com\r\nSubject: {method}\r\nMessage-ID: <{msgid}>\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; charset=UTF-8; method={method}\r\n\r\n{ical}"
    );
    let cfg = api.s.dir.path().join("herald.toml");
    let (ok, out, err) = api
        .s
        .cli(&["ingest", "--config", cfg.to_str().unwrap()], &mail);
    assert!(ok, "{out} {err}");
    err
}

fn partstat(ev: &serde_json::Value, email: &str) -> String {
    ev["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == email)
        .map(|a| a["partstat"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

fn create(api: &Api, body: &str) -> serde_json::Value {
    let r = api.call("POST", "/api/v1/events", body);
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.header("location").unwrap().starts_with("/api/v1/events/"));
    assert!(r.header("etag").is_some());
    json(&r)
}

#[test]
fn matched_strangers_in_relay_mode() {
    let api = start();
    let ev = create(
        &api,
        &format!(
            r#"{{"summary":"Viewing","start":"2026-03-10T14:00:00","end":"2026-03-10T15:00:00","time_zone":"Europe/Berlin","attendees":[{{"email":"{A}","name":"Ann"}},{{"email":"{B}","name":"Bob"}}],"mode":"relay","counter_policy":"accept"}}"#
        ),
    );
    let (id, uid) = (ev["id"].as_str().unwrap(), ev["uid"].as_str().unwrap());
    assert_eq!(ev["sequence"], 0);
    assert_eq!(ev["mode"], "relay");
    let invites = api.next(0, 2);
    let mut to: Vec<&str> = invites.iter().map(|m| m.rcpt.as_str()).collect();
    to.sort();
    assert_eq!(to, [A, B]);
    for m in &invites {
        assert!(m.data.contains("METHOD:REQUEST"), "{}", m.data);
        assert!(
            !m.data.contains("X-HERALD"),
            "herald's bookkeeping leaked: {}",
            m.data
        );
    }

    // Ann accepts from her mail client: the API shows it, Bob is told.
    ingest(
        &api,
        A,
        "REPLY",
        "r1@example.org",
        &format!(
            "UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nSEQUENCE:0\r\nORGANIZER:mailto:shop@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{A}\r\n"
        ),
    );
    let got = json(&api.call("GET", &format!("/api/v1/events/{id}"), ""));
    assert_eq!(partstat(&got, A), "ACCEPTED");
    assert_eq!(partstat(&got, B), "NEEDS-ACTION");
    assert!(got["last_reply_at"].is_string(), "{got}");
    let relayed = api.next(2, 1);
    assert_eq!(relayed[0].rcpt, B);
    let unfolded = relayed[0].data.replace("\r\n ", "");
    assert!(unfolded.contains("METHOD:REQUEST"));
    assert!(
        unfolded.contains("PARTSTAT=ACCEPTED") && unfolded.contains(A),
        "{unfolded}"
    );

    // Bob proposes another time: counter_policy accept reschedules for both.
    ingest(
        &api,
        B,
        "COUNTER",
        "c1@example.net",
        &format!(
            "UID:{uid}\r\nDTSTAMP:20260102T000000Z\r\nSEQUENCE:0\r\nDTSTART:20260311T090000Z\r\nDTEND:20260311T100000Z\r\nORGANIZER:mailto:shop@example.com\r\nATTENDEE;PARTSTAT=TENTATIVE:mailto:{B}\r\n"
        ),
    );
    let updates = api.next(3, 2);
    let mut to: Vec<&str> = updates.iter().map(|m| m.rcpt.as_str()).collect();
    to.sort();
    assert_eq!(to, [A, B]);
    for m in &updates {
        let d = m.data.replace("\r\n ", "");
        assert!(
            d.contains("METHOD:REQUEST") && d.contains("SEQUENCE:1"),
            "{d}"
        );
        assert!(
            d.contains("20260311T090000Z") || d.contains("20260311T100000"),
            "{d}"
        );
    }
    let got = json(&api.call("GET", &format!("/api/v1/events/{id}"), ""));
    assert_eq!(got["sequence"], 1);
    // The proposal was written in UTC; the event now reads in it.
    assert_eq!(got["start"], "2026-03-11T09:00:00", "{got}");
    assert_eq!(got["time_zone"], "UTC");
    assert_eq!(
        partstat(&got, A),
        "NEEDS-ACTION",
        "a new time asks everyone again"
    );

    // The history lists every step in order.
    let h = json(&api.call("GET", &format!("/api/v1/events/{id}/history"), ""));
    let kinds: Vec<&str> = h["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    let pos = |k: &str| {
        kinds
            .iter()
            .position(|x| *x == k)
            .unwrap_or_else(|| panic!("{k} missing: {kinds:?}"))
    };
    assert_eq!(kinds[0], "created", "{kinds:?}");
    assert!(
        pos("sent") < pos("replied") && pos("replied") < pos("countered"),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "sent").count(),
        5,
        "{kinds:?}"
    );

    // The same answer delivered twice changes nothing and sends nothing.
    ingest(
        &api,
        A,
        "REPLY",
        "r1@example.org",
        &format!(
            "UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nSEQUENCE:0\r\nORGANIZER:mailto:shop@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{A}\r\n"
        ),
    );
    api.next(5, 0);
}

#[test]
fn a_counter_under_notify_waits_for_the_organizer() {
    let api = start();
    let ev = create(
        &api,
        &format!(
            r#"{{"summary":"Call","start":"2026-04-01T10:00:00","end":"2026-04-01T10:30:00","time_zone":"UTC","attendees":[{{"email":"{A}"}},{{"email":"{B}"}}]}}"#
        ),
    );
    let (id, uid) = (ev["id"].as_str().unwrap(), ev["uid"].as_str().unwrap());
    api.next(0, 2);
    for (n, msgid) in [(1, "c1@x"), (2, "c2@x")] {
        ingest(
            &api,
            B,
            "COUNTER",
            msgid,
            &format!(
                "UID:{uid}\r\nDTSTAMP:2026010{n}T000000Z\r\nSEQUENCE:0\r\nDTSTART:2026040{}T120000Z\r\nDTEND:2026040{}T123000Z\r\nORGANIZER:mailto:shop@example.com\r\nATTENDEE:mailto:{B}\r\n",
                n + 1,
                n + 1
            ),
        );
    }
    api.next(2, 0);
    let list = json(&api.call("GET", &format!("/api/v1/events/{id}/counters"), ""));
    let counters = list["counters"].as_array().unwrap();
    assert_eq!(counters.len(), 2, "{list}");
    assert!(
        counters
            .iter()
            .all(|c| c["state"] == "pending" && c["from"] == B)
    );
    // Declining sends a DECLINECOUNTER to the proposer only, once.
    let r = api.call(
        "POST",
        &format!("/api/v1/events/{id}/counters/1/decline"),
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["state"], "declined");
    let m = api.next(2, 1);
    assert_eq!(m[0].rcpt, B);
    assert!(m[0].data.contains("METHOD:DECLINECOUNTER"));
    let again = api.call(
        "POST",
        &format!("/api/v1/events/{id}/counters/1/accept"),
        "",
    );
    assert_eq!(
        json(&again)["state"],
        "declined",
        "the first decision stands"
    );
    // Accepting the second moves the event and tells everyone.
    let r = api.call(
        "POST",
        &format!("/api/v1/events/{id}/counters/2/accept"),
        "",
    );
    assert_eq!(json(&r)["state"], "accepted");
    let updates = api.next(3, 2);
    assert!(updates.iter().all(|m| m.data.contains("SEQUENCE:1")));
    let got = json(&api.call("GET", &format!("/api/v1/events/{id}"), ""));
    assert_eq!(got["start"], "2026-04-03T12:00:00", "{got}");
    assert_eq!(
        api.call(
            "POST",
            &format!("/api/v1/events/{id}/counters/9/accept"),
            ""
        )
        .status,
        404
    );
}

#[test]
fn delegate_organizer_follows_the_chairs_client() {
    let api = start();
    let ev = create(
        &api,
        &format!(
            r#"{{"summary":"Handover","start":"2026-05-05T09:00:00","end":"2026-05-05T10:00:00","time_zone":"Europe/Paris","attendees":[{{"email":"{A}","name":"Ann","role":"chair"}},{{"email":"{B}"}}],"mode":"delegate-organizer"}}"#
        ),
    );
    let (id, uid) = (ev["id"].as_str().unwrap(), ev["uid"].as_str().unwrap());
    assert_eq!(ev["organizer"]["email"], A);
    let first = api.next(0, 2);
    let mut to: Vec<&str> = first.iter().map(|m| m.rcpt.as_str()).collect();
    to.sort();
    assert_eq!(to, [A, B]);
    for m in &first {
        let d = m.data.replace("\r\n ", "");
        assert!(
            d.contains("SENT-BY") && d.contains(&format!(":mailto:{A}")),
            "{d}"
        );
        assert!(d.contains("NON-PARTICIPANT"), "{d}");
    }
    // Ann's client moves the meeting: herald, an attendee now, follows.
    let out = ingest(
        &api,
        A,
        "REQUEST",
        "move1@example.org",
        &format!(
            "UID:{uid}\r\nDTSTAMP:20260102T000000Z\r\nSEQUENCE:1\r\nDTSTART:20260506T070000Z\r\nDTEND:20260506T080000Z\r\nSUMMARY:Handover\r\nORGANIZER;CN=Ann:mailto:{A}\r\nATTENDEE;ROLE=CHAIR;PARTSTAT=ACCEPTED:mailto:{A}\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:{B}\r\nATTENDEE;ROLE=NON-PARTICIPANT:mailto:shop@example.com\r\n"
        ),
    );
    let got = json(&api.call("GET", &format!("/api/v1/events/{id}"), ""));
    assert_eq!(got["sequence"], 1, "{out} {got}");
    assert_eq!(got["start"], "2026-05-06T07:00:00", "{got}");
    api.next(2, 0);
}

#[test]
fn one_object_two_views_and_bad_input() {
    let api = start();
    // Bad input names the field and stores nothing.
    let base =
        r#""start":"2026-03-10T14:00:00","end":"2026-03-10T15:00:00","time_zone":"Europe/Berlin""#;
    for (body, field, status) in [
        ("{not json".to_string(), None, 400),
        (format!(r#"{{{base},"colour":"red"}}"#), Some("colour"), 422),
        (format!(r#"{{{base},"attendees":[{{"email":"{A}"}},{{"email":"nope"}}]}}"#), Some("attendees[1].email"), 422),
        (r#"{"start":"2026-03-10T14:00:00","end":"2026-03-10T15:00:00","time_zone":"Mars/Base"}"#.to_string(), Some("time_zone"), 422),
        (r#"{"start":"2026-02-30T14:00:00","end":"2026-03-10T15:00:00","time_zone":"UTC"}"#.to_string(), Some("start"), 422),
        (r#"{"start":"2026-03-10T14:00:00","end":"2026-03-10T13:00:00","time_zone":"UTC"}"#.to_string(), Some("end"), 422),
        (format!(r#"{{{base},"attendees":[{{"email":"{A}","role":"boss"}}]}}"#), Some("attendees[0].role"), 422),
        (format!(r#"{{{base},"rrule":"FREQ=SOMETIMES"}}"#), Some("rrule"), 422),
    ] {
        let r = api.call("POST", "/api/v1/events", &body);
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        let p = json(&r);
        if let Some(f) = field {
            assert_eq!(p["field"], f, "{body}: {p}");
        }
    }
    let big = format!(
        r#"{{{base},"description":"{}"}}"#,
        "x".repeat(5 * 1024 * 1024)
    );
    assert_eq!(api.call("POST", "/api/v1/events", &big).status, 413);
    let list = json(&api.call("GET", "/api/v1/events", ""));
    assert_eq!(list["events"].as_array().unwrap().len(), 0, "{list}");
    assert_eq!(api.sink.count(), 0);

    // An API event is a calendar object over CalDAV, and back.
    let ev = create(
        &api,
        &format!(r#"{{"summary":"Lunch",{base},"attendees":[{{"email":"{A}"}}]}}"#),
    );
    let id = ev["id"].as_str().unwrap();
    use base64ct::Encoding;
    let path = String::from_utf8(base64ct::Base64UrlUnpadded::decode_vec(id).unwrap()).unwrap();
    let name = path.strip_prefix("default/").unwrap();
    let text = api.stored(name);
    assert!(
        text.contains("SUMMARY:Lunch") && text.contains(&format!("mailto:{A}")),
        "{text}"
    );
    let other = api.put(
        "caldav.ics",
        &format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:cd1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260401T100000Z\r\nDTEND:20260401T110000Z\r\nSUMMARY:From CalDAV\r\nORGANIZER:mailto:shop@example.com\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:{B}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"),
    );
    let got = json(&api.call("GET", &format!("/api/v1/events/{other}"), ""));
    assert_eq!(got["summary"], "From CalDAV");
    assert_eq!(partstat(&got, B), "NEEDS-ACTION");

    // Pages stay stable while events are added between them.
    for i in 0..4 {
        create(
            &api,
            &format!(r#"{{"summary":"e{i}","uid":"m{i}",{base}}}"#),
        );
    }
    let p1 = json(&api.call("GET", "/api/v1/events?limit=3", ""));
    let cursor = p1["next_cursor"].as_str().unwrap().to_string();
    create(&api, &format!(r#"{{"summary":"early","uid":"a0",{base}}}"#));
    let p2 = json(&api.call(
        "GET",
        &format!("/api/v1/events?limit=10&cursor={cursor}"),
        "",
    ));
    let ids = |p: &serde_json::Value| -> Vec<String> {
        p["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (i1, i2) = (ids(&p1), ids(&p2));
    assert_eq!(i1.len(), 3);
    assert_eq!(
        i1.len() + i2.len(),
        6,
        "every event once, the one added before the cursor not repeated: {i1:?} {i2:?}"
    );
    assert!(i1.iter().all(|x| !i2.contains(x)));
    assert_eq!(
        api.call("GET", "/api/v1/events?status=lost", "").status,
        422
    );
    assert_eq!(
        api.call("GET", "/api/v1/events?cursor=%21%21", "").status,
        422
    );

    // PATCH needs the current ETag; a new time bumps SEQUENCE and tells the attendee.
    let before = api.sink.count();
    let url = format!("/api/v1/events/{id}");
    assert_eq!(
        api.call("PATCH", &url, r#"{"location":"Cafe"}"#).status,
        428
    );
    let auth = format!("Bearer {}", api.token);
    let patch = |etag: &str, body: &str| {
        api.s.request(
            "PATCH",
            &url,
            None,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/merge-patch+json"),
                ("If-Match", etag),
            ],
            body.as_bytes(),
        )
    };
    assert_eq!(patch("\"nope\"", r#"{"location":"Cafe"}"#).status, 412);
    let etag = api
        .call("GET", &url, "")
        .header("etag")
        .unwrap()
        .to_string();
    let r = patch(
        &etag,
        r#"{"start":"2026-03-12T14:00:00","end":"2026-03-12T15:00:00","description":null}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let got = json(&r);
    assert_eq!(got["sequence"], 1);
    assert_eq!(got["start"], "2026-03-12T14:00:00");
    let m = api.next(before, 1);
    assert_eq!(m[0].rcpt, A);

    // Another principal's token sees none of this.
    let (ok, _, _) = api.s.cli(
        &["organizer", "add", "other", "--email", "other@example.com"],
        "",
    );
    assert!(ok);
    let (_, out, _) = api.s.cli(&["token", "create", "--principal", "other"], "");
    let t2 = format!("Bearer {}", out.lines().last().unwrap().trim());
    let as_other = |m: &str, p: &str| {
        api.s.request(
            m,
            p,
            None,
            &[("Authorization", &t2), ("Content-Type", "application/json")],
            b"{}",
        )
    };
    assert_eq!(as_other("GET", &url).status, 404);
    assert_eq!(as_other("PATCH", &url).status, 404);
    assert_eq!(as_other("GET", &format!("{url}/history")).status, 404);
    assert_eq!(as_other("POST", &format!("{url}/cancel")).status, 404);
    let theirs = json(&as_other("GET", "/api/v1/events"));
    assert_eq!(theirs["events"].as_array().unwrap().len(), 0);
}
