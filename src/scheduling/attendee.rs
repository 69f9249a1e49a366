//! The attendee's side (RFC 6638 section 3.2.2): checking that an attendee's
//! PUT on their copy of an organizer's event only makes allowed changes, and
//! the REPLY to the organizer when their participation changed.
//!
//! Allowed (decision, RFC 6638 section 3.2.2.1): every parameter of their
//! own ATTENDEE (PARTSTAT, RSVP, DELEGATED-TO, and what clients add there
//! for themselves: CN, EMAIL, CUTYPE, SCHEDULE-AGENT, X- parameters, as
//! Apple Calendar writes them); the REPLY carries the organizer's version of
//! that line with only PARTSTAT and DELEGATED-TO taken from the client, so the
//! organizer's copy never picks up the client's parameters; ATTENDEEs they add
//! as delegates (DELEGATED-FROM = them); VALARMs; TRANSP, CATEGORIES, COMMENT
//! (personal; COMMENT travels in the REPLY), X- properties, DTSTAMP,
//! LAST-MODIFIED, CREATED; COMPLETED, PERCENT-COMPLETE and STATUS of a VTODO;
//! new EXDATEs on the master (declines those instances, RFC 6638 section
//! 3.2.2.3); a new override whose organizer data (what it carries of it)
//! matches the master: it is stored as a copy of the master for that instance
//! carrying their personal data, so a minimal override (RECURRENCE-ID and
//! their ATTENDEE) is enough. Everything else is organizer data: AttendeeChangeNotAllowed.
//! SEQUENCE and other attendees' parameters are kept as stored (a client's
//! stale copy cannot roll them back; refusing them would refuse every client
//! that writes with If-Schedule-Tag-Match after another attendee answered).
//! Removing their own ATTENDEE is refused (DELETE is how an attendee leaves:
//! it sends a REPLY with PARTSTAT=DECLINED, `attendee_delete`).
//! Every change of the stored copy gives a new Schedule-Tag (RFC 6638
//! section 3.2.10 exempts only the server's own updates).

use super::message::{self, reply_comp};
use super::object::{
    self, View, attendee, exdates, key, partstat, sched_comps, sequence, server_scheduled,
    set_sequence,
};
use super::{AttendeeOutcome, ItipError, ItipMessage, Method, normalize_address};
use super::{Comp, Prop};
use crate::ical::edit;

const PERSONAL: [&str; 8] = [
    "DTSTAMP",
    "LAST-MODIFIED",
    "CREATED",
    "SEQUENCE",
    "TRANSP",
    "CATEGORIES",
    "COMMENT",
    "EXDATE",
];
const TODO_PERSONAL: [&str; 3] = ["COMPLETED", "PERCENT-COMPLETE", "STATUS"];
const INSTANCE_TIME: [&str; 7] = [
    "DTSTART",
    "DTEND",
    "DURATION",
    "DUE",
    "RRULE",
    "RDATE",
    "RECURRENCE-ID",
];

fn is_personal(c: &Comp, p: &Prop) -> bool {
    PERSONAL.contains(&p.name.as_str())
        || p.name.starts_with("X-")
        || (c.name == "VTODO" && TODO_PERSONAL.contains(&p.name.as_str()))
}

fn delegated_from(p: &Prop, a: &str) -> bool {
    p.param_values("DELEGATED-FROM")
        .iter()
        .any(|d| normalize_address(d) == a)
}

/// The organizer-owned data of `c` as seen by attendee `a`, in comparison form.
fn org_data(c: &Comp, a: &str, instance: bool) -> Vec<String> {
    let mut v = Vec::new();
    for p in &c.props {
        if is_personal(c, p) || (instance && INSTANCE_TIME.contains(&p.name.as_str())) {
            continue;
        }
        let s = match p.name.as_str() {
            // Their own line: only its presence is organizer data.
            "ATTENDEE" if normalize_address(&p.value) == a => format!("ATTENDEE:{a}"),
            "ATTENDEE" if delegated_from(p, a) => continue,
            "ATTENDEE" => format!("ATTENDEE:{}", normalize_address(&p.value)),
            "ORGANIZER" => format!("ORGANIZER:{}", normalize_address(&p.value)),
            _ => p.canonical(&[]),
        };
        v.push(s);
    }
    v.sort();
    v
}

/// Compare organizer data; Err names the first property that differs. With
/// `subset`, `new` may leave properties out (a new override: they are copied
/// from the master).
fn check_same(old: &[String], new: &[String], subset: bool) -> Result<(), ItipError> {
    let missing = if subset {
        None
    } else {
        old.iter().find(|x| !new.contains(x))
    };
    let differ = missing.or_else(|| new.iter().find(|x| !old.contains(x)));
    match differ {
        None if subset || old.len() == new.len() => Ok(()),
        d => {
            let what = d.map_or("the properties", |s| {
                s.split([';', ':']).next().unwrap_or(s)
            });
            Err(ItipError::AttendeeChangeNotAllowed(what.to_string()))
        }
    }
}

/// Other attendees' properties back as stored; SEQUENCE as stored.
fn restore_organizer_parts(c: &mut Comp, stored: &Comp, a: &str) {
    for p in c.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
        let addr = normalize_address(&p.value);
        if addr != a
            && let Some(o) = attendee(stored, &addr)
        {
            *p = o.clone();
        }
    }
    set_sequence(c, sequence(stored));
}

/// An override the attendee added: the master's instance with their personal data.
fn build_override(cal: &Comp, master: &Comp, c: &Comp, a: &str) -> Result<Comp, ItipError> {
    let rid = c
        .prop("RECURRENCE-ID")
        .ok_or_else(|| ItipError::InvalidObject("no RECURRENCE-ID".into()))?;
    let mut out = super::future::instance_of(cal, master, rid);
    out.props
        .retain(|p| !is_personal(master, p) || p.name == "SEQUENCE");
    out.props.extend(
        c.props
            .iter()
            .filter(|p| is_personal(c, p) && p.name != "SEQUENCE")
            .cloned(),
    );
    match (
        out.props
            .iter_mut()
            .find(|p| p.name == "ATTENDEE" && normalize_address(&p.value) == a),
        attendee(c, a),
    ) {
        (Some(slot), Some(mine)) => *slot = mine.clone(),
        (None, Some(mine)) => out.props.push(mine.clone()),
        _ => {}
    }
    out.props.extend(
        c.props_named("ATTENDEE")
            .filter(|p| delegated_from(p, a))
            .cloned(),
    );
    out.comps = c.comps.clone();
    Ok(out)
}

/// The ATTENDEE a REPLY carries: the organizer's version of the line
/// (`before`) with the answer (PARTSTAT, DELEGATED-TO) from the client's
/// (`now`); whatever else the client wrote on its own line stays home.
fn reply_attendee(before: &Prop, now: &Prop) -> Prop {
    let mut p = before.clone();
    p.set_param("PARTSTAT", &partstat(now));
    let delegates = now.param_values("DELEGATED-TO");
    if delegates.is_empty() {
        p.remove_param("DELEGATED-TO");
    } else {
        p.set_param_values("DELEGATED-TO", delegates);
    }
    p
}

fn reply_needed(old: &Prop, new: &Prop) -> bool {
    partstat(old) != partstat(new)
        || old.param_values("DELEGATED-TO") != new.param_values("DELEGATED-TO")
        || new
            .param("SCHEDULE-FORCE-SEND")
            .is_some_and(|v| v.eq_ignore_ascii_case("REPLY"))
}

/// Attendee PUT on their copy of an organizer's event (RFC 6638 section 3.2.2).
/// See the module doc for what may change. No REPLY when SCHEDULE-AGENT on
/// their ATTENDEE or on the ORGANIZER is CLIENT or NONE.
pub fn attendee_put(
    old: &str,
    new: &str,
    attendee_addrs: &[String],
) -> Result<AttendeeOutcome, ItipError> {
    let old_cal = object::parse_cal(old)?;
    let mut cal = object::parse_cal(new)?;
    if object::uid(&old_cal) != object::uid(&cal) {
        return Err(ItipError::UidMismatch);
    }
    let org = object::organizer(&old_cal).ok_or(ItipError::NotSchedulingObject)?;
    if object::organizer(&cal).as_deref() != Some(org.as_str()) {
        return Err(ItipError::AttendeeChangeNotAllowed("ORGANIZER".into()));
    }
    let mine: Vec<String> = attendee_addrs
        .iter()
        .map(|x| normalize_address(x))
        .collect();
    let a = mine
        .iter()
        .find(|m| sched_comps(&old_cal).any(|c| attendee(c, m).is_some()))
        .cloned()
        .ok_or(ItipError::NoSuchAttendee)?;
    let ov = View::new(&old_cal);
    let (old_ex, new_ex) = {
        let nv = View::new(&cal);
        (
            ov.master.map(exdates).unwrap_or_default(),
            nv.master.map(exdates).unwrap_or_default(),
        )
    };
    if let Some((k, _)) = old_ex
        .iter()
        .find(|(k, _)| !new_ex.iter().any(|(x, _)| x == k))
    {
        return Err(ItipError::AttendeeChangeNotAllowed(format!(
            "EXDATE (removed {k})"
        )));
    }
    let added_ex: Vec<&(String, Prop)> = new_ex
        .iter()
        .filter(|(k, _)| !old_ex.iter().any(|(x, _)| x == k))
        .collect();
    {
        let nv = View::new(&cal);
        if ov.master.is_some() && nv.master.is_none() {
            return Err(ItipError::AttendeeChangeNotAllowed(
                "the master component (removed)".into(),
            ));
        }
        for (k, _) in &ov.overrides {
            if !nv.has_override(k) && !added_ex.iter().any(|(x, _)| x == k) {
                return Err(ItipError::AttendeeChangeNotAllowed(format!(
                    "RECURRENCE-ID {k} (removed)"
                )));
            }
        }
    }
    let mut reply = Vec::new();
    for i in 0..cal.comps.len() {
        if !object::is_sched(&cal.comps[i]) {
            continue;
        }
        let k = key(&cal.comps[i]);
        let stored = match ov.get(&k) {
            Some(o) => {
                check_same(
                    &org_data(o, &a, false),
                    &org_data(&cal.comps[i], &a, false),
                    false,
                )?;
                let mut c = cal.comps[i].clone();
                restore_organizer_parts(&mut c, o, &a);
                c
            }
            None => {
                let m = ov.master.filter(|m| object::recurs(m));
                let m =
                    m.ok_or_else(|| ItipError::NoSuchInstance(k.clone().unwrap_or_default()))?;
                // After a THISANDFUTURE override, that override is the base.
                let base = cal.comps[i]
                    .prop("RECURRENCE-ID")
                    .and_then(|rid| super::future::covering(&old_cal, rid))
                    .unwrap_or(m);
                check_same(
                    &org_data(base, &a, true),
                    &org_data(&cal.comps[i], &a, true),
                    true,
                )?;
                build_override(&old_cal, m, &cal.comps[i], &a)?
            }
        };
        let before = ov.eff(&k).and_then(|o| attendee(o, &a));
        if let (Some(b), Some(now)) = (before, attendee(&stored, &a))
            && reply_needed(b, now)
        {
            reply.push(reply_comp(
                &stored,
                &reply_attendee(b, now),
                sequence(&stored),
            ));
        }
        cal.comps[i] = stored;
    }
    if let Some(m) = ov.master
        && let Some(att) = attendee(m, &a)
    {
        for (_, rid) in &added_ex {
            let mut declined = att.clone();
            declined.set_param("PARTSTAT", "DECLINED");
            let mut r = reply_comp(m, &declined, sequence(m));
            r.props.retain(|p| p.name != "DTSTART");
            r.props.insert(1, rid.clone());
            reply.push(r);
        }
    }
    for c in cal.comps.iter_mut().filter(|c| object::is_sched(c)) {
        for p in c.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
            p.remove_param("SCHEDULE-FORCE-SEND");
        }
    }
    let org_prop = sched_comps(&old_cal).find_map(|c| c.prop("ORGANIZER"));
    let own = sched_comps(&old_cal).find_map(|c| attendee(c, &a));
    let own_new = sched_comps(&cal).find_map(|c| attendee(c, &a));
    let server = org_prop.is_none_or(server_scheduled)
        && own.is_none_or(server_scheduled)
        && own_new.is_none_or(server_scheduled);
    let messages = if server {
        message::build(Method::Reply, &org, &a, reply, &[&cal, &old_cal])
            .into_iter()
            .collect()
    } else {
        Vec::new()
    };
    let stored = edit::to_string(&cal);
    Ok(AttendeeOutcome {
        schedule_tag_changes: stored != edit::to_string(&old_cal)
            && beyond_answer(&old_cal, &cal, &a),
        stored,
        messages,
    })
}

/// Whether two copies differ in more than the attendee's own ATTENDEE
/// lines. RFC 6638 section 3.2.10 keeps the Schedule-Tag when the
/// attendee only answers (PARTSTAT, and the parameters its client writes
/// on its own line with it), so that a client holding the tag can still
/// write; any other edit of the copy (alarms, TRANSP, overrides, EXDATEs)
/// changes it.
fn beyond_answer(old: &Comp, new: &Comp, a: &str) -> bool {
    let strip = |cal: &Comp| {
        let mut c = cal.clone();
        for comp in c.comps.iter_mut() {
            comp.props
                .retain(|p| p.name != "ATTENDEE" || !super::address_is(&p.value, a));
        }
        edit::to_string(&c)
    };
    strip(old) != strip(new)
}

/// Attendee DELETE of their copy (RFC 6638 section 3.2.2.4): a REPLY with
/// PARTSTAT=DECLINED to the organizer for every component that lists them
/// and is not cancelled nor already declined. Nothing when the copy does
/// not parse, they are not an attendee, or SCHEDULE-AGENT on the ORGANIZER
/// or on their ATTENDEE is CLIENT or NONE.
pub fn attendee_delete(old: &str, attendee_addrs: &[String]) -> Vec<ItipMessage> {
    let Ok(cal) = object::parse_cal(old) else {
        return Vec::new();
    };
    let Some(org) = object::organizer(&cal) else {
        return Vec::new();
    };
    let mine: Vec<String> = attendee_addrs
        .iter()
        .map(|x| normalize_address(x))
        .collect();
    if mine.contains(&org) {
        return Vec::new();
    }
    let Some(a) = mine
        .iter()
        .find(|m| sched_comps(&cal).any(|c| attendee(c, m).is_some()))
    else {
        return Vec::new();
    };
    let master_cancelled = View::new(&cal).master.is_some_and(object::is_cancelled);
    let org_server = sched_comps(&cal)
        .find_map(|c| c.prop("ORGANIZER"))
        .is_none_or(server_scheduled);
    if master_cancelled || !org_server {
        return Vec::new();
    }
    let mut comps = Vec::new();
    for c in sched_comps(&cal) {
        let Some(att) = attendee(c, a) else { continue };
        if !server_scheduled(att) || object::is_cancelled(c) || partstat(att) == "DECLINED" {
            continue;
        }
        let mut declined = att.clone();
        declined.set_param("PARTSTAT", "DECLINED");
        comps.push(reply_comp(c, &declined, sequence(c)));
    }
    message::build(Method::Reply, &org, a, comps, &[&cal])
        .into_iter()
        .collect()
}
