//! Hold confirms, batched per event (`confirm_hold`). A checkout rush puts
//! many confirms on ONE event, and each confirm adds guests to its guest
//! list; done one at a time, every confirm would parse, render and store
//! the whole event. Instead the confirms of an event queue up, and one
//! task per event (the batcher) takes them a batch at a time:
//!
//! * it prepares a batch off the writer thread, on the event kept parsed
//!   from the batch before (`scheduling::GuestList`): which holds can be
//!   confirmed, the object with their guests, the REQUESTs;
//! * it hands the preparation to ONE store transaction
//!   (`Store::hold_confirm`), which uses it only when the event and the
//!   holds are still exactly what it was prepared from (same ETag, same
//!   confirmable holds) and otherwise runs the rule on the stored object
//!   itself: the store decides, the preparation only saves work;
//! * it prepares the next batch while the ones before are being committed
//!   (up to `DEPTH` in flight), on the event as the last of them leaves
//!   it; that batch publishes the ETag it wrote (`store::Chain`) inside
//!   the writer, so the next is checked against it even in the same group
//!   commit. When a commit did not use its preparation, the ones prepared
//!   on it fall back to the store's own rule and the next batch starts
//!   again from the stored event.
//!
//! A batcher that runs out of confirms stops, and leaves its parsed event
//! to the next one (a few events are kept).

use super::seats::add_guests;
use super::write::my_addresses;
use super::{Actor, EngineError, Result, event::FieldError, seats::guest_rule};
use crate::scheduling::GuestList;
use crate::store::{Chain, Confirmed, Prepared, Store, StoreError, Waiting};
use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex, MutexGuard};
use tokio::sync::oneshot;

type Answer = std::result::Result<Confirmed, StoreError>;

/// A confirm waiting for its event's next batch.
type Waiter = (u64, Vec<Waiting>, oneshot::Sender<Answer>);

/// Confirms waiting per event ("user/path"), and whether a batcher runs.
#[derive(Default)]
struct Queue {
    running: bool,
    waiting: Vec<Waiter>,
    /// Told of each confirm queued, so that a batcher waiting for a commit
    /// takes it at once.
    arrived: std::sync::Arc<tokio::sync::Notify>,
}

static QUEUES: LazyLock<Mutex<HashMap<String, Queue>>> = LazyLock::new(Default::default);

fn queues() -> MutexGuard<'static, HashMap<String, Queue>> {
    QUEUES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Events parsed by batchers that ran out of confirms, with their ETag
/// then, most recent last: a rush whose confirms pause between batches
/// does not parse its event again. Only a few are kept, for memory (a
/// parsed event grows with its guest list).
type Parsed = Vec<(String, String, GuestList)>;
static PARSED: LazyLock<Mutex<Parsed>> = LazyLock::new(Default::default);
const PARSED_KEPT: usize = 4;

fn take_parsed(key: &str) -> Option<(String, GuestList)> {
    let mut kept = PARSED.lock().unwrap_or_else(|e| e.into_inner());
    let i = kept.iter().position(|(k, _, _)| k == key)?;
    let (_, etag, list) = kept.remove(i);
    Some((etag, list))
}

fn keep_parsed(key: String, etag: String, list: GuestList) {
    let mut kept = PARSED.lock().unwrap_or_else(|e| e.into_inner());
    kept.retain(|(k, _, _)| *k != key);
    if kept.len() >= PARSED_KEPT {
        kept.remove(0);
    }
    kept.push((key, etag, list));
}

/// Most batches handed to the store and not yet answered, each prepared
/// on the event as the one before leaves it.
const DEPTH: usize = 3;

/// What a batch is prepared on.
enum Base {
    /// The event as stored, or as kept with its ETag then (used only while
    /// that ETag is current).
    Stored(Option<(String, GuestList)>),
    /// The event as the batch publishing at the `Chain` leaves it.
    After(GuestList, Chain),
}

/// The event's fixed facts a batcher works with.
#[derive(Clone)]
struct Event {
    store: Store,
    user: String,
    path: String,
    mine: Vec<String>,
    max: usize,
}

type Commit = crate::store::Result<(Vec<Answer>, Option<String>)>;

/// A batch handed to the store, with the event as it leaves it (until
/// the next batch is prepared on it).
struct InFlight {
    commit: tokio::task::JoinHandle<Commit>,
    /// The commit's result, once seen.
    done: Option<std::result::Result<Commit, tokio::task::JoinError>>,
    replies: Vec<oneshot::Sender<Answer>>,
    list: Option<GuestList>,
    slot: Chain,
}

impl InFlight {
    fn submit(
        ev: &Event,
        confirms: Vec<(u64, Vec<Waiting>)>,
        replies: Vec<oneshot::Sender<Answer>>,
        prepared: Option<Prepared>,
        list: Option<GuestList>,
    ) -> InFlight {
        let (ev, slot) = (ev.clone(), Chain::default());
        let publish = slot.clone();
        let commit = tokio::spawn(async move {
            let rule = guest_rule(ev.store.clone(), ev.mine.clone(), ev.max);
            ev.store
                .hold_confirm(&ev.user, &ev.path, confirms, rule, prepared, publish)
                .await
        });
        InFlight {
            commit,
            done: None,
            replies,
            list,
            slot,
        }
    }
}

/// Wait for the oldest batch in flight and answer its confirms. When the
/// store wrote what was prepared and no batch follows, its event is kept
/// in `cache`; when it did not, the chain is broken: the batches after it
/// fall back to the store's own rule, and nothing more is prepared on
/// them.
async fn finish_oldest(inflight: &mut VecDeque<InFlight>, cache: &mut Option<(String, GuestList)>) {
    let Some(mut f) = inflight.pop_front() else {
        return;
    };
    let result = match f.done.take() {
        Some(r) => r,
        None => (&mut f.commit).await,
    };
    let result =
        result.unwrap_or_else(|_| Err(StoreError::Backend("the confirm task failed".into())));
    let etag_after = match result {
        Ok((answers, etag_after)) => {
            for (a, tx) in answers.into_iter().zip(f.replies) {
                let _ = tx.send(a);
            }
            etag_after
        }
        Err(e) => {
            for tx in f.replies {
                let _ = tx.send(Err(e.clone()));
            }
            None
        }
    };
    match etag_after {
        Some(etag) if inflight.is_empty() => *cache = f.list.map(|l| (etag, l)),
        Some(_) => {}
        None => {
            *cache = None;
            for later in inflight.iter_mut() {
                later.list = None;
            }
        }
    }
}

/// Run the confirms queued for one event until none wait (see the module
/// doc). A task of its own: a client that goes away cannot stop it
/// halfway.
async fn run_confirms(ev: Event) {
    let key = format!("{}/{}", ev.user, ev.path);
    // The event as the last answered batch left it, with its ETag then.
    let mut cache = take_parsed(&key);
    let mut inflight: VecDeque<InFlight> = VecDeque::new();
    loop {
        while inflight
            .front()
            .is_some_and(|f| f.done.is_some() || f.commit.is_finished())
        {
            finish_oldest(&mut inflight, &mut cache).await;
        }
        let (batch, arrived) = {
            let mut q = queues();
            let Some(e) = q.get_mut(&key) else { return };
            (std::mem::take(&mut e.waiting), e.arrived.clone())
        };
        if batch.is_empty() {
            if let Some(f) = inflight.front_mut() {
                // Whichever comes first: the commit, or a confirm to take.
                tokio::select! {
                    r = &mut f.commit => f.done = Some(r),
                    _ = arrived.notified() => {}
                }
                continue;
            }
            let mut q = queues();
            if q.get(&key).is_some_and(|e| e.waiting.is_empty()) {
                q.remove(&key);
                drop(q);
                if let Some((etag, list)) = cache {
                    keep_parsed(key, etag, list);
                }
                return;
            }
            continue;
        }
        let (confirms, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|(id, g, tx)| ((id, g), tx)).unzip();
        // On the newest batch in flight; when its result is not known,
        // once it is answered.
        let base = loop {
            match inflight.back_mut() {
                Some(f) => match f.list.take() {
                    Some(list) => break Base::After(list, f.slot.clone()),
                    None => finish_oldest(&mut inflight, &mut cache).await,
                },
                None => break Base::Stored(cache.take()),
            }
        };
        let (prepared, list) = {
            let (ev, confirms) = (ev.clone(), confirms.clone());
            tokio::task::spawn_blocking(move || prepare(&ev, &confirms, base))
                .await
                .unwrap_or((None, None))
        };
        inflight.push_back(InFlight::submit(&ev, confirms, replies, prepared, list));
        if inflight.len() >= DEPTH {
            finish_oldest(&mut inflight, &mut cache).await;
        }
    }
}

/// Work a batch out off the writer thread: the holds that can be
/// confirmed and the guests added to `base`. Returns the preparation and
/// the parsed event after it; None when there is nothing to prepare or it
/// fails (the transaction then does the work itself).
fn prepare(
    ev: &Event,
    confirms: &[(u64, Vec<Waiting>)],
    base: Base,
) -> (Option<Prepared>, Option<GuestList>) {
    let now = crate::clock::now();
    let mut live = Vec::new();
    let mut guests = Vec::new();
    for (id, g) in confirms {
        let Ok(Some(h)) = ev.store.hold(*id) else {
            continue;
        };
        if h.user != ev.user || h.path != ev.path {
            continue;
        }
        if let Ok(Some(g)) = h.confirmable(g, now) {
            live.push(h.id);
            guests.extend(g);
        }
    }
    if live.is_empty() {
        return (None, None);
    }
    let (etag, after, mut list) = match base {
        Base::After(list, slot) => (String::new(), Some(slot), list),
        Base::Stored(cached) => {
            let current = ev.store.node(&ev.user, &ev.path).ok().flatten();
            match (cached, current) {
                (Some((etag, list)), Some(now)) if etag == now.etag => (etag, None, list),
                _ => match parse_stored(ev) {
                    Some((etag, list)) => (etag, None, list),
                    None => return (None, None),
                },
            }
        }
    };
    match add_guests(&mut list, &ev.store, &guests, ev.max) {
        Ok(planned) => (
            Some(Prepared {
                etag,
                after,
                live,
                planned,
            }),
            Some(list),
        ),
        Err(_) => (None, None),
    }
}

/// The stored event parsed, with its ETag.
fn parse_stored(ev: &Event) -> Option<(String, GuestList)> {
    let (_, node, body) = ev
        .store
        .resources(&ev.user, std::slice::from_ref(&ev.path))
        .ok()?
        .into_iter()
        .next()?;
    let list = GuestList::parse(&String::from_utf8(body).ok()?, &ev.mine).ok()?;
    Some((node.etag, list))
}

/// Confirm hold `id` of the actor with `guests` (see `Store::hold_confirm`).
/// Confirms of one event that arrive while a batch is being written join
/// a later batch: the event is parsed once per rush and rewritten once
/// per batch, not once per hold, which is what lets a checkout rush on one
/// event scale.
pub async fn confirm_hold(
    actor: &Actor<'_>,
    id: u64,
    guests: Vec<Waiting>,
    max_per_instance: usize,
) -> Result<Confirmed> {
    let hold = actor
        .store
        .hold(id)?
        .filter(|h| h.user == actor.user)
        .ok_or(StoreError::NotFound)?;
    let key = format!("{}/{}", actor.user, hold.path);
    let mine = my_addresses(actor)?;
    let (tx, rx) = oneshot::channel();
    let lead = {
        let mut q = queues();
        let e = q.entry(key).or_default();
        e.waiting.push((id, guests, tx));
        e.arrived.notify_one();
        !std::mem::replace(&mut e.running, true)
    };
    if lead {
        tokio::spawn(run_confirms(Event {
            store: actor.store.clone(),
            user: actor.user.to_string(),
            path: hold.path.clone(),
            mine,
            max: max_per_instance,
        }));
    }
    let done = match rx.await {
        Ok(Err(StoreError::Rejected(why))) => {
            return Err(FieldError::new("attendees", why).into());
        }
        Ok(r) => r?,
        Err(_) => return Err(EngineError::Internal("the confirm was dropped".into())),
    };
    if matches!(done, Confirmed::Done { queued: true, .. }) {
        actor.outbox_ready.notify_one();
    }
    crate::timers::wake();
    Ok(done)
}
