//! Building outgoing iTIP messages (RFC 5546 section 3.2): the VCALENDAR with
//! METHOD, the VTIMEZONEs the components reference, DTSTAMP set to the time
//! the message was made, no VALARM (the sender's own alarms) and no
//! SCHEDULE-STATUS / SCHEDULE-AGENT / SCHEDULE-FORCE-SEND parameters
//! (RFC 6638 section 7.3: never in scheduling messages).
//!
//! REQUEST: the recipient's components, every ATTENDEE listed (only the
//! recipient above `GUEST_LIST_LIMIT` attendees); a master whose
//! overrides leave the recipient out gets EXDATEs for those instances (and,
//! for a RANGE=THISANDFUTURE override, an RRULE ending before it) so the
//! recipient sees only the instances they are invited to.
//! CANCEL: UID, SEQUENCE, ORGANIZER, the ATTENDEEs concerned, RECURRENCE-ID for
//! an instance, DTSTART/SUMMARY for display, STATUS:CANCELLED. RFC 5546
//! section 3.2.5: a removed attendee's CANCEL lists only them; the cancellation
//! of an event or instance lists all its attendees.
//! REPLY: only the replying ATTENDEE, plus ORGANIZER, UID, DTSTAMP, SEQUENCE,
//! RECURRENCE-ID, DTSTART (and the attendee's COMMENT, if any).

use super::object;
use super::{Comp, Prop};
use super::{ItipMessage, Method};
use crate::ical::{edit, model};

const PRODID: &str = "-//Herald//CalDAV Server//EN";
const SCHED_PARAMS: [&str; 3] = ["SCHEDULE-STATUS", "SCHEDULE-AGENT", "SCHEDULE-FORCE-SEND"];

/// The current time as a UTC DATE-TIME value.
pub(super) fn now_stamp() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()
}

fn strip_sched_params(p: &mut Prop) {
    for n in SCHED_PARAMS {
        p.remove_param(n);
    }
}

/// A component ready to leave: no alarms, no SCHEDULE-* parameters, fresh DTSTAMP.
fn outgoing(mut c: Comp, stamp: &str) -> Comp {
    c.comps.retain(|s| s.name != "VALARM");
    // Herald's own bookkeeping (the application mode) stays home.
    c.props.retain(|p| !p.name.starts_with("X-HERALD-"));
    for p in c.props.iter_mut() {
        if p.name == "ATTENDEE" || p.name == "ORGANIZER" {
            strip_sched_params(p);
        }
    }
    let had = c.prop("DTSTAMP").is_some();
    c.set("DTSTAMP", stamp);
    if !had {
        // Keep DTSTAMP next to UID for readability.
        if let Some(last) = c.props.pop() {
            let at = c
                .props
                .iter()
                .position(|p| p.name == "UID")
                .map_or(0, |i| i + 1);
            c.props.insert(at, last);
        }
    }
    c
}

/// Wrap components into a VCALENDAR with METHOD and the VTIMEZONEs they use
/// (looked up in `tz_sources` in order).
fn envelope(method: Method, comps: &[Comp], tz_sources: &[&Comp]) -> String {
    let mut cal = Comp::new("VCALENDAR");
    cal.props.push(Prop::new("VERSION", "2.0"));
    cal.props.push(Prop::new("PRODID", PRODID));
    cal.props.push(Prop::new("METHOD", method.as_str()));
    let mut tzids = Vec::new();
    for c in comps {
        model::referenced_tzids(c, &mut tzids);
    }
    for t in &tzids {
        let found = tz_sources.iter().find_map(|src| {
            src.comps
                .iter()
                .find(|z| z.name == "VTIMEZONE" && z.value("TZID") == Some(*t))
        });
        if let Some(z) = found {
            cal.comps.push(z.clone());
        }
    }
    cal.comps.extend(comps.iter().cloned());
    edit::to_string(&cal)
}

/// Assemble one message; None when there is nothing to send.
pub(super) fn build(
    method: Method,
    recipient: &str,
    sender: &str,
    comps: Vec<Comp>,
    tz_sources: &[&Comp],
) -> Option<ItipMessage> {
    let stamp = now_stamp();
    let comps: Vec<Comp> = comps.into_iter().map(|c| outgoing(c, &stamp)).collect();
    let first = comps
        .iter()
        .find(|c| c.prop("RECURRENCE-ID").is_none())
        .or(comps.first())?;
    Some(ItipMessage {
        method,
        recipient: recipient.to_string(),
        sender: sender.to_string(),
        uid: first.value("UID").unwrap_or_default().to_string(),
        sequence: object::sequence(first),
        ical: envelope(method, &comps, tz_sources),
    })
}

/// Above this many attendees in a component, a REQUEST lists only its
/// recipient (RFC 5546 section 3.2.2 lets the organizer send a subset of
/// the ATTENDEEs): guests of a large event do not learn each other's
/// addresses, and messages stay small instead of growing with the square
/// of the guest list.
pub const GUEST_LIST_LIMIT: usize = 50;

/// The components of a REQUEST for `recipient` from the organizer's object
/// (`view` of it; `roster` knows its components): only the recipient's
/// ATTENDEE above `GUEST_LIST_LIMIT`.
pub(super) fn request_comps(
    view: &object::View,
    recipient: &str,
    roster: &object::Roster,
) -> Vec<Comp> {
    let mut out = Vec::new();
    let cal = view
        .master
        .into_iter()
        .chain(view.overrides.iter().map(|(_, c)| *c));
    for c in cal {
        let Some(att) = roster.attendee(c, recipient) else {
            continue;
        };
        let mut c = roster.for_recipient(c, att);
        if c.prop("RECURRENCE-ID").is_none() {
            // Instances overridden without the recipient are not theirs.
            for (_, o) in &view.overrides {
                if roster.attendee(o, recipient).is_none()
                    && let Some(rid) = o.prop("RECURRENCE-ID")
                {
                    let mut ex = rid.renamed("EXDATE");
                    if ex.remove_param("RANGE") {
                        // THISANDFUTURE: the later instances are not theirs either.
                        super::future::end_before(&mut c, rid);
                    }
                    c.props.push(ex);
                }
            }
        }
        out.push(c);
    }
    out
}

/// One CANCEL component for `src` (the whole event when `rid` is None).
pub(super) fn cancel_comp(src: &Comp, rid: Option<&Prop>, seq: i64, attendees: &[Prop]) -> Comp {
    let mut c = Comp::new(&src.name);
    for name in ["UID", "ORGANIZER"] {
        if let Some(p) = src.prop(name) {
            c.props.push(p.clone());
        }
    }
    c.props.push(Prop::new("SEQUENCE", &seq.to_string()));
    match rid {
        Some(r) => {
            let r = r.renamed("RECURRENCE-ID");
            let mut start = r.renamed("DTSTART");
            start.remove_param("RANGE");
            c.props.push(start);
            c.props.push(r);
        }
        None => {
            if let Some(p) = src.prop("DTSTART") {
                c.props.push(p.clone());
            }
        }
    }
    if let Some(p) = src.prop("SUMMARY") {
        c.props.push(p.clone());
    }
    c.props.extend(attendees.iter().cloned());
    c.props.push(Prop::new("STATUS", "CANCELLED"));
    c
}

/// One REPLY component: `src` is the attendee's component, `att` their ATTENDEE.
pub(super) fn reply_comp(src: &Comp, att: &Prop, seq: i64) -> Comp {
    let mut c = Comp::new(&src.name);
    for name in ["UID", "ORGANIZER", "RECURRENCE-ID", "DTSTART"] {
        if let Some(p) = src.prop(name) {
            c.props.push(p.clone());
        }
    }
    c.props.push(Prop::new("SEQUENCE", &seq.to_string()));
    let mut a = att.clone();
    a.remove_param("RSVP");
    c.props.push(a);
    if let Some(p) = src.prop("COMMENT") {
        c.props.push(p.clone());
    }
    c
}
