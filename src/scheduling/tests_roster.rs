//! Tests of the organizer's guest-list operations (`roster`) and of
//! cancellation (`cancel`): who gets which message, SEQUENCE, what is
//! stored, idempotency, large guest lists.

use super::message::GUEST_LIST_LIMIT;
use super::tests::{ORG, base, me, recurring, with_override};
use super::*;

fn status(_: &str) -> String {
    "1.0".to_string()
}

fn guest(email: &str, name: Option<&str>, role: Role) -> NewAttendee {
    NewAttendee {
        email: email.to_string(),
        name: name.map(str::to_string),
        role,
    }
}

fn unfolded(s: &str) -> String {
    s.replace("\r\n ", "")
}

fn line_of(text: &str, addr: &str) -> Vec<String> {
    unfolded(text)
        .lines()
        .filter(|l| l.starts_with("ATTENDEE") && l.to_lowercase().contains(addr))
        .map(str::to_string)
        .collect()
}

fn recipients(ms: &[ItipMessage]) -> Vec<&str> {
    let mut v: Vec<&str> = ms.iter().map(|m| m.recipient.as_str()).collect();
    v.sort();
    v
}

#[test]
fn mail_addresses_are_checked_and_normalised() {
    assert_eq!(
        mail_address(" Bob@Example.COM ").unwrap(),
        "mailto:bob@example.com"
    );
    assert_eq!(
        mail_address("MAILTO:a.b+c@x-y.example").unwrap(),
        "mailto:a.b+c@x-y.example"
    );
    assert_eq!(
        mail_address("root@localhost").unwrap(),
        "mailto:root@localhost"
    );
    for bad in [
        "",
        "bob",
        "bob@",
        "@example.com",
        "bob@example",
        "bob@-x.com",
        "bob@x..com",
        "b ob@example.com",
        "b\"ob@example.com",
        "bob@exa_mple.com",
        ".bob@example.com",
        "jöe@example.com",
        "a@b@example.com",
    ] {
        assert!(mail_address(bad).is_err(), "{bad:?}");
    }
    assert!(mail_address(&format!("{}@example.com", "a".repeat(65))).is_err());
    assert!(check_name("Ann Lee").is_ok());
    assert!(check_name("Ann \"Al\" Lee").is_err());
    assert!(check_name("Ann\nLee").is_err());
}

#[test]
fn adding_invites_only_the_new_attendees_without_a_new_sequence() {
    let new = [
        guest("d@example.com", Some("Dee, D"), Role::Optional),
        guest("A@EXAMPLE.com", None, Role::Required),
        guest("e@example.com", None, Role::NonParticipant),
        guest("D@example.com", None, Role::Chair),
        guest("org@example.com", None, Role::Required),
    ];
    let out = add_attendees(&base(), &me(), &new, &status).unwrap();
    assert_eq!(out.added, ["mailto:d@example.com", "mailto:e@example.com"]);
    assert_eq!(
        out.skipped,
        [
            "mailto:a@example.com",
            "mailto:d@example.com",
            "mailto:org@example.com"
        ]
    );
    assert_eq!(
        recipients(&out.messages),
        ["mailto:d@example.com", "mailto:e@example.com"]
    );
    let stored = unfolded(out.stored.as_deref().unwrap());
    assert!(stored.contains("SEQUENCE:0\r\n"), "{stored}");
    assert!(stored.contains("LAST-MODIFIED:"));
    let d = line_of(&stored, "d@example.com");
    assert_eq!(
        d,
        [
            "ATTENDEE;CN=\"Dee, D\";ROLE=OPT-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;SCHEDULE-STATUS=1.0:mailto:d@example.com"
        ]
    );
    // The existing lines are untouched, the new ones follow them.
    assert!(stored.contains("ATTENDEE;CN=C:MAILTO:C@Example.com\r\nATTENDEE;CN=\"Dee, D\""));
    for m in &out.messages {
        assert_eq!(m.method, Method::Request);
        assert_eq!(m.sequence, 0);
        // A small event: the invitation lists everyone, without SCHEDULE-STATUS.
        assert_eq!(m.ical.matches("\r\nATTENDEE").count(), 6, "{}", m.ical);
        assert!(!m.ical.contains("SCHEDULE-STATUS"));
    }
    // Again: nothing to do.
    let again = add_attendees(&stored, &me(), &new, &status).unwrap();
    assert!(again.stored.is_none() && again.messages.is_empty());
    assert_eq!(again.added.len(), 0);
}

#[test]
fn added_attendees_join_every_override() {
    let cal = with_override(
        &recurring(),
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.com\r\n",
        "",
    );
    let out = add_attendees(
        &cal,
        &me(),
        &[guest("d@example.com", None, Role::Required)],
        &status,
    )
    .unwrap();
    let stored = out.stored.unwrap();
    assert_eq!(line_of(&stored, "d@example.com").len(), 2);
    assert_eq!(out.messages.len(), 1);
    let ical = &out.messages[0].ical;
    assert_eq!(ical.matches("BEGIN:VEVENT").count(), 2, "{ical}");
    assert!(!ical.contains("EXDATE"));
}

#[test]
fn refusals() {
    let other = vec!["mailto:x@example.com".to_string()];
    let g = [guest("d@example.com", None, Role::Required)];
    assert_eq!(
        add_attendees(&base(), &other, &g, &status).unwrap_err(),
        ItipError::NotOrganizer
    );
    let bad = [guest("nope", None, Role::Required)];
    assert!(matches!(
        add_attendees(&base(), &me(), &bad, &status),
        Err(ItipError::InvalidObject(_))
    ));
    let plain = base().replace("ORGANIZER;CN=Org:mailto:org@example.com\r\n", "");
    assert_eq!(
        add_attendees(&plain, &me(), &g, &status).unwrap_err(),
        ItipError::NotSchedulingObject
    );
    assert_eq!(
        remove_attendee(&base(), &me(), "mailto:zz@example.com").unwrap_err(),
        ItipError::NoSuchAttendee
    );
    let cancelled = cancel(&base(), &me(), Notify::None, None, &status)
        .unwrap()
        .stored
        .unwrap();
    assert!(add_attendees(&cancelled, &me(), &g, &status).is_err());
}

#[test]
fn removing_cancels_for_that_attendee_only() {
    let out = remove_attendee(&base(), &me(), "mailto:c@example.com").unwrap();
    let stored = out.stored.unwrap();
    assert!(line_of(&stored, "c@example.com").is_empty());
    assert_eq!(line_of(&stored, "@example.com").len(), 3);
    assert!(stored.contains("SEQUENCE:0\r\n"));
    assert_eq!(recipients(&out.messages), ["mailto:c@example.com"]);
    let m = &out.messages[0];
    assert_eq!(m.method, Method::Cancel);
    assert_eq!(m.ical.matches("\r\nATTENDEE").count(), 1, "{}", m.ical);
    assert!(m.ical.contains("STATUS:CANCELLED") && !m.ical.contains("RECURRENCE-ID"));
    // The organizer removing themselves: no message.
    let out = remove_attendee(&base(), &me(), ORG).unwrap();
    assert!(out.messages.is_empty() && out.stored.is_some());
}

#[test]
fn removing_an_attendee_of_one_instance_cancels_that_instance() {
    let cal = with_override(
        &recurring(),
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@example.com\r\nATTENDEE:mailto:x@example.com\r\n",
        "",
    );
    let out = remove_attendee(&cal, &me(), "mailto:x@example.com").unwrap();
    assert_eq!(recipients(&out.messages), ["mailto:x@example.com"]);
    assert!(
        out.messages[0]
            .ical
            .contains("RECURRENCE-ID:20240112T100000Z")
    );
    assert!(line_of(&out.stored.unwrap(), "x@example.com").is_empty());
}

#[test]
fn updating_changes_the_line_and_sends_nothing() {
    let change = AttendeeChange {
        name: Some(Some("Bea".into())),
        role: Some(Role::Chair),
    };
    let out = update_attendee(&base(), &me(), "mailto:B@example.com", &change).unwrap();
    assert!(out.messages.is_empty());
    let stored = out.stored.unwrap();
    assert_eq!(
        line_of(&stored, "b@example.com"),
        ["ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Bea;ROLE=CHAIR:mailto:b@example.com"]
    );
    // The same change again changes nothing; removing the CN does.
    let again = update_attendee(&stored, &me(), "mailto:b@example.com", &change).unwrap();
    assert!(again.stored.is_none());
    let drop = AttendeeChange {
        name: Some(None),
        role: None,
    };
    let out = update_attendee(&stored, &me(), "mailto:b@example.com", &drop).unwrap();
    assert!(!out.stored.unwrap().contains("CN=Bea"));
    assert_eq!(
        update_attendee(&base(), &me(), "mailto:q@example.com", &drop).unwrap_err(),
        ItipError::NoSuchAttendee
    );
}

#[test]
fn cancel_notifies_the_selected_attendees_once() {
    // a ACCEPTED, b NEEDS-ACTION, c without PARTSTAT; d TENTATIVE, e DECLINED.
    let cal = base().replace(
        "ATTENDEE;CN=C:",
        "ATTENDEE;PARTSTAT=TENTATIVE:mailto:d@example.com\r\nATTENDEE;PARTSTAT=DECLINED:mailto:e@example.com\r\nATTENDEE;CN=C:",
    );
    let out = cancel(&cal, &me(), Notify::AcceptedOrTentative, None, &status).unwrap();
    assert_eq!(
        recipients(&out.messages),
        ["mailto:a@example.com", "mailto:d@example.com"]
    );
    for m in &out.messages {
        assert_eq!(m.method, Method::Cancel);
        assert_eq!(m.sequence, 1);
        assert!(m.ical.contains("STATUS:CANCELLED"));
    }
    let stored = out.stored.unwrap();
    assert!(stored.contains("STATUS:CANCELLED\r\n"));
    assert!(stored.contains("SEQUENCE:1\r\n"));
    assert!(stored.contains("LAST-MODIFIED:"));
    assert!(!stored.contains("DTSTAMP:20240101T000000Z"));
    assert!(line_of(&stored, "a@example.com")[0].contains("SCHEDULE-STATUS=1.0"));
    assert!(!line_of(&stored, "b@example.com")[0].contains("SCHEDULE-STATUS"));
    // A second cancel: nothing changes, nobody is told.
    let again = cancel(&stored, &me(), Notify::All, None, &status).unwrap();
    assert!(again.stored.is_none() && again.messages.is_empty());
    let all = cancel(&cal, &me(), Notify::All, None, &status).unwrap();
    assert_eq!(all.messages.len(), 5);
    let none = cancel(&cal, &me(), Notify::None, None, &status).unwrap();
    assert!(none.messages.is_empty() && none.stored.is_some());
}

#[test]
fn cancelling_one_instance_excludes_it_on_the_master() {
    let cal = recurring();
    let out = cancel(
        &cal,
        &me(),
        Notify::All,
        Some("2024-01-12T10:00:00Z"),
        &status,
    )
    .unwrap();
    let stored = out.stored.unwrap();
    assert!(stored.contains("EXDATE:20240112T100000Z\r\n"), "{stored}");
    assert!(stored.contains("SEQUENCE:1\r\n"));
    assert!(!stored.contains("STATUS:CANCELLED"));
    assert_eq!(out.messages.len(), 3);
    for m in &out.messages {
        assert!(
            m.ical.contains("RECURRENCE-ID:20240112T100000Z"),
            "{}",
            m.ical
        );
        assert!(m.ical.contains("SEQUENCE:1\r\n"));
        assert_eq!(m.sequence, 1);
    }
    // The same instance again: nothing.
    let again = cancel(
        &stored,
        &me(),
        Notify::All,
        Some("20240112T100000Z"),
        &status,
    )
    .unwrap();
    assert!(again.stored.is_none() && again.messages.is_empty());
    // Not an instance; not a recurring event.
    for rid in ["20240112T110000Z", "20250112T100000Z", "2024-01-12", "soon"] {
        assert!(
            matches!(
                cancel(&cal, &me(), Notify::All, Some(rid), &status),
                Err(ItipError::NoSuchInstance(_))
            ),
            "{rid}"
        );
    }
    assert!(
        cancel(
            &base(),
            &me(),
            Notify::All,
            Some("20240110T100000Z"),
            &status
        )
        .is_err()
    );
}

#[test]
fn cancelling_an_overridden_instance_drops_the_override() {
    // On the override, a has declined and x (only there) accepted.
    let cal = with_override(
        &recurring(),
        "ATTENDEE;PARTSTAT=DECLINED:mailto:a@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:x@example.com\r\n",
        "",
    )
    .replace(
        "RECURRENCE-ID:20240112T100000Z\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240112T100000Z\r\nDTEND:20240112T110000Z\r\nSUMMARY:Meeting\r\nSEQUENCE:0",
        "RECURRENCE-ID:20240112T100000Z\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240112T100000Z\r\nDTEND:20240112T110000Z\r\nSUMMARY:Meeting\r\nSEQUENCE:4",
    );
    let out = cancel(
        &cal,
        &me(),
        Notify::AcceptedOrTentative,
        Some("20240112T100000Z"),
        &status,
    )
    .unwrap();
    assert_eq!(recipients(&out.messages), ["mailto:x@example.com"]);
    assert_eq!(out.messages[0].sequence, 5);
    let stored = out.stored.unwrap();
    assert_eq!(stored.matches("BEGIN:VEVENT").count(), 1, "{stored}");
    assert!(stored.contains("EXDATE:20240112T100000Z\r\n"));
    assert!(stored.contains("SEQUENCE:5\r\n"));
}

#[test]
fn instance_ids_follow_the_master_time_zone() {
    let cal = recurring().replace(
        "DTSTART:20240110T100000Z\r\nDTEND:20240110T110000Z",
        "DTSTART;TZID=Europe/Paris:20240110T100000\r\nDTEND;TZID=Europe/Paris:20240110T110000",
    );
    let out = cancel(
        &cal,
        &me(),
        Notify::None,
        Some("2024-01-11T10:00:00"),
        &status,
    )
    .unwrap();
    let stored = out.stored.unwrap();
    assert!(
        stored.contains("EXDATE;TZID=Europe/Paris:20240111T100000\r\n"),
        "{stored}"
    );
    // The same instance named in UTC is already excluded.
    let again = cancel(
        &stored,
        &me(),
        Notify::All,
        Some("20240111T090000Z"),
        &status,
    )
    .unwrap();
    assert!(again.stored.is_none());
    let day = recurring().replace(
        "DTSTART:20240110T100000Z\r\nDTEND:20240110T110000Z",
        "DTSTART;VALUE=DATE:20240110\r\nDTEND;VALUE=DATE:20240111",
    );
    let out = cancel(&day, &me(), Notify::None, Some("2024-01-13"), &status).unwrap();
    assert!(
        out.stored
            .unwrap()
            .contains("EXDATE;VALUE=DATE:20240113\r\n")
    );
}

fn big(n: usize) -> String {
    let mut s = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240110T100000Z\r\nDTEND:20240110T110000Z\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:s\r\nORGANIZER:{ORG}\r\n"
    );
    for i in 0..n {
        s.push_str(&format!(
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:g{i}@example.org\r\n"
        ));
    }
    s.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
    s
}

#[test]
fn ten_thousand_attendees_each_get_one_small_message() {
    let n = 10_000;
    let new: Vec<NewAttendee> = (0..n)
        .map(|i| guest(&format!("n{i}@example.org"), Some("N"), Role::Required))
        .collect();
    let out = add_attendees(&big(3), &me(), &new, &status).unwrap();
    assert_eq!(out.added.len(), n);
    assert_eq!(out.messages.len(), n);
    assert!(
        out.messages
            .iter()
            .all(|m| m.ical.matches("\r\nATTENDEE").count() == 1)
    );
    let stored = out.stored.unwrap();
    let removed = remove_attendee(&stored, &me(), "mailto:n77@example.org").unwrap();
    assert_eq!(removed.messages.len(), 1);
    let one = cancel(
        &stored,
        &me(),
        Notify::All,
        Some("20240117T100000Z"),
        &status,
    )
    .unwrap();
    assert_eq!(one.messages.len(), n + 3);
    assert!(one.messages.iter().all(|m| m.ical.len() < 1000));
    let all = cancel(
        &big(GUEST_LIST_LIMIT * 40),
        &me(),
        Notify::AcceptedOrTentative,
        None,
        &status,
    )
    .unwrap();
    assert_eq!(all.messages.len(), GUEST_LIST_LIMIT * 40);
    assert!(all.messages.iter().all(|m| m.ical.len() < 1000));
}

#[test]
fn a_guest_list_kept_between_adds_matches_adding_to_the_stored_text() {
    let first = [guest("d@example.com", None, Role::Required)];
    let second = [
        guest("e@example.com", Some("Ee"), Role::Required),
        guest("D@example.com", None, Role::Required),
    ];
    let mut list = GuestList::parse(&base(), &me()).unwrap();
    let a = list.add(&first, &status).unwrap();
    let kept = list.add(&second, &status).unwrap();
    let again = add_attendees(a.stored.as_deref().unwrap(), &me(), &second, &status).unwrap();
    assert_eq!(kept.added, again.added);
    assert_eq!(kept.skipped, ["mailto:d@example.com"]);
    // Equal but for LAST-MODIFIED/DTSTAMP stamps taken a moment apart.
    let strip = |s: &str| {
        unfolded(s)
            .lines()
            .filter(|l| !l.starts_with("LAST-MODIFIED") && !l.starts_with("DTSTAMP"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(kept.stored.as_deref().unwrap()),
        strip(again.stored.as_deref().unwrap())
    );
    assert_eq!(recipients(&kept.messages), recipients(&again.messages));
    // A refused add changes nothing.
    assert!(
        list.add(&[guest("not an address", None, Role::Required)], &status)
            .is_err()
    );
    let none = list.add(&second, &status).unwrap();
    assert!(none.stored.is_none() && none.messages.is_empty());
}
