//! Fixture tests (tests/fixtures/imip/, described in EXPECTED.md there) and
//! message-level tests of `analyze`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::*;

/// The key the thunderbird fixture's reply token was made with.
const FIXTURE_KEY: &[u8] = b"herald-fixture-key";

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/imip")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn policy() -> TrustPolicy {
    TrustPolicy {
        from_only: false,
        trusted_authserv_ids: vec!["mx.herald.test".into()],
        reply_token_local: Some("herald".into()),
        reply_token_domain: Some("herald.test".into()),
    }
}

fn run(name: &str) -> Verdict {
    analyze(&fixture(name), &[], &policy())
}

fn itip(name: &str) -> Inbound {
    match run(name) {
        Verdict::Itip(i) => i,
        other => panic!("{name}: expected an iTIP message, got {other:?}"),
    }
}

/// What every usable result must satisfy.
fn check_clean(name: &str, i: &Inbound) {
    assert!(i.from.starts_with("mailto:"), "{name}");
    assert!(!i.uid.is_empty(), "{name}");
    assert!(i.ical.ends_with("END:VCALENDAR\r\n"), "{name}");
    assert!(
        i.ical.split("\r\n").all(|l| !l.contains('\n')),
        "{name}: bare LF"
    );
    assert!(
        i.ical.split("\r\n").all(|l| l.len() <= 75),
        "{name}: unfolded line"
    );
    let top = crate::ical::model::parse(&i.ical).unwrap();
    assert_eq!(top.len(), 1, "{name}");
    // Normalisation is a fixed point: the result analysed again is unchanged.
    let again = format!(
        "From: {}\r\nMessage-ID: <x@y>\r\nContent-Type: text/calendar; method={}\r\n\r\n{}",
        i.from.trim_start_matches("mailto:"),
        i.method.as_str(),
        i.ical
    );
    match analyze(again.as_bytes(), &[], &TrustPolicy::default()) {
        Verdict::Itip(j) => assert_eq!(j.ical, i.ical, "{name}: not a fixed point"),
        other => panic!("{name}: re-analysis gave {other:?}"),
    }
}

/// Expected verdict of every fixture, by kind (details in the tests below).
#[test]
fn every_fixture_has_its_verdict() {
    use Verdict as V;
    type Check = fn(&Verdict) -> bool;
    let table: &[(&str, Check)] = &[
        (
            "gmail-accept.eml",
            |v| matches!(v, V::Itip(i) if i.method == Method::Reply),
        ),
        (
            "outlook-accept.eml",
            |v| matches!(v, V::Itip(i) if i.method == Method::Reply),
        ),
        (
            "apple-mail-accept.eml",
            |v| matches!(v, V::Itip(i) if i.method == Method::Reply),
        ),
        (
            "thunderbird-decline.eml",
            |v| matches!(v, V::Itip(i) if i.method == Method::Reply),
        ),
        (
            "tentative-instance.eml",
            |v| matches!(v, V::Itip(i) if i.method == Method::Reply),
        ),
        (
            "counter.eml",
            |v| matches!(v, V::Itip(i) if i.method == Method::Counter),
        ),
        (
            "refresh.eml",
            |v| matches!(v, V::Itip(i) if i.method == Method::Refresh),
        ),
        (
            "external-request.eml",
            |v| matches!(v, V::Itip(i) if i.method == Method::Request),
        ),
        (
            "forged-sender.eml",
            |v| matches!(v, V::Itip(i) if matches!(i.sender_auth, SenderAuth::Unverified(_))),
        ),
        ("two-attendees.eml", |v| {
            matches!(v, V::Refused(Refused::BadCalendar(_)))
        }),
        ("broken-base64.eml", |v| {
            matches!(v, V::Refused(Refused::Malformed(_)))
        }),
        ("deep-nesting.eml", |v| *v == V::Refused(Refused::TooDeep)),
        ("not-icalendar.eml", |v| {
            matches!(v, V::Ignored(Ignored::NotItip(_)))
        }),
        ("no-calendar.eml", |v| {
            *v == V::Ignored(Ignored::NoCalendarPart)
        }),
        ("unknown-method.eml", |v| {
            *v == V::Ignored(Ignored::UnsupportedMethod("PUBLISH".into()))
        }),
    ];
    for (name, ok) in table {
        let v = run(name);
        assert!(ok(&v), "{name}: unexpected verdict {v:?}");
        if let V::Itip(i) = &v {
            check_clean(name, i);
        }
    }
    // Every fixture in the folder is in the table.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/imip");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".eml") {
            assert!(
                table.iter().any(|(n, _)| *n == name),
                "{name} has no expected verdict"
            );
        }
    }
}

#[test]
fn gmail_accept_uses_from_not_sender() {
    let i = itip("gmail-accept.eml");
    assert_eq!(i.from, "mailto:alice@gmail.example");
    assert_eq!(i.message_id, "000000000000d1e2f3a4b5c6d7e8@google.com");
    assert_eq!(i.uid, "sync-20240305@herald.test");
    // dkim (d=google.com) and spf (bounces.google.com) are not aligned with
    // gmail.example: only DMARC vouches.
    assert_eq!(i.sender_auth, SenderAuth::Authenticated("dmarc".into()));
    assert!(i.ical.contains("PARTSTAT=ACCEPTED"));
    assert!(
        i.ical
            .replace("\r\n ", "")
            .contains("CN=Alice Example;X-NUM-GUESTS=0")
    );
    // Untrusted: the same message under a policy trusting nobody.
    let v = analyze(&fixture("gmail-accept.eml"), &[], &TrustPolicy::default());
    assert!(matches!(
        v,
        Verdict::Itip(Inbound {
            sender_auth: SenderAuth::Unverified(_),
            ..
        })
    ));
    let v = analyze(
        &fixture("gmail-accept.eml"),
        &[],
        &TrustPolicy {
            from_only: true,
            ..TrustPolicy::default()
        },
    );
    assert!(matches!(
        v,
        Verdict::Itip(Inbound {
            sender_auth: SenderAuth::FromOnly,
            ..
        })
    ));
}

#[test]
fn outlook_accept_without_dtstart_and_with_windows_zone() {
    let i = itip("outlook-accept.eml");
    assert_eq!(i.from, "mailto:bob@outlook.example");
    assert_eq!(i.uid, "budget-review-20240307@herald.test");
    assert_eq!(
        i.message_id,
        "AM0PR05MB1234567ABCDEF890123456789AB@AM0PR05MB1234.eurprd05.prod.outlook.example"
    );
    assert_eq!(i.sender_auth, SenderAuth::Authenticated("dmarc".into()));
    assert!(!i.ical.contains("ORGANIZER"));
    assert!(!i.ical.contains("DTSTART;") && !i.ical.contains("\r\nDTSTART:2"));
    assert!(
        i.ical
            .contains("COMMENT;LANGUAGE=en-US:Sounds good\\, see you there.\\n")
    );
    assert!(!i.ical.contains("TZID=W. Europe"));
    assert!(i.ical.contains("\r\nTZID:Europe/Berlin\r\n"));
    assert!(
        i.ical
            .contains("X-HERALD-ORIGINAL-TZID:W. Europe Standard Time\r\n")
    );
    assert!(i.ical.contains("DTEND;TZID=Europe/Berlin:20240307T150000"));
    // The quoted-printable soft line break was joined.
    let unfolded = i.ical.replace("\r\n ", "");
    assert!(unfolded.contains("content=\"Microsoft Exchange Server\"></head>"));
    assert_eq!(i.ical.matches("BEGIN:VTIMEZONE").count(), 1);
}

#[test]
fn apple_mail_lf_message() {
    let i = itip("apple-mail-accept.eml");
    assert_eq!(i.from, "mailto:carol@icloud.example");
    assert_eq!(i.uid, "design-review-20240306@herald.test");
    assert!(matches!(i.sender_auth, SenderAuth::Unverified(_)));
    assert!(
        i.ical
            .contains("DTSTART;TZID=Europe/Berlin:20240306T140000\r\n")
    );
    assert!(
        i.ical.replace("\r\n ", "").contains(
            "EMAIL=\"carol@icloud.example\";PARTSTAT=ACCEPTED:mailto:carol@icloud.example"
        )
    );
}

#[test]
fn thunderbird_decline_with_reply_token() {
    let i = itip("thunderbird-decline.eml");
    assert_eq!(i.from, "mailto:dave@thunderbird.example");
    assert_eq!(i.method, Method::Reply);
    assert!(i.ical.contains("\r\nMETHOD:REPLY\r\n"));
    let unfolded = i.ical.replace("\r\n ", "");
    assert!(
        unfolded.contains(
            "ATTENDEE;PARTSTAT=DECLINED;ROLE=REQ-PARTICIPANT;CUTYPE=INDIVIDUAL;RSVP=FALSE:mailto:dave@thunderbird.example"
        ),
        "{unfolded}"
    );
    let SenderAuth::Token(t) = &i.sender_auth else {
        panic!("expected a token, got {:?}", i.sender_auth);
    };
    assert!(verify_reply_token(
        FIXTURE_KEY,
        t,
        &i.uid,
        "mailto:dave@thunderbird.example"
    ));
    assert!(!verify_reply_token(
        FIXTURE_KEY,
        t,
        &i.uid,
        "mailto:bob@outlook.example"
    ));
    // Tokens off: nothing else vouches.
    let v = analyze(
        &fixture("thunderbird-decline.eml"),
        &[],
        &TrustPolicy {
            reply_token_local: None,
            ..policy()
        },
    );
    assert!(matches!(
        v,
        Verdict::Itip(Inbound {
            sender_auth: SenderAuth::Unverified(_),
            ..
        })
    ));
}

#[test]
fn tentative_instance_keeps_recurrence_id() {
    let i = itip("tentative-instance.eml");
    assert_eq!(i.uid, "standup-weekly@herald.test");
    assert!(
        i.ical
            .contains("\r\nRECURRENCE-ID;TZID=Europe/Berlin:20240312T100000\r\n")
    );
    assert!(i.ical.contains("COMMENT:Might be late – dentist."));
    assert!(matches!(i.sender_auth, SenderAuth::Unverified(_)));
}

#[test]
fn counter_refresh_and_external_request() {
    let c = itip("counter.eml");
    assert_eq!(c.from, "mailto:bob@outlook.example");
    assert_eq!(c.sender_auth, SenderAuth::Authenticated("dmarc".into()));
    assert!(
        c.ical
            .contains("DTSTART;TZID=America/New_York:20240307T100000")
    );
    assert!(
        c.ical
            .contains("X-HERALD-ORIGINAL-TZID:Eastern Standard Time")
    );

    let r = itip("refresh.eml");
    assert_eq!(r.uid, "sync-20240305@herald.test");
    assert_eq!(r.sender_auth, SenderAuth::Authenticated("dkim".into()));

    let q = itip("external-request.eml");
    assert_eq!(q.from, "mailto:frank@partner.example");
    assert_eq!(q.uid, "kickoff-8812@partner.example");
    // dkim failed; spf passed for a subdomain of the From domain (relaxed).
    assert_eq!(q.sender_auth, SenderAuth::Authenticated("spf".into()));
}

#[test]
fn forged_sender_is_unverified_even_under_from_only() {
    let i = itip("forged-sender.eml");
    assert_eq!(i.from, "mailto:alice@gmail.example");
    let SenderAuth::Unverified(reason) = &i.sender_auth else {
        panic!("{:?}", i.sender_auth);
    };
    assert!(reason.contains("DMARC failed"), "{reason}");
    let lax = TrustPolicy {
        from_only: true,
        ..policy()
    };
    let v = analyze(&fixture("forged-sender.eml"), &[], &lax);
    assert!(matches!(
        v,
        Verdict::Itip(Inbound {
            sender_auth: SenderAuth::Unverified(_),
            ..
        })
    ));
}

#[test]
fn hostile_fixture_details() {
    let Verdict::Refused(Refused::BadCalendar(m)) = run("two-attendees.eml") else {
        panic!()
    };
    assert!(m.contains("exactly one ATTENDEE"), "{m}");
    let Verdict::Ignored(Ignored::NotItip(m)) = run("not-icalendar.eml") else {
        panic!()
    };
    assert!(m.contains("not iCalendar"), "{m}");
}

#[test]
fn deep_nesting_is_refused_quickly_on_a_small_stack() {
    // 2000 levels (far past the fixture's 60) on a 256 KiB stack.
    let mut raw = String::from(
        "From: m@evil.example\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n",
    );
    for i in 1..2000 {
        raw.push_str(&format!(
            "--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n",
            i - 1
        ));
    }
    let h = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            (
                analyze(&fixture("deep-nesting.eml"), &[], &policy()),
                analyze(raw.as_bytes(), &[], &policy()),
            )
        })
        .unwrap();
    let (a, b) = h.join().unwrap();
    assert_eq!(a, Verdict::Refused(Refused::TooDeep));
    assert!(
        matches!(
            b,
            Verdict::Refused(Refused::TooDeep | Refused::Malformed(_))
        ),
        "{b:?}"
    );
}

#[test]
fn nested_rfc822_messages_bounded() {
    // message/rfc822 parts nest Message values inside mail-parser: the
    // Content-Type pre-scan refuses thousands of them before parsing.
    let mut raw = String::new();
    for _ in 0..5000 {
        raw.push_str("From: m@evil.example\r\nContent-Type: message/rfc822\r\n\r\n");
    }
    raw.push_str("From: m@evil.example\r\n\r\nhi\r\n");
    let h = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || analyze(raw.as_bytes(), &[], &policy()))
        .unwrap();
    assert!(matches!(
        h.join().unwrap(),
        Verdict::Refused(Refused::Malformed(_))
    ));
    // A few levels: walked, limits apply (30 > MAX_MIME_DEPTH).
    let mut raw = String::new();
    for _ in 0..30 {
        raw.push_str("From: m@evil.example\r\nContent-Type: message/rfc822\r\n\r\n");
    }
    raw.push_str("From: m@evil.example\r\n\r\nhi\r\n");
    assert_eq!(
        analyze(raw.as_bytes(), &[], &policy()),
        Verdict::Refused(Refused::TooDeep)
    );
}

#[test]
fn hundred_megabytes_refused_quickly() {
    let mut raw =
        b"From: alice@gmail.example\r\nContent-Type: text/calendar; method=REPLY\r\n\r\n".to_vec();
    raw.resize(100 * 1024 * 1024, b'A');
    let start = Instant::now();
    assert_eq!(
        analyze(&raw, &[], &policy()),
        Verdict::Refused(Refused::TooLarge)
    );
    assert!(start.elapsed() < Duration::from_millis(100));
    // Exactly at the limit is parsed (and has no calendar).
    let mut raw = b"From: alice@gmail.example\r\n\r\n".to_vec();
    raw.resize(MAX_MESSAGE_BYTES, b'A');
    assert_eq!(
        analyze(&raw, &[], &policy()),
        Verdict::Ignored(Ignored::NoCalendarPart)
    );
}

const REPLY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:u-1@herald.test\r\nDTSTAMP:20240301T000000Z\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@gmail.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

fn simple(headers: &str, ct: &str, body: &str) -> Vec<u8> {
    format!("{headers}MIME-Version: 1.0\r\nContent-Type: {ct}\r\n\r\n{body}").into_bytes()
}

#[test]
fn from_rules() {
    let v = analyze(
        &simple("To: o@herald.test\r\n", "text/calendar", REPLY),
        &[],
        &policy(),
    );
    assert_eq!(v, Verdict::Refused(Refused::NoFrom));
    let v = analyze(
        &simple("From: undisclosed-recipients:;\r\n", "text/calendar", REPLY),
        &[],
        &policy(),
    );
    assert_eq!(v, Verdict::Refused(Refused::NoFrom));
    let two = "From: alice@gmail.example\r\nFrom: mallory@evil.example\r\n";
    let v = analyze(&simple(two, "text/calendar", REPLY), &[], &policy());
    assert!(
        matches!(v, Verdict::Refused(Refused::Malformed(_))),
        "{v:?}"
    );
    // Several addresses: the first; display names, case and comments dropped.
    let h = "From: \"Alice (home)\" <Alice@GMAIL.example> (comment), bob@outlook.example\r\nSender: x@y.example\r\nResent-From: z@y.example\r\nReply-To: r@y.example\r\n";
    let Verdict::Itip(i) = analyze(&simple(h, "text/calendar", REPLY), &[], &policy()) else {
        panic!()
    };
    assert_eq!(i.from, "mailto:alice@gmail.example");
    // No From but no calendar either: ignored, not refused.
    let v = analyze(
        &simple("To: o@herald.test\r\n", "text/plain", "hello"),
        &[],
        &policy(),
    );
    assert_eq!(v, Verdict::Ignored(Ignored::NoCalendarPart));
}

#[test]
fn message_id_falls_back_to_hash() {
    let raw = simple("From: alice@gmail.example\r\n", "text/calendar", REPLY);
    let Verdict::Itip(i) = analyze(&raw, &[], &policy()) else {
        panic!()
    };
    let hex: String = ring::digest::digest(&ring::digest::SHA256, &raw)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(i.message_id, format!("sha256:{hex}"));
    assert_eq!(i.method, Method::Reply);
}

#[test]
fn lf_and_crlf_give_the_same_result() {
    let crlf = fixture("gmail-accept.eml");
    let lf: Vec<u8> = String::from_utf8(crlf.clone())
        .unwrap()
        .replace("\r\n", "\n")
        .into_bytes();
    assert_eq!(analyze(&crlf, &[], &policy()), analyze(&lf, &[], &policy()));
    let apple = fixture("apple-mail-accept.eml");
    assert!(
        !apple.windows(2).any(|w| w == b"\r\n"),
        "the Apple fixture is LF only"
    );
}

#[test]
fn calendar_part_kinds() {
    let from = "From: alice@gmail.example\r\n";
    // No method= anywhere but METHOD in the text, application/ics.
    let v = analyze(&simple(from, "application/ics", REPLY), &[], &policy());
    assert!(matches!(v, Verdict::Itip(_)), "{v:?}");
    // application/octet-stream named .ics.
    let v = analyze(
        &simple(from, "application/octet-stream; name=\"reply.ICS\"", REPLY),
        &[],
        &policy(),
    );
    assert!(matches!(v, Verdict::Itip(_)), "{v:?}");
    // Plain octet-stream: not a calendar part.
    let v = analyze(
        &simple(from, "application/octet-stream", REPLY),
        &[],
        &policy(),
    );
    assert_eq!(v, Verdict::Ignored(Ignored::NoCalendarPart));
    // Quoted method parameter in another case.
    let v = analyze(
        &simple(from, "Text/Calendar; METHOD=\"reply\"", REPLY),
        &[],
        &policy(),
    );
    assert!(
        matches!(
            v,
            Verdict::Itip(Inbound {
                method: Method::Reply,
                ..
            })
        ),
        "{v:?}"
    );
    // A calendar file without METHOD is not an iTIP message.
    let plain = REPLY.replace("METHOD:REPLY\r\n", "");
    let v = analyze(&simple(from, "text/calendar", &plain), &[], &policy());
    assert!(matches!(v, Verdict::Ignored(Ignored::NotItip(_))), "{v:?}");
    // Unparseable iCalendar and missing UID.
    let v = analyze(
        &simple(from, "text/calendar", "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\n"),
        &[],
        &policy(),
    );
    assert!(
        matches!(v, Verdict::Refused(Refused::BadCalendar(_))),
        "{v:?}"
    );
    let v = analyze(
        &simple(
            from,
            "text/calendar",
            &REPLY.replace("UID:u-1@herald.test\r\n", ""),
        ),
        &[],
        &policy(),
    );
    assert!(
        matches!(v, Verdict::Refused(Refused::BadCalendar(_))),
        "{v:?}"
    );
    // Oversized calendar part.
    let big = REPLY.replace(
        "END:VEVENT",
        &format!(
            "DESCRIPTION:{}\r\nEND:VEVENT",
            "x".repeat(MAX_CALENDAR_BYTES)
        ),
    );
    let v = analyze(&simple(from, "text/calendar", &big), &[], &policy());
    assert_eq!(v, Verdict::Refused(Refused::TooLarge));
}

#[test]
fn forwarded_invitations_are_not_used() {
    let body = format!(
        "--f\r\nContent-Type: text/plain\r\n\r\nFYI\r\n--f\r\nContent-Type: message/rfc822\r\n\r\nFrom: alice@gmail.example\r\nContent-Type: text/calendar; method=REPLY\r\n\r\n{REPLY}\r\n--f--\r\n"
    );
    let raw = simple(
        "From: bob@outlook.example\r\n",
        "multipart/mixed; boundary=f",
        &body,
    );
    assert_eq!(
        analyze(&raw, &[], &policy()),
        Verdict::Ignored(Ignored::NoCalendarPart)
    );
}

#[test]
fn too_many_parts() {
    let mut body = String::new();
    for _ in 0..(MAX_PARTS + 5) {
        body.push_str("--p\r\n\r\nx\r\n");
    }
    body.push_str("--p--\r\n");
    let raw = simple(
        "From: alice@gmail.example\r\n",
        "multipart/mixed; boundary=p",
        &body,
    );
    assert!(matches!(
        analyze(&raw, &[], &policy()),
        Verdict::Refused(Refused::Malformed(_))
    ));
}

#[test]
fn token_search_order_and_sources() {
    let key = b"k";
    let t_env = reply_token(key, "u-1@herald.test", "mailto:alice@gmail.example");
    let t_hdr = reply_token(key, "u-2@herald.test", "mailto:alice@gmail.example");
    let headers = format!(
        "From: alice@gmail.example\r\nDelivered-To: herald+{t_hdr}@herald.test\r\nTo: Olivia <organizer@herald.test>\r\n"
    );
    let raw = simple(&headers, "text/calendar", REPLY);
    let Verdict::Itip(i) = analyze(&raw, &[format!("<herald+{t_env}@herald.test>")], &policy())
    else {
        panic!()
    };
    assert_eq!(i.sender_auth, SenderAuth::Token(t_env));
    let Verdict::Itip(i) = analyze(&raw, &["organizer@herald.test".into()], &policy()) else {
        panic!()
    };
    assert_eq!(i.sender_auth, SenderAuth::Token(t_hdr.clone()));
    // In Cc, upper-cased by some client.
    let headers = format!(
        "From: alice@gmail.example\r\nCc: HERALD+{}@HERALD.TEST\r\n",
        t_hdr.to_ascii_uppercase()
    );
    let raw = simple(&headers, "text/calendar", REPLY);
    let Verdict::Itip(i) = analyze(&raw, &[], &policy()) else {
        panic!()
    };
    assert_eq!(i.sender_auth, SenderAuth::Token(t_hdr));
    // Reply-To and Sender are never searched.
    let headers =
        "From: alice@gmail.example\r\nReply-To: herald+abcdefghijklmnopqrstuvwxyz@herald.test\r\n";
    let Verdict::Itip(i) = analyze(&simple(headers, "text/calendar", REPLY), &[], &policy()) else {
        panic!()
    };
    assert!(matches!(i.sender_auth, SenderAuth::Unverified(_)));
}
