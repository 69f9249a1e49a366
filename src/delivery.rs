//! The outbox worker: claims due iTIP messages from the store and delivers
//! them, to our own users directly (their calendar and schedule inbox,
//! RFC 6638 section 3.2) and to everyone else by email (iMIP, RFC 6047:
//! over SMTP when `[smtp]` is configured, otherwise into the spool folder
//! `DATA_DIR/mail-out/`). Each result goes back into the store durably as
//! soon as it is known; the organizer's SCHEDULE-STATUS for each attendee
//! is written into the object once per round.
//!
//! Crash safety: a local delivery and its result are one transaction
//! (exactly once). A message handed to the SMTP relay is in doubt from its
//! final "." until its result is committed; at most `smtp.max_unrecorded`
//! messages are in doubt at any time, so a crash repeats at most that many
//! (with their Message-IDs). The `smtp.connections` connections overlap
//! everything else (connecting, MAIL FROM, RCPT TO, DATA).

use crate::config::ImipConfig;
use crate::imip::{self, Delivery, Outgoing, SmtpConfig, SmtpSender, inbound};
use crate::scheduling::{self, ItipError, ItipMessage, Method};
use crate::store::{
    LocalDelivery, NewMessage, OutboxEntry, OutboxResult, Store, StoreError, Transform,
    component_of, resource_name,
};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

/// Shortest lease on a claimed message.
const LEASE_SECONDS: u64 = 120;
/// Messages claimed per round.
const BATCH: usize = 256;
/// How often the worker looks for due retries when nothing wakes it.
const POLL: Duration = Duration::from_secs(1);
/// Messages per parallel SMTP connection in a round (below that, fewer connections).
const PER_LANE: usize = 16;
/// How often recorded SCHEDULE-STATUSes are written into their objects
/// (rewriting a large organizer copy after every round would cost more
/// than the round).
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// Time allowed for recording one result.
const RECORD_SECONDS: u64 = 60;

/// Name of the spool folder inside the data directory.
pub const SPOOL_DIR: &str = "mail-out";

/// Largest value of `smtp.connections` and `smtp.max_unrecorded`.
const MAX_PARALLEL: usize = 64;

pub struct Worker {
    ctx: Arc<Ctx>,
    /// One per SMTP connection; empty when mail is spooled.
    senders: Vec<SmtpSender>,
    ready: Arc<Notify>,
    /// Entries whose recorded SCHEDULE-STATUS is not yet in their objects.
    unapplied: Vec<u64>,
    /// When statuses were last written into objects.
    applied_at: Instant,
}

/// What the delivery lanes of a round share.
struct Ctx {
    store: Store,
    smtp: SmtpConfig,
    imip: ImipConfig,
    spool: PathBuf,
    /// One permit per message that may be with the relay unrecorded.
    unrecorded: Semaphore,
}

/// How long a claim holds its messages, and until when (from the claim) a
/// lane may start one: a message is never attempted when its lease could
/// end before its result is recorded, so no later claim can send it again.
fn lease_plan(smtp: &SmtpConfig) -> (u64, Duration) {
    let timeout = smtp.timeout_seconds.clamp(1, 86_400);
    let lanes = smtp.connections.clamp(1, MAX_PARALLEL) as u64;
    // connect, RSET, MAIL FROM, RCPT TO, DATA, the message; then waiting for
    // a permit behind the other lanes' hand-overs, and the record.
    let worst = (6 + lanes) * timeout + RECORD_SECONDS;
    let lease = LEASE_SECONDS.max(2 * worst);
    (lease, Duration::from_secs(lease - worst))
}

impl Worker {
    pub fn new(
        store: Store,
        smtp: SmtpConfig,
        imip: ImipConfig,
        data_dir: &std::path::Path,
        ready: Arc<Notify>,
    ) -> Worker {
        let lanes = smtp.connections.clamp(1, MAX_PARALLEL);
        let senders = if smtp.is_configured() {
            (0..lanes).map(|_| SmtpSender::new(smtp.clone())).collect()
        } else {
            Vec::new()
        };
        let unrecorded = Semaphore::new(smtp.max_unrecorded.clamp(1, MAX_PARALLEL));
        Worker {
            ctx: Arc::new(Ctx {
                store,
                smtp,
                imip,
                spool: data_dir.join(SPOOL_DIR),
                unrecorded,
            }),
            senders,
            ready,
            unapplied: Vec::new(),
            applied_at: Instant::now(),
        }
    }

    /// Run until the task is dropped.
    pub async fn run(mut self) {
        match self.ctx.store.outbox_release_leases().await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!("outbox: {n} message(s) interrupted by the last stop are due again")
            }
            Err(e) => tracing::error!("outbox: cannot release stale leases: {e}"),
        }
        // Statuses recorded with results before the last stop.
        if let Err(e) = self
            .ctx
            .store
            .outbox_apply_statuses(None, scheduling::set_schedule_statuses)
            .await
        {
            tracing::error!("outbox: cannot write recorded SCHEDULE-STATUS: {e}");
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

    /// Claim and deliver one batch over parallel lanes (one per SMTP
    /// connection); returns how many were claimed. Each result is recorded
    /// right after its attempt; the SCHEDULE-STATUS updates go into the
    /// originating objects, one rewrite per object, at most once per
    /// `STATUS_EVERY` (a steady trickle of messages would otherwise rewrite
    /// a large organizer copy after every one of them); an idle worker
    /// applies what is left when it wakes next (within `POLL`). A stop in
    /// between loses nothing: the statuses are recorded with the results
    /// and applied at the next start.
    pub async fn round(&mut self) -> Result<usize, StoreError> {
        let (lease, window) = lease_plan(&self.ctx.smtp);
        let started = Instant::now();
        let claimed = self.ctx.store.outbox_claim(lease as i64, BATCH).await?;
        let n = claimed.len();
        if n == 0 {
            if self.applied_at.elapsed() >= STATUS_EVERY {
                self.apply_statuses().await?;
            }
            for sender in &mut self.senders {
                sender.close().await;
            }
            return Ok(0);
        }
        let ids: Vec<u64> = claimed.iter().map(|e| e.id).collect();
        let queue = Arc::new(Mutex::new(VecDeque::from(claimed)));
        let deadline = started + window;
        let mut lanes = JoinSet::new();
        let wanted = self.senders.len();
        if wanted == 0 {
            lanes.spawn(lane(self.ctx.clone(), queue.clone(), None, deadline));
        }
        // A connection for every PER_LANE messages: a few are sent over one.
        let used = n.div_ceil(PER_LANE).min(wanted);
        for sender in self.senders.drain(..used) {
            lanes.spawn(lane(
                self.ctx.clone(),
                queue.clone(),
                Some(sender),
                deadline,
            ));
        }
        let mut failure = None;
        while let Some(joined) = lanes.join_next().await {
            match joined {
                Ok((sender, result)) => {
                    self.senders.extend(sender);
                    if let Err(e) = result {
                        failure.get_or_insert(e);
                    }
                }
                Err(e) => tracing::error!("outbox: a delivery lane stopped: {e}"),
            }
        }
        while self.senders.len() < wanted {
            self.senders.push(SmtpSender::new(self.ctx.smtp.clone()));
        }
        // Not attempted (lease window over, or a lane failed): due again now.
        let left: Vec<u64> = match queue.lock() {
            Ok(mut q) => q.drain(..).map(|e| e.id).collect(),
            Err(_) => Vec::new(),
        };
        if !left.is_empty() {
            self.ctx.store.outbox_release(left).await?;
        }
        self.unapplied.extend(ids);
        if self.applied_at.elapsed() >= STATUS_EVERY {
            self.apply_statuses().await?;
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(n),
        }
    }

    /// Write the statuses recorded since the last call into their objects.
    async fn apply_statuses(&mut self) -> Result<(), StoreError> {
        self.applied_at = Instant::now();
        if self.unapplied.is_empty() {
            return Ok(());
        }
        let ids = std::mem::take(&mut self.unapplied);
        self.ctx
            .store
            .outbox_apply_statuses(Some(ids), scheduling::set_schedule_statuses)
            .await?;
        Ok(())
    }
}

/// One delivery lane: takes messages from the round's queue until it is
/// empty or the lease window is over; gives its SMTP sender back.
async fn lane(
    ctx: Arc<Ctx>,
    queue: Arc<Mutex<VecDeque<OutboxEntry>>>,
    mut sender: Option<SmtpSender>,
    deadline: Instant,
) -> (Option<SmtpSender>, Result<(), StoreError>) {
    loop {
        if Instant::now() > deadline {
            return (sender, Ok(()));
        }
        let next = match queue.lock() {
            Ok(mut q) => q.pop_front(),
            Err(_) => None,
        };
        let Some(entry) = next else {
            return (sender, Ok(()));
        };
        let result = match &entry.message.local_user {
            Some(user) => ctx.deliver_local(user, &entry).await,
            None => ctx.deliver_mail(sender.as_mut(), &entry).await,
        };
        match result {
            Ok(r) => log_result(&entry, &r),
            Err(e) => return (sender, Err(e)),
        }
    }
}

impl Ctx {
    /// Record a result reached without handing anything to a relay.
    async fn record(
        &self,
        entry: &OutboxEntry,
        result: OutboxResult,
        status: Option<&str>,
    ) -> Result<OutboxResult, StoreError> {
        let status = status
            .filter(|_| entry.message.method != "REPLY")
            .map(str::to_string);
        self.store
            .outbox_record(entry.id, result.clone(), status)
            .await?;
        Ok(result)
    }

    /// Deliver to our own user `user` and record the result (one transaction).
    async fn deliver_local(
        &self,
        user: &str,
        entry: &OutboxEntry,
    ) -> Result<OutboxResult, StoreError> {
        let delivery = match self.local_delivery(user, entry) {
            Ok(d) => d,
            Err(result) => return self.record(entry, result, None).await,
        };
        match self.store.outbox_deliver_local(entry.id, delivery).await {
            Ok(result) => Ok(result),
            Err(StoreError::Backend(e)) => {
                let due = chrono::Utc::now().timestamp() + 30;
                self.record(entry, OutboxResult::Retry { due, error: e }, None)
                    .await
            }
            Err(e) => {
                let result = OutboxResult::Failed {
                    error: e.to_string(),
                };
                self.record(entry, result, None).await
            }
        }
    }

    /// What delivering `entry` to `user` changes; Err: the result without a
    /// change. A message the authority rule (`scheduling::may_change`)
    /// refuses changes nothing and leaves nothing in the inbox (a client
    /// could apply it to the object with that UID); the organizer's copy
    /// gets SCHEDULE-STATUS 3.8.
    fn local_delivery(
        &self,
        user: &str,
        entry: &OutboxEntry,
    ) -> Result<LocalDelivery, OutboxResult> {
        let msg = to_itip(&entry.message);
        let Some(method) = Method::parse(&entry.message.method) else {
            return Err(OutboxResult::Failed {
                error: format!("unknown method {}", entry.message.method),
            });
        };
        let name = format!("{}.ics", resource_name(&msg.uid));
        let refusal_status = Arc::new(Mutex::new(None));
        let slot = refusal_status.clone();
        let note = move |e: ItipError| {
            if matches!(e, ItipError::NoAuthority(_))
                && let Ok(mut s) = slot.lock()
            {
                *s = Some(scheduling::NO_AUTHORITY_STATUS.to_string());
            }
            e.to_string()
        };
        let (calendar, new_schedule_tag, transform): (String, bool, Transform) = match method {
            Method::Request | Method::Add => {
                let m = msg.clone();
                let f: Transform = Box::new(move |cur| {
                    scheduling::deliver_request(cur, &m).map(Some).map_err(note)
                });
                (self.target_calendar(user, &msg)?, true, f)
            }
            Method::Cancel => {
                let m = msg.clone();
                let f: Transform =
                    Box::new(move |cur| scheduling::deliver_cancel(cur, &m).map_err(note));
                (self.target_calendar(user, &msg)?, true, f)
            }
            Method::Reply => {
                let Some(calendar) = self.calendar_holding(user, &msg.uid) else {
                    return Err(OutboxResult::Failed {
                        error: format!("no event {} in the calendars of {user}", msg.uid),
                    });
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
                (calendar, false, f)
            }
            other => {
                return Err(OutboxResult::Failed {
                    error: format!("{} is not delivered locally", other.as_str()),
                });
            }
        };
        // The iTIP message kept in the recipient's schedule inbox (RFC 6638 section 4.1).
        let m = &entry.message;
        let inbox = Some((
            resource_name(&entry.message_id),
            m.ical.clone(),
            m.method.clone(),
        ));
        Ok(LocalDelivery {
            user: user.to_string(),
            calendar,
            uid: msg.uid,
            name,
            new_schedule_tag,
            transform,
            inbox,
            refusal_status,
        })
    }

    /// The calendar a REQUEST, ADD or CANCEL for `user` is applied in: the
    /// one holding the event, else the default calendar for invitations.
    fn target_calendar(&self, user: &str, msg: &ItipMessage) -> Result<String, OutboxResult> {
        match self
            .store
            .schedule_calendar(user, &msg.uid, component_of(&msg.ical))
        {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(OutboxResult::Failed {
                error: format!("no calendar of {user} accepts {}", msg.uid),
            }),
            Err(e) => Err(OutboxResult::Retry {
                due: chrono::Utc::now().timestamp() + 60,
                error: e.to_string(),
            }),
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

    /// Send one message by email over `sender` (or spool it without one)
    /// and record the result with the SCHEDULE-STATUS it gives.
    async fn deliver_mail(
        &self,
        sender: Option<&mut SmtpSender>,
        entry: &OutboxEntry,
    ) -> Result<OutboxResult, StoreError> {
        let m = &entry.message;
        let (from, ical) = match self.with_reply_token(m) {
            Some((address, ical)) => (address, ical),
            None => (m.sender.clone(), m.ical.clone()),
        };
        let out = Outgoing {
            method: &m.method,
            recipient: &m.recipient,
            sender: &from,
            ical: &ical,
            message_id: &entry.message_id,
            date: chrono::DateTime::from_timestamp(entry.created, 0).unwrap_or_default(),
            reminder: m.reminder,
        };
        let bytes = match imip::build_message(&out, &self.smtp) {
            Ok(b) => b,
            Err(e) => {
                let result = OutboxResult::Failed {
                    error: e.to_string(),
                };
                return self.record(entry, result, Some("5.1")).await;
            }
        };
        let Some(sender) = sender else {
            // The spool file is named by Message-ID: writing it again replaces it.
            return match imip::spool(&self.spool, &entry.message_id, &bytes) {
                Ok(_) => self.record(entry, OutboxResult::Sent, Some("1.1")).await,
                Err(e) => {
                    let due = chrono::Utc::now().timestamp() + 30;
                    let error = e.to_string();
                    self.record(entry, OutboxResult::Retry { due, error }, None)
                        .await
                }
            };
        };
        if let Err(refused) = sender.open(&m.recipient, &bytes).await {
            // Nothing was handed over: no permit needed.
            let (result, status) = self.outcome(entry, refused);
            return self.record(entry, result, status).await;
        }
        // From the final "." until the result is durable the message is in
        // doubt; a crash in between sends it again.
        let permit = self.unrecorded.acquire().await;
        let delivery = sender.hand_over().await;
        let (result, status) = self.outcome(entry, delivery);
        let recorded = self.record(entry, result, status).await;
        drop(permit);
        recorded
    }

    /// The result and SCHEDULE-STATUS of one SMTP attempt.
    fn outcome(&self, entry: &OutboxEntry, d: Delivery) -> (OutboxResult, Option<&'static str>) {
        match d {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_attempt_starts_that_could_outlive_its_lease() {
        for timeout in [1, 5, 30, 300] {
            for connections in [1, 4, 64] {
                let smtp = SmtpConfig {
                    timeout_seconds: timeout,
                    connections,
                    ..SmtpConfig::default()
                };
                let (lease, window) = lease_plan(&smtp);
                // Every SMTP step may take the timeout, then the wait for a
                // permit behind the other connections, then the record.
                let worst = (6 + connections as u64) * timeout + RECORD_SECONDS;
                assert!(window.as_secs() + worst <= lease, "{timeout} {connections}");
                assert!(lease >= LEASE_SECONDS);
                assert!(
                    window.as_secs() >= worst,
                    "the window holds a whole attempt"
                );
            }
        }
    }
}
