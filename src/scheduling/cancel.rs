//! The organizer cancelling a stored scheduling object, whole or one
//! instance, and choosing who is told (RFC 5546 section 3.2.5): the REST
//! API's cancel. Pure: the stored text in, the text to store and the CANCEL
//! messages out.
//!
//! - The whole event: every component not yet cancelled gets
//!   STATUS:CANCELLED, SEQUENCE + 1 and a fresh DTSTAMP and LAST-MODIFIED;
//!   the CANCELs are those of `organizer_delete` (the same SEQUENCE + 1),
//!   kept for the selected attendees only.
//! - One instance (RECURRENCE-ID): an EXDATE on the master (RFC 5545
//!   section 3.8.5.1) and any override of that instance dropped, master
//!   SEQUENCE + 1, DTSTAMP and LAST-MODIFIED fresh; the selected attendees
//!   of that instance get a CANCEL with its RECURRENCE-ID.
//! - Who is selected (`Notify`): everyone, nobody, or the attendees whose
//!   PARTSTAT is ACCEPTED or TENTATIVE at that moment: on the instance
//!   cancelled, or for the whole event on the master or on any instance not
//!   yet cancelled. The organizer never gets a message; attendees
//!   scheduled by their own client (SCHEDULE-AGENT other than SERVER)
//!   neither. Those sent a CANCEL get its SCHEDULE-STATUS.
//! - Idempotent: an event already cancelled, or an instance already
//!   excluded (EXDATE) or cancelled (an override with STATUS:CANCELLED),
//!   changes nothing and sends nothing.

use super::message::{self, GUEST_LIST_LIMIT, cancel_comp};
use super::object::{
    self, Roster, View, exdates, instance_key, is_cancelled, partstat, recurs, sched_comps,
    sequence, server_scheduled, set_sequence,
};
use super::roster::organizers_object;
use super::{Comp, Prop};
use super::{ItipError, ItipMessage, Method, normalize_address, organizer_delete};
use crate::ical::edit;
use std::collections::HashSet;

/// Who gets a CANCEL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    All,
    /// PARTSTAT ACCEPTED or TENTATIVE at that moment.
    AcceptedOrTentative,
    None,
}

impl Notify {
    fn wants(self, p: &Prop) -> bool {
        match self {
            Notify::All => true,
            Notify::AcceptedOrTentative => {
                matches!(partstat(p).as_str(), "ACCEPTED" | "TENTATIVE")
            }
            Notify::None => false,
        }
    }
}

/// Result of a cancellation.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelOutcome {
    /// The object to store; None when it was already cancelled.
    pub stored: Option<String>,
    pub messages: Vec<ItipMessage>,
}

/// Cancel the event (`rid` None) or one instance of it; see the module doc.
/// `rid` is a RECURRENCE-ID value: a date (`20260310`, `2026-03-10`) for an
/// all-day event, else a date-time, local to the master's DTSTART zone
/// (`20260310T140000`, `2026-03-10T14:00:00`) or UTC (with `Z`).
/// `ItipError::NoSuchInstance` when it names no instance of the event.
pub fn cancel(
    stored: &str,
    organizer: &[String],
    notify: Notify,
    rid: Option<&str>,
    status_for: &dyn Fn(&str) -> String,
) -> Result<CancelOutcome, ItipError> {
    let (cal, org) = organizers_object(stored, organizer)?;
    match rid {
        None => cancel_event(stored, cal, organizer, notify, status_for),
        Some(r) => cancel_instance(cal, &org, organizer, notify, r, status_for),
    }
}

fn mine(organizer: &[String], org: &str) -> HashSet<String> {
    let mut m: HashSet<String> = organizer.iter().map(|a| normalize_address(a)).collect();
    m.insert(org.to_string());
    m
}

/// STATUS:CANCELLED, SEQUENCE + 1, DTSTAMP and LAST-MODIFIED now.
fn mark_cancelled(c: &mut Comp, stamp: &str) {
    c.set("STATUS", "CANCELLED");
    let seq = sequence(c).saturating_add(1);
    set_sequence(c, seq);
    c.set("DTSTAMP", stamp);
    c.set("LAST-MODIFIED", stamp);
}

/// SCHEDULE-STATUS on the ATTENDEE lines of `sent` in every component.
fn note_sent(cal: &mut Comp, sent: &HashSet<String>, status_for: &dyn Fn(&str) -> String) {
    if sent.is_empty() {
        return;
    }
    for c in cal.comps.iter_mut().filter(|c| object::is_sched(c)) {
        for p in c.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
            let a = normalize_address(&p.value);
            if sent.contains(&a) {
                p.set_param("SCHEDULE-STATUS", &status_for(&a));
            }
        }
    }
}

fn cancel_event(
    stored: &str,
    mut cal: Comp,
    organizer: &[String],
    notify: Notify,
    status_for: &dyn Fn(&str) -> String,
) -> Result<CancelOutcome, ItipError> {
    let view = View::new(&cal);
    let done = match view.master {
        Some(m) => is_cancelled(m),
        None => view.overrides.iter().all(|(_, o)| is_cancelled(o)),
    };
    if done {
        return Ok(CancelOutcome {
            stored: None,
            messages: Vec::new(),
        });
    }
    let mut selected: HashSet<String> = HashSet::new();
    for c in sched_comps(&cal).filter(|c| !is_cancelled(c)) {
        for p in c.props_named("ATTENDEE").filter(|p| notify.wants(p)) {
            selected.insert(normalize_address(&p.value));
        }
    }
    let messages: Vec<ItipMessage> = if selected.is_empty() {
        Vec::new()
    } else {
        organizer_delete(stored, organizer)
            .into_iter()
            .filter(|m| selected.contains(&m.recipient))
            .collect()
    };
    let stamp = message::now_stamp();
    for c in cal.comps.iter_mut().filter(|c| object::is_sched(c)) {
        if !is_cancelled(c) {
            mark_cancelled(c, &stamp);
        }
    }
    let sent: HashSet<String> = messages.iter().map(|m| m.recipient.clone()).collect();
    note_sent(&mut cal, &sent, status_for);
    Ok(CancelOutcome {
        stored: Some(edit::to_string(&cal)),
        messages,
    })
}

/// The RECURRENCE-ID property for `input`, typed like the master's DTSTART.
fn rid_prop(master: &Comp, input: &str) -> Result<Prop, ItipError> {
    let no = || ItipError::NoSuchInstance(input.to_string());
    let v: String = input
        .trim()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect::<String>()
        .to_ascii_uppercase();
    let start = master.prop("DTSTART").ok_or_else(no)?;
    let all_day = start
        .param("VALUE")
        .is_some_and(|t| t.eq_ignore_ascii_case("DATE"))
        || start.value.trim().len() == 8;
    let mut p;
    if all_day {
        chrono::NaiveDate::parse_from_str(&v, "%Y%m%d").map_err(|_| no())?;
        p = Prop::new("RECURRENCE-ID", &v);
        p.set_param("VALUE", "DATE");
        return Ok(p);
    }
    let (local, utc) = match v.strip_suffix('Z') {
        Some(l) => (l, true),
        None => (v.as_str(), false),
    };
    chrono::NaiveDateTime::parse_from_str(local, "%Y%m%dT%H%M%S").map_err(|_| no())?;
    let tzid = start.param("TZID");
    let start_utc = start.value.trim().ends_with(['Z', 'z']);
    if utc || (tzid.is_none() && start_utc) {
        p = Prop::new("RECURRENCE-ID", &format!("{local}Z"));
    } else {
        p = Prop::new("RECURRENCE-ID", local);
        if let Some(tz) = tzid {
            p.set_param("TZID", tz);
        }
    }
    Ok(p)
}

/// Whether `rid` names an instance of `master` (its head, without
/// attendees): the object with an override for it passes the calendar
/// object checks (`ical::instances`).
fn names_instance(cal: &Comp, master: &Comp, rid: &Prop) -> bool {
    let mut test = Comp::new("VCALENDAR");
    test.props.push(Prop::new("VERSION", "2.0"));
    test.props.push(Prop::new("PRODID", "-//Herald//check//EN"));
    test.comps
        .extend(cal.comps.iter().filter(|z| z.name == "VTIMEZONE").cloned());
    test.comps.push(master.clone());
    let mut o = Comp::new(&master.name);
    for name in ["UID", "DTSTAMP"] {
        o.props.extend(master.prop(name).cloned());
    }
    o.props.push(rid.clone());
    o.props.push(rid.renamed("DTSTART"));
    test.comps.push(o);
    match crate::ical::parse_object(&edit::to_string(&test)) {
        Err(e) => !e.is_no_such_instance(),
        Ok(_) => true,
    }
}

fn cancel_instance(
    mut cal: Comp,
    org: &str,
    organizer: &[String],
    notify: Notify,
    input: &str,
    status_for: &dyn Fn(&str) -> String,
) -> Result<CancelOutcome, ItipError> {
    let unchanged = CancelOutcome {
        stored: None,
        messages: Vec::new(),
    };
    let me = mine(organizer, org);
    let mut messages = Vec::new();
    let (rid, over_at, seq) = {
        let view = View::new(&cal);
        let no = || ItipError::NoSuchInstance(input.to_string());
        let master = view.master.filter(|m| recurs(m)).ok_or_else(no)?;
        if is_cancelled(master) {
            return Ok(unchanged);
        }
        let rid = rid_prop(master, input)?;
        let k = instance_key(&rid);
        let excluded = exdates(master).iter().any(|(_, p)| instance_key(p) == k);
        let over = view.get(&Some(k.clone()));
        if excluded || over.is_some_and(is_cancelled) {
            return Ok(unchanged);
        }
        let roster = Roster::new(&[&cal]);
        if over.is_none() && !names_instance(&cal, roster.head(master), &rid) {
            return Err(no());
        }
        let inst = over.unwrap_or(master);
        let head = roster.head(inst);
        let seq = match over {
            Some(o) => sequence(master)
                .max(sequence(roster.head(o)))
                .saturating_add(1),
            None => sequence(master).saturating_add(1),
        };
        let msg_rid = over.and_then(|o| roster.head(o).prop("RECURRENCE-ID"));
        let all: Vec<&Prop> = inst.props_named("ATTENDEE").collect();
        let large = all.len() > GUEST_LIST_LIMIT;
        for p in &all {
            let a = normalize_address(&p.value);
            if me.contains(&a) || !server_scheduled(p) || !notify.wants(p) {
                continue;
            }
            let guests: Vec<Prop> = if large {
                vec![(*p).clone()]
            } else {
                all.iter().map(|q| (*q).clone()).collect()
            };
            let comp = cancel_comp(head, Some(msg_rid.unwrap_or(&rid)), seq, &guests);
            messages.extend(message::build(Method::Cancel, &a, org, vec![comp], &[&cal]));
        }
        let over_at = over.and_then(|o| cal.comps.iter().position(|c| std::ptr::eq(c, o)));
        (rid, over_at, seq)
    };
    if let Some(i) = over_at {
        cal.comps.remove(i);
    }
    let stamp = message::now_stamp();
    if let Some(m) = cal
        .comps
        .iter_mut()
        .find(|c| object::is_sched(c) && c.prop("RECURRENCE-ID").is_none())
    {
        let mut ex = rid.renamed("EXDATE");
        ex.remove_param("RANGE");
        let at = m
            .props
            .iter()
            .rposition(|p| matches!(p.name.as_str(), "EXDATE" | "RRULE" | "RDATE"))
            .map_or(m.props.len(), |i| i + 1);
        m.props.insert(at, ex);
        // The master carries the SEQUENCE of the CANCEL (above an override's).
        set_sequence(m, seq);
        m.set("DTSTAMP", &stamp);
        m.set("LAST-MODIFIED", &stamp);
    }
    let sent: HashSet<String> = messages.iter().map(|m| m.recipient.clone()).collect();
    note_sent(&mut cal, &sent, status_for);
    Ok(CancelOutcome {
        stored: Some(edit::to_string(&cal)),
        messages,
    })
}
