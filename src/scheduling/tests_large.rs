//! Large guest lists (issue 8, defect 6): the messages of an event with
//! many attendees grow linearly with the list, for invitations, updates
//! and cancellations alike (each lists only its recipient above
//! `GUEST_LIST_LIMIT`), and a `Roster` lookup agrees with a scan.

use super::message::GUEST_LIST_LIMIT;
use super::object::{self, Roster};
use super::tests::{ORG, me, put};
use super::*;

fn big(n: usize, summary: &str) -> String {
    let mut s = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240110T100000Z\r\nDTEND:20240110T110000Z\r\nSUMMARY:{summary}\r\nORGANIZER:{ORG}\r\n"
    );
    for i in 0..n {
        s.push_str(&format!("ATTENDEE;RSVP=TRUE:mailto:g{i}@example.org\r\n"));
    }
    s.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
    s
}

fn attendee_lines(m: &ItipMessage) -> usize {
    m.ical.matches("\r\nATTENDEE").count()
}

#[test]
fn every_message_of_a_large_event_lists_only_its_recipient() {
    let n = GUEST_LIST_LIMIT * 6;
    let first = put(None, &big(n, "a"));
    assert_eq!(first.messages.len(), n);
    assert!(first.messages.iter().all(|m| attendee_lines(m) == 1));
    let moved = put(Some(&first.stored), &big(n, "b"));
    assert_eq!(moved.messages.len(), n);
    assert!(moved.messages.iter().all(|m| attendee_lines(m) == 1));
    let removed = put(Some(&moved.stored), &big(n - 1, "b"));
    assert!(removed.messages.iter().all(|m| attendee_lines(m) == 1));
    let cancels = organizer_delete(&moved.stored, &me());
    assert_eq!(cancels.len(), n);
    for m in &cancels {
        assert_eq!(attendee_lines(m), 1, "{}", m.ical);
        assert!(m.ical.contains(&m.recipient[7..]));
    }
    // A small event still tells everyone who else is invited.
    let small = put(None, &big(3, "a"));
    assert!(small.messages.iter().all(|m| attendee_lines(m) == 3));
    let cancels = organizer_delete(&small.stored, &me());
    assert!(cancels.iter().all(|m| attendee_lines(m) == 3));
}

#[test]
fn roster_agrees_with_a_scan() {
    let text = big(GUEST_LIST_LIMIT + 5, "a").replace(
        "ATTENDEE;RSVP=TRUE:mailto:g3@",
        "ATTENDEE;SCHEDULE-AGENT=CLIENT:MAILTO:G3@",
    );
    let cal = object::parse_cal(&text).unwrap();
    let roster = Roster::new(&[&cal]);
    let c = object::sched_comps(&cal).next().unwrap();
    for a in [
        "mailto:g3@example.org",
        "mailto:g4@example.org",
        "mailto:nobody@x",
    ] {
        assert_eq!(
            roster.attendee(c, a).map(|p| &p.value),
            object::attendee(c, a).map(|p| &p.value)
        );
    }
    assert!(!roster.scheduled_in(c, "mailto:g3@example.org"));
    assert!(roster.scheduled_in(c, "mailto:g4@example.org"));
    let p = roster.attendee(c, "mailto:g4@example.org").unwrap();
    let one = roster.for_recipient(c, p);
    assert_eq!(one.props_named("ATTENDEE").count(), 1);
    assert_eq!(one.props.len(), c.props.len() - (GUEST_LIST_LIMIT + 5) + 1);
}

/// Not a check: the figures for docs/SECURITY.md. Run with
/// `cargo test --release --lib guest_list_timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn guest_list_timing() {
    for n in [2000, 8000] {
        let text = big(n, "a");
        let t = std::time::Instant::now();
        let first = organizer_put(None, &text, &me(), &|_| "1.0".to_string()).unwrap();
        let created = t.elapsed();
        let t = std::time::Instant::now();
        let cancels = organizer_delete(&first.stored, &me());
        let deleted = t.elapsed();
        let bytes: usize = cancels.iter().map(|m| m.ical.len()).sum();
        eprintln!("n={n}: organizer PUT {created:?}, DELETE {deleted:?}, CANCELs {bytes} bytes");
    }
}
