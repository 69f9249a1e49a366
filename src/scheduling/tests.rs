//! Tests of the organizer side: a table of (old, new) organizer PUTs with the
//! expected messages, recurring-event cases, DELETE, errors and the helpers.

use super::*;

pub(super) const ORG: &str = "mailto:org@example.com";

pub(super) fn crlf(s: &str) -> String {
    s.trim_start().replace('\n', "\r\n")
}

pub(super) fn base() -> String {
    crlf(
        "
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:u1
DTSTAMP:20240101T000000Z
DTSTART:20240110T100000Z
DTEND:20240110T110000Z
SUMMARY:Meeting
SEQUENCE:0
ORGANIZER;CN=Org:mailto:org@example.com
ATTENDEE;PARTSTAT=ACCEPTED:mailto:org@example.com
ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.com
ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:b@example.com
ATTENDEE;CN=C:MAILTO:C@Example.com
END:VEVENT
END:VCALENDAR
",
    )
}

pub(super) fn recurring() -> String {
    base().replace(
        "SUMMARY:Meeting\r\n",
        "SUMMARY:Meeting\r\nRRULE:FREQ=DAILY;COUNT=5\r\n",
    )
}

/// An override of 2024-01-12 with `extra` ATTENDEE lines (CRLF-terminated).
pub(super) fn with_override(cal: &str, extra: &str, status: &str) -> String {
    let ov = format!(
        "BEGIN:VEVENT\r\nUID:u1\r\nRECURRENCE-ID:20240112T100000Z\r\nDTSTAMP:20240101T000000Z\r\n\
DTSTART:20240112T100000Z\r\nDTEND:20240112T110000Z\r\nSUMMARY:Meeting\r\nSEQUENCE:0\r\n{status}\
ORGANIZER;CN=Org:mailto:org@example.com\r\n{extra}END:VEVENT\r\n"
    );
    cal.replace("END:VCALENDAR", &format!("{ov}END:VCALENDAR"))
}

pub(super) fn me() -> Vec<String> {
    vec![ORG.to_string()]
}

pub(super) fn local(_: &str) -> String {
    "1.2".to_string()
}

pub(super) fn unfold(s: &str) -> String {
    s.replace("\r\n ", "")
}

/// Organizer PUT; messages checked (`check_messages`), then everything unfolded.
pub(super) fn put(old: Option<&str>, new: &str) -> OrganizerOutcome {
    let mut out = organizer_put(old, new, &me(), &local).unwrap();
    check_messages(&out.messages);
    out.stored = unfold(&out.stored);
    for m in out.messages.iter_mut() {
        m.ical = unfold(&m.ical);
    }
    out
}

/// (method, recipient) pairs in order.
fn who(o: &[ItipMessage]) -> Vec<(Method, &str)> {
    o.iter().map(|m| (m.method, m.recipient.as_str())).collect()
}

/// Checks every outgoing message must pass.
pub(super) fn check_messages(o: &[ItipMessage]) {
    for m in o {
        assert!(
            m.ical
                .contains(&format!("\r\nMETHOD:{}\r\n", m.method.as_str())),
            "{}",
            m.ical
        );
        assert!(!m.ical.contains("SCHEDULE-STATUS"), "{}", m.ical);
        assert!(!m.ical.contains("SCHEDULE-AGENT"), "{}", m.ical);
        assert!(!m.ical.contains("SCHEDULE-FORCE-SEND"), "{}", m.ical);
        assert!(!m.ical.contains("BEGIN:VALARM"));
        assert!(m.ical.contains("DTSTAMP:"));
        assert_eq!(m.uid, "u1");
        assert_eq!(m.sender, ORG);
        for l in m.ical.split("\r\n") {
            assert!(l.len() <= 75);
        }
        assert!(m.ical.ends_with("END:VCALENDAR\r\n"));
    }
}

const A: &str = "mailto:a@example.com";
const B: &str = "mailto:b@example.com";
const C: &str = "mailto:c@example.com";
const D: &str = "mailto:d@example.com";
const D_LINE: &str = "ATTENDEE:mailto:d@example.com\r\n";

#[test]
fn organizer_put_table() {
    use Method::{Cancel, Request};
    let stored = put(None, &base()).stored;
    let stored_rec = put(None, &recurring()).stored;
    let dtstart = |s: &str| s.replace("DTSTART:20240110T100000Z", "DTSTART:20240110T120000Z");
    type Case<'a> = (&'a str, Option<String>, String, Vec<(Method, &'a str)>, i64);
    let cases: Vec<Case> = vec![
        ("new event", None, base(), vec![(Request, A), (Request, B), (Request, C)], 0),
        (
            "description only",
            Some(stored.clone()),
            stored.replace("SUMMARY:Meeting", "SUMMARY:Meeting\r\nDESCRIPTION:agenda"),
            vec![],
            0,
        ),
        ("dtstart", Some(stored.clone()), dtstart(&stored), vec![(Request, A), (Request, B), (Request, C)], 1),
        (
            "remove b",
            Some(stored.clone()),
            stored.replace("ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;SCHEDULE-STATUS=1.2:mailto:b@example.com\r\n", ""),
            vec![(Request, A), (Request, C), (Cancel, B)],
            1,
        ),
        (
            "add d",
            Some(stored.clone()),
            stored.replace("END:VEVENT", &format!("{D_LINE}END:VEVENT")),
            vec![(Request, A), (Request, B), (Request, C), (Request, D)],
            1,
        ),
        (
            "schedule-agent client",
            None,
            base().replace("RSVP=TRUE:mailto:b", "RSVP=TRUE;SCHEDULE-AGENT=CLIENT:mailto:b"),
            vec![(Request, A), (Request, C)],
            0,
        ),
        (
            "force send",
            Some(stored.clone()),
            stored.replace("RSVP=TRUE;", "RSVP=TRUE;SCHEDULE-FORCE-SEND=REQUEST;"),
            vec![(Request, B)],
            0,
        ),
        (
            "master cancelled",
            Some(stored.clone()),
            stored.replace("SUMMARY:Meeting", "SUMMARY:Meeting\r\nSTATUS:CANCELLED"),
            vec![(Cancel, A), (Cancel, B), (Cancel, C)],
            1,
        ),
        (
            "exdate",
            Some(stored_rec.clone()),
            stored_rec.replace("RRULE:", "EXDATE:20240112T100000Z\r\nRRULE:"),
            vec![(Cancel, A), (Cancel, B), (Cancel, C)],
            1,
        ),
    ];
    for (name, old, new, expected, seq) in cases {
        let out = put(old.as_deref(), &new);
        assert_eq!(who(&out.messages), expected, "{name}");
        check_messages(&out.messages);
        assert!(
            out.stored.contains(&format!("SEQUENCE:{seq}\r\n")),
            "{name}: {}",
            out.stored
        );
        assert!(!out.stored.contains("SCHEDULE-FORCE-SEND"), "{name}");
        for m in &out.messages {
            assert_eq!(m.sequence, seq, "{name}");
            assert!(m.ical.contains(&format!("SEQUENCE:{seq}\r\n")), "{name}");
        }
    }
}

#[test]
fn new_event_details() {
    let out = put(None, &base());
    assert!(out.schedule_tag_changes);
    assert!(
        out.stored
            .contains("ATTENDEE;PARTSTAT=ACCEPTED;SCHEDULE-STATUS=1.2:mailto:a@example.com")
    );
    assert!(
        out.stored
            .contains("ATTENDEE;PARTSTAT=ACCEPTED:mailto:org@example.com\r\n")
    );
    assert!(
        out.stored.contains("DTSTAMP:20240101T000000Z"),
        "DTSTAMP left alone"
    );
    let m = &out.messages[0];
    // Every attendee is listed in a REQUEST.
    for a in [
        "a@example.com",
        "b@example.com",
        "C@Example.com",
        "org@example.com",
    ] {
        assert!(m.ical.contains(a), "{a}");
    }
    assert!(
        !m.ical.contains("DTSTAMP:20240101T000000Z"),
        "fresh DTSTAMP"
    );
    // A client-set SCHEDULE-STATUS is not kept on an attendee the server did not message.
    let client = base().replace(
        "RSVP=TRUE:mailto:b",
        "RSVP=TRUE;SCHEDULE-AGENT=NONE:mailto:b",
    );
    let out = put(
        None,
        &client.replace(
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:org",
            "ATTENDEE;SCHEDULE-STATUS=5.1:mailto:org",
        ),
    );
    assert!(!out.stored.contains("SCHEDULE-STATUS=5.1"));
    assert!(
        out.stored
            .contains("SCHEDULE-AGENT=NONE:mailto:b@example.com")
    );
    assert!(!out.stored.contains("SCHEDULE-STATUS=1.2;SCHEDULE-AGENT"));
}

#[test]
fn update_details() {
    let stored = put(None, &base()).stored;
    // Same data, client dropped SCHEDULE-STATUS: restored, no tag change.
    let out = put(Some(&stored), &stored.replace(";SCHEDULE-STATUS=1.2", ""));
    assert!(out.messages.is_empty());
    assert!(!out.schedule_tag_changes);
    assert_eq!(out.stored, stored);
    // DESCRIPTION: stored, no message, but the Schedule-Tag changes.
    let out = put(
        Some(&stored),
        &stored.replace("SUMMARY:Meeting", "SUMMARY:Meeting\r\nDESCRIPTION:x"),
    );
    assert!(out.schedule_tag_changes && out.messages.is_empty());
    // Reschedule: PARTSTAT reset except the organizer's; the client's own bump is kept.
    let moved = stored.replace("DTEND:20240110T110000Z", "DTEND:20240110T113000Z");
    let out = put(Some(&stored), &moved.replace("SEQUENCE:0", "SEQUENCE:4"));
    assert!(out.stored.contains("SEQUENCE:4\r\n"));
    assert!(
        out.stored
            .contains("ATTENDEE;PARTSTAT=NEEDS-ACTION;SCHEDULE-STATUS=1.2:mailto:a@example.com")
    );
    assert!(
        out.stored
            .contains("ATTENDEE;PARTSTAT=ACCEPTED:mailto:org@example.com")
    );
    assert!(
        out.messages[0]
            .ical
            .contains("PARTSTAT=NEEDS-ACTION:mailto:a@example.com")
    );
    // SEQUENCE never decreases.
    let s2 = stored.replace("SEQUENCE:0", "SEQUENCE:2");
    let out = put(Some(&s2), &stored);
    assert!(out.stored.contains("SEQUENCE:2\r\n"));
    // The removed attendee's CANCEL lists only them.
    let removed = stored.replace(
        "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;SCHEDULE-STATUS=1.2:mailto:b@example.com\r\n",
        "",
    );
    let out = put(Some(&stored), &removed);
    let cancel = out
        .messages
        .iter()
        .find(|m| m.method == Method::Cancel)
        .unwrap();
    assert!(cancel.ical.contains("STATUS:CANCELLED") && !cancel.ical.contains("a@example.com"));
    assert!(!cancel.ical.contains("RECURRENCE-ID"));
    // SERVER -> CLIENT counts as a removal (RFC 6638 section 3.2.1.2).
    let client = stored.replace(
        "RSVP=TRUE;SCHEDULE-STATUS=1.2:",
        "RSVP=TRUE;SCHEDULE-AGENT=CLIENT:",
    );
    let out = put(Some(&client), &client);
    assert!(out.messages.is_empty());
    let out = put(Some(&stored), &client);
    assert_eq!(who(&out.messages), vec![(Method::Cancel, B)]);
}

#[test]
fn recurring_override_with_extra_attendee() {
    let rec = with_override(&recurring(), &format!("ATTENDEE:{A}\r\n{D_LINE}"), "");
    let out = put(None, &rec);
    check_messages(&out.messages);
    let d = out.messages.iter().find(|m| m.recipient == D).unwrap();
    assert!(d.ical.contains("RECURRENCE-ID:20240112T100000Z") && !d.ical.contains("RRULE"));
    assert_eq!(d.ical.matches("BEGIN:VEVENT").count(), 1);
    // b is in the master but not in the override: EXDATE for that instance.
    let b = out.messages.iter().find(|m| m.recipient == B).unwrap();
    assert!(b.ical.contains("EXDATE:20240112T100000Z") && !b.ical.contains("RECURRENCE-ID"));
    let a = out.messages.iter().find(|m| m.recipient == A).unwrap();
    assert_eq!(a.ical.matches("BEGIN:VEVENT").count(), 2);
    assert!(!a.ical.contains("EXDATE"));

    // Update: the override (with d) is added to an existing series.
    let stored = put(None, &recurring()).stored;
    let atts = format!("ATTENDEE:{A}\r\nATTENDEE:{B}\r\nATTENDEE:{C}\r\n{D_LINE}");
    let out = put(Some(&stored), &with_override(&stored, &atts, ""));
    check_messages(&out.messages);
    assert_eq!(out.messages.len(), 4);
    let d = out.messages.iter().find(|m| m.recipient == D).unwrap();
    assert_eq!(d.ical.matches("BEGIN:VEVENT").count(), 1);
    assert!(d.ical.contains("RECURRENCE-ID:20240112T100000Z\r\n"));
    assert_eq!(d.sequence, 1, "override bumped over the master's 0");
    // The master did not change: its SEQUENCE stays, the override's is 1.
    assert!(out.stored.contains("SEQUENCE:0\r\n") && out.stored.contains("SEQUENCE:1\r\n"));

    // The same override without d (only DESCRIPTION differs): not significant.
    let same = format!(
        "DESCRIPTION:x\r\nATTENDEE:{ORG}\r\nATTENDEE:{A}\r\nATTENDEE:{B}\r\nATTENDEE:{C}\r\n"
    );
    let out = put(Some(&stored), &with_override(&stored, &same, ""));
    assert!(out.messages.is_empty(), "{:?}", who(&out.messages));
}

#[test]
fn instance_cancellations() {
    let stored = put(None, &recurring()).stored;
    let atts = format!("ATTENDEE:{A}\r\nATTENDEE:{B}\r\nATTENDEE:{C}\r\n");
    let out = put(
        Some(&stored),
        &with_override(&stored, &atts, "STATUS:CANCELLED\r\n"),
    );
    assert_eq!(
        who(&out.messages),
        vec![
            (Method::Cancel, A),
            (Method::Cancel, B),
            (Method::Cancel, C)
        ]
    );
    check_messages(&out.messages);
    for m in &out.messages {
        assert!(m.ical.contains("RECURRENCE-ID:20240112T100000Z\r\n"));
        assert!(m.ical.contains("STATUS:CANCELLED"));
        assert_eq!(m.sequence, 1);
    }
    // Removing b from one instance only: CANCEL for that instance to b.
    let out = put(
        Some(&stored),
        &with_override(&stored, &format!("ATTENDEE:{A}\r\nATTENDEE:{C}\r\n"), ""),
    );
    let b: Vec<&ItipMessage> = out.messages.iter().filter(|m| m.recipient == B).collect();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].method, Method::Cancel);
    assert!(b[0].ical.contains("RECURRENCE-ID:20240112T100000Z"));
    // EXDATE cancels carry the instance; an unchanged EXDATE sends nothing again.
    let ex = stored.replace("RRULE:", "EXDATE:20240112T100000Z\r\nRRULE:");
    let out = put(Some(&stored), &ex);
    assert!(
        out.messages
            .iter()
            .all(|m| m.ical.contains("RECURRENCE-ID:20240112T100000Z"))
    );
    let out2 = put(Some(&out.stored), &out.stored);
    assert!(out2.messages.is_empty());
    // Removing the EXDATE again reinstates the instance: REQUEST to all.
    let back = put(
        Some(&out.stored),
        &out.stored.replace("EXDATE:20240112T100000Z\r\n", ""),
    );
    assert_eq!(back.messages.len(), 3);
    assert!(back.messages.iter().all(|m| m.method == Method::Request));
}

#[test]
fn master_cancelled_and_delete() {
    let stored = put(None, &base()).stored;
    let cancelled = put(
        Some(&stored),
        &stored.replace("SUMMARY:Meeting", "SUMMARY:Meeting\r\nSTATUS:CANCELLED"),
    );
    assert_eq!(cancelled.messages.len(), 3);
    for m in &cancelled.messages {
        assert_eq!(
            m.ical.matches("ATTENDEE").count(),
            4,
            "all attendees listed"
        );
    }
    // Saving the cancelled event again tells nobody anything.
    assert!(
        put(Some(&cancelled.stored), &cancelled.stored)
            .messages
            .is_empty()
    );
    // DELETE after cancellation: nothing; DELETE of a live event: CANCEL, SEQUENCE + 1.
    assert!(organizer_delete(&cancelled.stored, &me()).is_empty());
    let del = organizer_delete(&stored, &me());
    check_messages(&del);
    let del: Vec<ItipMessage> = del
        .into_iter()
        .map(|m| ItipMessage {
            ical: unfold(&m.ical),
            ..m
        })
        .collect();
    assert_eq!(
        who(&del),
        vec![
            (Method::Cancel, A),
            (Method::Cancel, B),
            (Method::Cancel, C)
        ]
    );
    check_messages(&del);
    assert!(del.iter().all(|m| m.sequence == 1));
    assert!(organizer_delete(&stored, &["mailto:x@example.com".into()]).is_empty());
    assert!(organizer_delete("garbage", &me()).is_empty());
    let client = stored.replace(
        "RSVP=TRUE;SCHEDULE-STATUS=1.2:",
        "RSVP=TRUE;SCHEDULE-AGENT=CLIENT:",
    );
    assert_eq!(organizer_delete(&client, &me()).len(), 2);
}

#[test]
fn organizer_errors() {
    let other = vec!["mailto:x@example.com".to_string()];
    assert_eq!(
        organizer_put(None, &base(), &other, &local),
        Err(ItipError::NotOrganizer)
    );
    let no_org = base().replace("ORGANIZER;CN=Org:mailto:org@example.com\r\n", "");
    assert_eq!(
        organizer_put(None, &no_org, &me(), &local),
        Err(ItipError::NotSchedulingObject)
    );
    assert_eq!(
        organizer_put(Some(&base()), &no_org, &me(), &local),
        Err(ItipError::OrganizerChanged)
    );
    let moved = base().replace("ORGANIZER;CN=Org:mailto:org", "ORGANIZER:mailto:x");
    let both = vec![ORG.to_string(), "mailto:x@example.com".to_string()];
    assert_eq!(
        organizer_put(Some(&base()), &moved, &both, &local),
        Err(ItipError::OrganizerChanged)
    );
    assert_eq!(
        organizer_put(
            Some(&base()),
            &base().replace("UID:u1", "UID:u2"),
            &me(),
            &local
        ),
        Err(ItipError::UidMismatch)
    );
    for bad in [
        "garbage",
        "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n",
    ] {
        assert!(matches!(
            organizer_put(None, bad, &me(), &local),
            Err(ItipError::InvalidObject(_))
        ));
    }
    let two_masters = base().replace(
        "END:VCALENDAR",
        "BEGIN:VEVENT\r\nUID:u1\r\nEND:VEVENT\r\nEND:VCALENDAR",
    );
    assert!(matches!(
        organizer_put(None, &two_masters, &me(), &local),
        Err(ItipError::InvalidObject(_))
    ));
    assert!(
        ItipError::AttendeeChangeNotAllowed("SUMMARY".into())
            .to_string()
            .contains("SUMMARY")
    );
}

#[test]
fn timezones_travel_with_messages() {
    let tz = "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";
    let cal = base()
        .replace("BEGIN:VEVENT", &format!("{tz}BEGIN:VEVENT"))
        .replace(
            "DTSTART:20240110T100000Z",
            "DTSTART;TZID=Europe/Paris:20240110T100000",
        )
        .replace(
            "DTEND:20240110T110000Z",
            "DTEND;TZID=Europe/Paris:20240110T110000",
        );
    let out = put(None, &cal);
    assert!(out.messages[0].ical.contains("TZID:Europe/Paris"));
    assert!(!put(None, &base()).messages[0].ical.contains("VTIMEZONE"));
    let long = base().replace("SUMMARY:Meeting", &format!("SUMMARY:{}", "é".repeat(80)));
    let out = organizer_put(None, &long, &me(), &local).unwrap();
    check_messages(&out.messages);
    assert!(out.stored.contains("\r\n "), "stored lines are folded too");
}

#[test]
fn helpers() {
    assert_eq!(
        normalize_address(" MAILTO:Bob@Example.COM "),
        "mailto:bob@example.com"
    );
    assert_eq!(normalize_address("urn:uuid:ABC"), "urn:uuid:abc");
    assert_eq!(
        Method::parse("declinecounter"),
        Some(Method::DeclineCounter)
    );
    assert_eq!(Method::parse("nope"), None);
    for m in [
        Method::Request,
        Method::Cancel,
        Method::Reply,
        Method::Add,
        Method::Publish,
    ] {
        assert_eq!(Method::parse(m.as_str()), Some(m));
    }
    assert_eq!(organizer_of(&base()).as_deref(), Some(ORG));
    assert_eq!(organizer_of("garbage"), None);
    assert_eq!(attendees_of(&base()), vec![ORG, A, B, C]);
    assert!(attendees_of("x").is_empty());
}

#[test]
fn odd_inputs_do_not_panic() {
    let odd = [
        "",
        "\u{feff}",
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u1\r\nSEQUENCE:-99999999999999999999\r\nDTSTART:2024\r\nDURATION:P99999999999999999W\r\nRECURRENCE-ID;RANGE=THISANDFUTURE:é\r\nORGANIZER:mailto:org@example.com\r\nATTENDEE;X=\"a:b\":mailto:\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTART:20240101T000000Z\r\nDTEND:99991231\r\nRRULE:FREQ=DAILY\r\nEXDATE:,,\r\nORGANIZER:MAILTO:ORG@example.com\r\nATTENDEE:mailto:a@x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        "BEGIN:VCALENDAR\r\nX;Y=\"unterminated:v\r\nEND:VCALENDAR\r\n",
    ];
    let msg = ItipMessage {
        method: Method::Cancel,
        recipient: "mailto:a@x".into(),
        sender: ORG.into(),
        uid: "u1".into(),
        sequence: 0,
        ical: String::new(),
    };
    for x in odd {
        for y in odd {
            let _ = organizer_put(Some(x), y, &me(), &local);
            let _ = organizer_put(None, y, &me(), &local);
            let _ = organizer_delete(x, &me());
            let _ = attendee_put(x, y, &["mailto:a@x".into()]);
            let _ = apply_reply(x, y, "mailto:a@x", &me(), 10);
            let m = ItipMessage {
                ical: y.to_string(),
                ..msg.clone()
            };
            let _ = deliver_cancel(Some(x), &m);
            let _ = deliver_request(
                Some(x),
                &ItipMessage {
                    method: Method::Request,
                    ..m
                },
            );
            let _ = set_schedule_status(x, "mailto:a@x", "2.0");
            let _ = (organizer_of(x), attendees_of(x), normalize_address(x));
        }
    }
}
