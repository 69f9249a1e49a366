//! The outbox worker: claims due iTIP messages from the store and delivers
//! them, to our own users directly (their calendar and schedule inbox,
//! RFC 6638 section 3.2) and to everyone else by email (iMIP, RFC 6047:
//! over SMTP when `[smtp]` is configured, otherwise into the spool folder
//! `DATA_DIR/mail-out/`). Each result goes back into the store with the
//! organizer's SCHEDULE-STATUS for that attendee.

use crate::config::ImipConfig;
use crate::imip::{self, Delivery, Outgoing, SmtpConfig, SmtpSender, inbound};
use crate::scheduling::{self, ItipError, ItipMessage, Method};
use crate::store::{
    DEFAULT_CALENDAR, NewMessage, OutboxEntry, OutboxResult, Rewrite, Store, StoreError, Transform,
    resource_name,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// How long a claimed message is reserved for this worker.
const LEASE_SECONDS: i64 = 120;
/// Messages claimed per round.
const BATCH: usize = 256;
/// Results recorded per transaction. A crash between sending and recording
/// can repeat at most this many messages (each keeps its Message-ID, so the
/// repeat is recognisable downstream).
const FLUSH: usize = 64;
/// How often the worker looks for due retries when nothing wakes it.
const POLL: Duration = Duration::from_secs(1);

/// Name of the spool folder inside the data directory.
pub const SPOOL_DIR: &str = "mail-out";

pub struct Worker {
    store: Store,
    smtp: SmtpConfig,
    imip: ImipConfig,
    sender: Option<SmtpSender>,
    spool: PathBuf,
    ready: Arc<Notify>,
}

impl Worker {
    pub fn new(
        store: Store,
        smtp: SmtpConfig,
        imip: ImipConfig,
        data_dir: &std::path::Path,
        ready: Arc<Notify>,
    ) -> Worker {
        let sender = smtp.is_configured().then(|| SmtpSender::new(smtp.clone()));
        Worker {
            store,
            smtp,
            imip,
            sender,
            spool: data_dir.join(SPOOL_DIR),
            ready,
        }
    }

    /// Run until the task is dropped.
    pub async fn run(mut self) {
        match self.store.outbox_release_leases().await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!("outbox: {n} message(s) interrupted by the last stop are due again")
            }
            Err(e) => tracing::error!("outbox: cannot release stale leases: {e}"),
        }
        loop {
            match self.round().await {
                Ok(0) => {
                    let _ = tokio::time::timeout(POLL, self.ready.notified()).await;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!("outbox: {e}");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }

    /// Claim and deliver one batch; returns how many were handled. Results
    /// are recorded every `FLUSH` messages, in one transaction with the
    /// SCHEDULE-STATUS updates of the objects they came from.
    pub async fn round(&mut self) -> Result<usize, StoreError> {
        let claimed = self.store.outbox_claim(LEASE_SECONDS, BATCH).await?;
        let n = claimed.len();
        let mut results = Vec::new();
        let mut statuses: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
        for entry in claimed {
            let (result, status) = match &entry.message.local_user {
                Some(user) => self.deliver_local(user, &entry).await,
                None => self.deliver_mail(&entry).await,
            };
            log_result(&entry, &result);
            if let Some(status) = status
                && entry.message.method != "REPLY"
            {
                statuses
                    .entry((entry.owner.clone(), entry.object_path.clone()))
                    .or_default()
                    .push((entry.message.recipient.clone(), status.to_string()));
            }
            results.push((entry.id, result));
            if results.len() >= FLUSH {
                self.flush(&mut results, &mut statuses).await?;
            }
        }
        self.flush(&mut results, &mut statuses).await?;
        if n == 0
            && let Some(sender) = self.sender.as_mut()
        {
            sender.close().await;
        }
        Ok(n)
    }

    async fn flush(
        &self,
        results: &mut Vec<(u64, OutboxResult)>,
        statuses: &mut BTreeMap<(String, String), Vec<(String, String)>>,
    ) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        let rewrites: Vec<(String, String, Rewrite)> = std::mem::take(statuses)
            .into_iter()
            .map(|((owner, path), updates)| {
                let f: Rewrite =
                    Box::new(move |text: &str| scheduling::set_schedule_statuses(text, &updates));
                (owner, path, f)
            })
            .collect();
        self.store
            .outbox_finish(std::mem::take(results), rewrites)
            .await
    }

    /// Deliver to a user of this server; with the SCHEDULE-STATUS to record
    /// when it differs from the one written at queue time (1.2): 3.8 when
    /// the authority rule refused the message (`scheduling::may_change`).
    async fn deliver_local(
        &self,
        user: &str,
        entry: &OutboxEntry,
    ) -> (OutboxResult, Option<&'static str>) {
        let msg = to_itip(&entry.message);
        let Some(method) = Method::parse(&entry.message.method) else {
            let error = format!("unknown method {}", entry.message.method);
            return (OutboxResult::Failed { error }, None);
        };
        let name = format!("{}.ics", resource_name(&msg.uid));
        let refused = Arc::new(AtomicBool::new(false));
        let noted = refused.clone();
        let note = move |e: ItipError| {
            if matches!(e, ItipError::NoAuthority(_)) {
                noted.store(true, Ordering::Relaxed);
            }
            e.to_string()
        };
        let outcome = match method {
            Method::Request | Method::Add => {
                let m = msg.clone();
                let f: Transform = Box::new(move |cur| {
                    scheduling::deliver_request(cur, &m).map(Some).map_err(note)
                });
                self.store
                    .transform_object(user, DEFAULT_CALENDAR, &msg.uid, &name, true, f)
                    .await
            }
            Method::Cancel => {
                let m = msg.clone();
                let f: Transform =
                    Box::new(move |cur| scheduling::deliver_cancel(cur, &m).map_err(note));
                self.store
                    .transform_object(user, DEFAULT_CALENDAR, &msg.uid, &name, true, f)
                    .await
            }
            Method::Reply => {
                let Some(calendar) = self.calendar_holding(user, &msg.uid) else {
                    let error = format!("no event {} in the calendars of {user}", msg.uid);
                    return (OutboxResult::Failed { error }, None);
                };
                let (ical, from) = (msg.ical.clone(), msg.sender.clone());
                let to = vec![msg.recipient.clone()];
                let max = self.store.max_delegates_per_reply();
                let f: Transform = Box::new(move |cur| match cur {
                    Some(c) => scheduling::apply_reply(c, &ical, &from, &to, max)
                        .map(Some)
                        .map_err(note),
                    None => Ok(None),
                });
                self.store
                    .transform_object(user, &calendar, &msg.uid, &name, false, f)
                    .await
            }
            other => {
                let error = format!("{} is not delivered locally", other.as_str());
                return (OutboxResult::Failed { error }, None);
            }
        };
        match outcome {
            Ok(_) => {
                self.copy_to_inbox(user, entry).await;
                (OutboxResult::Sent, None)
            }
            Err(StoreError::Backend(e)) => (
                OutboxResult::Retry {
                    due: chrono::Utc::now().timestamp() + 30,
                    error: e,
                },
                None,
            ),
            // Refused by the authority rule: nothing stored, nothing in the
            // inbox (a client could apply it to the object with that UID).
            Err(e) if refused.load(Ordering::Relaxed) => (
                OutboxResult::Failed {
                    error: e.to_string(),
                },
                Some(scheduling::NO_AUTHORITY_STATUS),
            ),
            Err(e) => (
                OutboxResult::Failed {
                    error: e.to_string(),
                },
                None,
            ),
        }
    }

    /// The calendar (path) of `user` holding `uid`, if any.
    fn calendar_holding(&self, user: &str, uid: &str) -> Option<String> {
        let calendars = self.store.children(user, "").ok()?;
        calendars
            .into_iter()
            .filter(|(_, n)| n.calendar().is_some())
            .find(|(p, _)| self.store.uid_in(user, p, uid).ok().flatten().is_some())
            .map(|(p, _)| p)
    }

    /// Keep the iTIP message in the recipient's schedule inbox (RFC 6638 section 4.1).
    async fn copy_to_inbox(&self, user: &str, entry: &OutboxEntry) {
        let m = &entry.message;
        let name = resource_name(&entry.message_id);
        if let Err(e) = self.store.put_inbox(user, &name, &m.ical, &m.method).await {
            tracing::warn!("outbox {}: inbox copy for {user} failed: {e}", entry.id);
        }
    }

    /// With `imip.reply_tokens`: the reply address for this (event,
    /// attendee) and the REQUEST naming it as ORGANIZER (RFC 6047 replies
    /// go to the ORGANIZER), so the answer is bound to them.
    fn with_reply_token(&self, m: &NewMessage) -> Option<(String, String)> {
        if !matches!(m.method.as_str(), "REQUEST" | "ADD") {
            return None;
        }
        let (local, domain) = self.imip.reply_token_parts()?;
        let key = self.imip.token_key.as_deref()?;
        let token = inbound::reply_token(key, &m.uid, &m.recipient);
        let address = format!("mailto:{local}+{token}@{domain}");
        let ical = scheduling::replace_organizer(&m.ical, &address)?;
        Some((address, ical))
    }

    /// Send one message by email (or spool it); the SCHEDULE-STATUS to record.
    async fn deliver_mail(&mut self, entry: &OutboxEntry) -> (OutboxResult, Option<&'static str>) {
        let m = &entry.message;
        let (sender, ical) = match self.with_reply_token(m) {
            Some((address, ical)) => (address, ical),
            None => (m.sender.clone(), m.ical.clone()),
        };
        let out = Outgoing {
            method: &m.method,
            recipient: &m.recipient,
            sender: &sender,
            ical: &ical,
            message_id: &entry.message_id,
            date: chrono::DateTime::from_timestamp(entry.created, 0).unwrap_or_default(),
        };
        let bytes = match imip::build_message(&out, &self.smtp) {
            Ok(b) => b,
            Err(e) => {
                return (
                    OutboxResult::Failed {
                        error: e.to_string(),
                    },
                    Some("5.1"),
                );
            }
        };
        let Some(sender) = self.sender.as_mut() else {
            return match imip::spool(&self.spool, &entry.message_id, &bytes) {
                Ok(_) => (OutboxResult::Sent, Some("1.1")),
                Err(e) => (
                    OutboxResult::Retry {
                        due: chrono::Utc::now().timestamp() + 30,
                        error: e.to_string(),
                    },
                    None,
                ),
            };
        };
        match sender.send(&m.recipient, &bytes).await {
            Delivery::Sent => (OutboxResult::Sent, Some("1.1")),
            Delivery::Permanent(e) => (OutboxResult::Failed { error: e }, Some("5.1")),
            Delivery::Transient(e) if entry.attempts >= self.smtp.max_attempts => {
                (OutboxResult::Failed { error: e }, Some("5.1"))
            }
            Delivery::Transient(e) => {
                let delay = imip::retry_delay(&self.smtp, entry.attempts);
                let due = chrono::Utc::now().timestamp() + delay.as_secs().max(1) as i64;
                (OutboxResult::Retry { due, error: e }, None)
            }
        }
    }
}

fn to_itip(m: &NewMessage) -> ItipMessage {
    ItipMessage {
        method: Method::parse(&m.method).unwrap_or(Method::Request),
        recipient: m.recipient.clone(),
        sender: m.sender.clone(),
        uid: m.uid.clone(),
        sequence: 0,
        ical: m.ical.clone(),
    }
}

fn log_result(entry: &OutboxEntry, result: &OutboxResult) {
    let m = &entry.message;
    match result {
        OutboxResult::Sent => tracing::info!(
            "outbox {}: {} {} to {} delivered",
            entry.id,
            m.method,
            m.uid,
            m.recipient
        ),
        OutboxResult::Retry { error, due } => tracing::warn!(
            "outbox {}: {} to {} failed for now ({error}); retry at {due}",
            entry.id,
            m.method,
            m.recipient
        ),
        OutboxResult::Failed { error } => tracing::warn!(
            "outbox {}: {} to {} failed for good: {error}",
            entry.id,
            m.method,
            m.recipient
        ),
    }
}
