//! The organizer's side (RFC 6638 sections 3.2.1 and 3.2.8, RFC 5546 section
//! 3.2): `organizer_put` compares the stored and the new object instance by
//! instance, fixes SEQUENCE, PARTSTAT and SCHEDULE-STATUS in the object to
//! store and makes the REQUEST and CANCEL messages; `organizer_delete` makes
//! the CANCELs for a removed object.
//!
//! Per component (master or override, an override new in this PUT being
//! compared with the old master as that instance):
//! - changed significantly = time (DTSTART/DTEND/DURATION/DUE/RRULE/RDATE),
//!   EXDATE, LOCATION, SUMMARY, STATUS or the attendee addresses differ;
//!   then SEQUENCE = new SEQUENCE if the client raised it, else old + 1;
//!   otherwise SEQUENCE = max(old, new).
//! - rescheduled (time changed, or an EXDATE removed): the PARTSTAT of
//!   server-scheduled attendees other than the organizer is reset to
//!   NEEDS-ACTION (RFC 6638 section 3.2.8).
//! - a REQUEST goes to every server-scheduled attendee of a significantly
//!   changed instance, except when the change is only new EXDATEs or the
//!   instance's cancellation (those get a CANCEL instead), and to attendees
//!   new to an instance or with SCHEDULE-FORCE-SEND=REQUEST. A REQUEST holds all
//!   of the recipient's components. The organizer's own PARTSTAT changing on
//!   an instance (declining one occurrence with an override) sends that
//!   REQUEST too, without a SEQUENCE bump; an EXDATE sends a CANCEL for it.
//! - an override dropped without an EXDATE counts as a change of the master.
//! - CANCEL (RFC 6638 section 3.2.1.2 table): removed from the master → CANCEL
//!   of the whole event; removed from an instance, instance EXDATEd or its
//!   override set to STATUS:CANCELLED → CANCEL with that RECURRENCE-ID. An
//!   attendee switched from SCHEDULE-AGENT=SERVER to CLIENT/NONE counts as removed.
//! - master set to STATUS:CANCELLED → CANCEL of the whole event to everyone, and
//!   nothing else.

use super::message::{self, cancel_comp, request_comps};
use super::object::{
    self, Roster, View, addresses, attendee, exdates, is_cancelled, key, other_sig, partstat,
    sched_comps, sequence, server_scheduled, set_sequence, tag_sig, time_sig,
};
use super::{Comp, Prop};
use super::{ItipError, ItipMessage, Method, OrganizerOutcome, normalize_address};
use crate::ical::edit;

/// What changed in one new component compared with the old instance.
struct Change {
    key: Option<String>,
    bump: bool,
    request: bool,
    resched: bool,
    old_seq: Option<i64>,
}

/// The caller's own addresses and the object's ORGANIZER.
struct Me {
    org: String,
    mine: Vec<String>,
}

impl Me {
    fn is_self(&self, a: &str) -> bool {
        a == self.org || self.mine.iter().any(|m| m == a)
    }
}

fn exdate_keys(m: Option<&Comp>) -> Vec<String> {
    let mut v: Vec<String> = m
        .map(exdates)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The organizer's own ATTENDEE in `c` when they list themselves.
fn own_line<'a>(c: &'a Comp, me: &Me) -> Option<&'a Prop> {
    c.props_named("ATTENDEE")
        .find(|p| me.is_self(&normalize_address(&p.value)))
}

/// The organizer states a PARTSTAT on their own line of `c` that differs
/// from the one of the same instance in `o`.
fn own_partstat_changed(c: &Comp, o: &Comp, me: &Me) -> bool {
    own_line(c, me)
        .filter(|p| p.param("PARTSTAT").is_some())
        .is_some_and(|p| Some(partstat(p)) != own_line(o, me).map(partstat))
}

fn plan(old: Option<&Comp>, new: &Comp, me: &Me) -> Vec<Change> {
    let Some(old) = old else {
        return sched_comps(new)
            .map(|c| Change {
                key: key(c),
                bump: false,
                request: true,
                resched: false,
                old_seq: None,
            })
            .collect();
    };
    let (ov, nv) = (View::new(old), View::new(new));
    let (old_ex, new_ex) = (exdate_keys(ov.master), exdate_keys(nv.master));
    let ex_removed = old_ex.iter().any(|k| !new_ex.contains(k));
    // Overrides dropped without an EXDATE: the master now describes those instances.
    let reverted = ov
        .overrides
        .iter()
        .any(|(k, _)| !nv.has_override(k) && !new_ex.contains(k));
    let mut out = Vec::new();
    for c in sched_comps(new) {
        let k = key(c);
        let Some(o) = ov.eff(&k) else {
            out.push(Change {
                key: k,
                bump: true,
                request: true,
                resched: false,
                old_seq: None,
            });
            continue;
        };
        let as_instance = if k.is_some() && ov.get(&k).is_none() {
            c.prop("RECURRENCE-ID")
        } else {
            None
        };
        let master = k.is_none();
        let resched = time_sig(c, None) != time_sig(o, as_instance) || (master && ex_removed);
        let other = other_sig(c) != other_sig(o) || (master && reverted);
        let ex_changed = master && old_ex != new_ex;
        let newly_cancelled = is_cancelled(c) && !is_cancelled(o);
        // The organizer declining (or accepting again) an instance: the
        // attendees get that instance, SEQUENCE unchanged (not a reschedule).
        let own = own_partstat_changed(c, o, me);
        out.push(Change {
            key: k,
            bump: resched || other || ex_changed,
            request: (resched || other || own) && !newly_cancelled,
            resched,
            old_seq: Some(sequence(o)),
        });
    }
    out
}

/// SEQUENCE and PARTSTAT resets in the object to store.
fn apply_plan(cal: &mut Comp, plan: &[Change], me: &Me) {
    let comps = cal.comps.iter_mut().filter(|c| object::is_sched(c));
    for (c, ch) in comps.zip(plan) {
        if let Some(old_seq) = ch.old_seq {
            let new_seq = sequence(c);
            let stored = match ch.bump {
                true if new_seq > old_seq => new_seq,
                true => old_seq.saturating_add(1),
                false => old_seq.max(new_seq),
            };
            set_sequence(c, stored);
        }
        if ch.resched {
            for p in c.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
                if server_scheduled(p)
                    && !me.is_self(&normalize_address(&p.value))
                    && p.param("PARTSTAT").is_some()
                    && partstat(p) != "NEEDS-ACTION"
                {
                    p.set_param("PARTSTAT", "NEEDS-ACTION");
                }
            }
        }
    }
}

/// Everyone listed in `cals` (in order of appearance), without the organizer.
fn people(cals: &[&Comp], me: &Me) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for cal in cals {
        for a in sched_comps(cal).flat_map(addresses) {
            if !me.is_self(&a) && seen.insert(a.clone()) {
                out.push(a);
            }
        }
    }
    out
}

fn find_prop(cals: &[&Comp], a: &str) -> Option<Prop> {
    cals.iter()
        .flat_map(|c| sched_comps(c))
        .find_map(|c| attendee(c, a))
        .cloned()
}

fn all_attendees(c: &Comp) -> Vec<Prop> {
    c.props_named("ATTENDEE").cloned().collect()
}

/// The ATTENDEEs a cancellation sent to `a` lists: all of them, or only
/// `a`'s above `message::GUEST_LIST_LIMIT` (as for a REQUEST), so that the
/// CANCELs of a large event do not grow with the square of its guest list.
fn guest_list(roster: &Roster, c: &Comp, a: &str) -> Vec<Prop> {
    if c.props_named("ATTENDEE")
        .nth(message::GUEST_LIST_LIMIT)
        .is_some()
    {
        roster.attendee(c, a).into_iter().cloned().collect()
    } else {
        all_attendees(c)
    }
}

/// CANCEL of the whole object to every server-scheduled attendee of `cals`
/// (`cals[0]` is the current state). SEQUENCE = the component's + `bump`.
fn cancel_all(cals: &[&Comp], bump: i64, me: &Me) -> Vec<ItipMessage> {
    let views: Vec<View> = cals.iter().map(|c| View::new(c)).collect();
    let master = views.iter().find_map(|v| v.master);
    let roster = Roster::new(cals);
    let scheduled_in = |c: &Comp, a: &str| roster.scheduled_in(c, a);
    let guest_list = |c: &Comp, a: &str| guest_list(&roster, c, a);
    let mut out = Vec::new();
    for a in people(cals, me) {
        let mut comps = Vec::new();
        let in_master = views
            .iter()
            .any(|v| v.master.is_some_and(|m| scheduled_in(m, &a)));
        if in_master && let Some(m) = master {
            let mut atts = guest_list(m, &a);
            if roster.attendee(m, &a).is_none()
                && let Some(p) = find_prop(cals, &a)
            {
                atts.push(p);
            }
            let head = roster.head(m);
            comps.push(cancel_comp(
                head,
                None,
                sequence(head).saturating_add(bump),
                &atts,
            ));
        } else {
            let mut seen: Vec<&str> = Vec::new();
            for (k, o) in views.iter().flat_map(|v| v.overrides.iter()) {
                if seen.contains(&k.as_str()) {
                    continue;
                }
                seen.push(k);
                let head = roster.head(o);
                if scheduled_in(o, &a) && !is_cancelled(head) {
                    let seq = sequence(head).saturating_add(bump);
                    comps.push(cancel_comp(
                        head,
                        head.prop("RECURRENCE-ID"),
                        seq,
                        &guest_list(o, &a),
                    ));
                }
            }
        }
        out.extend(message::build(Method::Cancel, &a, &me.org, comps, cals));
    }
    out
}

/// Messages for a new object: a REQUEST to every server-scheduled attendee.
fn create_messages(cal: &Comp, me: &Me) -> Vec<ItipMessage> {
    if View::new(cal).master.is_some_and(is_cancelled) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let roster = Roster::new(&[cal]);
    let view = View::new(cal);
    for a in people(&[cal], me) {
        if sched_comps(cal).any(|c| roster.scheduled_in(c, &a) && !is_cancelled(roster.head(c))) {
            out.extend(message::build(
                Method::Request,
                &a,
                &me.org,
                request_comps(&view, &a, &roster),
                &[cal],
            ));
        }
    }
    out
}

fn force_request(p: &Prop) -> bool {
    p.param("SCHEDULE-FORCE-SEND")
        .is_some_and(|v| v.eq_ignore_ascii_case("REQUEST"))
}

/// Messages for an update of `old` into `cal` (SEQUENCE already fixed).
fn update_messages(old: &Comp, cal: &Comp, plan: &[Change], me: &Me) -> Vec<ItipMessage> {
    let (ov, nv) = (View::new(old), View::new(cal));
    if let Some(m) = nv.master
        && is_cancelled(m)
    {
        return match ov.master {
            Some(o) if !is_cancelled(o) => cancel_all(&[cal, old], 0, me),
            _ => Vec::new(),
        };
    }
    let new_ex = nv.master.map(exdates).unwrap_or_default();
    let old_ex = exdate_keys(ov.master);
    let mut keys: Vec<String> = Vec::new();
    let all_keys = ov
        .overrides
        .iter()
        .chain(nv.overrides.iter())
        .map(|(k, _)| k.clone());
    for k in all_keys.chain(new_ex.iter().map(|(k, _)| k.clone())) {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let tz = [cal, old];
    let roster = Roster::new(&tz);
    let scheduled_in = |c: &Comp, a: &str| roster.scheduled_in(c, a);
    let mut out = Vec::new();
    for a in people(&[cal, old], me) {
        let in_old_master = ov.master.is_some_and(|m| scheduled_in(m, &a));
        let in_new_master = nv.master.is_some_and(|m| scheduled_in(m, &a));
        let mine = |c: &Comp| {
            roster
                .attendee(c, &a)
                .into_iter()
                .cloned()
                .collect::<Vec<Prop>>()
        };
        let mut parts = Vec::new();
        let whole = in_old_master && !in_new_master;
        if whole && let Some(om) = ov.master {
            let seq = nv
                .master
                .map_or(sequence(roster.head(om)).saturating_add(1), |m| {
                    sequence(roster.head(m))
                });
            parts.push(cancel_comp(roster.head(om), None, seq, &mine(om)));
        } else {
            for k in &keys {
                let ok = Some(k.clone());
                let Some(oc) = ov.eff(&ok) else { continue };
                let existed = ov.get(&ok).is_some() || !old_ex.contains(k);
                if !existed || !scheduled_in(oc, &a) || is_cancelled(roster.head(oc)) {
                    continue;
                }
                let rid = ov
                    .get(&ok)
                    .or(nv.get(&ok))
                    .and_then(|c| roster.head(c).prop("RECURRENCE-ID"));
                let ex = new_ex
                    .iter()
                    .find(|(x, _)| x == k && !old_ex.contains(x))
                    .map(|(_, p)| p);
                let (atts, seq) = match (ex, nv.eff(&ok)) {
                    (Some(_), _) => (
                        guest_list(&roster, oc, &a),
                        nv.master.map_or(0, |m| sequence(roster.head(m))),
                    ),
                    (None, None) => (mine(oc), sequence(roster.head(oc)).saturating_add(1)),
                    (None, Some(nc)) if is_cancelled(roster.head(nc)) => {
                        (guest_list(&roster, nc, &a), sequence(roster.head(nc)))
                    }
                    (None, Some(nc)) if !scheduled_in(nc, &a) => {
                        (mine(oc), sequence(roster.head(nc)))
                    }
                    _ => continue,
                };
                parts.push(cancel_comp(roster.head(oc), rid.or(ex), seq, &atts));
            }
        }
        let new_comps: Vec<(&Comp, &Change)> = sched_comps(cal)
            .zip(plan)
            .filter(|(c, _)| scheduled_in(c, &a) && !is_cancelled(roster.head(c)))
            .collect();
        let request = !new_comps.is_empty()
            && (whole
                || new_comps.iter().any(|(c, ch)| {
                    ch.request
                        || roster.attendee(c, &a).is_some_and(force_request)
                        || ov.eff(&ch.key).is_none_or(|o| !scheduled_in(o, &a))
                }));
        out.extend(message::build(Method::Cancel, &a, &me.org, parts, &tz));
        if request {
            out.extend(message::build(
                Method::Request,
                &a,
                &me.org,
                request_comps(&nv, &a, &roster),
                &tz,
            ));
        }
    }
    out
}

/// SCHEDULE-STATUS on attendees that were sent something, restored from the
/// old object on the others (clients may not set it, RFC 6638 section 7.3),
/// and no SCHEDULE-FORCE-SEND anywhere.
fn finish_attendees(
    cal: &mut Comp,
    old: Option<&Comp>,
    sent: &[String],
    status_for: &dyn Fn(&str) -> String,
) {
    let statuses: std::collections::HashMap<&str, String> =
        sent.iter().map(|a| (a.as_str(), status_for(a))).collect();
    let ov = old.map(View::new);
    let roster = Roster::new(&old.into_iter().collect::<Vec<_>>());
    let old_status = |k: &Option<String>, a: &str| -> Option<String> {
        let ov = ov.as_ref()?;
        let p = ov.eff(k).and_then(|c| roster.attendee(c, a));
        let p = p.or_else(|| old.and_then(|o| sched_comps(o).find_map(|c| roster.attendee(c, a))));
        p?.param("SCHEDULE-STATUS").map(str::to_string)
    };
    for c in cal.comps.iter_mut().filter(|c| object::is_sched(c)) {
        let k = key(c);
        for p in c.props.iter_mut().filter(|p| p.name == "ATTENDEE") {
            p.remove_param("SCHEDULE-FORCE-SEND");
            if !server_scheduled(p) {
                continue;
            }
            let a = normalize_address(&p.value);
            let status = match statuses.get(a.as_str()) {
                Some(s) => Some(s.clone()),
                None => old_status(&k, &a),
            };
            match status {
                Some(s) => p.set_param("SCHEDULE-STATUS", &s),
                None => {
                    p.remove_param("SCHEDULE-STATUS");
                }
            }
        }
    }
}

fn tag_changed(old: &Comp, new: &Comp) -> bool {
    let sigs = |cal: &Comp| {
        let mut v: Vec<(Option<String>, Vec<String>)> =
            sched_comps(cal).map(|c| (key(c), tag_sig(c))).collect();
        v.sort();
        v
    };
    sigs(old) != sigs(new)
}

/// Organizer PUT (RFC 6638 sections 3.2.1-3.2.8; RFC 5546 section 3.2); see the module doc.
pub fn organizer_put(
    old: Option<&str>,
    new: &str,
    organizer: &[String],
    status_for: &dyn Fn(&str) -> String,
) -> Result<OrganizerOutcome, ItipError> {
    let mut cal = object::parse_cal(new)?;
    let old_cal = old.map(object::parse_cal).transpose()?;
    let Some(org) = object::organizer(&cal) else {
        let had = old_cal.as_ref().and_then(object::organizer).is_some();
        return Err(if had {
            ItipError::OrganizerChanged
        } else {
            ItipError::NotSchedulingObject
        });
    };
    let me = Me {
        org,
        mine: organizer.iter().map(|a| normalize_address(a)).collect(),
    };
    if !me.mine.contains(&me.org) {
        return Err(ItipError::NotOrganizer);
    }
    if let Some(oc) = &old_cal {
        if object::uid(oc) != object::uid(&cal) {
            return Err(ItipError::UidMismatch);
        }
        if object::organizer(oc).is_some_and(|o| o != me.org) {
            return Err(ItipError::OrganizerChanged);
        }
    }
    let changes = plan(old_cal.as_ref(), &cal, &me);
    apply_plan(&mut cal, &changes, &me);
    let messages = match &old_cal {
        Some(oc) => update_messages(oc, &cal, &changes, &me),
        None => create_messages(&cal, &me),
    };
    let sent: Vec<String> = messages.iter().map(|m| m.recipient.clone()).collect();
    finish_attendees(&mut cal, old_cal.as_ref(), &sent, status_for);
    let schedule_tag_changes =
        !messages.is_empty() || old_cal.as_ref().is_none_or(|oc| tag_changed(oc, &cal));
    Ok(OrganizerOutcome {
        stored: edit::to_string(&cal),
        messages,
        schedule_tag_changes,
    })
}

/// Organizer DELETE: CANCEL (SEQUENCE + 1) to every server-scheduled attendee
/// not already cancelled; nothing when the object is already STATUS:CANCELLED,
/// is not valid, or its ORGANIZER is not one of `organizer`.
pub fn organizer_delete(old: &str, organizer: &[String]) -> Vec<ItipMessage> {
    let Ok(cal) = object::parse_cal(old) else {
        return Vec::new();
    };
    let Some(org) = object::organizer(&cal) else {
        return Vec::new();
    };
    let me = Me {
        org,
        mine: organizer.iter().map(|a| normalize_address(a)).collect(),
    };
    if !me.mine.contains(&me.org) || View::new(&cal).master.is_some_and(is_cancelled) {
        return Vec::new();
    }
    cancel_all(&[&cal], 1, &me)
}
