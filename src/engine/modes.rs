//! The application modes of an event (issue 10) and what follows from
//! them: `relay` reflects each attendee's answer to the others; a COUNTER
//! is accepted at once (`counter_policy` accept: rescheduled, everyone gets
//! the new time) or kept for the application to accept or decline later;
//! `delegate-organizer` hands the organizer role to the event's chair. The
//! mode travels in the calendar object itself (`X-HERALD-MODE`,
//! `X-HERALD-COUNTER-POLICY` on the VEVENT), so one object has one truth
//! whichever door reads it.

use super::inbound::{Outcome, applied, copy_to_inbox, refuse, temp};
use super::write::{is_mail_address, outbox_entry, schedule_status};
use super::{Actor, EngineError, Result, Saved};
use crate::imip::inbound::Inbound;
use crate::scheduling::{self, Method};
use crate::store::{
    CalendarObjectMeta, HistoryEntry, InboundApplied, InboundTransform, NewMessage, PutRequest,
    ScheduleTag, Store, StoreError, parent_path,
};

/// Property names on the VEVENT.
pub const MODE_PROP: &str = "X-HERALD-MODE";
pub const COUNTER_POLICY_PROP: &str = "X-HERALD-COUNTER-POLICY";

pub use super::event::{CounterPolicy, Mode};

/// The value of the first `name:` line (unfolded lines are short here).
fn first_value<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (n, v) = l.trim_end().split_once(':')?;
        n.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

pub fn mode_of(text: &str) -> Mode {
    Mode::from_ical(first_value(text, MODE_PROP))
}

pub fn counter_policy_of(text: &str) -> CounterPolicy {
    CounterPolicy::from_ical(first_value(text, COUNTER_POLICY_PROP))
}

fn to_outbox(store: &Store, messages: Vec<scheduling::ItipMessage>) -> Vec<NewMessage> {
    messages
        .into_iter()
        .filter(|m| is_mail_address(&m.recipient))
        .map(|m| outbox_entry(store, m))
        .collect()
}

/// Relay mode: after `replier`'s answer was applied (`text` is the
/// organizer's copy with it), every other attendee gets an update showing
/// the new PARTSTAT (a REQUEST with the same SEQUENCE: nothing was
/// rescheduled). Nothing in other modes.
pub(super) fn relay_reply(
    store: &Store,
    text: &str,
    replier: &str,
    organizer: &[String],
) -> Vec<NewMessage> {
    if mode_of(text) != Mode::Relay {
        return Vec::new();
    }
    let status = |a: &str| schedule_status(store, a);
    let Ok(o) = scheduling::organizer_put(None, text, organizer, &status) else {
        return Vec::new();
    };
    let others = o
        .messages
        .into_iter()
        .filter(|m| m.method == Method::Request && m.recipient != replier)
        .collect();
    to_outbox(store, others)
}

/// The organizer's copy with a COUNTER accepted, and the update to everyone.
fn accept_transform(
    store: &Store,
    current: &str,
    counter: &str,
    organizer: &[String],
) -> std::result::Result<(String, Vec<NewMessage>), String> {
    let proposal = scheduling::counter_proposal(current, counter).map_err(|e| e.to_string())?;
    let status = |a: &str| schedule_status(store, a);
    let o = scheduling::organizer_put(Some(current), &proposal, organizer, &status)
        .map_err(|e| e.to_string())?;
    Ok((o.stored, to_outbox(store, o.messages)))
}

/// The text of `user`'s object `uid` in `calendar`.
fn copy_in(store: &Store, user: &str, calendar: &str, uid: &str) -> Option<String> {
    let name = store.uid_in(user, calendar, uid).ok().flatten()?;
    let body = store
        .body(user, &format!("{calendar}{name}"))
        .ok()
        .flatten()?;
    String::from_utf8(body).ok()
}

fn emails(store: &Store, user: &str) -> std::result::Result<Vec<String>, StoreError> {
    Ok(store.principal(user)?.map(|p| p.emails).unwrap_or_default())
}

/// A COUNTER from `attendee` (already checked to be them) for `user`'s
/// event in `calendar`: applied at once under `counter_policy` accept,
/// else recorded (with its proposal) for the organizer.
pub(super) async fn counter(
    store: &Store,
    user: &str,
    calendar: &str,
    msg: &Inbound,
    mut entry: HistoryEntry,
    attendee: &str,
) -> Outcome {
    let Some(current) = copy_in(store, user, calendar, &msg.uid) else {
        return refuse(store, user, msg, "the event is gone".into()).await;
    };
    if counter_policy_of(&current) == CounterPolicy::Accept {
        if let Err(why) = scheduling::counter_proposal(&current, &msg.ical) {
            return refuse(store, user, msg, format!("unusable COUNTER: {why}")).await;
        }
        let mine = match emails(store, user) {
            Ok(m) => m,
            Err(e) => return temp(e),
        };
        entry.detail =
            format!("{attendee} proposed a new time (COUNTER); accepted and rescheduled");
        let (st, counter) = (store.clone(), msg.ical.clone());
        let f: InboundTransform = Box::new(move |cur| match cur {
            Some(c) => accept_transform(&st, c, &counter, &mine).map(Some),
            None => Ok(None),
        });
        return applied(
            store
                .apply_inbound(user, calendar, &msg.uid, f, entry)
                .await,
        );
    }
    entry.accepted = true;
    entry.proposal = Some(msg.ical.clone());
    entry.detail = format!("{attendee} proposes a change (COUNTER); waiting for the organizer");
    let outcome = match store.add_history(user, &msg.uid, entry).await {
        Ok(Some(before)) => return Outcome::Duplicate(before),
        Ok(None) => Outcome::Processed(format!("COUNTER from {attendee} recorded for {user}")),
        Err(e) => return temp(e),
    };
    copy_to_inbox(store, user, msg).await;
    outcome
}

/// What became of a COUNTER kept for the organizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterState {
    Pending,
    Accepted,
    Declined,
}

/// A COUNTER kept for the organizer; `n` counts from 1 in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub struct Counter {
    pub n: usize,
    pub from: String,
    pub at: i64,
    pub proposed_start: Option<String>,
    pub proposed_end: Option<String>,
    pub state: CounterState,
    proposal: String,
}

const ACCEPTED_METHOD: &str = "COUNTER-ACCEPTED";

/// The history key under which the organizer's decision on counter `n`
/// is recorded (once: a second decision is a duplicate).
fn decision_id(user: &str, uid: &str, n: usize) -> String {
    format!("herald-counter:{user}:{uid}:{n}")
}

/// The COUNTERs kept for `user`'s event `uid`, with their state.
pub fn counters(store: &Store, user: &str, uid: &str) -> Result<Vec<Counter>> {
    let history = store.history(user, uid)?;
    let mut out = Vec::new();
    for h in history
        .iter()
        .filter(|h| h.method == "COUNTER" && h.accepted)
    {
        let Some(proposal) = &h.proposal else {
            continue;
        };
        let n = out.len() + 1;
        let id = decision_id(user, uid, n);
        let state = match history.iter().find(|d| d.message_id == id && d.accepted) {
            Some(d) if d.method == ACCEPTED_METHOD => CounterState::Accepted,
            Some(_) => CounterState::Declined,
            None => CounterState::Pending,
        };
        let (start, end) = scheduling::counter_times(proposal);
        out.push(Counter {
            n,
            from: h.from.clone(),
            at: h.at,
            proposed_start: start,
            proposed_end: end,
            state,
            proposal: proposal.clone(),
        });
    }
    Ok(out)
}

/// The organizer's decision on counter `n` of the event at `path`:
/// accepting reschedules (everyone gets the new time), declining sends a
/// DECLINECOUNTER to the proposer. Deciding twice changes nothing and
/// answers the first decision.
pub async fn decide_counter(
    actor: &Actor<'_>,
    path: &str,
    n: usize,
    accept: bool,
) -> Result<Counter> {
    let store = actor.store;
    let text = store
        .body(actor.user, path)?
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(StoreError::NotFound)?;
    let uid = crate::ical::parse_object(&text)
        .map_err(|e| EngineError::InvalidObject(e.to_string()))?
        .uid;
    let mine = emails(store, actor.user)?;
    let organizer = scheduling::organizer_of(&text).ok_or(StoreError::NotFound)?;
    if !mine.iter().any(|m| scheduling::address_is(m, &organizer)) {
        return Err(EngineError::OrganizerChange(
            "only the organizer decides on a COUNTER".into(),
        ));
    }
    let found = counters(store, actor.user, &uid)?;
    let counter = found
        .into_iter()
        .find(|c| c.n == n)
        .ok_or(StoreError::NotFound)?;
    if counter.state != CounterState::Pending {
        return Ok(counter);
    }
    let calendar = parent_path(path).unwrap_or("").to_string();
    let entry = HistoryEntry {
        at: chrono::Utc::now().timestamp(),
        message_id: decision_id(actor.user, &uid, n),
        from: organizer.clone(),
        method: if accept {
            ACCEPTED_METHOD
        } else {
            "DECLINECOUNTER"
        }
        .into(),
        accepted: false,
        detail: format!(
            "COUNTER {n} from {} {}",
            counter.from,
            if accept { "accepted" } else { "declined" }
        ),
        dtstamp: None,
        proposal: None,
    };
    let (st, proposal) = (store.clone(), counter.proposal.clone());
    let f: InboundTransform = if accept {
        Box::new(move |cur| match cur {
            Some(c) => accept_transform(&st, c, &proposal, &mine).map(Some),
            None => Ok(None),
        })
    } else {
        Box::new(move |cur| match cur {
            Some(c) => {
                let m = scheduling::decline_counter(c, &proposal, &organizer)
                    .map_err(|e| e.to_string())?;
                Ok(Some((c.to_string(), to_outbox(&st, vec![m]))))
            }
            None => Ok(None),
        })
    };
    match store
        .apply_inbound(actor.user, &calendar, &uid, f, entry)
        .await?
    {
        InboundApplied::Applied(_) | InboundApplied::Duplicate(_) => {
            actor.outbox_ready.notify_one();
        }
        InboundApplied::Rejected(why) => return Err(EngineError::OrganizerChange(why)),
    }
    let after = counters(store, actor.user, &uid)?;
    after
        .into_iter()
        .find(|c| c.n == n)
        .ok_or_else(|| EngineError::Internal("the counter vanished".into()))
}

/// Store a new event in delegate-organizer mode: `text` is the event as
/// the application's principal would organize it; the chair becomes its
/// ORGANIZER and the first invitation goes, from herald on the chair's
/// behalf (SENT-BY), to every participant including the chair. From then
/// on the principal is an attendee (ROLE=NON-PARTICIPANT) and follows the
/// updates the chair's client sends.
pub async fn save_delegated(actor: &Actor<'_>, path: &str, text: &str) -> Result<Saved> {
    let (stored, chair) = scheduling::delegate_organizer(text)?;
    let info = crate::ical::parse_object(&stored)
        .map_err(|e| EngineError::InvalidObject(e.to_string()))?;
    let mine: Vec<String> = emails(actor.store, actor.user)?
        .iter()
        .map(|e| scheduling::normalize_address(e))
        .collect();
    let status = |a: &str| schedule_status(actor.store, a);
    let planned = scheduling::organizer_put(None, &stored, std::slice::from_ref(&chair), &status)?;
    let mut messages: Vec<scheduling::ItipMessage> = planned
        .messages
        .into_iter()
        .filter(|m| m.method == Method::Request && !mine.contains(&m.recipient))
        .collect();
    if let Some(first) = messages.first() {
        let mut to_chair = first.clone();
        to_chair.recipient = chair.clone();
        messages.push(to_chair);
    }
    let req = PutRequest {
        body: stored.into_bytes(),
        content_type: "text/calendar; charset=utf-8".into(),
        if_match: None,
        if_none_match_any: true,
        if_schedule_tag: None,
        calendar: Some(CalendarObjectMeta {
            uid: info.uid,
            component: info.kind.as_str().to_string(),
            index: info.index,
        }),
        schedule_tag: ScheduleTag::New,
        outbox: to_outbox(actor.store, messages),
        seats_wanted: 0,
        policy: None,
    };
    let queued = !req.outbox.is_empty();
    let o = actor.store.put(actor.user, path, req).await?;
    if queued {
        actor.outbox_ready.notify_one();
    }
    Ok(Saved {
        created: o.created,
        etag: o.etag,
        schedule_tag: o.schedule_tag,
    })
}
