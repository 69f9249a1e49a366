//! The durable outbox (architecture principle 1): iTIP messages are queued
//! in the same transaction as the change that causes them; a worker claims
//! due entries under a lease (a claimed entry is simply due again when the
//! lease ends, so a crash or a second worker never loses one, and a live
//! lease keeps two workers from sending it at once), then records the
//! result, optionally rewriting the originating object (SCHEDULE-STATUS) in
//! the same transaction. Also: the update-in-place of calendar objects that
//! local delivery and replies need.

use super::Store;
use super::error::{Result, StoreError};
use super::model::*;
use super::tables::*;
use super::write::{INBOX, W, now};
use crate::ical;
use redb::ReadableTable;
use std::sync::{Arc, Mutex};

/// Rewrites an object's text; None leaves it unchanged.
pub type Rewrite = Box<dyn FnOnce(&str) -> Option<String> + Send>;

/// Builds an object from the current one (None when absent); Err refuses.
pub type Transform =
    Box<dyn FnOnce(Option<&str>) -> std::result::Result<Option<String>, String> + Send>;

/// Writes (attendee, SCHEDULE-STATUS) pairs into an object's text; None
/// leaves it unchanged.
pub type StatusWriter = fn(&str, &[(String, String)]) -> Option<String>;

/// A local delivery (RFC 6638 section 3.2): the transform of the
/// recipient's object and the copy kept in their schedule inbox.
pub struct LocalDelivery {
    pub user: String,
    pub calendar: String,
    pub uid: String,
    /// Resource name of a new object.
    pub name: String,
    pub new_schedule_tag: bool,
    pub transform: Transform,
    /// (resource name, iTIP text, method) of the schedule inbox copy.
    pub inbox: Option<(String, String, String)>,
    /// The SCHEDULE-STATUS to record when the transform refuses, filled in
    /// by the transform itself (3.8 when the authority rule refused).
    pub refusal_status: Arc<Mutex<Option<String>>>,
}

impl W<'_> {
    /// Queue messages caused by a change of `owner`'s object at `path`.
    pub(super) fn enqueue(&self, owner: &str, path: &str, messages: Vec<NewMessage>) -> Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        self.note_invitations(owner, path, &messages)?;
        let t = now();
        for message in messages {
            let id = self.next(OUTBOX_COUNTER)?;
            let entry = OutboxEntry {
                id,
                owner: owner.to_string(),
                object_path: path.to_string(),
                message_id: format!("herald-{id}.{t}@herald.invalid"),
                message,
                created: t,
                attempts: 0,
                state: OutboxState::Pending { due: t },
                last_error: None,
                leased: false,
                schedule_status: None,
            };
            let bytes = serde_json::to_vec(&entry)?;
            self.0.open_table(OUTBOX)?.insert(id, bytes.as_slice())?;
            self.0.open_table(OUTBOX_DUE)?.insert((t, id), 0u8)?;
            tracing::info!(
                "outbox {id}: queued {} {} to {}",
                entry.message.method,
                entry.message.uid,
                entry.message.recipient
            );
        }
        Ok(())
    }

    fn outbox_entry(&self, id: u64) -> Result<Option<OutboxEntry>> {
        let t = self.0.open_table(OUTBOX)?;
        let v = t.get(id)?;
        match v {
            Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
            None => Ok(None),
        }
    }

    fn put_outbox_entry(&self, entry: &OutboxEntry) -> Result<()> {
        let bytes = serde_json::to_vec(entry)?;
        self.0
            .open_table(OUTBOX)?
            .insert(entry.id, bytes.as_slice())?;
        Ok(())
    }

    /// Replace a calendar object's text in place (same path), keeping its
    /// Schedule-Tag unless `new_schedule_tag`; the sync log records it.
    pub(super) fn rewrite_object(
        &self,
        user: &str,
        path: &str,
        text: String,
        new_schedule_tag: bool,
    ) -> Result<()> {
        if self.node(&node_key(user, path))?.is_none() {
            return Ok(());
        }
        // Checked before any write: a refusal leaves the batch intact.
        let info = ical::parse_object(&text)
            .map_err(|e| StoreError::Rejected(format!("rewritten object is invalid: {e}")))?;
        let meta = CalendarObjectMeta {
            uid: info.uid,
            component: info.kind.as_str().to_string(),
            index: info.index,
        };
        self.rewrite_parsed(user, path, text, meta, new_schedule_tag, None)
    }

    /// [`Self::rewrite_object`] with the object already parsed into `meta`;
    /// `seated`: the seats the change adds, when the caller knows them.
    pub(super) fn rewrite_parsed(
        &self,
        user: &str,
        path: &str,
        text: String,
        meta: CalendarObjectMeta,
        new_schedule_tag: bool,
        seated: Option<u32>,
    ) -> Result<()> {
        let key = node_key(user, path);
        let Some(old) = self.node(&key)? else {
            return Ok(());
        };
        let mut node = old.clone();
        node.etag = self.new_etag()?;
        node.modified = now();
        let tag = if new_schedule_tag {
            Some(self.new_etag()?)
        } else {
            old.resource().and_then(|r| r.schedule_tag.clone())
        };
        if let NodeKind::Resource(r) = &mut node.kind {
            r.size = text.len() as u64;
            r.uid = Some(meta.uid.clone());
            r.component = Some(meta.component.clone());
            r.schedule_tag = tag;
        }
        let body = text.as_bytes();
        match seated {
            None => self.write_resource(user, &key, node, body, Some(&meta), Some(&old)),
            Some(n) => self.write_counted(user, &key, node, body, &meta, &old, n),
        }
    }
}

impl W<'_> {
    /// Record the result of one attempt on entry `id` (no-op when gone);
    /// `status` is the SCHEDULE-STATUS still to be written into the object.
    fn record_result(&self, id: u64, result: OutboxResult, status: Option<String>) -> Result<()> {
        let Some(mut entry) = self.outbox_entry(id)? else {
            return Ok(());
        };
        let t = now();
        if let OutboxState::Pending { due } = entry.state {
            self.0.open_table(OUTBOX_DUE)?.remove((due, id))?;
        }
        entry.leased = false;
        match result {
            OutboxResult::Sent => {
                entry.state = OutboxState::Sent { at: t };
                entry.last_error = None;
            }
            OutboxResult::Retry { due, error } => {
                entry.state = OutboxState::Pending { due };
                entry.last_error = Some(error);
                self.0.open_table(OUTBOX_DUE)?.insert((due, id), 0u8)?;
            }
            OutboxResult::Failed { error } => {
                entry.state = OutboxState::Failed { at: t };
                entry.last_error = Some(error);
            }
        }
        if status.is_some() {
            entry.schedule_status = status;
        }
        self.put_outbox_entry(&entry)
    }

    /// Keep an iTIP message as `inbox/NAME.ics` of `user` (replacing a
    /// copy of the same name). Nothing is written when the inbox is missing.
    fn inbox_copy(&self, user: &str, name: &str, ical: &str, method: &str) -> Result<()> {
        let inbox = node_key(user, INBOX);
        if !self.node(&inbox)?.is_some_and(|n| n.is_collection()) {
            tracing::warn!("no schedule inbox for {user}: copy of {name} not kept");
            return Ok(());
        }
        let key = node_key(user, &format!("{INBOX}{name}.ics"));
        let old = self.node(&key)?;
        if old.as_ref().is_some_and(Node::is_collection) {
            return Ok(());
        }
        let t = now();
        let node = Node {
            created: old.as_ref().map(|o| o.created).unwrap_or(t),
            modified: t,
            etag: self.new_etag()?,
            displayname: None,
            dead_props: Vec::new(),
            kind: NodeKind::Resource(Resource {
                content_type: format!("text/calendar; charset=utf-8; method={method}"),
                size: ical.len() as u64,
                uid: None,
                component: None,
                change_seq: 0,
                schedule_tag: None,
            }),
        };
        self.write_resource(user, &key, node, ical.as_bytes(), None, old.as_ref())
    }

    /// The body of `Store::transform_object`, for use inside other operations.
    pub(super) fn transform(
        &self,
        user: &str,
        calendar: &str,
        uid: &str,
        name: &str,
        new_schedule_tag: bool,
        f: Transform,
    ) -> Result<Option<String>> {
        let cal_key = node_key(user, calendar);
        match self.node(&cal_key)? {
            Some(n) if n.calendar().is_some() => {}
            _ => return Err(StoreError::NotFound),
        }
        let existing = self
            .0
            .open_table(UIDS)?
            .get((cal_key.as_str(), uid))?
            .map(|v| v.value().to_string());
        let path = format!("{calendar}{}", existing.as_deref().unwrap_or(name));
        let key = node_key(user, &path);
        let current = match existing {
            Some(_) => self.body(&key)?.and_then(|v| String::from_utf8(v).ok()),
            None => None,
        };
        let Some(text) = f(current.as_deref()).map_err(StoreError::Rejected)? else {
            return Ok(None);
        };
        if current.is_some() {
            self.rewrite_object(user, &path, text, new_schedule_tag)?;
            return Ok(Some(path));
        }
        if self.node(&key)?.is_some() {
            return Err(StoreError::AlreadyExists);
        }
        let info = ical::parse_object(&text)
            .map_err(|e| StoreError::Rejected(format!("invalid object: {e}")))?;
        let t = now();
        let node = Node {
            created: t,
            modified: t,
            etag: self.new_etag()?,
            displayname: None,
            dead_props: Vec::new(),
            kind: NodeKind::Resource(Resource {
                content_type: "text/calendar; charset=utf-8".into(),
                size: text.len() as u64,
                uid: Some(info.uid.clone()),
                component: Some(info.kind.as_str().to_string()),
                change_seq: 0,
                schedule_tag: Some(self.new_etag()?),
            }),
        };
        let meta = CalendarObjectMeta {
            uid: info.uid,
            component: info.kind.as_str().to_string(),
            index: info.index,
        };
        self.write_resource(user, &key, node, text.as_bytes(), Some(&meta), None)?;
        Ok(Some(path))
    }
}

impl Store {
    /// Claim up to `max` due entries for `lease` seconds.
    pub async fn outbox_claim(&self, lease: i64, max: usize) -> Result<Vec<OutboxEntry>> {
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let t = now();
                let due: Vec<(i64, u64)> = {
                    let table = txn.open_table(OUTBOX_DUE)?;
                    let mut v = Vec::new();
                    for entry in table.range((i64::MIN, 0)..=(t, u64::MAX))? {
                        let (k, _) = entry?;
                        v.push(k.value());
                        if v.len() >= max {
                            break;
                        }
                    }
                    v
                };
                let mut claimed = Vec::with_capacity(due.len());
                for (at, id) in due {
                    txn.open_table(OUTBOX_DUE)?.remove((at, id))?;
                    let Some(mut entry) = w.outbox_entry(id)? else {
                        continue;
                    };
                    let until = t + lease;
                    entry.state = OutboxState::Pending { due: until };
                    entry.attempts += 1;
                    entry.leased = true;
                    w.put_outbox_entry(&entry)?;
                    txn.open_table(OUTBOX_DUE)?.insert((until, id), 0u8)?;
                    claimed.push(entry);
                }
                Ok(claimed)
            })
            .await
    }

    /// Record the results of attempts in one transaction; each rewrite
    /// (owner, object path, function) updates an originating object
    /// (SCHEDULE-STATUS) in the same transaction.
    pub async fn outbox_finish(
        &self,
        results: Vec<(u64, OutboxResult)>,
        rewrites: Vec<(String, String, Rewrite)>,
    ) -> Result<()> {
        self.writer
            .write(move |txn| {
                let w = W(txn);
                for (id, result) in results {
                    w.record_result(id, result, None)?;
                }
                for (owner, path, rewrite) in rewrites {
                    let key = node_key(&owner, &path);
                    let body = w.body(&key)?;
                    if let Some(body) = body
                        && let Ok(text) = String::from_utf8(body)
                        && let Some(new) = rewrite(&text)
                    {
                        w.rewrite_object(&owner, &path, new, false)?;
                    }
                }
                Ok(())
            })
            .await
    }

    /// Record the result of one attempt, durably, as soon as it is known
    /// (concurrent records share a commit). `status` is the SCHEDULE-STATUS
    /// for the originating object, written later by `outbox_apply_statuses`.
    pub async fn outbox_record(
        &self,
        id: u64,
        result: OutboxResult,
        status: Option<String>,
    ) -> Result<()> {
        self.writer
            .write(move |txn| W(txn).record_result(id, result, status))
            .await
    }

    /// Deliver entry `id` to a local user and record the result in one
    /// transaction, so it happens exactly once: the transform of the
    /// recipient's object and the inbox copy with `Sent`, or nothing with
    /// `Failed` when the transform refuses. A backend error is returned
    /// (nothing written, the entry stays claimed).
    pub async fn outbox_deliver_local(&self, id: u64, d: LocalDelivery) -> Result<OutboxResult> {
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let outcome = w.transform(
                    &d.user,
                    &d.calendar,
                    &d.uid,
                    &d.name,
                    d.new_schedule_tag,
                    d.transform,
                );
                let result = match outcome {
                    Ok(_) => {
                        if let Some((name, ical, method)) = &d.inbox {
                            w.inbox_copy(&d.user, name, ical, method)?;
                        }
                        OutboxResult::Sent
                    }
                    Err(StoreError::Backend(e)) => return Err(StoreError::Backend(e)),
                    // Refused before any write (the writer's invariant).
                    Err(e) => {
                        let status = d.refusal_status.lock().ok().and_then(|s| s.clone());
                        w.record_result(
                            id,
                            OutboxResult::Failed {
                                error: e.to_string(),
                            },
                            status,
                        )?;
                        return Ok(OutboxResult::Failed {
                            error: e.to_string(),
                        });
                    }
                };
                w.record_result(id, result.clone(), None)?;
                Ok(result)
            })
            .await
    }

    /// Write the recorded SCHEDULE-STATUS of entries (those in `ids`, or all
    /// when None) into their originating objects, one rewrite per object,
    /// in one transaction; returns how many entries were applied.
    pub async fn outbox_apply_statuses(
        &self,
        ids: Option<Vec<u64>>,
        writer: StatusWriter,
    ) -> Result<usize> {
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let entries: Vec<OutboxEntry> = match ids {
                    Some(ids) => {
                        let mut v = Vec::new();
                        for id in ids {
                            v.extend(w.outbox_entry(id)?);
                        }
                        v
                    }
                    None => {
                        let t = txn.open_table(OUTBOX)?;
                        let mut v = Vec::new();
                        for e in t.iter()? {
                            let (_, val) = e?;
                            v.push(serde_json::from_slice(val.value())?);
                        }
                        v
                    }
                };
                let mut updates: std::collections::BTreeMap<(String, String), Vec<_>> =
                    std::collections::BTreeMap::new();
                let mut n = 0;
                for mut entry in entries {
                    let Some(status) = entry.schedule_status.take() else {
                        continue;
                    };
                    updates
                        .entry((entry.owner.clone(), entry.object_path.clone()))
                        .or_default()
                        .push((entry.message.recipient.clone(), status));
                    w.put_outbox_entry(&entry)?;
                    n += 1;
                }
                for ((owner, path), pairs) in updates {
                    let key = node_key(&owner, &path);
                    let body = w.body(&key)?;
                    if let Some(body) = body
                        && let Ok(text) = String::from_utf8(body)
                        && let Some(new) = writer(&text, &pairs)
                    {
                        w.rewrite_object(&owner, &path, new, false)?;
                    }
                }
                Ok(n)
            })
            .await
    }

    /// Give back claimed entries that were not attempted: due now, not
    /// leased, the claim's attempt not counted.
    pub async fn outbox_release(&self, ids: Vec<u64>) -> Result<()> {
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let t = now();
                for id in ids {
                    let Some(mut entry) = w.outbox_entry(id)? else {
                        continue;
                    };
                    let OutboxState::Pending { due } = entry.state else {
                        continue;
                    };
                    if !entry.leased {
                        continue;
                    }
                    txn.open_table(OUTBOX_DUE)?.remove((due, id))?;
                    entry.state = OutboxState::Pending { due: t };
                    entry.leased = false;
                    entry.attempts = entry.attempts.saturating_sub(1);
                    w.put_outbox_entry(&entry)?;
                    txn.open_table(OUTBOX_DUE)?.insert((t, id), 0u8)?;
                }
                Ok(())
            })
            .await
    }

    /// Make entries leased by a previous process due now. Only one process
    /// opens the database, so at start every lease is stale. Returns how many.
    pub async fn outbox_release_leases(&self) -> Result<usize> {
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let leased: Vec<OutboxEntry> = {
                    let t = txn.open_table(OUTBOX)?;
                    let mut v = Vec::new();
                    for e in t.iter()? {
                        let (_, val) = e?;
                        let entry: OutboxEntry = serde_json::from_slice(val.value())?;
                        if entry.leased {
                            v.push(entry);
                        }
                    }
                    v
                };
                let t = now();
                for mut entry in leased.iter().cloned() {
                    if let OutboxState::Pending { due } = entry.state {
                        txn.open_table(OUTBOX_DUE)?.remove((due, entry.id))?;
                    }
                    entry.state = OutboxState::Pending { due: t };
                    entry.leased = false;
                    w.put_outbox_entry(&entry)?;
                    txn.open_table(OUTBOX_DUE)?.insert((t, entry.id), 0u8)?;
                }
                Ok(leased.len())
            })
            .await
    }

    /// Every entry, oldest first.
    pub fn outbox_list(&self) -> Result<Vec<OutboxEntry>> {
        use redb::ReadableDatabase;
        let txn = self.db.begin_read()?;
        let t = txn.open_table(OUTBOX)?;
        let mut out = Vec::new();
        for entry in t.iter()? {
            let (_, v) = entry?;
            out.push(serde_json::from_slice(v.value())?);
        }
        Ok(out)
    }

    /// Make failed entries (or one entry) due now again. Returns how many.
    pub async fn outbox_retry(&self, id: Option<u64>) -> Result<usize> {
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let ids: Vec<u64> = match id {
                    Some(id) => vec![id],
                    None => {
                        let t = txn.open_table(OUTBOX)?;
                        let mut v = Vec::new();
                        for e in t.iter()? {
                            let (k, val) = e?;
                            let entry: OutboxEntry = serde_json::from_slice(val.value())?;
                            if matches!(entry.state, OutboxState::Failed { .. }) {
                                v.push(k.value());
                            }
                        }
                        v
                    }
                };
                let t = now();
                let mut n = 0;
                for id in ids {
                    let Some(mut entry) = w.outbox_entry(id)? else {
                        continue;
                    };
                    if let OutboxState::Pending { due } = entry.state {
                        txn.open_table(OUTBOX_DUE)?.remove((due, id))?;
                    }
                    entry.state = OutboxState::Pending { due: t };
                    entry.attempts = 0;
                    entry.leased = false;
                    w.put_outbox_entry(&entry)?;
                    txn.open_table(OUTBOX_DUE)?.insert((t, id), 0u8)?;
                    n += 1;
                }
                Ok(n)
            })
            .await
    }

    /// Remove sent and failed entries. Returns how many.
    pub async fn outbox_purge(&self) -> Result<usize> {
        self.writer
            .write(move |txn| {
                let mut t = txn.open_table(OUTBOX)?;
                let mut n = 0;
                t.retain(|_, v| {
                    let done = serde_json::from_slice::<OutboxEntry>(v)
                        .map(|e| !matches!(e.state, OutboxState::Pending { .. }))
                        .unwrap_or(false);
                    n += usize::from(done);
                    !done
                })?;
                Ok(n)
            })
            .await
    }

    /// Create or update the object with `uid` in `user`'s calendar `calendar`
    /// (a path ending with '/') by applying `f` to its current text, inside
    /// one transaction. A new object is named `name`. `new_schedule_tag`
    /// says whether its Schedule-Tag changes (deliveries from the organizer)
    /// or stays (replies applied to the organizer's copy). Returns the path
    /// written, or None when `f` left things unchanged.
    pub async fn transform_object(
        &self,
        user: &str,
        calendar: &str,
        uid: &str,
        name: &str,
        new_schedule_tag: bool,
        f: Transform,
    ) -> Result<Option<String>> {
        let (user, calendar, uid, name) = (
            user.to_string(),
            calendar.to_string(),
            uid.to_string(),
            name.to_string(),
        );
        self.writer
            .write(move |txn| W(txn).transform(&user, &calendar, &uid, &name, new_schedule_tag, f))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(uid: &str, summary: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250106T100000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    }

    fn message(to: &str) -> NewMessage {
        NewMessage {
            method: "REQUEST".into(),
            recipient: format!("mailto:{to}"),
            sender: "mailto:a@example.com".into(),
            uid: "u1".into(),
            local_user: None,
            ical: "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n".into(),
            reminder: false,
        }
    }

    async fn store_with_user(dir: &std::path::Path) -> Store {
        let store = Store::open(dir).unwrap();
        let p = Principal {
            name: "a".into(),
            password_hash: String::new(),
            emails: vec!["mailto:a@example.com".into()],
            displayname: None,
            created: 0,
            organizer: false,
        };
        store.create_principal(p, true).await.unwrap();
        store
    }

    /// User a's event u1 inviting b@x.org: one REQUEST queued.
    async fn put_invitation(store: &Store) {
        let req = put(&event("u1", "x"), vec![message("b@x.org")]);
        store.put("a", "default/u1.ics", req).await.unwrap();
    }

    fn put(body: &str, outbox: Vec<NewMessage>) -> PutRequest {
        let info = ical::parse_object(body).unwrap();
        PutRequest {
            body: body.as_bytes().to_vec(),
            content_type: "text/calendar".into(),
            if_match: None,
            if_none_match_any: false,
            if_schedule_tag: None,
            calendar: Some(CalendarObjectMeta {
                uid: info.uid,
                component: "VEVENT".into(),
                index: info.index,
            }),
            schedule_tag: ScheduleTag::New,
            outbox,
            seats_wanted: 0,
            policy: None,
        }
    }

    #[tokio::test]
    async fn queued_with_the_change_claimed_once_and_finished() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_user(dir.path()).await;
        let out = store
            .put(
                "a",
                "default/u1.ics",
                put(
                    &event("u1", "x"),
                    vec![message("b@x.org"), message("c@x.org")],
                ),
            )
            .await
            .unwrap();
        assert!(out.schedule_tag.is_some());
        let claimed = store.outbox_claim(60, 10).await.unwrap();
        assert_eq!(claimed.len(), 2);
        assert_ne!(claimed[0].message_id, claimed[1].message_id);
        // Leased: a second claim gets nothing.
        assert!(store.outbox_claim(60, 10).await.unwrap().is_empty());
        let rewrite: Rewrite = Box::new(|t: &str| Some(t.replace("SUMMARY:x", "SUMMARY:y")));
        store
            .outbox_finish(
                vec![(claimed[0].id, OutboxResult::Sent)],
                vec![("a".into(), "default/u1.ics".into(), rewrite)],
            )
            .await
            .unwrap();
        let body = store.body("a", "default/u1.ics").unwrap().unwrap();
        assert!(String::from_utf8(body).unwrap().contains("SUMMARY:y"));
        // The Schedule-Tag stays when the server rewrites SCHEDULE-STATUS.
        let node = store.node("a", "default/u1.ics").unwrap().unwrap();
        assert_eq!(node.resource().unwrap().schedule_tag, out.schedule_tag);
        store
            .outbox_finish(
                vec![(
                    claimed[1].id,
                    OutboxResult::Failed {
                        error: "550".into(),
                    },
                )],
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(store.outbox_retry(None).await.unwrap(), 1);
        let again = store.outbox_claim(60, 10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].id, claimed[1].id);
        store
            .outbox_finish(vec![(again[0].id, OutboxResult::Sent)], vec![])
            .await
            .unwrap();
        assert_eq!(store.outbox_purge().await.unwrap(), 2);
        assert!(store.outbox_list().unwrap().is_empty());
    }

    #[tokio::test]
    async fn leases_of_a_stopped_process_are_released() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_user(dir.path()).await;
        put_invitation(&store).await;
        assert_eq!(store.outbox_claim(600, 10).await.unwrap().len(), 1);
        assert!(store.outbox_claim(600, 10).await.unwrap().is_empty());
        assert_eq!(store.outbox_release_leases().await.unwrap(), 1);
        assert_eq!(store.outbox_claim(600, 10).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_refused_put_queues_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_user(dir.path()).await;
        let mut req = put(&event("u1", "x"), vec![message("b@x.org")]);
        req.if_match = Some("\"nope\"".into());
        assert!(store.put("a", "default/u1.ics", req).await.is_err());
        assert!(store.outbox_list().unwrap().is_empty());
    }

    #[tokio::test]
    async fn retry_later_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = store_with_user(dir.path()).await;
            put_invitation(&store).await;
            let c = store.outbox_claim(60, 10).await.unwrap();
            let later = chrono::Utc::now().timestamp() + 3600;
            store
                .outbox_finish(
                    vec![(
                        c[0].id,
                        OutboxResult::Retry {
                            due: later,
                            error: "451".into(),
                        },
                    )],
                    vec![],
                )
                .await
                .unwrap();
            assert!(store.outbox_claim(60, 10).await.unwrap().is_empty());
            store.close();
        }
        let store = Store::open(dir.path()).unwrap();
        let list = store.outbox_list().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].last_error.as_deref(), Some("451"));
        assert_eq!(list[0].attempts, 1);
    }

    #[tokio::test]
    async fn transform_creates_then_updates_by_uid() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_user(dir.path()).await;
        let f: Transform = Box::new(|cur| {
            assert!(cur.is_none());
            Ok(Some(event("u9", "first")))
        });
        let path = store
            .transform_object("a", "default/", "u9", "u9.ics", true, f)
            .await
            .unwrap();
        assert_eq!(path.as_deref(), Some("default/u9.ics"));
        let tag1 = store
            .node("a", "default/u9.ics")
            .unwrap()
            .unwrap()
            .resource()
            .unwrap()
            .schedule_tag
            .clone();
        let f: Transform = Box::new(|cur| Ok(cur.map(|c| c.replace("first", "second"))));
        store
            .transform_object("a", "default/", "u9", "other.ics", false, f)
            .await
            .unwrap();
        let node = store.node("a", "default/u9.ics").unwrap().unwrap();
        assert_eq!(node.resource().unwrap().schedule_tag, tag1);
        let body = String::from_utf8(store.body("a", "default/u9.ics").unwrap().unwrap()).unwrap();
        assert!(body.contains("second"));
        let f: Transform = Box::new(|_| Err("no".into()));
        assert!(matches!(
            store
                .transform_object("a", "default/", "u9", "x.ics", false, f)
                .await,
            Err(StoreError::Rejected(_))
        ));
    }

    fn queued(store: &Store) -> Vec<OutboxEntry> {
        store.outbox_list().unwrap()
    }

    fn set_status(text: &str, updates: &[(String, String)]) -> Option<String> {
        let (who, status) = updates.first()?;
        Some(text.replace(
            "SUMMARY:x",
            &format!("SUMMARY:x\r\nX-STATUS:{who} {status} {}", updates.len()),
        ))
    }

    #[tokio::test]
    async fn each_result_is_recorded_alone_and_statuses_survive_a_stop() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = store_with_user(dir.path()).await;
            store
                .put(
                    "a",
                    "default/u1.ics",
                    put(
                        &event("u1", "x"),
                        vec![message("b@x.org"), message("c@x.org")],
                    ),
                )
                .await
                .unwrap();
            let c = store.outbox_claim(60, 10).await.unwrap();
            store
                .outbox_record(c[0].id, OutboxResult::Sent, Some("1.1".into()))
                .await
                .unwrap();
            // Recorded at once; the other one is still claimed.
            let list = queued(&store);
            assert!(matches!(list[0].state, OutboxState::Sent { .. }));
            assert!(!list[0].leased);
            assert_eq!(list[0].schedule_status.as_deref(), Some("1.1"));
            assert!(list[1].leased);
            // Stopped before the status reached the object.
            store.close();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.outbox_release_leases().await.unwrap(), 1);
        assert_eq!(
            store.outbox_apply_statuses(None, set_status).await.unwrap(),
            1
        );
        let body = String::from_utf8(store.body("a", "default/u1.ics").unwrap().unwrap()).unwrap();
        assert!(body.contains("X-STATUS:mailto:b@x.org 1.1 1"), "{body}");
        assert!(queued(&store)[0].schedule_status.is_none());
        // Applied once only.
        assert_eq!(
            store.outbox_apply_statuses(None, set_status).await.unwrap(),
            0
        );
        // The interrupted one is claimed again, and only it.
        let again = store.outbox_claim(60, 10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert!(again[0].message.recipient.contains("c@x.org"));
    }

    #[tokio::test]
    async fn released_entries_are_due_again_without_an_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_user(dir.path()).await;
        put_invitation(&store).await;
        let c = store.outbox_claim(600, 10).await.unwrap();
        assert_eq!(c[0].attempts, 1);
        assert!(store.outbox_claim(600, 10).await.unwrap().is_empty());
        store.outbox_release(vec![c[0].id]).await.unwrap();
        let again = store.outbox_claim(600, 10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 1);
        // A recorded entry is not given back.
        store
            .outbox_record(again[0].id, OutboxResult::Sent, None)
            .await
            .unwrap();
        store.outbox_release(vec![again[0].id]).await.unwrap();
        assert!(store.outbox_claim(600, 10).await.unwrap().is_empty());
    }

    fn local(uid: &str, f: Transform) -> LocalDelivery {
        LocalDelivery {
            user: "a".into(),
            calendar: "default/".into(),
            uid: uid.into(),
            name: format!("{uid}.ics"),
            new_schedule_tag: true,
            transform: f,
            inbox: Some((
                "m1".into(),
                "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".into(),
                "REQUEST".into(),
            )),
            refusal_status: Arc::default(),
        }
    }

    #[tokio::test]
    async fn local_delivery_and_its_result_are_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_user(dir.path()).await;
        let mut m = message("a@example.com");
        m.local_user = Some("a".into());
        store
            .put(
                "a",
                "default/u1.ics",
                put(&event("u1", "x"), vec![m.clone(), m]),
            )
            .await
            .unwrap();
        let c = store.outbox_claim(60, 10).await.unwrap();
        let f: Transform = Box::new(|_| Ok(Some(event("u7", "delivered"))));
        let r = store
            .outbox_deliver_local(c[0].id, local("u7", f))
            .await
            .unwrap();
        assert_eq!(r, OutboxResult::Sent);
        // The object, the inbox copy and the result, all together.
        let body = String::from_utf8(store.body("a", "default/u7.ics").unwrap().unwrap()).unwrap();
        assert!(body.contains("delivered"));
        assert!(store.body("a", "inbox/m1.ics").unwrap().is_some());
        let list = queued(&store);
        assert!(matches!(list[0].state, OutboxState::Sent { .. }));
        // A refused transform writes nothing and records the failure.
        let f: Transform = Box::new(|_| Err("not yours".into()));
        let mut d = local("u8", f);
        d.inbox = Some(("m2".into(), "x".into(), "REQUEST".into()));
        let r = store.outbox_deliver_local(c[1].id, d).await.unwrap();
        assert!(matches!(r, OutboxResult::Failed { .. }), "{r:?}");
        assert!(store.body("a", "default/u8.ics").unwrap().is_none());
        assert!(store.body("a", "inbox/m2.ics").unwrap().is_none());
        let list = queued(&store);
        assert!(matches!(list[1].state, OutboxState::Failed { .. }));
        assert!(store.outbox_claim(60, 10).await.unwrap().is_empty());
    }
}
