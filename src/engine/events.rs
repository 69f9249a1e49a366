//! The event operations of the REST API, in the domain's terms: create an
//! event as a principal (the iTIP REQUESTs go out through `save`), change
//! it (the scheduling rules decide SEQUENCE and who hears of it), read one
//! with the delivery state of every invitation, list a principal's events
//! page by page, and an event's history. Validation errors name the field.

use super::event::{self, EventSpec, FieldError, Organizer};
use super::event_view::{self, Delivery, EventView};
use super::{Actor, Conditions, EngineError, Result, Saved, modes};
use crate::scheduling;
use crate::store::{
    HistoryEntry, Invite, OutboxState, Policy, PolicySettings, Store, StoreError, resource_name,
};

impl From<FieldError> for EngineError {
    fn from(e: FieldError) -> Self {
        EngineError::Field {
            field: e.field,
            detail: e.detail,
        }
    }
}

/// A new UID: 128 random bits.
fn new_uid() -> Result<String> {
    let mut b = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .map_err(|_| EngineError::Internal("the system random source failed".into()))?;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("{hex}@herald"))
}

fn organizer(actor: &Actor<'_>) -> Result<Organizer> {
    let p = actor
        .store
        .principal(actor.user)?
        .ok_or_else(|| EngineError::Internal("the acting principal vanished".into()))?;
    let address = p
        .emails
        .first()
        .cloned()
        .ok_or_else(|| EngineError::Field {
            field: "attendees".into(),
            detail: "the principal has no email address to organize from".into(),
        })?;
    Ok(Organizer {
        address,
        name: p.displayname,
    })
}

/// Record an API step in the event's history (`kind` as the method).
async fn note(
    store: &Store,
    user: &str,
    uid: &str,
    kind: &str,
    who: &str,
    detail: String,
    tag: &str,
) {
    let entry = HistoryEntry {
        at: chrono::Utc::now().timestamp(),
        message_id: format!("herald-api:{user}:{uid}:{kind}:{tag}"),
        from: who.to_string(),
        method: kind.to_string(),
        accepted: true,
        detail,
        dtstamp: None,
        proposal: None,
    };
    if let Err(e) = store.add_history(user, uid, entry).await {
        tracing::warn!("api: history of {uid} not written: {e}");
    }
}

/// Create an event in the principal's default calendar; returns its path.
pub async fn create(
    actor: &Actor<'_>,
    spec: &EventSpec,
    max_attendees: usize,
    policy: Option<PolicySettings>,
) -> Result<(String, Saved)> {
    let ev = event::validate(spec, max_attendees)?;
    let org = organizer(actor)?;
    let uid = match &ev.uid {
        Some(u) => u.clone(),
        None => new_uid()?,
    };
    let text = event::to_ical(&ev, &uid, &org, chrono::Utc::now());
    event::check_object(&text, ev.rrule.is_some())?;
    let calendar = actor
        .store
        .default_calendar(actor.user, Some("VEVENT"))?
        .ok_or_else(|| EngineError::Internal("the principal has no calendar for events".into()))?;
    let path = format!("{calendar}{}.ics", resource_name(&uid));
    if actor.store.node(actor.user, &path)?.is_some()
        || !actor.store.uid_in_home(actor.user, &uid)?.is_empty()
    {
        return Err(EngineError::Field {
            field: "uid".into(),
            detail: "an event with this uid exists".into(),
        });
    }
    if let Some(capacity) = policy.as_ref().and_then(|p| p.capacity) {
        let taken = crate::ical::seats_taken(&text, true);
        if taken > capacity {
            return Err(StoreError::CapacityExceeded {
                available: capacity,
            }
            .into());
        }
    }
    let saved = if ev.mode == modes::Mode::DelegateOrganizer {
        if policy.is_some() {
            return Err(EngineError::Field {
                field: "capacity".into(),
                detail: "seats and reminders are for standard and relay events".into(),
            });
        }
        modes::save_delegated(actor, &path, &text).await?
    } else {
        let cond = Conditions {
            if_none_match_any: true,
            policy,
            ..Conditions::default()
        };
        super::save(actor, actor.user, &path, &text, cond).await?
    };
    note(
        actor.store,
        actor.user,
        &uid,
        "created",
        &org.address,
        format!("created with {} attendee(s)", ev.attendees.len()),
        &saved.etag,
    )
    .await;
    Ok((path, saved))
}

/// What a patch changes; None leaves a field, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct EventPatch {
    pub summary: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub location: Option<Option<String>>,
    pub start: Option<String>,
    pub end: Option<Option<String>>,
    pub time_zone: Option<Option<String>>,
    pub all_day: Option<bool>,
    pub rrule: Option<Option<String>>,
}

/// The stored text of `path`, with its ETag.
fn stored(store: &Store, user: &str, path: &str) -> Result<(String, String)> {
    let node = store.node(user, path)?.ok_or(StoreError::NotFound)?;
    let body = store.body(user, path)?.ok_or(StoreError::NotFound)?;
    let text = String::from_utf8(body).map_err(|_| StoreError::NotFound)?;
    Ok((text, node.etag))
}

/// Change an event the principal organizes; `if_match` is the ETag the
/// caller saw (412 when it changed since).
pub async fn patch(
    actor: &Actor<'_>,
    path: &str,
    p: &EventPatch,
    if_match: &str,
    max_attendees: usize,
) -> Result<Saved> {
    let (text, etag) = stored(actor.store, actor.user, path)?;
    if etag != if_match {
        return Err(StoreError::PreconditionFailed.into());
    }
    let view = event_view::read(&text).ok_or(StoreError::NotFound)?;
    let mine = organizer(actor)?;
    if view.organizer.as_ref().is_some_and(|o| {
        !scheduling::address_is(
            &format!("mailto:{}", o.email),
            &scheduling::normalize_address(&mine.address),
        )
    }) {
        return Err(EngineError::OrganizerChange(
            "only the organizer changes an event".into(),
        ));
    }
    let mut spec = view.to_spec();
    let set = |v: &Option<Option<String>>, into: &mut Option<String>| {
        if let Some(x) = v {
            *into = x.clone();
        }
    };
    set(&p.summary, &mut spec.summary);
    set(&p.description, &mut spec.description);
    set(&p.location, &mut spec.location);
    set(&p.end, &mut spec.end);
    set(&p.time_zone, &mut spec.time_zone);
    set(&p.rrule, &mut spec.rrule);
    if let Some(s) = &p.start {
        spec.start = s.clone();
    }
    if let Some(a) = p.all_day {
        spec.all_day = a;
    }
    // The attendees are validated as stored; they change through /attendees.
    let ev = event::validate(&spec, max_attendees.max(spec.attendees.len()))?;
    let new = event::rewrite_master(&text, &ev, chrono::Utc::now())
        .ok_or_else(|| EngineError::Internal("the stored event cannot be rewritten".into()))?;
    event::check_object(&new, ev.rrule.is_some())?;
    let cond = Conditions {
        if_match: Some(etag),
        ..Conditions::default()
    };
    let saved = super::save(actor, actor.user, path, &new, cond).await?;
    note(
        actor.store,
        actor.user,
        &view.uid,
        "updated",
        &mine.address,
        "updated".into(),
        &saved.etag,
    )
    .await;
    Ok(saved)
}

/// An attendee's delivery, with the SMTP answer when it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct AttendeeDelivery {
    pub delivery: Delivery,
    pub error: Option<String>,
}

/// An event as the API shows it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub view: EventView,
    pub etag: String,
    /// Per attendee of `view.attendees`, in order.
    pub delivery: Vec<AttendeeDelivery>,
    pub last_reply_at: Option<i64>,
    /// Capacity, seats and reminder settings, when the event has any.
    pub policy: Option<Policy>,
    /// Per attendee of `view.attendees`: their invitation record.
    pub invites: Vec<Option<Invite>>,
}

/// The event at `path` of `user`; None when there is none (or it is not an event).
pub fn load(store: &Store, user: &str, path: &str) -> Result<Option<Loaded>> {
    let Some(node) = store.node(user, path)? else {
        return Ok(None);
    };
    let Some(body) = store.body(user, path)? else {
        return Ok(None);
    };
    let Some(view) = std::str::from_utf8(&body).ok().and_then(event_view::read) else {
        return Ok(None);
    };
    let mut delivery: Vec<AttendeeDelivery> = view
        .attendees
        .iter()
        .map(|a| {
            let local = store
                .principal_by_address(&a.address())
                .ok()
                .flatten()
                .is_some();
            AttendeeDelivery {
                delivery: Delivery::from_status(a.schedule_status.as_deref(), local),
                error: None,
            }
        })
        .collect();
    if delivery.iter().any(|d| d.delivery == Delivery::Failed) {
        // Failures are rare: only then look for the SMTP answers.
        for e in store.outbox_list()? {
            if e.owner != user
                || e.object_path != path
                || !matches!(e.state, OutboxState::Failed { .. })
            {
                continue;
            }
            if let Some(i) = view
                .attendees
                .iter()
                .position(|a| a.address() == e.message.recipient)
            {
                delivery[i].error = e.last_error.clone();
            }
        }
    }
    let last_reply_at = store
        .history(user, &view.uid)?
        .iter()
        .filter(|h| h.accepted && h.method == "REPLY")
        .map(|h| h.at)
        .max();
    let mut records: std::collections::HashMap<String, Invite> =
        store.invites(user, path)?.into_iter().collect();
    let invites = view
        .attendees
        .iter()
        .map(|a| records.remove(&a.email.to_ascii_lowercase()))
        .collect();
    Ok(Some(Loaded {
        view,
        etag: node.etag,
        delivery,
        last_reply_at,
        policy: store.policy(user, path)?,
        invites,
    }))
}

/// One step in an event's life.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: i64,
    /// created | sent | failed | replied | countered | updated | cancelled | refused | ...
    pub kind: String,
    pub who: String,
    pub detail: String,
}

fn kind_of(h: &HistoryEntry) -> String {
    if !h.accepted {
        return "refused".into();
    }
    match h.method.as_str() {
        "REPLY" => "replied".into(),
        "COUNTER" => "countered".into(),
        "REFRESH" => "refreshed".into(),
        "COUNTER-ACCEPTED" => "counter-accepted".into(),
        "DECLINECOUNTER" => "counter-declined".into(),
        other => other.to_ascii_lowercase(),
    }
}

/// The history of the event at `path`: API steps, mail received, and
/// messages sent or failed, oldest first.
pub fn history(store: &Store, user: &str, path: &str) -> Result<Option<Vec<Step>>> {
    let Some(node) = store.node(user, path)? else {
        return Ok(None);
    };
    let Some(uid) = node.resource().and_then(|r| r.uid.clone()) else {
        return Ok(None);
    };
    let mut steps: Vec<(i64, u64, Step)> = store
        .history(user, &uid)?
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            (
                h.at,
                i as u64 * 2,
                Step {
                    at: h.at,
                    kind: kind_of(&h),
                    who: h.from.trim_start_matches("mailto:").to_string(),
                    detail: h.detail,
                },
            )
        })
        .collect();
    for e in store.outbox_list()? {
        if e.owner != user || e.object_path != path {
            continue;
        }
        let (at, kind) = match e.state {
            OutboxState::Sent { at } => (at, "sent"),
            OutboxState::Failed { at } => (at, "failed"),
            OutboxState::Pending { .. } => continue,
        };
        let to = e
            .message
            .recipient
            .trim_start_matches("mailto:")
            .to_string();
        steps.push((
            at,
            e.id * 2 + 1,
            Step {
                at,
                kind: kind.into(),
                who: to.clone(),
                detail: match e.last_error {
                    Some(err) if kind == "failed" => format!("{} to {to}: {err}", e.message.method),
                    _ => format!("{} to {to}", e.message.method),
                },
            },
        ));
    }
    steps.sort_by_key(|(at, n, _)| (*at, *n));
    Ok(Some(steps.into_iter().map(|(_, _, s)| s).collect()))
}

/// A page of a principal's events.
pub struct Page {
    pub events: Vec<(String, Loaded)>,
    /// The path after which the next page starts.
    pub next_after: Option<String>,
}

/// The principal's events (VEVENT objects of all their calendars), in path
/// order after `after`, overlapping [from, to) (UTC seconds; the time
/// index, a superset for floating times), with `status` when given.
/// Ordering by path makes the pages stable while events are added.
pub fn list(
    store: &Store,
    user: &str,
    from: Option<i64>,
    to: Option<i64>,
    status: Option<event_view::Status>,
    after: Option<&str>,
    limit: usize,
) -> Result<Page> {
    let mut paths = Vec::new();
    for (cal, node) in store.children(user, "")? {
        if node.calendar().is_none() {
            continue;
        }
        paths.extend(
            store
                .time_candidates(user, &cal, from, to)?
                .into_iter()
                .map(|(p, _)| p),
        );
    }
    paths.sort();
    let mut events = Vec::new();
    let mut next_after = None;
    for p in paths
        .into_iter()
        .filter(|p| after.is_none_or(|a| p.as_str() > a))
    {
        let Some(loaded) = load(store, user, &p)? else {
            continue;
        };
        if status.is_some_and(|s| loaded.view.status != s) {
            continue;
        }
        if events.len() == limit {
            next_after = events.last().map(|(p, _): &(String, Loaded)| p.clone());
            break;
        }
        events.push((p, loaded));
    }
    Ok(Page { events, next_after })
}
