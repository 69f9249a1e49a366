//! Seats, holds and the waiting list of an event (issue 11). Tables:
//! `policies` (node key -> Policy: the event's capacity and reminder
//! settings with its seat counters and waiting list) and `holds` (id ->
//! Hold). Every check and the change it guards are one transaction:
//!
//! * `taken` is recounted from the object (`ical::seats_taken`) whenever a
//!   calendar object with a policy is written (`W::seats_after_write`), by
//!   any door; when it drops and people wait, a `Promote` timer is queued
//!   in the same transaction.
//! * A write that adds guests says how many seats it wants
//!   (`PutRequest::seats_wanted`); it is refused with `CapacityExceeded`
//!   before any other check when fewer are free, so racing adds resolve
//!   to clean refusals rather than conflicts.
//! * A hold counts in `held` from its creation until it is confirmed
//!   (its seats become guests), released, or expires (a `HoldExpiry`
//!   timer written with it).

use super::Store;
use super::error::{Result, StoreError};
use super::model::NewMessage;
use super::tables::{HOLD_COUNTER, HOLDS, POLICIES, node_key};
use super::timers::TimerKind;
use super::write::{W, now};
use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

/// What happens when a seat frees and people wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitlistMode {
    /// The first person waiting is invited at once.
    Invite,
    /// The first person waiting gets a hold the application confirms.
    Offer,
}

/// The settings of an event's policy (what an application sets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicySettings {
    pub capacity: Option<u32>,
    pub release_on_decline: bool,
    pub waitlist: Option<WaitlistMode>,
    /// Seconds a waiting-list offer is held.
    pub waitlist_offer_ttl: i64,
    /// Seconds after an invitation before a reminder.
    pub remind_after: Option<i64>,
    pub max_reminders: u32,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            capacity: None,
            release_on_decline: true,
            waitlist: None,
            waitlist_offer_ttl: 3600,
            remind_after: None,
            max_reminders: 1,
        }
    }
}

/// Someone on the waiting list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiting {
    /// Lower-case address without `mailto:`.
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When they were added (Unix seconds).
    pub at: i64,
}

/// An event's policy and seat counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    #[serde(flatten)]
    pub settings: PolicySettings,
    /// Seats the guest list takes (recounted at every write of the object).
    pub taken: u32,
    /// Seats in active holds.
    pub held: u32,
    /// First come, first served.
    pub waiting: Vec<Waiting>,
    /// Open waiting-list offers: (address, hold id).
    #[serde(default)]
    pub offered: Vec<(String, u64)>,
    /// Written with each confirm batch whose preparation was used: a
    /// random value that a rolled-back transaction cannot leave behind
    /// (see `Chain`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub chain: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A random, non-zero `Policy::chain` value.
fn chain_value() -> u64 {
    let mut b = [0u8; 8];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    u64::from_le_bytes(b).max(1)
}

/// Where a confirm batch publishes the ETag it left the event at and its
/// `Policy::chain` value, when the store used its preparation; the next
/// batch, prepared on the event as this one leaves it before this one is
/// committed, is used only if both still hold when it runs. Both roll back
/// with a failed transaction while an ETag counter value can be issued
/// again, hence the random value beside it.
pub type Chain = std::sync::Arc<std::sync::Mutex<Option<(String, u64)>>>;

impl Policy {
    /// Free seats; None without a capacity.
    pub fn available(&self) -> Option<u32> {
        self.settings
            .capacity
            .map(|c| c.saturating_sub(self.taken.saturating_add(self.held)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldState {
    Held,
    Confirmed,
    Released,
    Expired,
}

/// Seats reserved for a checkout (or a waiting-list offer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    pub id: u64,
    /// Owner and the event's path below the home.
    pub user: String,
    pub path: String,
    pub seats: u32,
    pub created: i64,
    pub expires_at: i64,
    pub state: HoldState,
    /// When the state last changed.
    pub changed: i64,
    /// Who the seats went to (confirmed).
    #[serde(default)]
    pub attendees: Vec<String>,
    /// The waiting-list entry this hold was offered to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered_to: Option<Waiting>,
    /// Key of its expiry timer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer: Option<(i64, u64)>,
}

impl Hold {
    /// Whether the hold can be confirmed at `now` with `guests` (none for
    /// an offer: the person offered): Ok with the guests it confirms, Ok(None)
    /// when it is no longer held or has expired, Err when the guests do not
    /// fit its seats.
    pub fn confirmable(
        &self,
        guests: &[Waiting],
        now: i64,
    ) -> std::result::Result<Option<Vec<Waiting>>, String> {
        if self.state != HoldState::Held || self.expires_at <= now {
            return Ok(None);
        }
        let guests = match (guests.is_empty(), &self.offered_to) {
            (true, Some(o)) => vec![o.clone()],
            _ => guests.to_vec(),
        };
        if guests.is_empty() || guests.len() > self.seats as usize {
            return Err(format!(
                "a hold of {} seat(s) confirms 1 to {} attendee(s)",
                self.seats, self.seats
            ));
        }
        Ok(Some(guests))
    }
}

/// A confirm batch worked out outside the writer from the event as it was
/// at `etag` (the rule run and its result parsed), for the holds `live`.
/// The transaction uses it when the event and the confirmable holds are
/// still exactly those; otherwise it runs the rule itself.
pub struct Prepared {
    /// The ETag it was prepared from; with `after`, unused.
    pub etag: String,
    /// Prepared on the event as the batch publishing here leaves it.
    pub after: Option<Chain>,
    pub live: Vec<u64>,
    pub planned: Option<GuestsAdded>,
}

/// What a guest rule made of the event: the object to store, a REQUEST
/// for each new guest, and the seats the new guests take (so the store
/// adds them to the count instead of scanning the whole guest list).
pub struct GuestsAdded {
    pub stored: String,
    pub messages: Vec<NewMessage>,
    pub seats: u32,
}

/// What a confirm did.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirmed {
    /// Confirmed now (the messages were queued) or before (nothing queued):
    /// the hold as stored.
    Done { hold: Hold, queued: bool },
    /// The hold expired (now or before) or was released: nothing changed
    /// but its release.
    Gone(Hold),
}

/// Turns the stored object and the hold's guests into the object to store
/// and its REQUESTs (an iTIP rule run inside the transaction); an error
/// refuses the confirm.
pub type GuestRule =
    Box<dyn FnOnce(&str, &[Waiting]) -> std::result::Result<Option<GuestsAdded>, String> + Send>;

impl W<'_> {
    pub(super) fn policy(&self, key: &str) -> Result<Option<Policy>> {
        let t = self.0.open_table(POLICIES)?;
        let v = t.get(key)?;
        Ok(match v {
            Some(v) => Some(serde_json::from_slice(v.value())?),
            None => None,
        })
    }

    pub(super) fn put_policy(&self, key: &str, p: &Policy) -> Result<()> {
        let bytes = serde_json::to_vec(p)?;
        self.0.open_table(POLICIES)?.insert(key, bytes.as_slice())?;
        Ok(())
    }

    fn hold(&self, id: u64) -> Result<Option<Hold>> {
        let t = self.0.open_table(HOLDS)?;
        let v = t.get(id)?;
        Ok(match v {
            Some(v) => Some(serde_json::from_slice(v.value())?),
            None => None,
        })
    }

    fn put_hold(&self, h: &Hold) -> Result<()> {
        let bytes = serde_json::to_vec(h)?;
        self.0.open_table(HOLDS)?.insert(h.id, bytes.as_slice())?;
        Ok(())
    }

    /// Refuse a write that wants `wanted` seats of the event at `key`
    /// when fewer are free (a check: writes nothing).
    pub(super) fn check_seats(&self, key: &str, wanted: u32) -> Result<()> {
        if wanted == 0 {
            return Ok(());
        }
        if let Some(available) = self.policy(key)?.and_then(|p| p.available())
            && wanted > available
        {
            return Err(StoreError::CapacityExceeded { available });
        }
        Ok(())
    }

    /// Refuse writing `body` at `key` when its guest list would take more
    /// seats than now and more than the capacity allows (`settings`, when
    /// the write sets them, else the stored ones): the seat check for
    /// writes that do not say how many seats they add (an organizer's
    /// CalDAV PUT, an attendee's role changed to a seat-taking one). A
    /// check before the first write, as the writer requires.
    pub(super) fn check_not_overbooked(
        &self,
        key: &str,
        body: &[u8],
        settings: Option<&PolicySettings>,
    ) -> Result<()> {
        let Some(p) = self.policy(key)? else {
            return Ok(());
        };
        let settings = settings.unwrap_or(&p.settings);
        let Some(capacity) = settings.capacity else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(body);
        let taken = crate::ical::seats_taken(&text, settings.release_on_decline);
        if taken > p.taken && taken.saturating_add(p.held) > capacity {
            return Err(StoreError::CapacityExceeded {
                available: capacity.saturating_sub(p.taken.saturating_add(p.held)),
            });
        }
        Ok(())
    }

    /// After guests taking `seats` seats were added to the event at `key`.
    pub(super) fn seats_added(&self, key: &str, seats: u32) -> Result<()> {
        if let Some(mut p) = self.policy(key)?
            && seats > 0
        {
            p.taken = p.taken.saturating_add(seats);
            self.put_policy(key, &p)?;
        }
        Ok(())
    }

    /// After the object at `key` was written: recount its seats; when
    /// seats came free and people wait, queue their promotion.
    pub(super) fn seats_after_write(&self, user: &str, key: &str, body: &[u8]) -> Result<()> {
        let Some(mut p) = self.policy(key)? else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(body);
        let taken = crate::ical::seats_taken(&text, p.settings.release_on_decline);
        if taken == p.taken {
            return Ok(());
        }
        let freed = taken < p.taken;
        p.taken = taken;
        self.put_policy(key, &p)?;
        if freed {
            self.promote_later(user, key, &p)?;
        }
        Ok(())
    }

    /// Queue a promotion of the waiting list when it may place someone.
    fn promote_later(&self, user: &str, key: &str, p: &Policy) -> Result<()> {
        if p.settings.waitlist.is_some()
            && !p.waiting.is_empty()
            && p.available().is_some_and(|a| a > 0)
        {
            let path = key[user.len() + 1..].to_string();
            self.add_timer(
                now(),
                TimerKind::Promote {
                    user: user.to_string(),
                    path,
                },
            )?;
        }
        Ok(())
    }

    /// Create a hold (the check comes first; then the hold, its timer
    /// and the counter).
    fn new_hold(
        &self,
        user: &str,
        path: &str,
        seats: u32,
        ttl: i64,
        offered_to: Option<Waiting>,
        p: &mut Policy,
    ) -> Result<Hold> {
        let t = now();
        let id = self.next(HOLD_COUNTER)?;
        let expires_at = t.saturating_add(ttl);
        let timer = self.add_timer(expires_at, TimerKind::HoldExpiry { hold: id })?;
        let hold = Hold {
            id,
            user: user.to_string(),
            path: path.to_string(),
            seats,
            created: t,
            expires_at,
            state: HoldState::Held,
            changed: t,
            attendees: Vec::new(),
            offered_to,
            timer: Some(timer),
        };
        if let Some(o) = &hold.offered_to {
            p.offered.push((o.email.clone(), id));
        }
        self.put_hold(&hold)?;
        p.held = p.held.saturating_add(seats);
        Ok(hold)
    }

    /// End an active hold (`state`: released or expired), give its seats
    /// back and let the waiting list have them.
    fn end_hold(&self, mut h: Hold, state: HoldState) -> Result<Hold> {
        let key = node_key(&h.user, &h.path);
        if let Some(timer) = h.timer.take() {
            self.remove_timer(timer)?;
        }
        h.state = state;
        h.changed = now();
        self.put_hold(&h)?;
        if let Some(mut p) = self.policy(&key)? {
            p.held = p.held.saturating_sub(h.seats);
            p.offered.retain(|(_, id)| *id != h.id);
            self.put_policy(&key, &p)?;
            self.promote_later(&h.user, &key, &p)?;
        }
        Ok(h)
    }
}

impl Store {
    /// The policy of the event at `path` in `user`'s home.
    pub fn policy(&self, user: &str, path: &str) -> Result<Option<Policy>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(POLICIES)?;
        let v = t.get(node_key(user, path).as_str())?;
        Ok(match v {
            Some(v) => Some(serde_json::from_slice(v.value())?),
            None => None,
        })
    }

    /// Set the settings of an existing event's policy (counters and the
    /// waiting list are kept). A capacity below the seats taken and held
    /// is refused (`CapacityExceeded`). Reminders switched on are
    /// scheduled for the invitations still without one.
    pub async fn policy_set(
        &self,
        user: &str,
        path: &str,
        settings: PolicySettings,
    ) -> Result<Policy> {
        let (user, path) = (user.to_string(), path.to_string());
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let key = node_key(&user, &path);
                let node = w.node(&key)?.ok_or(StoreError::NotFound)?;
                let body = w.body(&key)?.ok_or(StoreError::NotFound)?;
                let old = w.policy(&key)?;
                drop(node);
                let reminders_on = settings.remind_after.is_some()
                    && old.as_ref().and_then(|p| p.settings.remind_after) != settings.remind_after;
                let old_capacity = old.as_ref().and_then(|p| p.settings.capacity);
                let mut p = old.unwrap_or(Policy {
                    settings: settings.clone(),
                    taken: 0,
                    held: 0,
                    waiting: Vec::new(),
                    offered: Vec::new(),
                    chain: 0,
                });
                p.settings = settings;
                // The release rule may have changed: recount.
                p.taken = crate::ical::seats_taken(
                    &String::from_utf8_lossy(&body),
                    p.settings.release_on_decline,
                );
                // Lowering the capacity below what is taken and held is refused.
                if let Some(c) = p.settings.capacity
                    && c < p.taken.saturating_add(p.held)
                    && old_capacity != Some(c)
                {
                    return Err(StoreError::CapacityExceeded { available: 0 });
                }
                w.put_policy(&key, &p)?;
                if reminders_on {
                    w.reschedule_reminders(&user, &key, &p)?;
                }
                w.promote_later(&user, &key, &p)?;
                Ok(p)
            })
            .await
    }

    pub fn hold(&self, id: u64) -> Result<Option<Hold>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(HOLDS)?;
        let v = t.get(id)?;
        Ok(match v {
            Some(v) => Some(serde_json::from_slice(v.value())?),
            None => None,
        })
    }

    /// Hold `seats` seats of the event at `path` for `ttl` seconds:
    /// `CapacityExceeded` when they are not free; `Rejected` when the
    /// event has no capacity.
    pub async fn hold_create(&self, user: &str, path: &str, seats: u32, ttl: i64) -> Result<Hold> {
        let (user, path) = (user.to_string(), path.to_string());
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let key = node_key(&user, &path);
                if w.node(&key)?.is_none() {
                    return Err(StoreError::NotFound);
                }
                let mut p = w.policy(&key)?.ok_or(StoreError::NotFound)?;
                let Some(available) = p.available() else {
                    return Err(StoreError::Rejected("the event has no capacity".into()));
                };
                if seats > available {
                    return Err(StoreError::CapacityExceeded { available });
                }
                let hold = w.new_hold(&user, &path, seats, ttl, None, &mut p)?;
                w.put_policy(&key, &p)?;
                Ok(hold)
            })
            .await
    }

    /// Release an active hold of `user` at once; a hold that is no longer
    /// active is returned as it is.
    pub async fn hold_release(&self, user: &str, id: u64) -> Result<Hold> {
        let user = user.to_string();
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let h = w
                    .hold(id)?
                    .filter(|h| h.user == user)
                    .ok_or(StoreError::NotFound)?;
                if h.state != HoldState::Held {
                    return Ok(h);
                }
                w.end_hold(h, HoldState::Released)
            })
            .await
    }

    /// Confirm holds of `user` on the event at `path`, each with its
    /// guests (at most its seats; none for a waiting-list offer means the
    /// person offered): the guests become attendees through ONE run of
    /// `rule` and one rewrite of the object, their REQUESTs are queued and
    /// unused seats come free, all in one transaction. Per hold: a hold
    /// confirmed before answers as it is and queues nothing; one past its
    /// expiry is released and `Gone`; a hold of another event or user is
    /// `NotFound`; too many guests is `Rejected` (that hold only). With the
    /// answers, the event's ETag after the write when `prepared` was used
    /// (so its preparer may build on what it prepared).
    pub async fn hold_confirm(
        &self,
        user: &str,
        path: &str,
        confirms: Vec<(u64, Vec<Waiting>)>,
        rule: GuestRule,
        prepared: Option<Prepared>,
        publish: Chain,
    ) -> Result<(Vec<Result<Confirmed>>, Option<String>)> {
        let (user, path) = (user.to_string(), path.to_string());
        let limit = self.invitations_per_hour();
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let key = node_key(&user, &path);
                // Each hold's answer; None while it is still to be decided.
                let mut answers: Vec<Option<Result<Confirmed>>> = Vec::new();
                let mut live: Vec<(usize, Hold, Vec<Waiting>)> = Vec::new();
                let mut expired: Vec<(usize, Hold)> = Vec::new();
                let t = now();
                for (i, (id, guests)) in confirms.into_iter().enumerate() {
                    let Some(h) = w.hold(id)?.filter(|h| h.user == user && h.path == path) else {
                        answers.push(Some(Err(StoreError::NotFound)));
                        continue;
                    };
                    let answer = match h.confirmable(&guests, t) {
                        _ if h.state == HoldState::Confirmed => Some(Ok(Confirmed::Done {
                            hold: h,
                            queued: false,
                        })),
                        Ok(None) if h.state == HoldState::Held => {
                            expired.push((i, h));
                            None
                        }
                        Ok(None) => Some(Ok(Confirmed::Gone(h))),
                        Err(why) => Some(Err(StoreError::Rejected(why))),
                        Ok(Some(guests)) => {
                            live.push((i, h, guests));
                            None
                        }
                    };
                    answers.push(answer);
                }
                // Checks before the first write: the object, the rule, the
                // invitation budget.
                let live_ids: Vec<u64> = live.iter().map(|(_, h, _)| h.id).collect();
                let current = w.node(&key)?.map(|n| n.etag);
                let chain = w.policy(&key)?.map_or(0, |p| p.chain);
                let prepared_on = |p: &Prepared| match &p.after {
                    None => Some(&p.etag) == current.as_ref(),
                    Some(slot) => {
                        let published = slot.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        published
                            .is_some_and(|(etag, c)| Some(&etag) == current.as_ref() && c == chain)
                    }
                };
                let mut used = false;
                let planned = match prepared {
                    _ if live.is_empty() => None,
                    Some(p) if prepared_on(&p) && p.live == live_ids => {
                        used = true;
                        p.planned
                    }
                    _ => {
                        let text = w.body(&key)?.ok_or(StoreError::NotFound)?;
                        let text = String::from_utf8(text)
                            .map_err(|_| StoreError::Rejected("the event is not UTF-8".into()))?;
                        let all: Vec<Waiting> = live
                            .iter()
                            .flat_map(|(_, _, g)| g.iter().cloned())
                            .collect();
                        rule(&text, &all).map_err(StoreError::Rejected)?
                    }
                };
                if let Some(g) = &planned {
                    w.count_invitations(&user, &g.messages, limit, t)?;
                }
                for (i, h) in expired {
                    answers[i] = Some(Ok(Confirmed::Gone(w.end_hold(h, HoldState::Expired)?)));
                }
                let queued = planned.is_some();
                if let Some(g) = planned {
                    w.rewrite_guests(&user, &path, g.stored, g.seats)?;
                    w.enqueue(&user, &path, g.messages)?;
                }
                let mut p = w.policy(&key)?.ok_or(StoreError::NotFound)?;
                for (i, mut h, guests) in live {
                    if let Some(timer) = h.timer.take() {
                        w.remove_timer(timer)?;
                    }
                    p.held = p.held.saturating_sub(h.seats);
                    p.offered.retain(|(_, id)| *id != h.id);
                    h.state = HoldState::Confirmed;
                    h.changed = t;
                    h.attendees = guests.iter().map(|g| g.email.clone()).collect();
                    w.put_hold(&h)?;
                    answers[i] = Some(Ok(Confirmed::Done { hold: h, queued }));
                }
                let nonce = if used { chain_value() } else { 0 };
                p.chain = nonce;
                w.put_policy(&key, &p)?;
                let out: Vec<Result<Confirmed>> = answers
                    .into_iter()
                    .map(|a| a.unwrap_or(Err(StoreError::NotFound)))
                    .collect();
                // Seats of the holds not used by new guests.
                w.promote_later(&user, &key, &p)?;
                let etag_after = if used {
                    w.node(&key)?.map(|n| n.etag)
                } else {
                    None
                };
                // Seen by the next batch if it runs later in this writer.
                *publish.lock().unwrap_or_else(|e| e.into_inner()) =
                    etag_after.clone().map(|e| (e, nonce));
                Ok((out, etag_after))
            })
            .await
    }

    /// Add people to the waiting list of the event at `path` (those
    /// already waiting or given in `skip` are left out); returns the
    /// policy after. `Rejected` when the event has no waiting list.
    pub async fn waitlist_add(
        &self,
        user: &str,
        path: &str,
        people: Vec<Waiting>,
        skip: Vec<String>,
    ) -> Result<(Policy, Vec<String>)> {
        let (user, path) = (user.to_string(), path.to_string());
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let key = node_key(&user, &path);
                if w.node(&key)?.is_none() {
                    return Err(StoreError::NotFound);
                }
                let mut p = w.policy(&key)?.ok_or(StoreError::NotFound)?;
                if p.settings.waitlist.is_none() {
                    return Err(StoreError::Rejected("the event has no waiting list".into()));
                }
                let mut added = Vec::new();
                for person in people {
                    let known = p.waiting.iter().any(|x| x.email == person.email)
                        || skip.contains(&person.email)
                        || p.offered.iter().any(|(e, _)| *e == person.email);
                    if !known {
                        added.push(person.email.clone());
                        p.waiting.push(person);
                    }
                }
                w.put_policy(&key, &p)?;
                w.promote_later(&user, &key, &p)?;
                Ok((p, added))
            })
            .await
    }

    /// The open waiting-list offers (holds) of the event at `path`.
    pub fn offers(&self, user: &str, path: &str) -> Result<Vec<Hold>> {
        let Some(p) = self.policy(user, path)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (_, id) in p.offered {
            if let Some(h) = self.hold(id)? {
                out.push(h);
            }
        }
        Ok(out)
    }
}

impl W<'_> {
    /// Store `text`, the event at `path` with guests added (by
    /// `scheduling::add_attendees`, which changes no time, UID or
    /// component): its time index stays, so the text is not parsed again.
    /// A new Schedule-Tag (the guest list changed). The new guests take
    /// `seats` more seats.
    fn rewrite_guests(&self, user: &str, path: &str, text: String, seats: u32) -> Result<()> {
        let key = node_key(user, path);
        let Some(node) = self.node(&key)? else {
            return Ok(());
        };
        let index = self
            .0
            .open_table(super::tables::TIME_INDEX)?
            .get(key.as_str())?
            .and_then(|v| super::tables::decode_index(v.value()));
        let resource = node.resource();
        let uid = resource.and_then(|r| r.uid.clone());
        let component = resource.and_then(|r| r.component.clone());
        let (Some(uid), Some(component), Some(index)) = (uid, component, index) else {
            return self.rewrite_object(user, path, text, true);
        };
        let meta = super::model::CalendarObjectMeta {
            uid,
            component,
            index,
        };
        self.rewrite_parsed(user, path, text, meta, true, Some(seats))
    }

    /// Run a due `HoldExpiry` timer: the hold ends if still active.
    pub(super) fn expire_hold(&self, id: u64) -> Result<()> {
        if let Some(mut h) = self.hold(id)?
            && h.state == HoldState::Held
        {
            h.timer = None; // the timer being run is removed by the caller
            let (user, key) = (h.user.clone(), node_key(&h.user, &h.path));
            let detail = format!("hold {} of {} seat(s) expired unconfirmed", h.id, h.seats);
            self.end_hold(h, HoldState::Expired)?;
            self.note_timer_step(&user, &key, "HOLD-EXPIRED", detail)?;
        }
        Ok(())
    }

    /// Run a due `Promote` timer: give free seats to the first people
    /// waiting, as invitations (through `rule`) or as offers.
    /// Invitations count against the owner's hourly budget `limit`; over
    /// it, the people stay waiting and the promotion is tried again when
    /// the budget has room.
    pub(super) fn promote(
        &self,
        user: &str,
        path: &str,
        rule: GuestRule,
        limit: u64,
    ) -> Result<()> {
        let key = node_key(user, path);
        let Some(mut p) = self.policy(&key)? else {
            return Ok(());
        };
        if self.node(&key)?.is_none() {
            return Ok(());
        }
        let n = p.available().unwrap_or(0).min(p.waiting.len() as u32) as usize;
        if n == 0 {
            return Ok(());
        }
        let chosen: Vec<Waiting> = p.waiting.drain(..n).collect();
        match p.settings.waitlist {
            None => return Ok(()),
            Some(WaitlistMode::Offer) => {
                let ttl = p.settings.waitlist_offer_ttl;
                for person in chosen {
                    let email = person.email.clone();
                    let h = self.new_hold(user, path, 1, ttl, Some(person), &mut p)?;
                    let detail = format!(
                        "{email} offered a seat from the waiting list: hold {} until {}",
                        h.id,
                        crate::clock::rfc3339(h.expires_at)
                    );
                    self.note_timer_step(user, &key, "OFFERED", detail)?;
                }
                self.put_policy(&key, &p)?;
            }
            Some(WaitlistMode::Invite) => {
                let Some(text) = self.body(&key)? else {
                    return Ok(());
                };
                let text = String::from_utf8_lossy(&text).into_owned();
                // Checked before writing: a refusal leaves them waiting.
                let planned = rule(&text, &chosen).map_err(StoreError::Rejected)?;
                if let Some(g) = &planned
                    && let Some(later) = self.over_budget(user, &g.messages, limit)?
                {
                    let kind = super::timers::TimerKind::Promote {
                        user: user.to_string(),
                        path: path.to_string(),
                    };
                    self.add_timer(later, kind)?;
                    return Ok(());
                }
                self.put_policy(&key, &p)?;
                if let Some(g) = planned {
                    self.rewrite_guests(user, path, g.stored, g.seats)?;
                    self.enqueue(user, path, g.messages)?;
                    let who: Vec<&str> = chosen.iter().map(|w| w.email.as_str()).collect();
                    let detail = format!("invited from the waiting list: {}", who.join(", "));
                    self.note_timer_step(user, &key, "PROMOTED", detail)?;
                }
            }
        }
        Ok(())
    }
}
