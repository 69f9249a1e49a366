//! The organizer changing the guest list of a stored scheduling object
//! without a client PUT (the REST API's attendee operations): adding
//! attendees, changing one attendee's CN or ROLE, removing one. Pure: the
//! stored text in, the text to store and the iTIP messages out.
//!
//! Decisions (RFC 5546):
//! - Adding attendees does NOT bump SEQUENCE, and only the new attendees get
//!   a REQUEST. Section 2.1.4 ties SEQUENCE to revisions the organizer
//!   deems significant, and section 2.1.5 orders messages by SEQUENCE and
//!   then DTSTAMP, so a REQUEST with the current SEQUENCE and a fresh
//!   DTSTAMP is the newest version for its recipient; section 3.2.2 lets
//!   the organizer send a REQUEST to a subset of the attendees. Bumping
//!   would only make the existing attendees' outstanding REPLYs stale
//!   (herald refuses a REPLY with an older SEQUENCE) and, with a REQUEST to
//!   everyone, cost one message per existing guest for each added one: an
//!   application adding 10,000 guests in chunks would mail the first ones
//!   dozens of times. This differs on purpose from a CalDAV PUT that
//!   changes the list (`organizer_put`), where the client decided.
//! - Removing an attendee removes their ATTENDEE line from the master and
//!   every override; they get a CANCEL (listing only them, RFC 5546
//!   section 3.2.5) with the current SEQUENCE, nobody else a message, and
//!   SEQUENCE stays (same reasoning as above).
//! - Changing an attendee's CN or ROLE sends nothing: neither is in the
//!   significant set (see the module doc of `scheduling`); the attendees
//!   see it with the next update.
//! - New ATTENDEE lines carry PARTSTAT=NEEDS-ACTION, RSVP=TRUE, ROLE, CN
//!   and the SCHEDULE-STATUS of the queued REQUEST, and go into the master
//!   and every override. The work is linear in the guest list: one parse,
//!   one `Roster` and one serialisation per call, and each REQUEST lists
//!   only its recipient above `GUEST_LIST_LIMIT` attendees.

use super::message::{self, cancel_comp, request_comps};
use super::object::{
    self, Roster, View, addresses, is_cancelled, sched_comps, sequence, server_scheduled,
};
use super::{Comp, Prop};
use super::{ItipError, ItipMessage, Method, address_is, normalize_address};
use crate::ical::edit;
use std::collections::HashSet;

/// RFC 5545 section 3.2.16 ROLE values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    Chair,
    #[default]
    Required,
    Optional,
    NonParticipant,
}

impl Role {
    /// The ROLE parameter value.
    pub fn as_param(self) -> &'static str {
        match self {
            Role::Chair => "CHAIR",
            Role::Required => "REQ-PARTICIPANT",
            Role::Optional => "OPT-PARTICIPANT",
            Role::NonParticipant => "NON-PARTICIPANT",
        }
    }

    /// From a ROLE parameter value (absent or unknown: REQ-PARTICIPANT, its default).
    pub fn from_param(v: Option<&str>) -> Role {
        match v.map(str::to_ascii_uppercase).as_deref() {
            Some("CHAIR") => Role::Chair,
            Some("OPT-PARTICIPANT") => Role::Optional,
            Some("NON-PARTICIPANT") => Role::NonParticipant,
            _ => Role::Required,
        }
    }
}

/// An attendee to add.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAttendee {
    /// The e-mail address (with or without `mailto:`); see [`mail_address`].
    pub email: String,
    /// Common name (CN).
    pub name: Option<String>,
    pub role: Role,
}

/// A change to one attendee: `None` leaves a field as it is; a name of
/// `Some(None)` removes the CN.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttendeeChange {
    pub name: Option<Option<String>>,
    pub role: Option<Role>,
}

/// Result of a guest-list operation.
#[derive(Debug, Clone, PartialEq)]
pub struct RosterOutcome {
    /// The object to store; None when nothing changed.
    pub stored: Option<String>,
    pub messages: Vec<ItipMessage>,
    /// Normalised addresses added (add only).
    pub added: Vec<String>,
    /// Normalised addresses not added: already on the event, the
    /// organizer's own, or repeated in the request (add only).
    pub skipped: Vec<String>,
}

impl RosterOutcome {
    fn unchanged() -> RosterOutcome {
        RosterOutcome {
            stored: None,
            messages: Vec::new(),
            added: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

/// Longest address accepted (RFC 5321 section 4.5.3.1: 254 octets in a path).
const MAX_ADDRESS: usize = 254;
/// Longest CN accepted.
pub const MAX_NAME: usize = 256;

/// An e-mail address as a normalised `mailto:` calendar user address, or
/// why it is not acceptable: ASCII, one `@`, a local part of at most 64
/// characters without spaces, quotes or the specials of RFC 5322, and a
/// domain of letters, digits and hyphens in dot-separated labels (at least
/// two, or `localhost`).
pub fn mail_address(email: &str) -> Result<String, String> {
    let e = email.trim();
    let e = match e.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("mailto:") => &e[7..],
        _ => e,
    };
    if e.is_empty() {
        return Err("an e-mail address is required".into());
    }
    if e.len() > MAX_ADDRESS {
        return Err(format!("longer than {MAX_ADDRESS} characters"));
    }
    if !e.is_ascii() {
        return Err("only ASCII e-mail addresses are supported".into());
    }
    let Some((local, domain)) = e.rsplit_once('@') else {
        return Err(format!("{e:?} is not an e-mail address (no @)"));
    };
    let bad_local = |b: u8| b <= b' ' || b == 0x7f || b"<>()[]\\,;:\"@".contains(&b);
    if local.is_empty() || local.len() > 64 || local.bytes().any(bad_local) {
        return Err(format!("{e:?} has an invalid local part"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(format!("{e:?} has an invalid local part"));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.iter().all(|l| label_ok(l))
        && (labels.len() >= 2 || domain.eq_ignore_ascii_case("localhost"));
    if !domain_ok {
        return Err(format!("{e:?} has an invalid domain"));
    }
    Ok(format!("mailto:{}", e.to_ascii_lowercase()))
}

/// Why a CN is not acceptable, if it is not: too long, or with control
/// characters or double quotes (a parameter value cannot hold them).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.chars().count() > MAX_NAME {
        return Err(format!("longer than {MAX_NAME} characters"));
    }
    if name.chars().any(|c| c.is_control() || c == '"') {
        return Err("control characters and double quotes are not allowed".into());
    }
    Ok(())
}

/// The parsed object and its ORGANIZER, checked to be one of `organizer`.
pub(super) fn organizers_object(
    stored: &str,
    organizer: &[String],
) -> Result<(Comp, String), ItipError> {
    let cal = object::parse_cal(stored)?;
    let org = object::organizer(&cal).ok_or(ItipError::NotSchedulingObject)?;
    if !organizer.iter().any(|m| normalize_address(m) == org) {
        return Err(ItipError::NotOrganizer);
    }
    Ok((cal, org))
}

fn is_self(a: &str, org: &str, organizer: &[String]) -> bool {
    a == org || organizer.iter().any(|m| normalize_address(m) == a)
}

/// The ATTENDEE line for a new attendee.
fn new_line(addr: &str, a: &NewAttendee, status: &str) -> Prop {
    let mut p = Prop::new("ATTENDEE", addr);
    if let Some(n) = a.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        p.set_param("CN", n);
    }
    p.set_param("ROLE", a.role.as_param());
    p.set_param("PARTSTAT", "NEEDS-ACTION");
    p.set_param("RSVP", "TRUE");
    p.set_param("SCHEDULE-STATUS", status);
    p
}

/// Insert `lines` after the last ATTENDEE of `c` (after ORGANIZER, or at
/// the end, when there is none), in one move of the following properties.
/// Insert `lines` after the last ATTENDEE (else after ORGANIZER); where
/// they went.
fn insert_attendees(c: &mut Comp, lines: &[Prop]) -> std::ops::Range<usize> {
    let at = c
        .props
        .iter()
        .rposition(|p| p.name == "ATTENDEE")
        .or_else(|| c.props.iter().position(|p| p.name == "ORGANIZER"))
        .map_or(c.props.len(), |i| i + 1);
    c.props.splice(at..at, lines.iter().cloned());
    at..at + lines.len()
}

/// Add attendees to the organizer's stored object (see the module doc).
/// Addresses already on the event (case-insensitively), the organizer's
/// own and repeats within `new` are skipped; the addresses must have passed
/// [`mail_address`] (an invalid one is refused as `InvalidObject`).
/// `status_for` gives the SCHEDULE-STATUS of a queued message to an address.
pub fn add_attendees(
    stored: &str,
    organizer: &[String],
    new: &[NewAttendee],
    status_for: &dyn Fn(&str) -> String,
) -> Result<RosterOutcome, ItipError> {
    GuestList::parse(stored, organizer)?.add(new, status_for)
}

/// An organizer's event parsed once for several [`add_attendees`] in a
/// row (a batcher adding guests to a busy event keeps it between
/// batches): each `add` changes the tree in place and renders it.
pub struct GuestList {
    cal: Comp,
    org: String,
    /// Addresses on the event, the organizer's among them.
    present: HashSet<String>,
}

impl GuestList {
    /// Parse `stored`, organized by one of `organizer`.
    pub fn parse(stored: &str, organizer: &[String]) -> Result<GuestList, ItipError> {
        let (cal, org) = organizers_object(stored, organizer)?;
        let mut present: HashSet<String> = sched_comps(&cal).flat_map(addresses).collect();
        present.insert(org.clone());
        present.extend(organizer.iter().map(|m| normalize_address(m)));
        Ok(GuestList { cal, org, present })
    }

    /// [`add_attendees`] on the parsed event. On an error nothing is
    /// changed; on success the tree is the stored object's.
    pub fn add(
        &mut self,
        new: &[NewAttendee],
        status_for: &dyn Fn(&str) -> String,
    ) -> Result<RosterOutcome, ItipError> {
        if View::new(&self.cal).master.is_some_and(is_cancelled) {
            return Err(ItipError::InvalidObject(
                "the event is cancelled; attendees cannot be added".into(),
            ));
        }
        let mut out = RosterOutcome::unchanged();
        let mut lines = Vec::new();
        let mut seen = HashSet::new();
        for a in new {
            let addr = mail_address(&a.email).map_err(ItipError::InvalidObject)?;
            if let Some(n) = &a.name {
                check_name(n).map_err(ItipError::InvalidObject)?;
            }
            if self.present.contains(&addr) || !seen.insert(addr.clone()) {
                out.skipped.push(addr);
                continue;
            }
            lines.push(new_line(&addr, a, &status_for(&addr)));
            out.added.push(addr);
        }
        if out.added.is_empty() {
            return Ok(out);
        }
        self.present.extend(out.added.iter().cloned());
        let cal = &mut self.cal;
        let stamp = message::now_stamp();
        let mut inserted = Vec::new();
        for c in cal.comps.iter_mut().filter(|c| object::is_sched(c)) {
            inserted.push(insert_attendees(c, &lines));
            // Set in place or added at the end: the range stays right.
            c.set("LAST-MODIFIED", &stamp);
        }
        {
            // Only the new guests get messages: index just their lines.
            let roster = Roster::knowing(&[&*cal], |i| inserted.get(i).cloned());
            let view = View::new(cal);
            // Only overrides, all cancelled: nothing to invite to.
            let live = sched_comps(cal).any(|c| !is_cancelled(roster.head(c)));
            for a in out.added.iter().filter(|_| live) {
                out.messages.extend(message::build(
                    Method::Request,
                    a,
                    &self.org,
                    request_comps(&view, a, &roster),
                    &[&*cal],
                ));
            }
        }
        out.stored = Some(edit::to_string(cal));
        Ok(out)
    }
}

/// Change one attendee's CN and/or ROLE on every component that lists
/// them; sends nothing. `ItipError::NoSuchAttendee` when they are not on
/// the event.
pub fn update_attendee(
    stored: &str,
    organizer: &[String],
    address: &str,
    change: &AttendeeChange,
) -> Result<RosterOutcome, ItipError> {
    let (mut cal, _) = organizers_object(stored, organizer)?;
    let addr = normalize_address(address);
    if let Some(Some(n)) = &change.name {
        check_name(n).map_err(ItipError::InvalidObject)?;
    }
    let (mut found, mut changed) = (false, false);
    let stamp = message::now_stamp();
    for c in cal.comps.iter_mut().filter(|c| object::is_sched(c)) {
        let mut here = false;
        for p in c.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
            if !address_is(&p.value, &addr) {
                continue;
            }
            found = true;
            let before = p.line.to_string();
            match &change.name {
                Some(Some(n)) if !n.trim().is_empty() => p.set_param("CN", n.trim()),
                Some(_) => {
                    p.remove_param("CN");
                }
                None => {}
            }
            if let Some(r) = change.role {
                p.set_param("ROLE", r.as_param());
            }
            here |= p.line != before;
        }
        if here {
            c.set("LAST-MODIFIED", &stamp);
            changed = true;
        }
    }
    if !found {
        return Err(ItipError::NoSuchAttendee);
    }
    let mut out = RosterOutcome::unchanged();
    if changed {
        out.stored = Some(edit::to_string(&cal));
    }
    Ok(out)
}

/// Remove one attendee from the master and every override, with a CANCEL
/// to them only: of the whole event when the master listed them, else of
/// each instance that did (none for an attendee scheduled by their client,
/// SCHEDULE-AGENT=CLIENT/NONE, for the organizer themselves or for what is
/// already cancelled). `ItipError::NoSuchAttendee` when they are not on it.
pub fn remove_attendee(
    stored: &str,
    organizer: &[String],
    address: &str,
) -> Result<RosterOutcome, ItipError> {
    let (mut cal, org) = organizers_object(stored, organizer)?;
    let addr = normalize_address(address);
    let mut out = RosterOutcome::unchanged();
    {
        let roster = Roster::new(&[&cal]);
        let view = View::new(&cal);
        if !sched_comps(&cal).any(|c| roster.attendee(c, &addr).is_some()) {
            return Err(ItipError::NoSuchAttendee);
        }
        let mut parts = Vec::new();
        match view
            .master
            .and_then(|m| roster.attendee(m, &addr).map(|p| (m, p)))
        {
            Some((m, p)) => {
                let head = roster.head(m);
                if server_scheduled(p) && !is_cancelled(head) {
                    parts.push(cancel_comp(
                        head,
                        None,
                        sequence(head),
                        std::slice::from_ref(p),
                    ));
                }
            }
            None => {
                for (_, o) in &view.overrides {
                    let head = roster.head(o);
                    let theirs = roster.attendee(o, &addr).filter(|p| server_scheduled(p));
                    if let Some(p) = theirs.filter(|_| !is_cancelled(head)) {
                        let rid = head.prop("RECURRENCE-ID");
                        parts.push(cancel_comp(
                            head,
                            rid,
                            sequence(head),
                            std::slice::from_ref(p),
                        ));
                    }
                }
            }
        }
        if !is_self(&addr, &org, organizer) {
            out.messages
                .extend(message::build(Method::Cancel, &addr, &org, parts, &[&cal]));
        }
    }
    let stamp = message::now_stamp();
    for c in cal.comps.iter_mut().filter(|c| object::is_sched(c)) {
        let before = c.props.len();
        c.props
            .retain(|p| p.name != "ATTENDEE" || !address_is(&p.value, &addr));
        if c.props.len() != before {
            c.set("LAST-MODIFIED", &stamp);
        }
    }
    out.stored = Some(edit::to_string(&cal));
    Ok(out)
}

/// The REQUEST an attendee who has not answered gets again as a reminder:
/// the event as it is now (same SEQUENCE: clients treat it as a resend).
/// None when they are not on the event, answered (PARTSTAT other than
/// NEEDS-ACTION on any component listing them), or the event is cancelled.
pub fn pending_request(
    stored: &str,
    organizer: &[String],
    attendee: &str,
) -> Result<Option<ItipMessage>, ItipError> {
    let (cal, org) = organizers_object(stored, organizer)?;
    let view = View::new(&cal);
    if view.master.is_some_and(is_cancelled) {
        return Ok(None);
    }
    let addr = normalize_address(attendee);
    let mut lines = sched_comps(&cal).filter_map(|c| object::attendee(c, &addr));
    let Some(first) = lines.next() else {
        return Ok(None);
    };
    let waiting = |p: &Prop| object::partstat(p).eq_ignore_ascii_case("NEEDS-ACTION");
    if !waiting(first) || !lines.all(waiting) {
        return Ok(None);
    }
    let roster = Roster::new(&[&cal]);
    if !sched_comps(&cal).any(|c| !is_cancelled(roster.head(c))) {
        return Ok(None);
    }
    let comps = request_comps(&view, &addr, &roster);
    Ok(message::build(Method::Request, &addr, &org, comps, &[&cal]))
}
