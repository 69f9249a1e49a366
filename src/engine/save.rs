//! Saving and deleting a calendar object as a principal: the one write path
//! every front door uses. It reads the stored copy, has `write` plan the
//! scheduling (object to store, Schedule-Tag, iTIP messages), and writes
//! the object and its outbox entries in one store transaction that is
//! conditional on the state the plan was made from; when another write
//! came in between, it plans again (a few times) rather than overwrite it.

use super::write::{self, Target};
use super::{Actor, EngineError, Result};
use crate::ical;
use crate::store::{CalendarObjectMeta, DeleteConditions, PutRequest, StoreError};

/// Attempts when a concurrent write changes the object between reading it
/// (to plan scheduling) and writing.
const PLAN_ATTEMPTS: usize = 3;

/// The caller's conditions on the current state (HTTP If-Match,
/// If-None-Match: *, RFC 6638 If-Schedule-Tag-Match).
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    pub if_match: Option<String>,
    pub if_none_match_any: bool,
    pub if_schedule_tag: Option<String>,
    /// Seat and reminder settings written with the object (API events).
    pub policy: Option<crate::store::PolicySettings>,
}

impl Conditions {
    fn any(&self) -> bool {
        self.if_match.is_some() || self.if_none_match_any
    }
}

/// What a save did.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    pub created: bool,
    pub etag: String,
    pub schedule_tag: Option<String>,
}

/// Save `text` (a calendar object resource) at `path` in `owner`'s home,
/// parsing it first; see [`save_parsed`].
pub async fn save(
    actor: &Actor<'_>,
    owner: &str,
    path: &str,
    text: &str,
    cond: Conditions,
) -> Result<Saved> {
    let info = ical::parse_object(text).map_err(|e| EngineError::InvalidObject(e.to_string()))?;
    save_parsed(actor, owner, path, text, info, cond).await
}

/// Save an object the door has already parsed and checked against the
/// calendar (component set, size). Scheduling runs on it; the UID may not
/// change (StoreError::UidConflict with the object's own path).
pub async fn save_parsed(
    actor: &Actor<'_>,
    owner: &str,
    path: &str,
    text: &str,
    info: ical::ObjectInfo,
    cond: Conditions,
) -> Result<Saved> {
    let store = actor.store;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let old = store.node(owner, path)?;
        let old_res = old.as_ref().and_then(|n| n.resource());
        // RFC 4791 section 5.3.2.1, CALDAV:no-uid-conflict: a write must not
        // give an existing object another UID (the store checks again).
        if let Some(u) = old_res.and_then(|r| r.uid.as_deref())
            && u != info.uid
        {
            return Err(StoreError::UidConflict(path.to_string()).into());
        }
        let old_scheduled = old_res.is_some_and(|r| r.schedule_tag.is_some());
        // Only a scheduling object needs the stored version to compare with.
        let old_body = match &old {
            Some(_) if old_scheduled || write::may_schedule(text) => store
                .body(owner, path)?
                .and_then(|b| String::from_utf8(b).ok()),
            _ => None,
        };
        let target = Target {
            user: owner,
            path,
            uid: &info.uid,
            old_scheduled,
        };
        let plan = write::plan_put(actor, &target, old_body.as_deref(), text)?;
        // Parse again only when scheduling changed the text.
        let meta = if plan.body == text.as_bytes() {
            info.clone()
        } else {
            let stored = std::str::from_utf8(&plan.body)
                .map_err(|_| EngineError::Internal("scheduling produced non-UTF-8".into()))?;
            ical::parse_object(stored).map_err(|e| {
                EngineError::Internal(format!("scheduling produced an invalid object: {e}"))
            })?
        };
        let mut req = PutRequest {
            body: plan.body,
            content_type: "text/calendar; charset=utf-8".into(),
            if_match: cond.if_match.clone(),
            if_none_match_any: cond.if_none_match_any,
            if_schedule_tag: cond.if_schedule_tag.clone(),
            calendar: Some(CalendarObjectMeta {
                uid: meta.uid,
                component: meta.kind.as_str().to_string(),
                index: meta.index,
            }),
            schedule_tag: plan.schedule_tag,
            outbox: plan.outbox,
            seats_wanted: 0,
            policy: cond.policy.clone(),
        };
        if !cond.any() {
            // The plan was made from `old`: write only over that state.
            match &old {
                Some(o) => req.if_match = Some(o.etag.clone()),
                None => req.if_none_match_any = true,
            }
        }
        let queued = !req.outbox.is_empty();
        match store.put(owner, path, req).await {
            Ok(o) => {
                if queued {
                    actor.outbox_ready.notify_one();
                }
                return Ok(Saved {
                    created: o.created,
                    etag: o.etag,
                    schedule_tag: o.schedule_tag,
                });
            }
            Err(StoreError::PreconditionFailed) if !cond.any() && attempt < PLAN_ATTEMPTS => {
                continue;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Delete the resource at `path` in `owner`'s home. A scheduling object
/// queues its CANCELs (organizer) or a declining REPLY (attendee, unless
/// `send_reply` is false) in the delete's transaction, which is
/// conditional on the state they were planned from.
pub async fn delete(
    actor: &Actor<'_>,
    owner: &str,
    path: &str,
    cond: Conditions,
    send_reply: bool,
) -> Result<()> {
    let store = actor.store;
    let node = store.node(owner, path)?.ok_or(StoreError::NotFound)?;
    let mut del = DeleteConditions {
        if_match: cond.if_match,
        if_schedule_tag: cond.if_schedule_tag,
        ..DeleteConditions::default()
    };
    if node.resource().is_some_and(|r| r.schedule_tag.is_some())
        && let Some(body) = store.body(owner, path)?
        && let Ok(text) = String::from_utf8(body)
    {
        del.outbox = write::plan_delete(actor, &text, send_reply)?;
        del.expected_etag = Some(node.etag.clone());
    }
    let queued = !del.outbox.is_empty();
    store.delete(owner, path, del).await?;
    if queued {
        actor.outbox_ready.notify_one();
    }
    Ok(())
}
