//! The timer worker: one task that runs the durable timers of
//! `store::timers` (hold expiry, waiting-list promotion, reminders) when
//! they fall due. It keeps no state: it reads the next due time from the
//! store, sleeps until then (or until woken: a timer was added, the test
//! clock moved), and runs each due timer through `Store::timer_fire`, whose
//! effect and removal are one transaction, so a timer runs exactly once
//! across crashes and restarts, and one that fell due while herald was down
//! runs at start.

use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Timers run per round.
const BATCH: usize = 256;
/// Longest sleep when nothing is due sooner (a backstop for timers added
/// by a door that does not wake the worker).
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// Pause after a store error.
const BACKOFF: Duration = Duration::from_secs(1);

static READY: Notify = Notify::const_new();

/// Wake the worker: a timer may be due sooner than it thinks.
pub fn wake() {
    READY.notify_one();
}

pub struct Worker {
    store: Store,
    outbox_ready: Arc<Notify>,
    max_per_instance: usize,
}

impl Worker {
    pub fn new(store: Store, outbox_ready: Arc<Notify>, max_per_instance: usize) -> Worker {
        Worker {
            store,
            outbox_ready,
            max_per_instance,
        }
    }

    pub async fn run(self) {
        loop {
            match self.round().await {
                Ok(n) if n == BATCH => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!("timers: {e}");
                    tokio::time::sleep(BACKOFF).await;
                    continue;
                }
            }
            let wait = match self.store.timer_next_due() {
                Ok(Some(due)) => {
                    let ms = due.saturating_mul(1000) - crate::clock::now_ms();
                    Duration::from_millis(ms.max(0) as u64).min(MAX_SLEEP)
                }
                Ok(None) => MAX_SLEEP,
                Err(e) => {
                    tracing::error!("timers: {e}");
                    BACKOFF
                }
            };
            if wait.is_zero() {
                continue;
            }
            tokio::select! {
                _ = READY.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Run the timers due now; returns how many there were.
    pub async fn round(&self) -> Result<usize, crate::store::StoreError> {
        let due = self.store.timers_due(crate::clock::now(), BATCH)?;
        let n = due.len();
        for timer in due {
            let id = timer.id;
            let effect = match crate::engine::seats::effect_for(
                &self.store,
                &timer,
                self.max_per_instance,
            ) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!("timer {id}: {e:?}; run without its rule");
                    crate::store::Effect::Plain
                }
            };
            tracing::debug!("timer {id}: {:?} due at {}", timer.kind, timer.due);
            self.store.timer_fire(timer, effect).await?;
        }
        if n > 0 {
            self.outbox_ready.notify_one();
        }
        Ok(n)
    }
}
