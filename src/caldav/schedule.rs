//! Scheduling on write (RFC 6638 section 3): decides, for a PUT or DELETE
//! of a calendar object, whether it is a scheduling object resource, asks
//! `crate::scheduling` for the object to store and the iTIP messages, and
//! turns those into outbox entries (queued by the store in the same
//! transaction as the write).

use super::Ctx;
use super::error::{DavError, DavResult, Precondition};
use crate::scheduling::{self, ItipError, ItipMessage};
use crate::store::{NewMessage, ScheduleTag};

/// What a write must store and queue.
pub struct Plan {
    pub body: Vec<u8>,
    pub schedule_tag: ScheduleTag,
    pub outbox: Vec<NewMessage>,
}

/// The calendar user addresses of the acting user, normalised.
fn my_addresses(ctx: &Ctx<'_>) -> DavResult<Vec<String>> {
    let p = ctx
        .app
        .store
        .principal(&ctx.user)?
        .ok_or_else(|| DavError::Internal("authenticated user vanished".into()))?;
    Ok(p.emails
        .iter()
        .map(|e| scheduling::normalize_address(e))
        .collect())
}

/// SCHEDULE-STATUS to write for a recipient when the message is queued
/// (RFC 6638 section 3.2.9): delivered at once for our own users, pending
/// for email, "invalid calendar user" for anything that is not mailto:.
fn status_for(ctx: &Ctx<'_>, addr: &str) -> String {
    if ctx
        .app
        .store
        .principal_by_address(addr)
        .ok()
        .flatten()
        .is_some()
    {
        "1.2".into()
    } else if is_mail_address(addr) {
        "1.0".into()
    } else {
        "3.7".into()
    }
}

fn is_mail_address(addr: &str) -> bool {
    addr.strip_prefix("mailto:")
        .and_then(|a| a.split_once('@'))
        .is_some_and(|(l, d)| !l.is_empty() && (d.contains('.') || d == "localhost"))
}

/// Outbox entries for messages; recipients that cannot be reached
/// (SCHEDULE-STATUS 3.7) are dropped.
fn to_outbox(ctx: &Ctx<'_>, messages: Vec<ItipMessage>) -> Vec<NewMessage> {
    messages
        .into_iter()
        .filter(|m| is_mail_address(&m.recipient))
        .map(|m| NewMessage {
            method: m.method.as_str().to_string(),
            local_user: ctx
                .app
                .store
                .principal_by_address(&m.recipient)
                .ok()
                .flatten(),
            recipient: m.recipient,
            sender: m.sender,
            uid: m.uid,
            ical: m.ical,
        })
        .collect()
}

fn itip_error(e: ItipError) -> DavError {
    match e {
        ItipError::AttendeeChangeNotAllowed(what) => DavError::precondition(
            Precondition::AllowedAttendeeChange,
            format!("an attendee may not change {what}"),
        ),
        other => DavError::precondition(Precondition::ValidSchedulingMessage, other.to_string()),
    }
}

/// Whether `text` can be a scheduling object at all: it names an ORGANIZER.
/// A byte scan, so that plain events skip parsing for scheduling.
pub fn may_schedule(text: &str) -> bool {
    text.as_bytes()
        .windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"ORGANIZER"))
}

/// The plan for a scheduling object the iTIP rules produced.
fn planned(ctx: &Ctx<'_>, stored: String, tag_changes: bool, messages: Vec<ItipMessage>) -> Plan {
    Plan {
        body: stored.into_bytes(),
        schedule_tag: if tag_changes {
            ScheduleTag::New
        } else {
            ScheduleTag::Keep
        },
        outbox: to_outbox(ctx, messages),
    }
}

/// Plan a PUT of `new` over `old` (the stored text, if any).
pub fn plan_put(ctx: &Ctx<'_>, old: Option<&str>, new: &str) -> DavResult<Plan> {
    let plain = |tag| Plan {
        body: new.as_bytes().to_vec(),
        schedule_tag: tag,
        outbox: Vec::new(),
    };
    if !may_schedule(new) {
        return Ok(plain(ScheduleTag::None));
    }
    let Some(organizer) = scheduling::organizer_of(new) else {
        return Ok(plain(ScheduleTag::None));
    };
    let mine = my_addresses(ctx)?;
    let attendees = scheduling::attendees_of(new);
    if mine.contains(&organizer) {
        if attendees.iter().all(|a| a == &organizer) {
            return Ok(plain(ScheduleTag::None));
        }
        let status = |addr: &str| status_for(ctx, addr);
        let o = scheduling::organizer_put(old, new, &mine, &status).map_err(itip_error)?;
        return Ok(planned(ctx, o.stored, o.schedule_tag_changes, o.messages));
    }
    if attendees.iter().any(|a| mine.contains(a)) {
        let Some(old) = old else {
            // The attendee stores an invitation themselves: nothing to send.
            return Ok(plain(ScheduleTag::New));
        };
        let o = scheduling::attendee_put(old, new, &mine).map_err(itip_error)?;
        let max = ctx.app.config.limits.max_delegates_per_reply;
        if let Some(n) = o
            .messages
            .iter()
            .map(|m| scheduling::most_delegates(&m.ical))
            .find(|n| *n > max)
        {
            return Err(itip_error(ItipError::TooManyDelegates(n, max)));
        }
        return Ok(planned(ctx, o.stored, o.schedule_tag_changes, o.messages));
    }
    Ok(plain(ScheduleTag::None))
}

/// The CANCELs a DELETE of `old` causes (organizer only).
pub fn plan_delete(ctx: &Ctx<'_>, old: &str) -> DavResult<Vec<NewMessage>> {
    let Some(organizer) = scheduling::organizer_of(old) else {
        return Ok(Vec::new());
    };
    let mine = my_addresses(ctx)?;
    if !mine.contains(&organizer) {
        return Ok(Vec::new());
    }
    Ok(to_outbox(ctx, scheduling::organizer_delete(old, &mine)))
}
