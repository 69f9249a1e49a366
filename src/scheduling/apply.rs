//! Applying incoming iTIP messages to stored copies (RFC 6638 section 4,
//! RFC 5546 section 3.2): a REQUEST/ADD or CANCEL delivered to a local
//! attendee's copy, a REPLY applied to the organizer's copy, and
//! SCHEDULE-STATUS updates on the organizer's copy after delivery.

use super::object::{self, View, attendee, key, sched_comps, sequence, set_sequence};
use super::{Comp, Prop};
use super::{ItipError, ItipMessage, Method, authority, normalize_address};
use crate::ical::{edit, model};

fn method_of(cal: &Comp) -> Option<String> {
    cal.value("METHOD").map(str::to_ascii_uppercase)
}

fn check_method(msg: &ItipMessage, cal: &Comp, allowed: &[Method]) -> Result<(), ItipError> {
    let stated = method_of(cal);
    let ok = allowed.contains(&msg.method)
        && stated
            .as_deref()
            .is_none_or(|m| Method::parse(m) == Some(msg.method));
    if ok {
        Ok(())
    } else {
        Err(ItipError::WrongMethod(
            stated.unwrap_or_else(|| msg.method.as_str().into()),
        ))
    }
}

/// The attendee's personal data from their copy `mine` carried into `c`.
fn keep_personal(c: &mut Comp, mine: &Comp) {
    c.comps.retain(|s| s.name != "VALARM");
    c.comps
        .extend(mine.comps.iter().filter(|s| s.name == "VALARM").cloned());
    for name in ["TRANSP", "CATEGORIES"] {
        if mine.prop(name).is_some() {
            c.remove(name);
            c.props.extend(mine.props_named(name).cloned());
        }
    }
    for p in mine.props.iter().filter(|p| p.name.starts_with("X-")) {
        if c.prop(&p.name).is_none() {
            c.props.push(p.clone());
        }
    }
}

/// Assemble a stored VCALENDAR: `base`'s properties (no METHOD), VTIMEZONEs
/// used by `comps` (from `zones` in order), then `comps`.
fn assemble(base: &Comp, zones: &[&Comp], comps: Vec<Comp>) -> String {
    let mut cal = Comp::new("VCALENDAR");
    cal.props = base
        .props
        .iter()
        .filter(|p| p.name != "METHOD")
        .cloned()
        .collect();
    let mut tzids = Vec::new();
    for c in &comps {
        model::referenced_tzids(c, &mut tzids);
    }
    for t in &tzids {
        let z = zones.iter().find_map(|src| {
            src.comps
                .iter()
                .find(|z| z.name == "VTIMEZONE" && z.value("TZID") == Some(*t))
        });
        cal.comps.extend(z.cloned());
    }
    cal.comps.extend(comps);
    edit::to_string(&cal)
}

/// Local delivery of a REQUEST/ADD to an attendee who is a user of this
/// server; returns their copy to store (no METHOD). A REQUEST with a master
/// replaces the copy's components; one with only overrides (and an ADD) merges
/// them into a copy that has a master. Per component, when its SEQUENCE is not
/// higher than the copy's, the attendee keeps their PARTSTAT; otherwise the
/// organizer's wins. Alarms, TRANSP, CATEGORIES and X- properties of the copy
/// are kept. Err(Stale) when a component is older than the copy's.
pub fn deliver_request(current: Option<&str>, message: &ItipMessage) -> Result<String, ItipError> {
    let msg = object::parse_cal(&message.ical)?;
    check_method(message, &msg, &[Method::Request, Method::Add])?;
    let incoming: Vec<Comp> = sched_comps(&msg).cloned().collect();
    let Some(current) = current else {
        return Ok(assemble(&msg, &[&msg], incoming));
    };
    let cur = object::parse_cal(current)?;
    if object::uid(&cur) != object::uid(&msg) {
        return Err(ItipError::UidMismatch);
    }
    let me = normalize_address(&message.recipient);
    authority::may_change(
        message.method,
        &cur,
        &msg,
        &message.sender,
        std::slice::from_ref(&me),
    )?;
    let cv = View::new(&cur);
    let mut merged = Vec::new();
    for mut c in incoming {
        let k = key(&c);
        if cv.get(&k).is_some_and(|o| sequence(&c) < sequence(o)) {
            return Err(ItipError::Stale);
        }
        if let Some(o) = cv.eff(&k) {
            let keep = sequence(&c) <= sequence(o);
            if keep && let Some(old_att) = attendee(o, &me) {
                let old_ps = old_att.param("PARTSTAT").map(str::to_string);
                for p in c.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
                    if normalize_address(&p.value) == me {
                        match &old_ps {
                            Some(ps) => p.set_param("PARTSTAT", ps),
                            None => {
                                p.remove_param("PARTSTAT");
                            }
                        }
                    }
                }
            }
            keep_personal(&mut c, o);
        }
        merged.push(c);
    }
    let has_master = merged.iter().any(|c| key(c).is_none());
    let comps = if message.method == Method::Add || (!has_master && cv.master.is_some()) {
        let mut all: Vec<Comp> = sched_comps(&cur).cloned().collect();
        for c in merged {
            match all.iter_mut().find(|x| key(x) == key(&c)) {
                Some(slot) => *slot = c,
                None => all.push(c),
            }
        }
        all
    } else {
        merged
    };
    Ok(assemble(&cur, &[&msg, &cur], comps))
}

fn cancel(c: &mut Comp, seq: i64) {
    c.set("STATUS", "CANCELLED");
    set_sequence(c, sequence(c).max(seq));
}

/// Local delivery of a CANCEL: the attendee's copy with STATUS:CANCELLED on
/// the cancelled instances (an instance without override gets one made from
/// the master) or on every component; SEQUENCE raised to the message's.
/// None when there is no copy. Err(Stale) when every component is older.
pub fn deliver_cancel(
    current: Option<&str>,
    message: &ItipMessage,
) -> Result<Option<String>, ItipError> {
    let Some(current) = current else {
        return Ok(None);
    };
    let msg = object::parse_cal(&message.ical)?;
    check_method(message, &msg, &[Method::Cancel])?;
    let mut cur = object::parse_cal(current)?;
    if object::uid(&cur) != object::uid(&msg) {
        return Err(ItipError::UidMismatch);
    }
    authority::may_change(
        Method::Cancel,
        &cur,
        &msg,
        &message.sender,
        std::slice::from_ref(&message.recipient),
    )?;
    let (mut applied, mut stale) = (0, 0);
    for m in sched_comps(&msg) {
        let seq = sequence(m);
        let k = key(m);
        let master = View::new(&cur).master.cloned();
        let existing = cur
            .comps
            .iter()
            .position(|c| object::is_sched(c) && key(c) == k);
        let target = existing.map(|i| &cur.comps[i]).or(master.as_ref());
        if target.is_some_and(|t| seq < sequence(t)) {
            stale += 1;
            continue;
        }
        match (&k, existing) {
            (None, _) => {
                for c in cur.comps.iter_mut().filter(|c| object::is_sched(c)) {
                    cancel(c, seq);
                }
            }
            (Some(_), Some(i)) => cancel(&mut cur.comps[i], seq),
            (Some(_), None) => {
                let Some(master) = master else { continue };
                let Some(rid) = m.prop("RECURRENCE-ID") else {
                    continue;
                };
                let mut o = super::future::instance_of(&cur, &master, rid);
                cancel(&mut o, seq);
                cur.comps.push(o);
            }
        }
        applied += 1;
    }
    if applied == 0 && stale > 0 {
        return Err(ItipError::Stale);
    }
    Ok(Some(edit::to_string(&cur)))
}

/// Apply a REPLY (RFC 5546 section 3.2.3) to the organizer's copy: the
/// attendee's PARTSTAT and DELEGATED-TO per instance (creating the override
/// from the master when needed), an ATTENDEE added for each new delegate
/// (DELEGATED-FROM, PARTSTAT=NEEDS-ACTION, RSVP=TRUE) and SCHEDULE-STATUS=2.0
/// on the attendee. SEQUENCE is not changed. The REPLY's ATTENDEE must be
/// `from` or name it in SENT-BY; the copy must be organized by one of
/// `organizer` (the recipient's addresses) and list `from` as ATTENDEE.
/// A DELEGATED-TO of more than `max_delegates` addresses refuses the whole
/// REPLY (each delegate would become an attendee the organizer mails).
pub fn apply_reply(
    organizer_copy: &str,
    reply_ical: &str,
    from: &str,
    organizer: &[String],
    max_delegates: usize,
) -> Result<String, ItipError> {
    let mut cal = object::parse_cal(organizer_copy)?;
    let reply = object::parse_cal(reply_ical)?;
    if let Some(m) = method_of(&reply)
        && m != "REPLY"
    {
        return Err(ItipError::WrongMethod(m));
    }
    if object::uid(&cal) != object::uid(&reply) {
        return Err(ItipError::UidMismatch);
    }
    authority::may_change(Method::Reply, &cal, &reply, from, organizer)?;
    let from = normalize_address(from);
    for r in sched_comps(&reply) {
        let atts: Vec<&Prop> = r.props_named("ATTENDEE").collect();
        let [att] = atts.as_slice() else {
            return Err(ItipError::ReplyAttendeeCount(atts.len()));
        };
        let addr = normalize_address(&att.value);
        let sent_by = att.param("SENT-BY").map(normalize_address);
        if addr != from && sent_by.as_deref() != Some(from.as_str()) {
            return Err(ItipError::SenderMismatch);
        }
        let k = key(r);
        let idx = match cal
            .comps
            .iter()
            .position(|c| object::is_sched(c) && key(c) == k)
        {
            Some(i) => i,
            None => {
                let master = View::new(&cal)
                    .master
                    .filter(|m| object::recurs(m))
                    .cloned();
                let (Some(master), Some(rid)) = (master, r.prop("RECURRENCE-ID")) else {
                    return Err(ItipError::NoSuchInstance(k.unwrap_or_default()));
                };
                if attendee(&master, &addr).is_none() {
                    return Err(ItipError::NoSuchAttendee);
                }
                let instance = super::future::instance_of(&cal, &master, rid);
                cal.comps.push(instance);
                cal.comps.len() - 1
            }
        };
        let comp = &mut cal.comps[idx];
        if attendee(comp, &addr).is_none() {
            return Err(ItipError::NoSuchAttendee);
        }
        if sequence(r) < sequence(comp) {
            return Err(ItipError::Stale);
        }
        let delegates = att.param_values("DELEGATED-TO");
        if delegates.len() > max_delegates {
            return Err(ItipError::TooManyDelegates(delegates.len(), max_delegates));
        }
        for p in comp.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
            if normalize_address(&p.value) == addr {
                if let Some(ps) = att.param("PARTSTAT") {
                    p.set_param("PARTSTAT", &ps.to_ascii_uppercase());
                }
                if !delegates.is_empty() {
                    p.set_param_values("DELEGATED-TO", delegates.clone());
                }
                p.set_param("SCHEDULE-STATUS", "2.0");
            }
        }
        for d in &delegates {
            if attendee(comp, &normalize_address(d)).is_none() {
                let mut p = Prop::new("ATTENDEE", d.trim());
                p.set_param("DELEGATED-FROM", att.value.trim());
                p.set_param("PARTSTAT", "NEEDS-ACTION");
                p.set_param("RSVP", "TRUE");
                comp.props.push(p);
            }
        }
    }
    if sched_comps(&reply).next().is_none() {
        return Err(ItipError::InvalidObject("REPLY without components".into()));
    }
    Ok(edit::to_string(&cal))
}

/// Set SCHEDULE-STATUS=`status` on the ATTENDEE `attendee` in every component
/// of the organizer's copy. None when the copy does not parse, the attendee is
/// not there, or nothing changed.
pub fn set_schedule_status(
    organizer_copy: &str,
    attendee_addr: &str,
    status: &str,
) -> Option<String> {
    set_schedule_statuses(
        organizer_copy,
        &[(attendee_addr.to_string(), status.to_string())],
    )
}

/// `set_schedule_status` for many attendees at once (one parse and one
/// write of the object however many results a delivery round brings).
pub fn set_schedule_statuses(organizer_copy: &str, updates: &[(String, String)]) -> Option<String> {
    let mut cal = object::parse_cal(organizer_copy).ok()?;
    let wanted: std::collections::HashMap<String, &str> = updates
        .iter()
        .map(|(a, s)| (normalize_address(a), s.as_str()))
        .collect();
    let mut changed = false;
    for c in cal.comps.iter_mut().filter(|c| object::is_sched(c)) {
        for p in c.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
            if let Some(status) = wanted.get(&normalize_address(&p.value))
                && p.param("SCHEDULE-STATUS") != Some(*status)
            {
                p.set_param("SCHEDULE-STATUS", status);
                changed = true;
            }
        }
    }
    changed.then(|| edit::to_string(&cal))
}
