//! Inbound mail in the store: each processed message is recorded once
//! (keyed by Message-ID, or a hash of the message), together with its
//! effect on the organizer's event and a history entry, in one
//! transaction; the same mail delivered again is answered with the first
//! outcome and changes nothing.

use super::Store;
use super::error::{Result, StoreError};
use super::model::*;
use super::outbox::Transform;

/// Changes the organizer's copy for an inbound message: the new text and
/// the iTIP messages the change causes, None when there is no copy, Err
/// (why) to refuse.
pub type InboundTransform = Box<
    dyn FnOnce(Option<&str>) -> std::result::Result<Option<(String, Vec<NewMessage>)>, String>
        + Send,
>;
use super::tables::*;
use super::write::{INBOX, W};
use redb::{ReadableDatabase, ReadableTable};

fn history_key(user: &str, uid: &str) -> String {
    format!("{user}\0{uid}")
}

impl W<'_> {
    fn seen(&self, message_id: &str) -> Result<Option<String>> {
        let t = self.0.open_table(INGESTED)?;
        let v = t.get(message_id)?;
        Ok(v.map(|v| String::from_utf8_lossy(v.value()).into_owned()))
    }

    fn remember(&self, message_id: &str, outcome: &str) -> Result<()> {
        self.0
            .open_table(INGESTED)?
            .insert(message_id, outcome.as_bytes())?;
        Ok(())
    }

    pub(super) fn add_history(&self, user: &str, uid: &str, entry: &HistoryEntry) -> Result<()> {
        let n = self.next(HISTORY_COUNTER)?;
        let bytes = serde_json::to_vec(entry)?;
        self.0
            .open_table(HISTORY)?
            .insert((history_key(user, uid).as_str(), n), bytes.as_slice())?;
        Ok(())
    }
}

impl Store {
    /// The recorded outcome of an inbound message, if it was processed.
    pub fn ingested(&self, message_id: &str) -> Result<Option<String>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(INGESTED)?;
        Ok(t.get(message_id)?
            .map(|v| String::from_utf8_lossy(v.value()).into_owned()))
    }

    /// Record a message that changes no event (ignored, refused before any
    /// event was found). Returns the earlier outcome when it was seen before.
    pub async fn record_inbound(&self, message_id: &str, outcome: &str) -> Result<Option<String>> {
        let (id, outcome) = (message_id.to_string(), outcome.to_string());
        self.writer
            .write(move |txn| {
                let w = W(txn);
                if let Some(before) = w.seen(&id)? {
                    return Ok(Some(before));
                }
                w.remember(&id, &outcome)?;
                Ok(None)
            })
            .await
    }

    /// Apply an inbound iTIP message to `user`'s event `uid` in `calendar`
    /// through `f` (which may refuse), recording the message, the history
    /// entry and the messages `f` made (a REFRESH's REQUEST, a relayed
    /// answer, an accepted COUNTER's update) in the same transaction.
    /// `history.accepted`/`detail` are filled in here.
    pub async fn apply_inbound(
        &self,
        user: &str,
        calendar: &str,
        uid: &str,
        f: InboundTransform,
        mut history: HistoryEntry,
    ) -> Result<InboundApplied> {
        let (user, calendar, uid) = (user.to_string(), calendar.to_string(), uid.to_string());
        let limit = self.invitations_per_hour();
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let id = history.message_id.clone();
                if let Some(before) = w.seen(&id)? {
                    return Ok(InboundApplied::Duplicate(before));
                }
                let made = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
                let sink = made.clone();
                let text_only: Transform = Box::new(move |cur| {
                    let changed = f(cur)?;
                    Ok(changed.map(|(text, messages)| {
                        if let Ok(mut m) = sink.lock() {
                            *m = messages;
                        }
                        text
                    }))
                });
                let outcome =
                    match w.transform(&user, &calendar, &uid, "unused.ics", false, text_only) {
                        Ok(Some(path)) => InboundApplied::Applied(path),
                        Ok(None) => InboundApplied::Rejected("no such event".into()),
                        Err(StoreError::Rejected(why)) => InboundApplied::Rejected(why),
                        Err(StoreError::NotFound) => {
                            InboundApplied::Rejected("no such calendar".into())
                        }
                        Err(e) => return Err(e),
                    };
                let (accepted, detail) = match &outcome {
                    InboundApplied::Applied(_) => (true, history.detail.clone()),
                    InboundApplied::Rejected(why) => (false, why.clone()),
                    InboundApplied::Duplicate(_) => (false, String::new()),
                };
                history.accepted = accepted;
                history.detail = detail.clone();
                w.remember(
                    &id,
                    &if accepted {
                        format!("applied: {detail}")
                    } else {
                        format!("rejected: {detail}")
                    },
                )?;
                w.add_history(&user, &uid, &history)?;
                if accepted {
                    let path = match &outcome {
                        InboundApplied::Applied(p) => p.clone(),
                        _ => String::new(),
                    };
                    let outbox = made
                        .lock()
                        .map(|mut m| std::mem::take(&mut *m))
                        .unwrap_or_default();
                    // Invitations the message causes count against the organizer's budget.
                    w.count_invitations(&user, &outbox, limit, super::write::now())?;
                    w.enqueue(&user, &path, outbox)?;
                }
                Ok(outcome)
            })
            .await
    }

    /// Record a history entry without changing the event (e.g. a COUNTER).
    pub async fn add_history(
        &self,
        user: &str,
        uid: &str,
        entry: HistoryEntry,
    ) -> Result<Option<String>> {
        let (user, uid) = (user.to_string(), uid.to_string());
        self.writer
            .write(move |txn| {
                let w = W(txn);
                if let Some(before) = w.seen(&entry.message_id)? {
                    return Ok(Some(before));
                }
                let outcome = format!(
                    "{}: {}",
                    if entry.accepted {
                        "recorded"
                    } else {
                        "rejected"
                    },
                    entry.detail
                );
                w.remember(&entry.message_id, &outcome)?;
                w.add_history(&user, &uid, &entry)?;
                Ok(None)
            })
            .await
    }

    /// Keep an iTIP message in `user`'s schedule inbox (RFC 6638 section
    /// 4.1) as `inbox/NAME.ics`.
    pub async fn put_inbox(&self, user: &str, name: &str, ical: &str, method: &str) -> Result<()> {
        let req = PutRequest {
            body: ical.as_bytes().to_vec(),
            content_type: format!("text/calendar; charset=utf-8; method={method}"),
            if_match: None,
            if_none_match_any: false,
            if_schedule_tag: None,
            calendar: None,
            schedule_tag: ScheduleTag::None,
            outbox: Vec::new(),
            seats_wanted: 0,
            policy: None,
        };
        self.put(user, &format!("{INBOX}{name}.ics"), req)
            .await
            .map(|_| ())
    }

    /// The history of `user`'s event `uid`, oldest first.
    pub fn history(&self, user: &str, uid: &str) -> Result<Vec<HistoryEntry>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(HISTORY)?;
        let key = history_key(user, uid);
        let mut out = Vec::new();
        for e in t.range((key.as_str(), 0)..=(key.as_str(), u64::MAX))? {
            let (_, v) = e?;
            out.push(serde_json::from_slice(v.value())?);
        }
        Ok(out)
    }
}
