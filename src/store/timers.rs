//! Durable timers (issue 11): everything that must happen at a time (a
//! hold expires, a reminder is due, the waiting list gets a freed seat).
//! Table `timers`: (due Unix second, id) -> Timer, so the next due one is
//! the first key and the due ones are a range. A timer is written in the
//! same transaction as the change that schedules it, and run by
//! `timer_fire`: its effect and the removal of the timer are ONE
//! transaction, so a timer runs exactly once however often the worker is
//! interrupted (a crash before the commit leaves it due; after, it is
//! gone). Nothing is held in memory: a timer due while herald was down is
//! simply due at the next start.

use super::Store;
use super::error::{Result, StoreError};
use super::seats::GuestRule;
use super::tables::{TIMER_COUNTER, TIMERS};
use super::write::{W, now};
use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

/// What a timer does when it is due.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TimerKind {
    /// Release a hold that was not confirmed.
    HoldExpiry { hold: u64 },
    /// Give free seats of an event to its waiting list.
    Promote { user: String, path: String },
    /// Resend the invitation of `email` (still NEEDS-ACTION) to the event.
    Reminder {
        user: String,
        path: String,
        email: String,
    },
}

/// A due timer as the worker sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Timer {
    pub due: i64,
    pub id: u64,
    pub kind: TimerKind,
}

/// How the engine carries out a timer that needs an iTIP rule.
pub enum Effect {
    /// No rule needed (hold expiry).
    Plain,
    /// The invitation rule for a `Promote` (guests to invite).
    Guests(GuestRule),
    /// The reminder rule: the stored object to the REQUEST to resend to
    /// the attendee, or None when no reminder is due (answered,
    /// cancelled, started).
    Reminder(super::invites::ReminderRule),
}

impl W<'_> {
    /// Schedule `kind` at `due`; returns the timer's key.
    pub(super) fn add_timer(&self, due: i64, kind: TimerKind) -> Result<(i64, u64)> {
        let id = self.next(TIMER_COUNTER)?;
        let bytes = serde_json::to_vec(&kind)?;
        self.0
            .open_table(TIMERS)?
            .insert((due, id), bytes.as_slice())?;
        Ok((due, id))
    }

    pub(super) fn remove_timer(&self, key: (i64, u64)) -> Result<()> {
        self.0.open_table(TIMERS)?.remove(key)?;
        Ok(())
    }
}

impl Store {
    /// When the next timer is due (Unix seconds).
    pub fn timer_next_due(&self) -> Result<Option<i64>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(TIMERS)?;
        Ok(t.first()?.map(|(k, _)| k.value().0))
    }

    /// Timers due at `at` or before, oldest first, at most `max`.
    pub fn timers_due(&self, at: i64, max: usize) -> Result<Vec<Timer>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(TIMERS)?;
        let mut out = Vec::new();
        for row in t.range((i64::MIN, 0)..=(at, u64::MAX))? {
            let (k, v) = row?;
            let (due, id) = k.value();
            match serde_json::from_slice(v.value()) {
                Ok(kind) => out.push(Timer { due, id, kind }),
                Err(e) => tracing::warn!("timer {id}: unreadable ({e}); skipped"),
            }
            if out.len() >= max {
                break;
            }
        }
        Ok(out)
    }

    /// Pending timers.
    pub fn timer_count(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        Ok(redb::ReadableTableMetadata::len(&txn.open_table(TIMERS)?)?)
    }

    /// Run `timer` with `effect` and remove it, in one transaction. A timer
    /// already gone (run before) does nothing and returns false. A refusal
    /// of the rule drops the timer (logged): the state it acted on cannot
    /// take the effect.
    pub async fn timer_fire(&self, timer: Timer, effect: Effect) -> Result<bool> {
        let limit = self.invitations_per_hour();
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let key = (timer.due, timer.id);
                if w.0.open_table(TIMERS)?.get(key)?.is_none() {
                    return Ok(false);
                }
                let done = match (&timer.kind, effect) {
                    (TimerKind::HoldExpiry { hold }, _) => w.expire_hold(*hold),
                    (TimerKind::Promote { user, path }, Effect::Guests(rule)) => {
                        w.promote(user, path, rule, limit)
                    }
                    (TimerKind::Reminder { user, path, email }, Effect::Reminder(rule)) => {
                        w.remind(user, path, email, key, rule, limit)
                    }
                    (kind, _) => Err(StoreError::Rejected(format!(
                        "no effect given for {kind:?}"
                    ))),
                };
                match done {
                    Ok(()) => {}
                    Err(StoreError::Rejected(why)) => {
                        tracing::warn!("timer {}: {why}; dropped", timer.id);
                    }
                    Err(e) => return Err(e),
                }
                w.remove_timer(key)?;
                Ok(true)
            })
            .await
    }

    /// Schedule a bare timer (benchmarks and tests of the timer table).
    #[doc(hidden)]
    pub async fn timer_add(&self, due: i64, kind: TimerKind) -> Result<(i64, u64)> {
        self.writer
            .write(move |txn| W(txn).add_timer(due, kind))
            .await
    }
}

impl W<'_> {
    /// Record what a timer did to the event at `key` (node key of `user`)
    /// in its history, in the timer's transaction: `method` is the step's
    /// kind as the API shows it, in upper case.
    pub(super) fn note_timer_step(
        &self,
        user: &str,
        key: &str,
        method: &str,
        detail: String,
    ) -> Result<()> {
        let Some(uid) = self
            .node(key)?
            .and_then(|n| n.resource().and_then(|r| r.uid.clone()))
        else {
            return Ok(());
        };
        let entry = super::model::HistoryEntry {
            at: now(),
            message_id: format!("herald-timer:{user}:{uid}:{}", method.to_ascii_lowercase()),
            from: "herald".into(),
            method: method.into(),
            accepted: true,
            detail,
            dtstamp: None,
            proposal: None,
        };
        self.add_history(user, &uid, &entry)
    }
}
