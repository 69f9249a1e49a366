//! The organizer's operations on a stored event other than a save: adding
//! attendees, changing or removing one, cancelling the event or one
//! instance. Each reads the stored object, has `crate::scheduling` (its
//! `roster` and `cancel` rules) produce the object to store and the iTIP
//! messages, and writes both in ONE store transaction, conditional on the
//! ETag it read; when another write came in between, it reads and plans
//! again (as `save` does). Only the organizer may: the stored object's
//! ORGANIZER must be one of the acting principal's addresses.
//!
//! Idempotent by construction: addresses already on the event are
//! skipped, a cancelled event or excluded instance is left as it is, and
//! an operation that changes nothing writes nothing and sends nothing.

use super::write::{my_addresses, status_for, to_outbox};
use super::{Actor, EngineError, Result};
use crate::ical;
use crate::scheduling::{self, ItipError, ItipMessage};
use crate::store::{CalendarObjectMeta, JobStep, PutRequest, ScheduleTag, StoreError};

pub use crate::scheduling::{AttendeeChange, NewAttendee, Notify, Role};

/// Attempts when a concurrent write changes the object between reading it
/// and writing. Each round of racing writers lets at least one through, so
/// this bounds the work under contention (50 adds racing for the last
/// seats of an event resolve in as many rounds, the rest refused by the
/// store's seat check, which comes before the ETag's).
const PLAN_ATTEMPTS: usize = 64;

/// What `add_attendees` did.
#[derive(Debug, Clone, PartialEq)]
pub struct AddOutcome {
    /// E-mail addresses added (lower-case, without `mailto:`), in order.
    pub added: Vec<String>,
    /// Addresses not added: already on the event, the organizer's own, or
    /// repeated in the call.
    pub skipped_duplicates: Vec<String>,
    /// The event's ETag after the call.
    pub etag: String,
}

/// What a change of one attendee or a cancellation did.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    /// False when there was nothing to change (and nothing was sent).
    pub changed: bool,
    /// The event's ETag after the call.
    pub etag: String,
    /// Who a message was queued for (addresses without `mailto:`).
    pub notified: Vec<String>,
}

/// What a rule made of the stored text: the object to store (None: no
/// change), the messages, and what the caller wants back.
struct Planned<T> {
    stored: Option<String>,
    messages: Vec<ItipMessage>,
    value: T,
    /// Seats the change adds to the guest list (checked by the store).
    seats: u32,
}

fn email(addr: &str) -> String {
    addr.strip_prefix("mailto:").unwrap_or(addr).to_string()
}

/// Run `rule` on the stored object at `path` in the actor's home and
/// write its result; returns the ETag after it, the recipients of the
/// queued messages and the rule's value.
async fn rewrite<T>(
    actor: &Actor<'_>,
    path: &str,
    rule: impl Fn(&str, &[String], &dyn Fn(&str) -> String) -> Result<Planned<T>>,
) -> Result<(String, Vec<String>, T)> {
    rewrite_in_job(actor, path, rule, |_| None).await
}

/// [`rewrite`], whose write also carries the job step `job` makes of the
/// rule's value (progress and counts of a job, in the same transaction:
/// see `store::jobs`).
async fn rewrite_in_job<T>(
    actor: &Actor<'_>,
    path: &str,
    rule: impl Fn(&str, &[String], &dyn Fn(&str) -> String) -> Result<Planned<T>>,
    job: impl Fn(&T) -> Option<JobStep>,
) -> Result<(String, Vec<String>, T)> {
    let store = actor.store;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let node = store.node(actor.user, path)?.ok_or(StoreError::NotFound)?;
        if node.resource().and_then(|r| r.uid.as_ref()).is_none() {
            return Err(StoreError::NotFound.into());
        }
        let body = store.body(actor.user, path)?.ok_or(StoreError::NotFound)?;
        let text = String::from_utf8(body)
            .map_err(|_| EngineError::Internal(format!("{path} is not UTF-8")))?;
        let mine = my_addresses(actor)?;
        let status = |a: &str| status_for(actor, a);
        let planned = rule(&text, &mine, &status)?;
        let Some(stored) = planned.stored else {
            return Ok((node.etag, Vec::new(), planned.value));
        };
        let info = ical::parse_object(&stored).map_err(|e| {
            EngineError::Internal(format!("scheduling produced an invalid object: {e}"))
        })?;
        let outbox = to_outbox(actor, planned.messages);
        let notified: Vec<String> = outbox.iter().map(|m| email(&m.recipient)).collect();
        let req = PutRequest {
            body: stored.into_bytes(),
            content_type: "text/calendar; charset=utf-8".into(),
            if_match: Some(node.etag.clone()),
            if_none_match_any: false,
            if_schedule_tag: None,
            calendar: Some(CalendarObjectMeta {
                uid: info.uid,
                component: info.kind.as_str().to_string(),
                index: info.index,
            }),
            // A change of the guest list or STATUS: RFC 6638 section 3.2.10.
            schedule_tag: ScheduleTag::New,
            outbox,
            seats_wanted: planned.seats,
            policy: None,
        };
        let queued = !req.outbox.is_empty();
        let step = job(&planned.value);
        match store.put_with_job(actor.user, path, req, step).await {
            Ok(o) => {
                if queued {
                    actor.outbox_ready.notify_one();
                }
                return Ok((o.etag, notified, planned.value));
            }
            Err(StoreError::PreconditionFailed) if attempt < PLAN_ATTEMPTS => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Add attendees to the event at `path` (below the actor's home), which
/// the actor organizes: each new one gets a REQUEST, nobody else a message
/// (see `scheduling::add_attendees`). Addresses are checked
/// (`scheduling::mail_address`; a bad one refuses the whole call with
/// `EngineError::InvalidObject`, nothing changed) and de-duplicated
/// case-insensitively against the event and within the call. One call is
/// one store transaction (object and messages); calling again with
/// addresses already added does nothing for them. More than
/// `max_per_instance` attendees on a component afterwards is refused
/// (`EngineError::TooManyAttendees`).
pub async fn add_attendees(
    actor: &Actor<'_>,
    path: &str,
    new: &[NewAttendee],
    max_per_instance: usize,
) -> Result<AddOutcome> {
    add_attendees_in_job(actor, path, new, max_per_instance, None).await
}

/// [`add_attendees`] as the step `step` of a job: the write also records
/// the step, with how many were added and skipped (one transaction; a
/// step the job is not at refuses the write). Without a write (nothing
/// new) the caller records the step.
pub async fn add_attendees_in_job(
    actor: &Actor<'_>,
    path: &str,
    new: &[NewAttendee],
    max_per_instance: usize,
    step: Option<JobStep>,
) -> Result<AddOutcome> {
    if let Some((i, why)) = new.iter().enumerate().find_map(|(i, a)| {
        let bad_name = a
            .name
            .as_deref()
            .and_then(|n| scheduling::check_name(n).err());
        let bad = scheduling::mail_address(&a.email).err().or(bad_name);
        bad.map(|w| (i, w))
    }) {
        return Err(EngineError::InvalidObject(format!("attendee {i}: {why}")));
    }
    let counted = |(added, skipped): &(Vec<String>, Vec<String>)| {
        step.map(|s| JobStep {
            added: added.len() as u64,
            skipped: skipped.len() as u64,
            ..s
        })
    };
    let rule = |text: &str, mine: &[String], status: &dyn Fn(&str) -> String| {
        let o = scheduling::add_attendees(text, mine, new, status)?;
        if let Some(s) = &o.stored {
            let found = scheduling::most_attendees(s);
            if found > max_per_instance {
                return Err(EngineError::TooManyAttendees {
                    found,
                    max: max_per_instance,
                });
            }
        }
        Ok(Planned {
            seats: super::seats::seats_wanted(text, mine, new),
            stored: o.stored,
            messages: o.messages,
            value: (o.added, o.skipped),
        })
    };
    let (etag, _, (added, skipped)) = rewrite_in_job(actor, path, rule, counted).await?;
    Ok(AddOutcome {
        added: added.iter().map(|a| email(a)).collect(),
        skipped_duplicates: skipped.iter().map(|a| email(a)).collect(),
        etag,
    })
}

fn roster_planned(o: scheduling::RosterOutcome) -> Planned<bool> {
    Planned {
        value: o.stored.is_some(),
        stored: o.stored,
        messages: o.messages,
        seats: 0,
    }
}

/// Change one attendee's name (CN) or role; sends nothing.
/// `EngineError::Itip(ItipError::NoSuchAttendee)` when they are not on it.
pub async fn update_attendee(
    actor: &Actor<'_>,
    path: &str,
    email_address: &str,
    change: &AttendeeChange,
) -> Result<Changed> {
    let addr = attendee_address(email_address)?;
    let (etag, notified, changed) = rewrite(actor, path, |text, mine, _| {
        Ok(roster_planned(scheduling::update_attendee(
            text, mine, &addr, change,
        )?))
    })
    .await?;
    Ok(Changed {
        changed,
        etag,
        notified,
    })
}

/// Remove one attendee: they get a CANCEL, nobody else a message.
/// `EngineError::Itip(ItipError::NoSuchAttendee)` when they are not on it.
pub async fn remove_attendee(
    actor: &Actor<'_>,
    path: &str,
    email_address: &str,
) -> Result<Changed> {
    let addr = attendee_address(email_address)?;
    let (etag, notified, changed) = rewrite(actor, path, |text, mine, _| {
        Ok(roster_planned(scheduling::remove_attendee(
            text, mine, &addr,
        )?))
    })
    .await?;
    Ok(Changed {
        changed,
        etag,
        notified,
    })
}

/// The calendar user address of an attendee named by e-mail: any string
/// that is not a valid address names nobody.
fn attendee_address(email_address: &str) -> Result<String> {
    scheduling::mail_address(email_address).map_err(|_| ItipError::NoSuchAttendee.into())
}

/// Cancel the event, or with `recurrence_id` one instance of it, telling
/// the attendees `notify` selects (see `scheduling::cancel`). A second
/// cancel finds nothing to do: `changed` false, nobody notified, the same
/// ETag. `EngineError::Itip(ItipError::NoSuchInstance)` when
/// `recurrence_id` names no instance.
pub async fn cancel(
    actor: &Actor<'_>,
    path: &str,
    notify: Notify,
    recurrence_id: Option<String>,
) -> Result<Changed> {
    let rid = recurrence_id.as_deref();
    let (etag, notified, changed) = rewrite(actor, path, |text, mine, status| {
        let o = scheduling::cancel(text, mine, notify, rid, status)?;
        Ok(Planned {
            value: o.stored.is_some(),
            stored: o.stored,
            messages: o.messages,
            seats: 0,
        })
    })
    .await?;
    Ok(Changed {
        changed,
        etag,
        notified,
    })
}
