//! Scheduling on write (RFC 6638 section 3), for every front door: decides,
//! for a write or delete of a calendar object by a principal, whether it is
//! a scheduling object resource, asks `crate::scheduling` for the object to
//! store and the iTIP messages, checks who may change what (UID ownership,
//! "party crash"), and turns the messages into outbox entries that the store
//! queues in the same transaction as the write.

use super::{Actor, EngineError, Result};
use crate::scheduling::{self, ItipError, ItipMessage};
use crate::store::{NewMessage, ScheduleTag, Store};

/// What a write must store and queue.
pub struct Plan {
    pub body: Vec<u8>,
    pub schedule_tag: ScheduleTag,
    pub outbox: Vec<NewMessage>,
}

/// The calendar user addresses of the acting user, normalised.
pub(super) fn my_addresses(actor: &Actor<'_>) -> Result<Vec<String>> {
    let p = actor
        .store
        .principal(actor.user)?
        .ok_or_else(|| EngineError::Internal("the acting principal vanished".into()))?;
    Ok(p.emails
        .iter()
        .map(|e| scheduling::normalize_address(e))
        .collect())
}

/// SCHEDULE-STATUS to write for a recipient when the message is queued
/// (RFC 6638 section 3.2.9): delivered at once for our own users, pending
/// for email, "invalid calendar user" for anything that is not mailto:.
pub(super) fn status_for(actor: &Actor<'_>, addr: &str) -> String {
    schedule_status(actor.store, addr)
}

/// [`status_for`] with only the store at hand (inside a transform).
pub(super) fn schedule_status(store: &Store, addr: &str) -> String {
    if store.principal_by_address(addr).ok().flatten().is_some() {
        "1.2".into()
    } else if is_mail_address(addr) {
        "1.0".into()
    } else {
        "3.7".into()
    }
}

pub(super) fn is_mail_address(addr: &str) -> bool {
    addr.strip_prefix("mailto:")
        .and_then(|a| a.split_once('@'))
        .is_some_and(|(l, d)| !l.is_empty() && (d.contains('.') || d == "localhost"))
}

/// Outbox entries for messages; recipients that cannot be reached
/// (SCHEDULE-STATUS 3.7) are dropped.
pub(super) fn to_outbox(actor: &Actor<'_>, messages: Vec<ItipMessage>) -> Vec<NewMessage> {
    messages
        .into_iter()
        .filter(|m| is_mail_address(&m.recipient))
        .map(|m| outbox_entry(actor.store, m))
        .collect()
}

/// The outbox entry for one iTIP message: delivered locally when the
/// recipient is one of our users, else by iMIP.
pub(super) fn outbox_entry(store: &Store, m: ItipMessage) -> NewMessage {
    NewMessage {
        method: m.method.as_str().to_string(),
        local_user: store.principal_by_address(&m.recipient).ok().flatten(),
        recipient: m.recipient,
        sender: m.sender,
        uid: m.uid,
        ical: m.ical,
        reminder: false,
    }
}

fn organizer_change(detail: impl Into<String>) -> EngineError {
    EngineError::OrganizerChange(detail.into())
}

fn attendee_change(detail: impl Into<String>) -> EngineError {
    EngineError::AttendeeChange(detail.into())
}

/// Where a PUT writes: the owner of the calendar, the object's path and
/// UID, and whether the object it replaces is a scheduling object (has a
/// Schedule-Tag).
pub struct Target<'a> {
    pub user: &'a str,
    pub path: &'a str,
    pub uid: &'a str,
    pub old_scheduled: bool,
}

/// A new scheduling object must be the only one with its UID in the
/// owner's calendars (RFC 6638 section 3.2.4.1,
/// CALDAV:unique-scheduling-object-resource); the same calendar is the
/// store's CALDAV:no-uid-conflict.
fn check_unique_in_home(actor: &Actor<'_>, t: &Target<'_>) -> Result<()> {
    let parent = crate::store::parent_path(t.path).unwrap_or("");
    let held = actor.store.uid_in_home(t.user, t.uid)?;
    let scheduling = |b: &[u8]| {
        std::str::from_utf8(b)
            .ok()
            .and_then(scheduling::organizer_of)
            .is_some()
    };
    if let Some((other, _)) = held
        .iter()
        .find(|(p, b)| crate::store::parent_path(p) != Some(parent) && scheduling(b))
    {
        return Err(EngineError::NotUniqueScheduling {
            user: t.user.to_string(),
            path: Some(other.clone()),
            detail: "a scheduling object with this UID exists in another calendar".into(),
        });
    }
    Ok(())
}

/// The meeting with `uid` as its local organizer `organizer` stores it,
/// when `organizer` is one of our users other than the acting one.
fn organizers_copy(actor: &Actor<'_>, organizer: &str, uid: &str) -> Result<Option<String>> {
    let Some(owner) = actor.store.principal_by_address(organizer)? else {
        return Ok(None);
    };
    if owner == actor.user {
        return Ok(None);
    }
    let held = actor.store.uid_in_home(&owner, uid)?;
    Ok(held
        .into_iter()
        .find_map(|(_, b)| String::from_utf8(b).ok())
        .filter(|b| scheduling::organizer_of(b).as_deref() == Some(organizer)))
}

/// "Party crash" on creation, attendee side: an object naming a local
/// organizer whose meeting with this UID does not invite the acting user
/// (RFC 6638 section 3.2.4.1: the UID belongs to that meeting).
fn check_not_crashing(
    actor: &Actor<'_>,
    organizer: &str,
    uid: &str,
    mine: &[String],
) -> Result<()> {
    if let Some(theirs) = organizers_copy(actor, organizer, uid)?
        && !scheduling::attendees_of(&theirs)
            .iter()
            .any(|a| mine.contains(a))
    {
        return Err(EngineError::NotUniqueScheduling {
            user: actor.user.to_string(),
            path: None,
            detail: format!(
                "UID {uid} belongs to a meeting of {organizer} that does not invite you"
            ),
        });
    }
    Ok(())
}

/// "Party crash" on creation, organizer side: taking the UID of a meeting
/// some local attendee already holds from another organizer (RFC 6638
/// section 3.2.4.3: the ORGANIZER of a scheduling object cannot change).
fn check_not_taking_over(
    actor: &Actor<'_>,
    organizer: &str,
    uid: &str,
    attendees: &[String],
    mine: &[String],
) -> Result<()> {
    for a in attendees.iter().filter(|a| !mine.contains(a)) {
        let Some(user) = actor.store.principal_by_address(a)? else {
            continue;
        };
        if user == actor.user {
            continue;
        }
        for (_, body) in actor.store.uid_in_home(&user, uid)? {
            let other = String::from_utf8(body)
                .ok()
                .and_then(|b| scheduling::organizer_of(&b));
            if other.as_deref().is_some_and(|o| o != organizer) {
                return Err(organizer_change(format!(
                    "UID {uid} belongs to a meeting organized by someone else"
                )));
            }
        }
    }
    Ok(())
}

/// Refuse an object with more ATTENDEEs in one component than `max`
/// (a byte scan, before any parse).
pub fn check_attendee_count(text: &str, max: usize) -> Result<()> {
    let found = scheduling::most_attendees(text);
    if found > max {
        return Err(EngineError::TooManyAttendees { found, max });
    }
    Ok(())
}

/// Whether `text` can be a scheduling object at all: it names an ORGANIZER.
/// A byte scan, so that plain events skip parsing for scheduling.
pub fn may_schedule(text: &str) -> bool {
    text.as_bytes()
        .windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"ORGANIZER"))
}

/// The plan for a scheduling object the iTIP rules produced.
fn planned(
    actor: &Actor<'_>,
    stored: String,
    tag_changes: bool,
    messages: Vec<ItipMessage>,
) -> Plan {
    Plan {
        body: stored.into_bytes(),
        schedule_tag: if tag_changes {
            ScheduleTag::New
        } else {
            ScheduleTag::Keep
        },
        outbox: to_outbox(actor, messages),
    }
}

/// Plan a PUT of `new` over `old` (the stored text, when it may matter:
/// `new` names an ORGANIZER or the stored object is a scheduling object).
pub fn plan_put(actor: &Actor<'_>, t: &Target<'_>, old: Option<&str>, new: &str) -> Result<Plan> {
    let plain = |tag| Plan {
        body: new.as_bytes().to_vec(),
        schedule_tag: tag,
        outbox: Vec::new(),
    };
    let organizer = if may_schedule(new) {
        scheduling::organizer_of(new)
    } else {
        None
    };
    let old = old.filter(|_| t.old_scheduled || may_schedule(new));
    let old_organizer = old
        .filter(|_| t.old_scheduled)
        .and_then(scheduling::organizer_of);
    let Some(organizer) = organizer else {
        let Some(old_org) = old_organizer else {
            return Ok(plain(ScheduleTag::None));
        };
        let old = old.unwrap_or_default();
        let mine = my_addresses(actor)?;
        if mine.contains(&old_org) {
            // Every attendee removed along with the ORGANIZER (as Thunderbird
            // does): no longer a meeting, the attendees get a CANCEL. With
            // attendees left it would be a meeting nobody organizes.
            if scheduling::attendees_of(new)
                .iter()
                .any(|a| !mine.contains(a))
            {
                return Err(organizer_change(
                    "the ORGANIZER may not be removed from a meeting with attendees",
                ));
            }
            return Ok(Plan {
                outbox: to_outbox(actor, scheduling::organizer_delete(old, &mine)),
                ..plain(ScheduleTag::None)
            });
        }
        if scheduling::attendees_of(old)
            .iter()
            .any(|a| mine.contains(a))
        {
            return Err(attendee_change("an attendee may not change ORGANIZER"));
        }
        return Ok(plain(ScheduleTag::None));
    };
    let mine = my_addresses(actor)?;
    let attendees = scheduling::attendees_of(new);
    if let Some(o) = &old_organizer
        && o != &organizer
    {
        // RFC 6638 section 3.2.4.3 (organizer) / 3.2.2.1 (attendee).
        return Err(if mine.contains(o) {
            organizer_change("the ORGANIZER of a scheduling object may not change")
        } else {
            attendee_change("an attendee may not change ORGANIZER")
        });
    }
    if mine.contains(&organizer) {
        let was_meeting = old.is_some_and(|o| {
            scheduling::attendees_of(o)
                .iter()
                .any(|a| !mine.contains(a))
        });
        if attendees.iter().all(|a| mine.contains(a)) && !was_meeting {
            return Ok(plain(ScheduleTag::None));
        }
        if old.is_none() {
            check_unique_in_home(actor, t)?;
            check_not_taking_over(actor, &organizer, t.uid, &attendees, &mine)?;
        }
        let status = |addr: &str| status_for(actor, addr);
        let o = scheduling::organizer_put(old, new, &mine, &status)?;
        return Ok(planned(actor, o.stored, o.schedule_tag_changes, o.messages));
    }
    if attendees.iter().any(|a| mine.contains(a)) {
        let Some(old) = old else {
            // The attendee stores an invitation themselves: nothing to send.
            check_unique_in_home(actor, t)?;
            check_not_crashing(actor, &organizer, t.uid, &mine)?;
            return Ok(plain(ScheduleTag::New));
        };
        let o = scheduling::attendee_put(old, new, &mine)?;
        let max = actor.max_delegates_per_reply;
        if let Some(n) = o
            .messages
            .iter()
            .map(|m| scheduling::most_delegates(&m.ical))
            .find(|n| *n > max)
        {
            return Err(ItipError::TooManyDelegates(n, max).into());
        }
        return Ok(planned(actor, o.stored, o.schedule_tag_changes, o.messages));
    }
    if let Some(old) = old
        && scheduling::attendees_of(old)
            .iter()
            .any(|a| mine.contains(a))
    {
        // Decision: refused, not read as a decline; DELETE declines.
        return Err(attendee_change(
            "an attendee may not remove their own ATTENDEE (DELETE the event to decline it)",
        ));
    }
    if old.is_none() {
        check_not_crashing(actor, &organizer, t.uid, &mine)?;
    }
    Ok(plain(ScheduleTag::None))
}

/// What a DELETE of `old` sends: CANCELs when the user organizes it; a
/// REPLY with PARTSTAT=DECLINED when they attend it (RFC 6638 section
/// 3.2.2.4), unless `send_reply` is false (CalDAV: `Schedule-Reply: F`,
/// RFC 6638 section 8.1).
pub fn plan_delete(actor: &Actor<'_>, old: &str, send_reply: bool) -> Result<Vec<NewMessage>> {
    let Some(organizer) = scheduling::organizer_of(old) else {
        return Ok(Vec::new());
    };
    let mine = my_addresses(actor)?;
    if mine.contains(&organizer) {
        return Ok(to_outbox(actor, scheduling::organizer_delete(old, &mine)));
    }
    if !send_reply {
        return Ok(Vec::new());
    }
    Ok(to_outbox(actor, scheduling::attendee_delete(old, &mine)))
}
