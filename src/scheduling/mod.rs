//! iTIP organizer role in the server (RFC 6638 CalDAV scheduling, RFC 5546
//! iTIP): pure functions, no I/O. Given the old and new calendar object and
//! who acted, they produce the object to store and the iTIP messages to send.
//! This file owns the public API types (methods, errors, messages, outcomes)
//! and the address helpers; the work is done in the sub-modules:
//! `organizer` (organizer PUT/DELETE), `attendee` (attendee PUT), `apply`
//! (delivering REQUEST/CANCEL to a local attendee, applying a REPLY,
//! SCHEDULE-STATUS updates), `authority` (who may change a stored object
//! with a message), `message` (building outgoing iTIP objects),
//! and `object` (reading scheduling objects). They edit owned trees of the
//! iCalendar model in `crate::ical` (`Comp`/`Prop` below, see `ical::edit`).
//!
//! Decisions (see the functions for details):
//! - Significant ("rescheduling") set, per component: DTSTART, DTEND, DURATION,
//!   DUE, RRULE, RDATE, EXDATE, LOCATION, SUMMARY, STATUS and the list of
//!   ATTENDEE addresses of the instance. A change there bumps SEQUENCE and
//!   sends a REQUEST to every attendee of that instance; anything else
//!   (DESCRIPTION, PARTSTAT, alarms, ...) is stored without messages.
//! - Adding or removing an attendee changes the attendee list, so the other
//!   attendees of that instance get a REQUEST (with the new list) too, and the
//!   removed one a CANCEL.
//! - A time change (DTSTART/DTEND/DURATION/DUE/RRULE/RDATE, or an EXDATE
//!   removed) resets the other attendees' PARTSTAT to NEEDS-ACTION (RFC 6638
//!   section 3.2.8).

mod apply;
mod attendee;
mod authority;
mod cancel;
mod counter;
mod future;
mod message;
mod object;
mod organizer;
mod roster;
#[cfg(test)]
mod tests;

#[cfg(test)]
mod address_tests {
    use super::*;

    #[test]
    fn address_is_matches_normalize() {
        for (raw, other) in [
            ("MAILTO:Bob@Example.COM", "mailto:bob@example.com"),
            (" mailto:bob@example.com ", "mailto:bob@example.com"),
            ("mailto:bob@example.com", "mailto:bob@example.org"),
            ("urn:uuid:ABC", "urn:uuid:abc"),
            ("mailto:bob@example.com", "urn:uuid:abc"),
            ("urn:uuid:abc", "mailto:urn:uuid:abc"),
            ("mailto:Jöe@example.com", "mailto:jöe@example.com"),
        ] {
            assert_eq!(
                address_is(raw, other),
                normalize_address(raw) == other,
                "{raw} {other}"
            );
        }
    }

    #[test]
    fn normalized_borrows_only_what_is_normalised_already() {
        for (raw, want, borrowed) in [
            ("mailto:bob@example.com", "mailto:bob@example.com", true),
            (" mailto:bob@example.com ", "mailto:bob@example.com", true),
            ("mailto: bob@example.com", "mailto:bob@example.com", false),
            ("MAILTO:bob@example.com", "mailto:bob@example.com", false),
            ("mailto:Bob@example.com", "mailto:bob@example.com", false),
            ("mailto:jöe@example.com", "mailto:jöe@example.com", false),
            ("mailto:JÖE@example.com", "mailto:jöe@example.com", false),
            ("urn:uuid:abc", "urn:uuid:abc", true),
            ("urn:uuid:ABC", "urn:uuid:abc", false),
            ("Mailto:x@y", "mailto:x@y", false),
        ] {
            let n = normalized(raw);
            assert_eq!(n, want, "{raw}");
            assert_eq!(
                matches!(n, std::borrow::Cow::Borrowed(_)),
                borrowed,
                "{raw}"
            );
        }
    }
}
#[cfg(test)]
mod tests_attendee;
#[cfg(test)]
mod tests_large;
#[cfg(test)]
mod tests_roster;
#[cfg(test)]
mod tests_write;

use crate::ical::edit;
use std::fmt;

/// An owned iCalendar component as the scheduling code edits it.
type Comp = crate::ical::model::Comp<'static>;
/// An owned iCalendar property.
type Prop = crate::ical::model::Prop<'static>;

pub use apply::{
    apply_reply, deliver_cancel, deliver_request, set_schedule_status, set_schedule_statuses,
};
pub use attendee::{attendee_delete, attendee_put};
pub use authority::{NO_AUTHORITY_STATUS, may_deliver};
pub use cancel::{CancelOutcome, Notify, cancel};
pub use counter::{
    counter_proposal, counter_proposer, counter_times, decline_counter, delegate_organizer,
};
pub use organizer::{organizer_delete, organizer_put};
pub use roster::{
    AttendeeChange, GuestList, NewAttendee, Role, RosterOutcome, add_attendees, check_name,
    mail_address, pending_request, remove_attendee, update_attendee,
};

/// RFC 5546 methods herald produces or consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Method {
    Request,
    Cancel,
    Reply,
    Add,
    Refresh,
    Counter,
    DeclineCounter,
    Publish,
}

const METHODS: [Method; 8] = [
    Method::Request,
    Method::Cancel,
    Method::Reply,
    Method::Add,
    Method::Refresh,
    Method::Counter,
    Method::DeclineCounter,
    Method::Publish,
];

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
            Method::Reply => "REPLY",
            Method::Add => "ADD",
            Method::Refresh => "REFRESH",
            Method::Counter => "COUNTER",
            Method::DeclineCounter => "DECLINECOUNTER",
            Method::Publish => "PUBLISH",
        }
    }

    /// Case-insensitive; surrounding white space ignored.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        METHODS
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }
}

/// Why a scheduling operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItipError {
    /// Not a usable calendar object (parse error, no VEVENT/VTODO, mixed UIDs...).
    InvalidObject(String),
    /// No ORGANIZER at all: not a scheduling object resource.
    NotSchedulingObject,
    /// The ORGANIZER is not one of the acting user's addresses.
    NotOrganizer,
    /// The ORGANIZER differs from the stored one, or between components
    /// (CALDAV:allowed-organizer-scheduling-object-change / same-organizer-in-all-components).
    OrganizerChanged,
    /// The UID differs from the stored object's.
    UidMismatch,
    /// An attendee changed organizer data (CALDAV:allowed-attendee-scheduling-object-change);
    /// the string names what.
    AttendeeChangeNotAllowed(String),
    /// The acting user (or the REPLY's ATTENDEE) is not an attendee of the event.
    NoSuchAttendee,
    /// A RECURRENCE-ID that does not name an instance that can be overridden.
    NoSuchInstance(String),
    /// A REPLY component must carry exactly one ATTENDEE; this one has that many.
    ReplyAttendeeCount(usize),
    /// The REPLY's ATTENDEE is not the sender (`from`), nor sent by it (SENT-BY).
    SenderMismatch,
    /// The message's SEQUENCE is lower than the stored one (RFC 5546 section 2.1.5).
    Stale,
    /// The message carries a METHOD this operation does not handle.
    WrongMethod(String),
    /// A REPLY delegates to more addresses (first) than allowed (second).
    TooManyDelegates(usize, usize),
    /// The sender may not change the stored object with this UID (see
    /// `authority`): SCHEDULE-STATUS 3.8; the string says why.
    NoAuthority(String),
}

impl fmt::Display for ItipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItipError::InvalidObject(m) => write!(f, "invalid scheduling object: {m}"),
            ItipError::NotSchedulingObject => f.write_str("the object has no ORGANIZER"),
            ItipError::NotOrganizer => {
                f.write_str("the ORGANIZER is not one of the calendar user's addresses")
            }
            ItipError::OrganizerChanged => {
                f.write_str("the ORGANIZER may not change and must be the same in all components")
            }
            ItipError::UidMismatch => f.write_str("the UID does not match the stored object"),
            ItipError::AttendeeChangeNotAllowed(what) => {
                write!(f, "an attendee may not change {what}")
            }
            ItipError::NoSuchAttendee => f.write_str("not an ATTENDEE of this event"),
            ItipError::NoSuchInstance(r) => write!(f, "no recurrence instance {r}"),
            ItipError::ReplyAttendeeCount(n) => {
                write!(
                    f,
                    "a REPLY must have exactly one ATTENDEE per component, not {n}"
                )
            }
            ItipError::SenderMismatch => f.write_str("the REPLY's ATTENDEE is not the sender"),
            ItipError::Stale => f.write_str("the message's SEQUENCE is older than the stored one"),
            ItipError::WrongMethod(m) => write!(f, "unexpected METHOD {m}"),
            ItipError::NoAuthority(why) => write!(f, "no authority (3.8): {why}"),
            ItipError::TooManyDelegates(n, max) => write!(
                f,
                "the REPLY delegates to {n} addresses; at most {max} are allowed"
            ),
        }
    }
}

impl std::error::Error for ItipError {}

/// Whether `raw` (an address as written) normalises to `normalized`,
/// without allocating in the usual ASCII case (events may list thousands
/// of attendees, compared pairwise).
pub fn address_is(raw: &str, normalized: &str) -> bool {
    let a = raw.trim();
    if !a.is_ascii() || !normalized.is_ascii() {
        return normalize_address(raw) == normalized;
    }
    let raw_mailto = a
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("mailto:"));
    match (raw_mailto, normalized.strip_prefix("mailto:")) {
        (true, Some(n)) => a[7..].trim().eq_ignore_ascii_case(n),
        (false, None) => a.eq_ignore_ascii_case(normalized),
        _ => false,
    }
}

/// Normalise a calendar user address for comparison: trim, "mailto:" prefix
/// (any case) kept as lower-case "mailto:", the rest lower-cased. Non-mailto
/// URIs returned lower-cased as they are.
pub fn normalize_address(addr: &str) -> String {
    normalized(addr).into_owned()
}

/// [`normalize_address`], borrowing `addr` when it is normalised already
/// (lower-case ASCII, `mailto:` as written by herald): no copy for the
/// addresses of a large guest list.
pub fn normalized(addr: &str) -> std::borrow::Cow<'_, str> {
    let a = addr.trim();
    let plain = |s: &str| s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase());
    let done = match a.strip_prefix("mailto:") {
        Some(rest) => rest.trim().len() == rest.len() && plain(rest),
        None => {
            !a.get(..7)
                .is_some_and(|p| p.eq_ignore_ascii_case("mailto:"))
                && plain(a)
        }
    };
    if done {
        return std::borrow::Cow::Borrowed(a);
    }
    std::borrow::Cow::Owned(match a.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("mailto:") => {
            format!("mailto:{}", a[7..].trim().to_lowercase())
        }
        _ => a.to_lowercase(),
    })
}

/// One iTIP message for ONE recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct ItipMessage {
    pub method: Method,
    /// Normalised address of the recipient ("mailto:bob@example.com").
    pub recipient: String,
    /// Normalised address of the sender (organizer for REQUEST/CANCEL, attendee for REPLY).
    pub sender: String,
    pub uid: String,
    /// SEQUENCE of the message's master (or first) component.
    pub sequence: i64,
    /// A complete VCALENDAR (CRLF) with METHOD; see `message` for what it holds.
    pub ical: String,
}

/// Result of a change by the organizer.
#[derive(Debug, Clone, PartialEq)]
pub struct OrganizerOutcome {
    /// The object to store.
    pub stored: String,
    pub messages: Vec<ItipMessage>,
    /// True when the Schedule-Tag must change (RFC 6638 section 3.2.10).
    pub schedule_tag_changes: bool,
}

/// Result of a change by an attendee to their copy.
#[derive(Debug, Clone, PartialEq)]
pub struct AttendeeOutcome {
    pub stored: String,
    /// REPLY to the organizer when the attendee's PARTSTAT changed.
    pub messages: Vec<ItipMessage>,
    /// True when the stored copy changed: an attendee's own change gives a
    /// new Schedule-Tag (RFC 6638 section 3.2.10 exempts only changes the
    /// server makes), so a client holding the tag from before gets 412.
    pub schedule_tag_changes: bool,
}

/// The organizer of an object, normalised, if any (ORGANIZER of the first
/// component that has one). None also when the text does not parse.
pub fn organizer_of(ical: &str) -> Option<String> {
    let top = edit::parse_owned(ical).ok()?;
    let cal = top.iter().find(|c| c.name == "VCALENDAR")?;
    object::organizer(cal)
}

/// The iTIP text with every ORGANIZER pointing at `address` (parameters
/// such as CN kept): how a REQUEST names a per-invitation reply address.
/// None when the text does not parse or has no ORGANIZER.
pub fn replace_organizer(ical: &str, address: &str) -> Option<String> {
    let mut top = edit::parse_owned(ical).ok()?;
    let cal = top.iter_mut().find(|c| c.name == "VCALENDAR")?;
    let mut found = false;
    for c in cal.comps.iter_mut() {
        for p in c.props.iter_mut().filter(|p| p.name == "ORGANIZER") {
            p.set_value(address);
            found = true;
        }
    }
    found.then(|| edit::to_string(cal))
}

/// Normalised addresses of all ATTENDEEs across all components (deduplicated,
/// in order of appearance). Empty when the text does not parse.
pub fn attendees_of(ical: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    if let Ok(top) = edit::parse_owned(ical) {
        for cal in top.iter().filter(|c| c.name == "VCALENDAR") {
            for c in object::sched_comps(cal) {
                for a in object::addresses(c) {
                    if seen.insert(a.clone()) {
                        out.push(a);
                    }
                }
            }
        }
    }
    out
}

/// The longest DELEGATED-TO list on any ATTENDEE of `ical` (0 when the
/// text does not parse): what `limits.max_delegates_per_reply` bounds.
pub fn most_delegates(ical: &str) -> usize {
    let Ok(top) = edit::parse_owned(ical) else {
        return 0;
    };
    top.iter()
        .flat_map(|cal| cal.comps.iter())
        .flat_map(|c| c.props_named("ATTENDEE"))
        .map(|p| p.param_values("DELEGATED-TO").len())
        .max()
        .unwrap_or(0)
}

/// The largest number of ATTENDEE lines in one component (VEVENT, VTODO,
/// ...) of an iCalendar text: one linear scan of the content lines, no
/// parse, for the CALDAV:max-attendees-per-instance check before any
/// scheduling work. Folded continuation lines never start a property.
pub fn most_attendees(ical: &str) -> usize {
    let (mut most, mut here) = (0usize, 0usize);
    // Counts of the enclosing components, resumed at their END.
    let mut outer: Vec<usize> = Vec::new();
    for line in ical.split('\n') {
        let b = line.as_bytes();
        let starts = |p: &[u8]| b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p);
        if starts(b"BEGIN:") {
            outer.push(here);
            here = 0;
        } else if starts(b"END:") {
            here = outer.pop().unwrap_or(0);
        } else if starts(b"ATTENDEE") && matches!(b.get(8), Some(b';' | b':')) {
            here += 1;
            most = most.max(here);
        }
    }
    most
}

#[cfg(test)]
mod most_attendees_tests {
    #[test]
    fn counts_per_component() {
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nATTENDEE:mailto:a@x\r\nattendee;CN=b:mailto:b@x\r\n ATTENDEE:folded\r\n\
ATTENDEES:x\r\nBEGIN:VALARM\r\nATTENDEE:mailto:c@x\r\nEND:VALARM\r\n\
ATTENDEE:mailto:d@x\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nATTENDEE:mailto:a@x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        // a, b and d of the first VEVENT (an alarm in between does not reset it).
        assert_eq!(super::most_attendees(text), 3);
        assert_eq!(super::most_attendees(""), 0);
    }
}
