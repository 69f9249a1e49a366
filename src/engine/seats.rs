//! Seats and time for the API's events (issue 11), in the domain's terms:
//! the policy an application sets (capacity, release on decline, waiting
//! list, reminders) validated with the field named, seat holds (create,
//! confirm, release), the waiting list, and the iTIP rules the store runs
//! inside its transactions when a hold is confirmed, a waiting person is
//! invited or a reminder is due (`store::seats`, `store::invites`,
//! `store::timers` keep the counters and the timers). Only the organizer
//! reaches any of it: every operation takes the acting principal, and
//! another principal's event or hold is `NotFound`.

pub use super::confirms::confirm_hold;
use super::event::FieldError;
use super::write::{is_mail_address, my_addresses, outbox_entry, schedule_status};
use super::{Actor, EngineError, Result};
use crate::scheduling::{self, NewAttendee, Role};
use crate::store::{
    Effect, GuestRule, GuestsAdded, Hold, NewMessage, Policy, PolicySettings, ReminderRule, Store,
    StoreError, Timer, TimerKind, Waiting, WaitlistMode,
};

/// Most seats one event may have.
pub const MAX_CAPACITY: u32 = 1_000_000;
/// Most seats one hold may take.
pub const MAX_HOLD_SEATS: u32 = 10_000;
/// Longest duration accepted (a year), for `ttl`, `remind_after` and
/// `waitlist_offer_ttl`.
pub const MAX_DURATION: i64 = 366 * 86_400;
/// Most reminders per attendee.
pub const MAX_REMINDERS: u32 = 10;

/// The policy fields of a create or a patch, as given (unvalidated).
#[derive(Debug, Clone, Default)]
pub struct PolicySpec {
    /// `Some(None)`: remove the capacity.
    pub capacity: Option<Option<i64>>,
    pub release_on_decline: Option<bool>,
    /// `Some(None)`: no waiting list.
    pub waitlist: Option<Option<String>>,
    pub waitlist_offer_ttl: Option<String>,
    /// `Some(None)`: no reminders.
    pub remind_after: Option<Option<String>>,
    pub max_reminders: Option<i64>,
}

impl PolicySpec {
    /// Whether any policy field is given.
    pub fn is_empty(&self) -> bool {
        self.capacity.is_none()
            && self.release_on_decline.is_none()
            && self.waitlist.is_none()
            && self.waitlist_offer_ttl.is_none()
            && self.remind_after.is_none()
            && self.max_reminders.is_none()
    }
}

/// A positive ISO 8601 duration of at least `min` seconds, in seconds.
pub fn duration(field: &str, v: &str, min: i64) -> std::result::Result<i64, FieldError> {
    let s = crate::clock::parse_duration(v).ok_or_else(|| {
        FieldError::new(
            field,
            "must be a positive ISO 8601 duration in weeks, days, hours, minutes or seconds (PT10M, P3D)",
        )
    })?;
    if s < min {
        return Err(FieldError::new(
            field,
            format!("must be at least {}", crate::clock::format_duration(min)),
        ));
    }
    if s > MAX_DURATION {
        return Err(FieldError::new(field, "must be at most P366D"));
    }
    Ok(s)
}

/// The shortest durations an operator allows (`api.min_*_seconds`).
#[derive(Debug, Clone, Copy)]
pub struct Minimums {
    pub hold_ttl: i64,
    pub remind_after: i64,
    pub waitlist_offer_ttl: i64,
}

/// `spec` applied to `base` (the current settings, or the defaults).
pub fn settings(
    spec: &PolicySpec,
    base: PolicySettings,
    min: &Minimums,
) -> std::result::Result<PolicySettings, FieldError> {
    let mut s = base;
    if let Some(c) = spec.capacity {
        s.capacity = match c {
            None => None,
            Some(n) if (0..=i64::from(MAX_CAPACITY)).contains(&n) => Some(n as u32),
            Some(_) => {
                return Err(FieldError::new(
                    "capacity",
                    format!("must be 0 to {MAX_CAPACITY}"),
                ));
            }
        };
    }
    if let Some(r) = spec.release_on_decline {
        s.release_on_decline = r;
    }
    if let Some(w) = &spec.waitlist {
        s.waitlist = match w.as_deref() {
            None => None,
            Some("invite") => Some(WaitlistMode::Invite),
            Some("offer") => Some(WaitlistMode::Offer),
            Some(_) => {
                return Err(FieldError::new(
                    "waitlist",
                    "must be \"invite\" or \"offer\"",
                ));
            }
        };
    }
    if let Some(t) = &spec.waitlist_offer_ttl {
        s.waitlist_offer_ttl = duration("waitlist_offer_ttl", t, min.waitlist_offer_ttl)?;
    }
    if let Some(r) = &spec.remind_after {
        s.remind_after = match r {
            None => None,
            Some(v) => Some(duration("remind_after", v, min.remind_after)?),
        };
    }
    if let Some(m) = spec.max_reminders {
        if !(0..=i64::from(MAX_REMINDERS)).contains(&m) {
            return Err(FieldError::new(
                "max_reminders",
                format!("must be 0 to {MAX_REMINDERS}"),
            ));
        }
        s.max_reminders = m as u32;
    }
    if s.waitlist.is_some() && s.capacity.is_none() {
        return Err(FieldError::new(
            "waitlist",
            "a waiting list needs a capacity",
        ));
    }
    Ok(s)
}

/// Seats the guests `new` would take of the event `text`: those not on
/// it yet and not the organizer's or NON-PARTICIPANT.
pub fn seats_wanted(text: &str, mine: &[String], new: &[NewAttendee]) -> u32 {
    let present: std::collections::HashSet<String> = scheduling::attendees_of(text)
        .into_iter()
        .chain(mine.iter().map(|m| scheduling::normalize_address(m)))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let n = new
        .iter()
        .filter(|a| a.role != Role::NonParticipant)
        .filter_map(|a| scheduling::mail_address(&a.email).ok())
        .filter(|a| !present.contains(a) && seen.insert(a.clone()))
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The rule that puts `guests` on an event inside a store transaction
/// (`scheduling::add_attendees` as the organizer `mine`): the object to
/// store and a REQUEST for each new guest.
pub fn guest_rule(store: Store, mine: Vec<String>, max_per_instance: usize) -> GuestRule {
    Box::new(move |text: &str, guests: &[Waiting]| {
        let mut list = scheduling::GuestList::parse(text, &mine).map_err(|e| e.to_string())?;
        add_guests(&mut list, &store, guests, max_per_instance)
    })
}

/// Add `guests` to a parsed event: the object to store and a REQUEST for
/// each new guest (None when all are on it already).
pub(super) fn add_guests(
    list: &mut scheduling::GuestList,
    store: &Store,
    guests: &[Waiting],
    max_per_instance: usize,
) -> std::result::Result<Option<GuestsAdded>, String> {
    let new: Vec<NewAttendee> = guests
        .iter()
        .map(|g| NewAttendee {
            email: g.email.clone(),
            name: g.name.clone(),
            role: Role::Required,
        })
        .collect();
    let status = |a: &str| schedule_status(store, a);
    let o = list.add(&new, &status).map_err(|e| e.to_string())?;
    let Some(stored) = o.stored else {
        return Ok(None);
    };
    // Each added guest is REQ-PARTICIPANT, not the organizer, not on it yet.
    let seats = u32::try_from(o.added.len()).unwrap_or(u32::MAX);
    let found = scheduling::most_attendees(&stored);
    if found > max_per_instance {
        return Err(format!(
            "{found} attendees; at most {max_per_instance} per event"
        ));
    }
    let messages: Vec<NewMessage> = o
        .messages
        .into_iter()
        .filter(|m| is_mail_address(&m.recipient))
        .map(|m| outbox_entry(store, m))
        .collect();
    Ok(Some(GuestsAdded {
        stored,
        messages,
        seats,
    }))
}

/// Whether the event `text` has started by `now` (its first instance).
fn started(text: &str, now: i64) -> bool {
    crate::ical::parse_object(text)
        .ok()
        .and_then(|info| info.index.spans.first().map(|s| s.0))
        .is_some_and(|start| start <= now)
}

/// The reminder rule for `email` (see `store::ReminderRule`): the
/// REQUEST again while they have not answered, the event is neither
/// cancelled nor started.
pub fn reminder_rule(store: Store, mine: Vec<String>, email: String) -> ReminderRule {
    Box::new(move |text: &str| {
        if started(text, crate::clock::now()) {
            return None;
        }
        let m = scheduling::pending_request(text, &mine, &format!("mailto:{email}")).ok()??;
        is_mail_address(&m.recipient).then(|| outbox_entry(&store, m))
    })
}

/// The organizer addresses of `user`.
fn addresses_of(store: &Store, user: &str) -> Result<Vec<String>> {
    let p = store.principal(user)?.ok_or(StoreError::NotFound)?;
    Ok(p.emails
        .iter()
        .map(|e| scheduling::normalize_address(e))
        .collect())
}

/// What the timer worker hands the store with a due timer.
pub fn effect_for(store: &Store, timer: &Timer, max_per_instance: usize) -> Result<Effect> {
    Ok(match &timer.kind {
        TimerKind::HoldExpiry { .. } => Effect::Plain,
        TimerKind::Promote { user, .. } => Effect::Guests(guest_rule(
            store.clone(),
            addresses_of(store, user)?,
            max_per_instance,
        )),
        TimerKind::Reminder { user, email, .. } => Effect::Reminder(reminder_rule(
            store.clone(),
            addresses_of(store, user)?,
            email.clone(),
        )),
    })
}

/// Check that the actor organizes the event at `path`.
fn organized(actor: &Actor<'_>, path: &str) -> Result<()> {
    let body = actor
        .store
        .body(actor.user, path)?
        .ok_or(StoreError::NotFound)?;
    let text = String::from_utf8_lossy(&body);
    let mine = my_addresses(actor)?;
    match scheduling::organizer_of(&text) {
        Some(o) if mine.contains(&scheduling::normalize_address(&o)) => Ok(()),
        _ => Err(EngineError::OrganizerChange(
            "only the organizer may hold seats of an event".into(),
        )),
    }
}

/// Hold `seats` of the actor's event at `path` for `ttl` seconds.
pub async fn create_hold(actor: &Actor<'_>, path: &str, seats: i64, ttl: i64) -> Result<Hold> {
    if !(1..=i64::from(MAX_HOLD_SEATS)).contains(&seats) {
        return Err(FieldError::new("seats", format!("must be 1 to {MAX_HOLD_SEATS}")).into());
    }
    // Only the organizer gives an event a policy (create, `set_policy`),
    // and a hold needs one: no need to read the event here.
    match actor
        .store
        .hold_create(actor.user, path, seats as u32, ttl)
        .await
    {
        Err(StoreError::NotFound) if actor.store.node(actor.user, path)?.is_some() => {
            Err(FieldError::new("seats", "the event has no capacity: set one to hold seats").into())
        }
        Err(StoreError::Rejected(why)) => Err(FieldError::new("seats", why).into()),
        r => Ok(r?),
    }
}

/// A guest given by an application, checked.
pub fn guest(field: &str, email: &str, name: Option<String>) -> Result<Waiting> {
    let addr = scheduling::mail_address(email)
        .map_err(|why| FieldError::new(format!("{field}.email"), why))?;
    if let Some(n) = &name {
        scheduling::check_name(n).map_err(|why| FieldError::new(format!("{field}.name"), why))?;
    }
    Ok(Waiting {
        email: addr.trim_start_matches("mailto:").to_string(),
        name,
        at: crate::clock::now(),
    })
}

/// Release hold `id` of the actor at once.
pub async fn release_hold(actor: &Actor<'_>, id: u64) -> Result<Hold> {
    let h = actor.store.hold_release(actor.user, id).await?;
    crate::timers::wake();
    Ok(h)
}

/// Put `people` on the waiting list of the actor's event at `path`
/// (those already on the event or waiting are skipped); returns the
/// policy after and who was added.
pub async fn join_waitlist(
    actor: &Actor<'_>,
    path: &str,
    people: Vec<Waiting>,
) -> Result<(Policy, Vec<String>)> {
    organized(actor, path)?;
    let body = actor
        .store
        .body(actor.user, path)?
        .ok_or(StoreError::NotFound)?;
    let on_event: Vec<String> = scheduling::attendees_of(&String::from_utf8_lossy(&body))
        .into_iter()
        .map(|a| a.trim_start_matches("mailto:").to_string())
        .collect();
    match actor
        .store
        .waitlist_add(actor.user, path, people, on_event)
        .await
    {
        Err(StoreError::NotFound) if actor.store.node(actor.user, path)?.is_some() => {
            Err(FieldError::new("attendees", "the event has no waiting list").into())
        }
        Err(StoreError::Rejected(why)) => Err(FieldError::new("attendees", why).into()),
        r => {
            crate::timers::wake();
            Ok(r?)
        }
    }
}

/// Set the seat and reminder settings of the actor's event at `path`
/// (organizer only; see `Store::policy_set`).
pub async fn set_policy(actor: &Actor<'_>, path: &str, settings: PolicySettings) -> Result<Policy> {
    organized(actor, path)?;
    let p = actor.store.policy_set(actor.user, path, settings).await?;
    crate::timers::wake();
    Ok(p)
}

/// An invitation without an answer.
#[derive(Debug, Clone)]
pub struct Pending {
    pub path: String,
    pub uid: String,
    pub summary: Option<String>,
    pub start: Option<String>,
    pub email: String,
    pub name: Option<String>,
    pub invite: crate::store::Invite,
}

/// The invitations of `user`'s events queued at `before` or earlier whose
/// attendee is still NEEDS-ACTION, on events not cancelled; oldest first.
/// Computed from the stored objects and invitation records.
pub fn pending(store: &Store, user: &str, before: i64) -> Result<Vec<Pending>> {
    use super::event_view::{self, Status};
    let mut out = Vec::new();
    let mut rows = store.invites_before(user, before)?;
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut current: Option<(String, Option<event_view::EventView>)> = None;
    for (path, email, invite) in rows {
        if current.as_ref().is_none_or(|(p, _)| *p != path) {
            let view = store
                .body(user, &path)?
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|t| event_view::read(&t));
            current = Some((path.clone(), view));
        }
        let Some((_, Some(view))) = &current else {
            continue;
        };
        if view.status == Status::Cancelled {
            continue;
        }
        let Some(a) = view
            .attendees
            .iter()
            .find(|a| a.email.eq_ignore_ascii_case(&email))
        else {
            continue;
        };
        if !a.partstat.eq_ignore_ascii_case("NEEDS-ACTION") {
            continue;
        }
        out.push(Pending {
            path: path.clone(),
            uid: view.uid.clone(),
            summary: view.summary.clone(),
            start: view.start.clone(),
            email: a.email.clone(),
            name: a.name.clone(),
            invite,
        });
    }
    out.sort_by_key(|p| p.invite.invited_at);
    Ok(out)
}
