//! COUNTER and DECLINECOUNTER (RFC 5546 sections 3.2.7 and 3.2.8), and the
//! delegate-organizer shape of an event an application hands to one of its
//! participants (issue 10): pure functions over iCalendar text.
//!
//! Decisions:
//! - Accepting a COUNTER takes the proposed time (DTSTART and DTEND or
//!   DURATION) and LOCATION of the countered component into the
//!   organizer's copy; the result goes through `organizer_put`, which bumps
//!   SEQUENCE and sends everyone the new time (RFC 5546 section 3.2.7: the
//!   organizer accepts by sending a REQUEST). A COUNTER for an instance
//!   the object does not override changes that instance only if an
//!   override exists; otherwise the master.
//! - A DECLINECOUNTER carries UID, SEQUENCE, DTSTAMP, ORGANIZER, the
//!   proposer's ATTENDEE and the RECURRENCE-ID when the COUNTER had one
//!   (RFC 5546 section 3.2.8 table).

use super::message;
use super::object;
use super::{Comp, ItipError, ItipMessage, Method, Prop, normalize_address};
use crate::ical::edit;

/// Properties a COUNTER may move that herald takes when accepting it.
const PROPOSED: [&str; 4] = ["DTSTART", "DTEND", "DURATION", "LOCATION"];

/// The countered component of a COUNTER: its first VEVENT/VTODO.
fn countered(counter: &Comp) -> Result<&Comp, ItipError> {
    object::sched_comps(counter)
        .next()
        .ok_or_else(|| ItipError::InvalidObject("the COUNTER has no VEVENT".into()))
}

/// The organizer's copy with the COUNTER's proposal applied (SEQUENCE not
/// yet bumped: `organizer_put` does that when it sees the new time).
pub fn counter_proposal(organizer_copy: &str, counter: &str) -> Result<String, ItipError> {
    let mut cal = object::parse_cal(organizer_copy)?;
    let proposal = object::parse_cal(counter)?;
    let from = countered(&proposal)?;
    if object::uid(&proposal) != object::uid(&cal) {
        return Err(ItipError::UidMismatch);
    }
    if from.prop("DTSTART").is_none() {
        return Err(ItipError::InvalidObject(
            "the COUNTER proposes no DTSTART".into(),
        ));
    }
    let want = object::key(from);
    let target = cal
        .comps
        .iter_mut()
        .filter(|c| object::is_sched(c))
        .find(|c| object::key(c) == want)
        .or(None);
    let target = match target {
        Some(t) => t,
        None => cal
            .comps
            .iter_mut()
            .find(|c| object::is_sched(c) && c.prop("RECURRENCE-ID").is_none())
            .ok_or_else(|| ItipError::NoSuchInstance(want.clone().unwrap_or_default()))?,
    };
    for name in PROPOSED {
        if name == "LOCATION" && from.prop(name).is_none() {
            continue; // a proposal without LOCATION keeps the place
        }
        target.remove(name);
        if let Some(p) = from.prop(name) {
            target.props.push(p.clone());
        }
    }
    // VTIMEZONEs the proposal uses that the copy lacks.
    let have: Vec<String> = cal
        .comps
        .iter()
        .filter(|z| z.name == "VTIMEZONE")
        .filter_map(|z| z.value("TZID").map(str::to_string))
        .collect();
    let mut zones: Vec<Comp> = proposal
        .comps
        .iter()
        .filter(|z| z.name == "VTIMEZONE")
        .filter(|z| {
            z.value("TZID")
                .is_some_and(|t| !have.iter().any(|h| h == t))
        })
        .cloned()
        .collect();
    zones.append(&mut cal.comps);
    cal.comps = zones;
    Ok(edit::to_string(&cal))
}

/// The proposer (normalised) of a COUNTER: its one ATTENDEE.
pub fn counter_proposer(counter: &str) -> Option<String> {
    let cal = object::parse_cal(counter).ok()?;
    let c = countered(&cal).ok()?;
    let mut atts = c.props_named("ATTENDEE");
    let first = atts.next()?;
    atts.next()
        .is_none()
        .then(|| normalize_address(&first.value))
}

/// The proposed DTSTART and DTEND/DURATION values of a COUNTER, as written.
pub fn counter_times(counter: &str) -> (Option<String>, Option<String>) {
    let Ok(cal) = object::parse_cal(counter) else {
        return (None, None);
    };
    let Ok(c) = countered(&cal) else {
        return (None, None);
    };
    let line = |n: &str| c.prop(n).map(|p| p.line.trim().to_string());
    (line("DTSTART"), line("DTEND").or_else(|| line("DURATION")))
}

/// The DECLINECOUNTER from `organizer` for a COUNTER on `organizer_copy`.
pub fn decline_counter(
    organizer_copy: &str,
    counter: &str,
    organizer: &str,
) -> Result<ItipMessage, ItipError> {
    let cal = object::parse_cal(organizer_copy)?;
    let proposal = object::parse_cal(counter)?;
    let from = countered(&proposal)?;
    let proposer = counter_proposer(counter).ok_or(ItipError::ReplyAttendeeCount(0))?;
    let want = object::key(from);
    let src = object::sched_comps(&cal)
        .find(|c| object::key(c) == want)
        .or_else(|| object::sched_comps(&cal).find(|c| c.prop("RECURRENCE-ID").is_none()))
        .ok_or_else(|| ItipError::InvalidObject("no component".into()))?;
    let mut c = Comp::new(&src.name);
    for name in ["UID", "ORGANIZER"] {
        if let Some(p) = src.prop(name) {
            c.props.push(p.clone());
        }
    }
    if let Some(p) = from.prop("RECURRENCE-ID") {
        c.props.push(p.clone());
    }
    c.props
        .push(Prop::new("SEQUENCE", &object::sequence(src).to_string()));
    if let Some(att) = from.prop("ATTENDEE") {
        let mut a = att.clone();
        a.remove_param("RSVP");
        c.props.push(a);
    }
    message::build(
        Method::DeclineCounter,
        &proposer,
        &normalize_address(organizer),
        vec![c],
        &[&cal],
    )
    .ok_or_else(|| ItipError::InvalidObject("nothing to send".into()))
}

/// The delegate-organizer shape (issue 10): the first ATTENDEE with
/// ROLE=CHAIR becomes ORGANIZER (SENT-BY the application) and stays an
/// ATTENDEE (ROLE=CHAIR, PARTSTAT=ACCEPTED); the application's ORGANIZER
/// line becomes an ATTENDEE with ROLE=NON-PARTICIPANT, so the updates the
/// new organizer's client sends later reach the application as an
/// attendee. Returns the object and the chair's address.
pub fn delegate_organizer(text: &str) -> Result<(String, String), ItipError> {
    let mut cal = object::parse_cal(text)?;
    let app = object::organizer(&cal).ok_or(ItipError::NotSchedulingObject)?;
    let chair = object::sched_comps(&cal)
        .flat_map(|c| c.props_named("ATTENDEE"))
        .find(|a| {
            a.param("ROLE")
                .is_some_and(|r| r.eq_ignore_ascii_case("CHAIR"))
        })
        .cloned()
        .ok_or_else(|| {
            ItipError::InvalidObject("delegate-organizer needs an attendee with role chair".into())
        })?;
    let chair_addr = normalize_address(&chair.value);
    for c in cal.comps.iter_mut().filter(|c| object::is_sched(c)) {
        let Some(i) = c.props.iter().position(|p| p.name == "ORGANIZER") else {
            continue;
        };
        let app_line = c.props[i].clone();
        let mut org = Prop::new("ORGANIZER", &chair.value);
        if let Some(cn) = chair.param("CN") {
            org.set_param("CN", cn);
        }
        org.set_param("SENT-BY", &app_line.value);
        c.props[i] = org;
        for a in c.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
            if normalize_address(&a.value) == chair_addr {
                a.set_param("PARTSTAT", "ACCEPTED");
                a.remove_param("RSVP");
            }
        }
        let mut me = Prop::new("ATTENDEE", &app_line.value);
        if let Some(cn) = app_line.param("CN") {
            me.set_param("CN", cn);
        }
        me.set_param("ROLE", "NON-PARTICIPANT");
        me.set_param("PARTSTAT", "ACCEPTED");
        me.set_param("RSVP", "FALSE");
        if !c
            .props_named("ATTENDEE")
            .any(|a| normalize_address(&a.value) == app)
        {
            c.props.push(me);
        }
    }
    Ok((edit::to_string(&cal), chair_addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COPY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:m1\r\nDTSTAMP:20260101T000000Z\r\nSEQUENCE:2\r\nDTSTART:20260310T140000Z\r\nDTEND:20260310T150000Z\r\nSUMMARY:Meet\r\nLOCATION:Cafe\r\nORGANIZER;CN=Shop:mailto:shop@example.com\r\nATTENDEE;ROLE=CHAIR;PARTSTAT=NEEDS-ACTION;CN=Ann:mailto:ann@example.org\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    fn counter(extra: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:c\r\nMETHOD:COUNTER\r\nBEGIN:VEVENT\r\nUID:m1\r\nDTSTAMP:20260102T000000Z\r\nSEQUENCE:2\r\n{extra}ORGANIZER:mailto:shop@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    }

    #[test]
    fn accepting_takes_the_proposed_time_and_keeps_the_place() {
        let c = counter("DTSTART:20260311T090000Z\r\nDTEND:20260311T100000Z\r\n");
        let out = counter_proposal(COPY, &c).unwrap();
        assert!(out.contains("DTSTART:20260311T090000Z"), "{out}");
        assert!(out.contains("DTEND:20260311T100000Z"));
        assert!(!out.contains("20260310T140000Z"));
        assert!(out.contains("LOCATION:Cafe"));
        assert!(
            out.contains("SEQUENCE:2"),
            "organizer_put bumps it, not this"
        );
        assert_eq!(
            counter_proposer(&c).as_deref(),
            Some("mailto:bob@example.net")
        );
        assert_eq!(
            counter_times(&c),
            (
                Some("DTSTART:20260311T090000Z".into()),
                Some("DTEND:20260311T100000Z".into())
            )
        );
    }

    #[test]
    fn a_proposal_for_another_event_or_without_a_time_is_refused() {
        let other = counter("DTSTART:20260311T090000Z\r\n").replace("UID:m1", "UID:zz");
        assert_eq!(counter_proposal(COPY, &other), Err(ItipError::UidMismatch));
        assert!(counter_proposal(COPY, &counter("")).is_err());
    }

    #[test]
    fn declinecounter_goes_to_the_proposer() {
        let c = counter("DTSTART:20260311T090000Z\r\n");
        let m = decline_counter(COPY, &c, "mailto:shop@example.com").unwrap();
        assert_eq!(m.method, Method::DeclineCounter);
        assert_eq!(m.recipient, "mailto:bob@example.net");
        assert!(m.ical.contains("METHOD:DECLINECOUNTER"));
        assert!(m.ical.contains("SEQUENCE:2"));
        assert!(m.ical.contains("ATTENDEE"));
        assert!(!m.ical.contains("DTSTART"), "{}", m.ical);
    }

    #[test]
    fn delegate_shape_moves_the_organizer_to_the_chair() {
        let (out, chair) = delegate_organizer(COPY).unwrap();
        assert_eq!(chair, "mailto:ann@example.org");
        assert!(
            out.contains(
                "ORGANIZER;CN=Ann;SENT-BY=\"mailto:shop@example.com\":mailto:ann@example.org"
            ) || out.contains(
                "ORGANIZER;CN=Ann;SENT-BY=mailto:shop@example.com:mailto:ann@example.org"
            ),
            "{out}"
        );
        assert!(out.contains("ROLE=NON-PARTICIPANT"));
        assert!(
            out.contains("ATTENDEE;ROLE=CHAIR;PARTSTAT=ACCEPTED;CN=Ann:mailto:ann@example.org"),
            "{out}"
        );
        let none = COPY.replace("ROLE=CHAIR;", "");
        assert!(delegate_organizer(&none).is_err());
    }
}
