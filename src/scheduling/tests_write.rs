//! Tests of the issue 9 rules on write: an attendee rewriting its own
//! ATTENDEE line as Apple Calendar does, the decline an attendee's DELETE
//! sends, and the organizer declining one instance.

use super::tests::{ORG, base, put, recurring, unfold, with_override};
use super::*;

const A: &str = "mailto:a@example.com";
const B: &str = "mailto:b@example.com";

fn a_copy(cal: &str) -> String {
    let out = put(None, cal);
    let m = out.messages.iter().find(|m| m.recipient == A).unwrap();
    unfold(&deliver_request(None, m).unwrap())
}

#[test]
fn apple_rewrites_its_own_attendee_line() {
    let copy = a_copy(&base());
    let own = copy
        .lines()
        .find(|l| l.contains("mailto:a@example.com") && l.starts_with("ATTENDEE"))
        .unwrap()
        .to_string();
    // What Apple Calendar writes back when accepting.
    let apple = "ATTENDEE;CN=A Person;CUTYPE=INDIVIDUAL;EMAIL=a@example.com;PARTSTAT=DECLINED;\
X-CALENDARSERVER-DTSTAMP=20240105T120000Z;X-APPLE-HIDE=1:mailto:a@example.com";
    let new = copy.replace(&own, apple);
    let out = attendee_put(&copy, &new, &[A.to_string()]).unwrap();
    // Only the attendee's own line changed: the Schedule-Tag stays.
    assert!(!out.schedule_tag_changes);
    assert_eq!(out.messages.len(), 1);
    let reply = unfold(&out.messages[0].ical);
    let line = reply
        .lines()
        .find(|l| l.starts_with("ATTENDEE"))
        .unwrap()
        .to_string();
    // The answer travels; the client's own parameters stay home.
    assert!(line.contains("PARTSTAT=DECLINED"), "{line}");
    for junk in [
        "EMAIL=",
        "X-CALENDARSERVER",
        "X-APPLE",
        "CUTYPE",
        "CN=A Person",
    ] {
        assert!(!line.contains(junk), "{junk} in {line}");
    }
    // The attendee's copy keeps what they wrote.
    assert!(unfold(&out.stored).contains("X-APPLE-HIDE=1"));
    // Applied to the organizer's copy: PARTSTAT only.
    let org = put(None, &base()).stored;
    let applied = unfold(&apply_reply(&org, &out.messages[0].ical, A, &[ORG.into()], 10).unwrap());
    assert!(applied.contains("PARTSTAT=DECLINED;SCHEDULE-STATUS=2.0:mailto:a@example.com"));
    assert!(!applied.contains("X-CALENDARSERVER") && !applied.contains("EMAIL="));

    // Changes that touch other people are still refused.
    let other = copy.replace(
        "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:b",
        "PARTSTAT=NEEDS-ACTION:mailto:b",
    );
    let out = attendee_put(&copy, &other, &[A.to_string()]).unwrap();
    // Another attendee's parameters are put back as stored, not refused.
    assert!(unfold(&out.stored).contains("RSVP=TRUE:mailto:b@example.com"));
    let removed = copy.replace(&format!("{own}\r\n"), "");
    assert!(matches!(
        attendee_put(&copy, &removed, &[A.to_string()]),
        Err(ItipError::AttendeeChangeNotAllowed(_))
    ));
}

#[test]
fn attendee_delete_declines() {
    let copy = a_copy(&recurring());
    let msgs = attendee_delete(&copy, &[A.to_string()]);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(
        (m.method, m.recipient.as_str(), m.sender.as_str()),
        (Method::Reply, ORG, A)
    );
    let ical = unfold(&m.ical);
    assert!(ical.contains("METHOD:REPLY"));
    assert!(
        ical.contains("PARTSTAT=DECLINED:mailto:a@example.com"),
        "{ical}"
    );
    assert_eq!(ical.matches("ATTENDEE").count(), 1);
    // The organizer's copy takes it.
    let org = put(None, &recurring()).stored;
    let applied = unfold(&apply_reply(&org, &m.ical, A, &[ORG.into()], 10).unwrap());
    assert!(applied.contains("PARTSTAT=DECLINED;SCHEDULE-STATUS=2.0:mailto:a@example.com"));
    // Nothing for: a cancelled event, an already declined one, client
    // scheduling, someone who is not an attendee, the organizer.
    let cancelled = copy.replace("SUMMARY:Meeting", "SUMMARY:Meeting\r\nSTATUS:CANCELLED");
    assert!(attendee_delete(&cancelled, &[A.to_string()]).is_empty());
    let declined = copy.replace("PARTSTAT=ACCEPTED:mailto:a@", "PARTSTAT=DECLINED:mailto:a@");
    assert_ne!(declined, copy);
    assert!(attendee_delete(&declined, &[A.to_string()]).is_empty());
    let client = copy.replace(
        "ORGANIZER;CN=Org:",
        "ORGANIZER;CN=Org;SCHEDULE-AGENT=CLIENT:",
    );
    assert!(attendee_delete(&client, &[A.to_string()]).is_empty());
    assert!(attendee_delete(&copy, &["mailto:z@example.com".into()]).is_empty());
    assert!(attendee_delete(&copy, &[ORG.into()]).is_empty());
    assert!(attendee_delete("garbage", &[A.to_string()]).is_empty());
}

#[test]
fn organizer_declining_one_instance_updates_the_attendees() {
    let stored = put(None, &recurring()).stored;
    let atts = format!(
        "ATTENDEE;PARTSTAT=DECLINED:{ORG}\r\nATTENDEE:{A}\r\nATTENDEE:{B}\r\nATTENDEE;CN=C:MAILTO:C@Example.com\r\n"
    );
    let out = put(Some(&stored), &with_override(&stored, &atts, ""));
    let to_a = out.messages.iter().find(|m| m.recipient == A).unwrap();
    assert_eq!(to_a.method, Method::Request);
    assert!(to_a.ical.contains("RECURRENCE-ID:20240112T100000Z"));
    assert!(
        to_a.ical
            .contains("PARTSTAT=DECLINED:mailto:org@example.com")
    );
    assert_eq!(out.messages.len(), 3, "a, b and c");
    // Not a reschedule: SEQUENCE stays.
    assert!(!out.stored.contains("SEQUENCE:1"));
    // An EXDATE instead: a CANCEL of that instance.
    let ex = stored.replace(
        "RRULE:FREQ=DAILY;COUNT=5\r\n",
        "RRULE:FREQ=DAILY;COUNT=5\r\nEXDATE:20240112T100000Z\r\n",
    );
    let out = put(Some(&stored), &ex);
    let to_a = out.messages.iter().find(|m| m.recipient == A).unwrap();
    assert_eq!(to_a.method, Method::Cancel);
    assert!(to_a.ical.contains("RECURRENCE-ID:20240112T100000Z"));
}
