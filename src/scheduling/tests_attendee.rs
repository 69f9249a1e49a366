//! Tests of the attendee side and of message application: attendee PUT and
//! its REPLY, apply_reply, deliver_request / deliver_cancel and
//! set_schedule_status, including a full organizer → attendee → organizer trip.

use super::tests::{ORG, base, me, put, recurring, unfold, with_override};
use super::*;

const A: &str = "mailto:a@example.com";

/// a's copy of the recurring event, as local delivery stores it.
fn a_copy() -> String {
    let out = put(None, &recurring());
    let m = out.messages.iter().find(|m| m.recipient == A).unwrap();
    unfold(&deliver_request(None, m).unwrap())
}

fn aput(old: &str, new: &str) -> Result<AttendeeOutcome, ItipError> {
    let out = attendee_put(old, new, &[A.to_string()])?;
    check_reply(&out.messages);
    Ok(AttendeeOutcome {
        stored: unfold(&out.stored),
        ..out
    })
}

fn check_reply(msgs: &[ItipMessage]) {
    for m in msgs {
        assert_eq!(
            (m.method, m.recipient.as_str(), m.sender.as_str()),
            (Method::Reply, ORG, A)
        );
        assert!(m.ical.contains("METHOD:REPLY\r\n"));
        for l in m.ical.split("\r\n") {
            assert!(l.len() <= 75);
        }
        let ical = unfold(&m.ical);
        assert!(!ical.contains("SCHEDULE-"));
        for v in ical.split("BEGIN:VEVENT").skip(1) {
            assert_eq!(
                v.matches("ATTENDEE").count(),
                1,
                "only the replying attendee"
            );
            assert!(v.contains("UID:u1") && v.contains("DTSTAMP:") && v.contains("SEQUENCE:"));
            assert!(v.contains("ORGANIZER"));
        }
    }
}

const ACCEPTED_A: &str = "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.com";

#[test]
fn delivered_copy() {
    let copy = a_copy();
    assert!(!copy.contains("METHOD"));
    assert!(copy.contains("RRULE:FREQ=DAILY;COUNT=5"));
    assert!(copy.contains(ACCEPTED_A), "{copy}");
}

#[test]
fn attendee_partstat_change_replies() {
    let copy = a_copy();
    let new = copy.replace(
        ACCEPTED_A,
        "ATTENDEE;PARTSTAT=DECLINED:mailto:a@example.com",
    );
    let out = aput(&copy, &new).unwrap();
    // Answering keeps the Schedule-Tag (RFC 6638 3.2.10) ...
    assert!(!out.schedule_tag_changes);
    // ... any other edit of the copy changes it.
    let alarm = "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT";
    assert!(
        aput(&copy, &new.replacen("END:VEVENT", alarm, 1))
            .unwrap()
            .schedule_tag_changes
    );
    assert_eq!(out.messages.len(), 1);
    // Storing the copy as it is changes nothing.
    assert!(!aput(&copy, &copy).unwrap().schedule_tag_changes);
    let r = unfold(&out.messages[0].ical);
    assert!(r.contains("PARTSTAT=DECLINED:mailto:a@example.com") && !r.contains("RECURRENCE-ID"));
    // Alarms, TRANSP and X- properties alone: no REPLY.
    let alarm =
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nDESCRIPTION:x\r\nEND:VALARM\r\n";
    let new = copy.replace(
        "END:VEVENT",
        &format!("TRANSP:TRANSPARENT\r\nX-MINE:1\r\n{alarm}END:VEVENT"),
    );
    let out = aput(&copy, &new).unwrap();
    assert!(out.messages.is_empty());
    assert!(out.stored.contains("BEGIN:VALARM"));
}

#[test]
fn attendee_may_not_change_organizer_data() {
    let copy = a_copy();
    let cases = [
        (copy.replace("SUMMARY:Meeting", "SUMMARY:Mine"), "SUMMARY"),
        (
            copy.replace("DTSTART:20240110T100000Z", "DTSTART:20240110T090000Z"),
            "DTSTART",
        ),
        (
            copy.replace("END:VEVENT", "ATTENDEE:mailto:z@example.com\r\nEND:VEVENT"),
            "ATTENDEE",
        ),
        (
            copy.replace("ORGANIZER;CN=Org:mailto:org", "ORGANIZER:mailto:zz"),
            "ORGANIZER",
        ),
    ];
    for (new, what) in cases {
        match aput(&copy, &new) {
            Err(ItipError::AttendeeChangeNotAllowed(w)) => assert_eq!(w, what),
            other => panic!("{what}: {other:?}"),
        }
    }
    let other = attendee_put(&copy, &copy, &["mailto:nobody@example.com".to_string()]);
    assert_eq!(other, Err(ItipError::NoSuchAttendee));
}

#[test]
fn attendee_accepts_one_instance() {
    let copy = a_copy().replace(
        ACCEPTED_A,
        "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:a@example.com",
    );
    // The client adds an override that only changes a's PARTSTAT (and misses DTEND).
    let ov = "BEGIN:VEVENT\r\nUID:u1\r\nRECURRENCE-ID:20240112T100000Z\r\nDTSTART:20240112T100000Z\r\n\
SUMMARY:Meeting\r\nORGANIZER;CN=Org:mailto:org@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.com\r\n\
END:VEVENT\r\n";
    let new = copy.replace("END:VCALENDAR", &format!("{ov}END:VCALENDAR"));
    let out = aput(&copy, &new).unwrap();
    assert_eq!(out.messages.len(), 1);
    let r = unfold(&out.messages[0].ical);
    assert!(r.contains("RECURRENCE-ID:20240112T100000Z") && r.contains("PARTSTAT=ACCEPTED"));
    assert_eq!(r.matches("BEGIN:VEVENT").count(), 1);
    // Stored override: the master's data for that instance.
    let stored_ov = out.stored.split("BEGIN:VEVENT").nth(2).unwrap();
    assert!(
        stored_ov.contains("DURATION:P0DT1H0M0S") && stored_ov.contains("mailto:b@example.com")
    );
    assert!(!stored_ov.contains("RRULE"));
    // An override that changes organizer data is refused.
    let bad = new.replace("SUMMARY:Meeting\r\nORGANIZER", "SUMMARY:Other\r\nORGANIZER");
    assert!(matches!(
        aput(&copy, &bad),
        Err(ItipError::AttendeeChangeNotAllowed(_))
    ));
    // An EXDATE added by the attendee declines that instance.
    let ex = copy.replace("RRULE:", "EXDATE:20240113T100000Z\r\nRRULE:");
    let out = aput(&copy, &ex).unwrap();
    let r = unfold(&out.messages[0].ical);
    assert!(r.contains("RECURRENCE-ID:20240113T100000Z") && r.contains("PARTSTAT=DECLINED"));
}

#[test]
fn attendee_schedule_agent_client_sends_nothing() {
    let copy = a_copy().replace(
        ACCEPTED_A,
        "ATTENDEE;PARTSTAT=ACCEPTED;SCHEDULE-AGENT=CLIENT:mailto:a@example.com",
    );
    let new = copy.replace(
        "PARTSTAT=ACCEPTED;SCHEDULE-AGENT",
        "PARTSTAT=DECLINED;SCHEDULE-AGENT",
    );
    assert!(aput(&copy, &new).unwrap().messages.is_empty());
}

fn reply(partstat: &str, extra: &str, seq: i64) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20240102T000000Z\r\n\
{extra}SEQUENCE:{seq}\r\nORGANIZER:mailto:org@example.com\r\nATTENDEE;PARTSTAT={partstat}:mailto:b@example.com\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

#[test]
fn apply_reply_cases() {
    let org = put(None, &recurring()).stored;
    const B: &str = "mailto:b@example.com";
    let out = unfold(&apply_reply(&org, &reply("ACCEPTED", "", 0), B, &me(), 10).unwrap());
    assert!(
        out.contains(
            "ATTENDEE;PARTSTAT=ACCEPTED;RSVP=TRUE;SCHEDULE-STATUS=2.0:mailto:b@example.com"
        ),
        "{out}"
    );
    assert!(out.contains("SEQUENCE:0\r\n") && !out.contains("SEQUENCE:1"));
    // An instance: the override is created from the master.
    let rid = "RECURRENCE-ID:20240111T100000Z\r\n";
    let out = unfold(&apply_reply(&org, &reply("DECLINED", rid, 0), B, &me(), 10).unwrap());
    assert_eq!(out.matches("BEGIN:VEVENT").count(), 2);
    let ov = out.split("BEGIN:VEVENT").nth(2).unwrap();
    assert!(
        ov.contains(rid)
            && ov.contains("PARTSTAT=DECLINED;RSVP=TRUE;SCHEDULE-STATUS=2.0:mailto:b@")
    );
    assert!(ov.contains("DTSTART:20240111T100000Z") && !ov.contains("RRULE"));
    // Refusals.
    let newer = org.replace("SEQUENCE:0", "SEQUENCE:3");
    assert_eq!(
        apply_reply(&newer, &reply("ACCEPTED", "", 2), B, &me(), 10),
        Err(ItipError::Stale)
    );
    let stranger = reply("ACCEPTED", "", 0).replace("mailto:b@", "mailto:z@");
    assert!(matches!(
        apply_reply(&org, &stranger, "mailto:z@example.com", &me(), 10),
        Err(ItipError::NoAuthority(_))
    ));
    // Only to the organizer's own copy: not to a copy someone else organizes.
    assert!(matches!(
        apply_reply(&org, &reply("ACCEPTED", "", 0), B, &[A.to_string()], 10),
        Err(ItipError::NoAuthority(_))
    ));
    let two = reply("ACCEPTED", "ATTENDEE:mailto:a@example.com\r\n", 0);
    assert_eq!(
        apply_reply(&org, &two, B, &me(), 10),
        Err(ItipError::ReplyAttendeeCount(2))
    );
    assert!(matches!(
        apply_reply(&org, &reply("ACCEPTED", "", 0), A, &me(), 10),
        Err(ItipError::NoAuthority(_))
    ));
    let wrong = reply("ACCEPTED", "", 0).replace("METHOD:REPLY", "METHOD:REQUEST");
    assert!(matches!(
        apply_reply(&org, &wrong, B, &me(), 10),
        Err(ItipError::WrongMethod(_))
    ));
    // Delegation: DELEGATED-TO kept and the delegate added.
    let deleg = reply("DELEGATED", "", 0).replace(
        "PARTSTAT=DELEGATED",
        "PARTSTAT=DELEGATED;DELEGATED-TO=\"mailto:e@example.com\"",
    );
    let out = unfold(&apply_reply(&org, &deleg, B, &me(), 10).unwrap());
    assert!(out.contains("DELEGATED-TO=\"mailto:e@example.com\""));
    assert!(out.contains("ATTENDEE;DELEGATED-FROM=\"mailto:b@example.com\";PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:e@example.com"), "{out}");
    // ... but not to more than max_delegates at once: the whole REPLY is refused.
    let many = reply("DELEGATED", "", 0).replace(
        "PARTSTAT=DELEGATED",
        "PARTSTAT=DELEGATED;DELEGATED-TO=\"mailto:e@x\",\"mailto:f@x\",\"mailto:g@x\"",
    );
    assert_eq!(most_delegates(&many), 3);
    assert_eq!(
        apply_reply(&org, &many, B, &me(), 2),
        Err(ItipError::TooManyDelegates(3, 2))
    );
    assert!(apply_reply(&org, &many, B, &me(), 3).is_ok());
}

#[test]
fn deliver_request_and_cancel() {
    let first = put(None, &base());
    let msg = first.messages.iter().find(|m| m.recipient == A).unwrap();
    let copy = unfold(&deliver_request(None, msg).unwrap());
    // a declines and sets an alarm; an insignificant re-send (same SEQUENCE) keeps both.
    let alarm =
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nDESCRIPTION:x\r\nEND:VALARM\r\n";
    let mine = copy
        .replace(
            ACCEPTED_A,
            "ATTENDEE;PARTSTAT=DECLINED:mailto:a@example.com",
        )
        .replace("END:VEVENT", &format!("{alarm}END:VEVENT"));
    let again = unfold(&deliver_request(Some(&mine), msg).unwrap());
    assert!(
        again.contains("PARTSTAT=DECLINED:mailto:a@example.com") && again.contains("BEGIN:VALARM")
    );
    // A reschedule (SEQUENCE 1): the organizer's PARTSTAT (reset) wins, alarm kept.
    let moved = first
        .stored
        .replace("DTSTART:20240110T100000Z", "DTSTART:20240110T090000Z");
    let upd = put(Some(&first.stored), &moved);
    let m2 = upd.messages.iter().find(|m| m.recipient == A).unwrap();
    let copy2 = unfold(&deliver_request(Some(&mine), m2).unwrap());
    assert!(
        copy2.contains("PARTSTAT=NEEDS-ACTION:mailto:a@example.com")
            && copy2.contains("BEGIN:VALARM")
    );
    assert!(copy2.contains("SEQUENCE:1") && !copy2.contains("METHOD"));
    // The old message is now stale.
    assert_eq!(deliver_request(Some(&copy2), msg), Err(ItipError::Stale));
    // CANCEL of the whole event.
    let del = organizer_delete(&upd.stored, &me());
    let c = del.iter().find(|m| m.recipient == A).unwrap();
    let cancelled = deliver_cancel(Some(&copy2), c).unwrap().unwrap();
    assert!(cancelled.contains("STATUS:CANCELLED") && cancelled.contains("SEQUENCE:2"));
    assert_eq!(deliver_cancel(None, c), Ok(None));
    assert!(matches!(
        deliver_request(None, c),
        Err(ItipError::WrongMethod(_))
    ));
    // CANCEL of one instance: an override is made, cancelled.
    let rec = put(None, &recurring());
    let copy = deliver_request(
        None,
        rec.messages.iter().find(|m| m.recipient == A).unwrap(),
    )
    .unwrap();
    let atts = "ATTENDEE:mailto:b@example.com\r\n";
    let upd = put(Some(&rec.stored), &with_override(&rec.stored, atts, ""));
    let c = upd
        .messages
        .iter()
        .find(|m| m.recipient == A && m.method == Method::Cancel)
        .unwrap();
    let out = unfold(&deliver_cancel(Some(&copy), c).unwrap().unwrap());
    let ov = out.split("BEGIN:VEVENT").nth(2).unwrap();
    assert!(ov.contains("RECURRENCE-ID:20240112T100000Z") && ov.contains("STATUS:CANCELLED"));
    assert!(
        !out.split("BEGIN:VEVENT")
            .nth(1)
            .unwrap()
            .contains("STATUS:CANCELLED")
    );
}

#[test]
fn schedule_status_and_round_trip() {
    let org = put(None, &base());
    let s = set_schedule_status(&org.stored, "MAILTO:A@example.com", "1.0").unwrap();
    assert!(unfold(&s).contains("PARTSTAT=ACCEPTED;SCHEDULE-STATUS=1.0:mailto:a@example.com"));
    assert_eq!(set_schedule_status(&s, A, "1.0"), None);
    assert_eq!(set_schedule_status(&s, "mailto:nobody@x", "1.0"), None);
    // organizer REQUEST → a's copy → a declines → REPLY applied to the organizer's copy.
    let msg = org.messages.iter().find(|m| m.recipient == A).unwrap();
    let copy = unfold(&deliver_request(None, msg).unwrap());
    let out = aput(
        &copy,
        &copy.replace(
            ACCEPTED_A,
            "ATTENDEE;PARTSTAT=TENTATIVE:mailto:a@example.com",
        ),
    )
    .unwrap();
    assert_eq!(out.messages.len(), 1);
    let applied = unfold(&apply_reply(&org.stored, &out.messages[0].ical, A, &me(), 10).unwrap());
    assert!(applied.contains("PARTSTAT=TENTATIVE;SCHEDULE-STATUS=2.0:mailto:a@example.com"));
    // A PARTSTAT-only change by the organizer's side sends nothing and keeps the tag.
    let again = put(Some(&org.stored), &applied);
    assert!(again.messages.is_empty() && !again.schedule_tag_changes);
}

#[test]
fn reply_for_an_instance_in_a_local_zone_matches_the_utc_override() {
    let organizer = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:z1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240304T130000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=5\r\nORGANIZER:mailto:o@herald.test\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:a@example.net\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:z1\r\nDTSTAMP:20240101T000000Z\r\nRECURRENCE-ID:20240306T130000Z\r\nDTSTART:20240306T150000Z\r\nDURATION:PT1H\r\nORGANIZER:mailto:o@herald.test\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:a@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let reply = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:z1\r\nDTSTAMP:20240102T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20240306T140000\r\nORGANIZER:mailto:o@herald.test\r\nATTENDEE;PARTSTAT=TENTATIVE:mailto:a@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let out = crate::scheduling::apply_reply(
        organizer,
        reply,
        "mailto:a@example.net",
        &["mailto:o@herald.test".into()],
        10,
    )
    .unwrap();
    // The existing override (13:00Z = 14:00 Berlin) got the answer; no second override appeared.
    assert_eq!(out.matches("RECURRENCE-ID").count(), 1, "{out}");
    let unfolded = out.replace("\r\n ", "");
    let override_part = unfolded.split("RECURRENCE-ID").nth(1).unwrap();
    assert!(override_part.contains("PARTSTAT=TENTATIVE"), "{out}");
}
