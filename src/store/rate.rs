//! Limits the store enforces for every door (CalDAV, mail, a later API):
//! the per-principal budget of invitations (`limits.invitations_per_hour`),
//! counted in the same transaction that queues them, and the delegation
//! bound a REPLY is held to (`limits.max_delegates_per_reply`, read by the
//! doors that apply replies). Set once at start from `[limits]`.
//!
//! Invitations are the REQUEST and ADD messages queued, one per recipient.
//! The hour slides: the count of the current clock hour plus the previous
//! hour's count weighted by how much of that hour is still inside the
//! window. Over the budget, the whole write is refused (nothing stored,
//! nothing queued) with the seconds after which it would fit.

use super::Store;
use super::error::{Result, StoreError};
use super::model::NewMessage;
use super::write::{W, now};
use crate::config;
use redb::{ReadableTable, TableDefinition};
use std::sync::atomic::{AtomicU64, Ordering};

/// (principal, hour since the epoch) → invitations queued in that hour.
const INVITATIONS: TableDefinition<(&str, i64), u64> = TableDefinition::new("invitations");

const HOUR: i64 = 3600;

/// The limits of `[limits]` that the store applies.
#[derive(Debug)]
pub struct StoreLimits {
    quota_bytes: AtomicU64,
    invitations_per_hour: AtomicU64,
    max_delegates_per_reply: AtomicU64,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            quota_bytes: AtomicU64::new(config::DEFAULT_QUOTA_BYTES),
            invitations_per_hour: AtomicU64::new(config::DEFAULT_INVITATIONS_PER_HOUR),
            max_delegates_per_reply: AtomicU64::new(config::DEFAULT_MAX_DELEGATES_PER_REPLY as u64),
        }
    }
}

impl Store {
    /// Take the store's limits from the configuration.
    pub fn set_limits(&self, limits: &config::LimitsConfig) {
        let l = &self.limits;
        l.quota_bytes.store(limits.quota_bytes, Ordering::Relaxed);
        l.invitations_per_hour
            .store(limits.invitations_per_hour, Ordering::Relaxed);
        l.max_delegates_per_reply
            .store(limits.max_delegates_per_reply as u64, Ordering::Relaxed);
    }

    /// `limits.quota_bytes`: what each user may store, enforced inside the
    /// write transaction of every operation that adds bytes.
    pub fn quota(&self) -> u64 {
        self.limits.quota_bytes.load(Ordering::Relaxed)
    }

    pub(super) fn invitations_per_hour(&self) -> u64 {
        self.limits.invitations_per_hour.load(Ordering::Relaxed)
    }

    /// `limits.max_delegates_per_reply`.
    pub fn max_delegates_per_reply(&self) -> usize {
        let n = self.limits.max_delegates_per_reply.load(Ordering::Relaxed);
        usize::try_from(n).unwrap_or(usize::MAX)
    }
}

/// How many of `messages` are invitations.
fn invitations(messages: &[NewMessage]) -> u64 {
    messages
        .iter()
        .filter(|m| matches!(m.method.as_str(), "REQUEST" | "ADD"))
        .count() as u64
}

/// The sliding-hour estimate from the previous and current hour's counts,
/// `into` seconds into the current hour.
fn window(prev: u64, cur: u64, into: i64) -> u64 {
    let left = (HOUR - into.clamp(0, HOUR)) as u128;
    cur + (u128::from(prev) * left / HOUR as u128) as u64
}

/// Seconds until `n` more fit under `limit` (assuming nothing else is
/// queued meanwhile): when the previous hour has decayed enough, or at the
/// next hour.
fn retry_after(prev: u64, cur: u64, into: i64, n: u64, limit: u64) -> u64 {
    for wait in (60..2 * HOUR).step_by(60) {
        let t = into + wait;
        let used = match t {
            t if t < HOUR => window(prev, cur, t),
            t if t < 2 * HOUR => window(cur, 0, t - HOUR),
            _ => 0,
        };
        if used.saturating_add(n) <= limit {
            return wait as u64;
        }
    }
    2 * HOUR as u64
}

impl W<'_> {
    /// [`Self::count_invitations`] now for work a timer does: None when the
    /// messages were counted, or the time to try again when they do not
    /// fit (nothing counted).
    pub(super) fn over_budget(
        &self,
        owner: &str,
        messages: &[NewMessage],
        limit: u64,
    ) -> Result<Option<i64>> {
        let t = now();
        match self.count_invitations(owner, messages, limit, t) {
            Ok(()) => Ok(None),
            Err(StoreError::RateLimited { retry_after, .. }) => {
                let wait = i64::try_from(retry_after).unwrap_or(HOUR).clamp(1, HOUR);
                Ok(Some(t.saturating_add(wait)))
            }
            Err(e) => Err(e),
        }
    }

    /// Count `messages` against `owner`'s invitation budget `limit` at
    /// time `now`; Err(RateLimited) when they do not fit.
    pub(super) fn count_invitations(
        &self,
        owner: &str,
        messages: &[NewMessage],
        limit: u64,
        now: i64,
    ) -> Result<()> {
        let n = invitations(messages);
        if n == 0 {
            return Ok(());
        }
        let (hour, into) = (now.div_euclid(HOUR), now.rem_euclid(HOUR));
        let mut t = self.0.open_table(INVITATIONS)?;
        let get = |t: &redb::Table<(&str, i64), u64>, h: i64| -> Result<u64> {
            Ok(t.get((owner, h))?.map(|v| v.value()).unwrap_or(0))
        };
        let (prev, cur) = (get(&t, hour - 1)?, get(&t, hour)?);
        if window(prev, cur, into).saturating_add(n) > limit {
            return Err(StoreError::RateLimited {
                limit,
                retry_after: retry_after(prev, cur, into, n, limit),
            });
        }
        t.insert((owner, hour), cur + n)?;
        // Older hours no longer count.
        let old: Vec<i64> = t
            .range((owner, i64::MIN)..(owner, hour - 1))?
            .map(|e| e.map(|(k, _)| k.value().1))
            .collect::<std::result::Result<_, _>>()?;
        for h in old {
            t.remove((owner, h))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides() {
        assert_eq!(window(100, 10, 0), 110);
        assert_eq!(window(100, 10, 1800), 60);
        assert_eq!(window(100, 10, 3600), 10);
        // 100 of 100 used in the last hour: 50 more fit after half an hour.
        assert_eq!(retry_after(100, 0, 0, 50, 100), 1800);
        assert_eq!(retry_after(0, 100, 0, 1, 100), 3660);
        assert_eq!(retry_after(0, 100, 1800, 1, 100), 1860);
        // More than the limit at once never fits.
        assert_eq!(retry_after(0, 0, 0, 101, 100), 7200);
    }
}
