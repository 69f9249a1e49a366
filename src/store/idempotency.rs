//! Idempotency-Key records of the REST API: (principal, key) -> the
//! fingerprint of the first request with that key and either "still
//! running" or its stored answer (status, the headers that matter, body).
//!
//! `idempotency_begin` is atomic (one closure of the single writer): of
//! concurrent requests with one key exactly one gets `Fresh` and runs; the
//! others see `Running` (or `Done` once it finished). A Running record
//! counts as abandoned when it is older than the `stale` seconds the caller
//! gives, and every Running record is removed at start
//! (`idempotency_release_running`), since nothing of a previous process
//! still runs. Records older than the TTL are treated as absent by `begin`
//! and removed by `idempotency_purge`.

use super::Store;
use super::error::Result;
use super::tables::IDEMPOTENCY;
use super::write::now;
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

/// The stored answer of a finished request, replayed for the same key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAnswer {
    pub status: u16,
    /// (lower-case name, value) of the headers replayed.
    pub headers: Vec<(String, String)>,
    #[serde(with = "base64_bytes")]
    pub body: Vec<u8>,
}

/// Bodies as base64 text (a JSON array of numbers would triple them).
mod base64_bytes {
    use base64ct::{Base64, Encoding};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Base64::encode_string(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        Base64::decode_vec(&text).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum State {
    /// The request holding `attempt` is running.
    Running {
        attempt: u64,
    },
    Done(StoredAnswer),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    /// SHA-256 (hex) of the request: method, path and query, body.
    fingerprint: String,
    /// Unix seconds when the request that owns the key began.
    created: i64,
    state: State,
}

/// What `idempotency_begin` found for a key.
#[derive(Debug, Clone, PartialEq)]
pub enum IdemBegin {
    /// The key is new (or expired, or abandoned): run the request, then
    /// `idempotency_finish` or `idempotency_abandon` with this attempt.
    Fresh(u64),
    /// A request with this key and fingerprint is still running.
    Running,
    /// The first request with this key finished with this answer.
    Done(StoredAnswer),
    /// The key was used for another request (method, path or body).
    Mismatch,
}

/// The decision for `existing` (pure; see the module comment).
fn decide(
    existing: Option<&Record>,
    fingerprint: &str,
    now: i64,
    ttl: i64,
    stale: i64,
) -> IdemBegin {
    let Some(r) = existing else {
        return IdemBegin::Fresh(0);
    };
    let age = now.saturating_sub(r.created);
    let running = matches!(r.state, State::Running { .. });
    if age >= ttl || (running && age >= stale) {
        return IdemBegin::Fresh(0);
    }
    if r.fingerprint != fingerprint {
        return IdemBegin::Mismatch;
    }
    match &r.state {
        State::Running { .. } => IdemBegin::Running,
        State::Done(a) => IdemBegin::Done(a.clone()),
    }
}

fn random_attempt() -> u64 {
    let mut b = [0u8; 8];
    // A failed random source falls back to the clock: attempts need only
    // differ from one another, not be secret.
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).is_err() {
        b = chrono::Utc::now()
            .timestamp_nanos_opt()
            .unwrap_or_default()
            .to_le_bytes();
    }
    u64::from_le_bytes(b).max(1)
}

impl Store {
    /// Claim `key` of `principal` for a request with `fingerprint`, unless
    /// another request holds it. `ttl`: seconds a key lives; `stale`:
    /// seconds after which a Running record counts as abandoned.
    pub async fn idempotency_begin(
        &self,
        principal: &str,
        key: &str,
        fingerprint: String,
        ttl: i64,
        stale: i64,
    ) -> Result<IdemBegin> {
        let (principal, key) = (principal.to_string(), key.to_string());
        let attempt = random_attempt();
        self.writer
            .write(move |txn| {
                let mut t = txn.open_table(IDEMPOTENCY)?;
                let existing: Option<Record> = match t.get((principal.as_str(), key.as_str()))? {
                    Some(v) => serde_json::from_slice(v.value()).ok(),
                    None => None,
                };
                let t_now = now();
                let decision = decide(existing.as_ref(), &fingerprint, t_now, ttl, stale);
                if decision != IdemBegin::Fresh(0) {
                    return Ok(decision);
                }
                let record = Record {
                    fingerprint,
                    created: t_now,
                    state: State::Running { attempt },
                };
                let bytes = serde_json::to_vec(&record)?;
                t.insert((principal.as_str(), key.as_str()), bytes.as_slice())?;
                Ok(IdemBegin::Fresh(attempt))
            })
            .await
    }

    /// Store the answer of `attempt`; false when the key no longer belongs
    /// to it (abandoned and taken by another request meanwhile).
    pub async fn idempotency_finish(
        &self,
        principal: &str,
        key: &str,
        attempt: u64,
        answer: StoredAnswer,
    ) -> Result<bool> {
        self.idempotency_settle(principal, key, attempt, Some(answer))
            .await
    }

    /// Release the key held by `attempt` (the request failed in a way a
    /// retry should repeat), so the next request with it runs afresh.
    pub async fn idempotency_abandon(
        &self,
        principal: &str,
        key: &str,
        attempt: u64,
    ) -> Result<bool> {
        self.idempotency_settle(principal, key, attempt, None).await
    }

    async fn idempotency_settle(
        &self,
        principal: &str,
        key: &str,
        attempt: u64,
        answer: Option<StoredAnswer>,
    ) -> Result<bool> {
        let (principal, key) = (principal.to_string(), key.to_string());
        self.writer
            .write(move |txn| {
                let mut t = txn.open_table(IDEMPOTENCY)?;
                let k = (principal.as_str(), key.as_str());
                let record: Option<Record> = match t.get(k)? {
                    Some(v) => serde_json::from_slice(v.value()).ok(),
                    None => None,
                };
                let Some(mut record) = record.filter(|r| r.state == State::Running { attempt })
                else {
                    return Ok(false);
                };
                match answer {
                    Some(a) => {
                        record.state = State::Done(a);
                        let bytes = serde_json::to_vec(&record)?;
                        t.insert(k, bytes.as_slice())?;
                    }
                    None => {
                        t.remove(k)?;
                    }
                }
                Ok(true)
            })
            .await
    }

    /// At start: remove every Running record (their requests died with the
    /// previous process). Returns how many.
    pub async fn idempotency_release_running(&self) -> Result<usize> {
        self.idempotency_retain(|r, _| !matches!(r.state, State::Running { .. }))
            .await
    }

    /// Remove records older than `ttl` seconds and Running records older
    /// than `stale`. Returns how many.
    pub async fn idempotency_purge(&self, ttl: i64, stale: i64) -> Result<usize> {
        self.idempotency_retain(move |r, t| {
            let age = t.saturating_sub(r.created);
            age < ttl && !(matches!(r.state, State::Running { .. }) && age >= stale)
        })
        .await
    }

    async fn idempotency_retain(
        &self,
        keep: impl Fn(&Record, i64) -> bool + Send + 'static,
    ) -> Result<usize> {
        self.writer
            .write(move |txn| {
                let mut t = txn.open_table(IDEMPOTENCY)?;
                let t_now = now();
                let mut removed = 0;
                t.retain(|_, v| {
                    // An unreadable record is dropped: it could only refuse keys.
                    let ok = serde_json::from_slice::<Record>(v).is_ok_and(|r| keep(&r, t_now));
                    removed += usize::from(!ok);
                    ok
                })?;
                Ok(removed)
            })
            .await
    }

    /// How many Idempotency-Key records are stored (for tests and `doctor`).
    pub fn idempotency_count(&self) -> Result<u64> {
        use redb::{ReadableDatabase, ReadableTableMetadata};
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(IDEMPOTENCY)?.len()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fp: &str, created: i64, done: bool) -> Record {
        Record {
            fingerprint: fp.into(),
            created,
            state: if done {
                State::Done(StoredAnswer {
                    status: 201,
                    headers: vec![("location".into(), "/x".into())],
                    body: b"{}".to_vec(),
                })
            } else {
                State::Running { attempt: 7 }
            },
        }
    }

    #[test]
    fn decisions() {
        let (ttl, stale) = (100, 10);
        assert_eq!(decide(None, "f", 0, ttl, stale), IdemBegin::Fresh(0));
        let run = record("f", 50, false);
        assert_eq!(decide(Some(&run), "f", 55, ttl, stale), IdemBegin::Running);
        assert_eq!(decide(Some(&run), "g", 55, ttl, stale), IdemBegin::Mismatch);
        // Abandoned: running longer than `stale`.
        assert_eq!(decide(Some(&run), "g", 60, ttl, stale), IdemBegin::Fresh(0));
        let done = record("f", 50, true);
        assert!(
            matches!(decide(Some(&done), "f", 140, ttl, stale), IdemBegin::Done(a) if a.status == 201)
        );
        assert_eq!(
            decide(Some(&done), "g", 140, ttl, stale),
            IdemBegin::Mismatch
        );
        // Expired.
        assert_eq!(
            decide(Some(&done), "g", 150, ttl, stale),
            IdemBegin::Fresh(0)
        );
    }

    fn answer(status: u16) -> StoredAnswer {
        StoredAnswer {
            status,
            headers: vec![("etag".into(), "\"1\"".into())],
            body: b"{\"id\":1}".to_vec(),
        }
    }

    #[tokio::test]
    async fn begin_finish_replay() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let IdemBegin::Fresh(a) = store
            .idempotency_begin("p", "k", "f".into(), 100, 100)
            .await
            .unwrap()
        else {
            panic!("not fresh")
        };
        assert_ne!(a, 0);
        let again = store.idempotency_begin("p", "k", "f".into(), 100, 100);
        assert_eq!(again.await.unwrap(), IdemBegin::Running);
        let other = store.idempotency_begin("p", "k", "g".into(), 100, 100);
        assert_eq!(other.await.unwrap(), IdemBegin::Mismatch);
        // Another principal has its own key space.
        let q = store.idempotency_begin("q", "k", "g".into(), 100, 100);
        assert!(matches!(q.await.unwrap(), IdemBegin::Fresh(_)));
        // A foreign attempt cannot settle the key.
        assert!(
            !store
                .idempotency_finish("p", "k", a + 1, answer(201))
                .await
                .unwrap()
        );
        assert!(
            store
                .idempotency_finish("p", "k", a, answer(201))
                .await
                .unwrap()
        );
        let replay = store.idempotency_begin("p", "k", "f".into(), 100, 100);
        assert_eq!(replay.await.unwrap(), IdemBegin::Done(answer(201)));
        // Finished once: a second finish or abandon changes nothing.
        assert!(!store.idempotency_abandon("p", "k", a).await.unwrap());
        let replay = store.idempotency_begin("p", "k", "f".into(), 100, 100);
        assert_eq!(replay.await.unwrap(), IdemBegin::Done(answer(201)));
    }

    #[tokio::test]
    async fn concurrent_begins_one_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                s.idempotency_begin("p", "k", "f".into(), 100, 100)
                    .await
                    .unwrap()
            }));
        }
        let mut fresh = 0;
        for t in tasks {
            match t.await.unwrap() {
                IdemBegin::Fresh(_) => fresh += 1,
                IdemBegin::Running => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(fresh, 1);
    }

    #[tokio::test]
    async fn abandon_release_and_purge() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let IdemBegin::Fresh(a) = store
            .idempotency_begin("p", "k", "f".into(), 100, 100)
            .await
            .unwrap()
        else {
            panic!()
        };
        assert!(store.idempotency_abandon("p", "k", a).await.unwrap());
        assert_eq!(store.idempotency_count().unwrap(), 0);
        // A running key after a restart: released, the retry runs.
        store
            .idempotency_begin("p", "k", "f".into(), 100, 100)
            .await
            .unwrap();
        let IdemBegin::Fresh(b) = store
            .idempotency_begin("p", "k2", "f".into(), 100, 100)
            .await
            .unwrap()
        else {
            panic!()
        };
        store
            .idempotency_finish("p", "k2", b, answer(200))
            .await
            .unwrap();
        assert_eq!(store.idempotency_release_running().await.unwrap(), 1);
        let retry = store.idempotency_begin("p", "k", "f".into(), 100, 100);
        assert!(matches!(retry.await.unwrap(), IdemBegin::Fresh(_)));
        // Purge with a TTL of 0 removes everything; a long TTL keeps the done key.
        assert_eq!(store.idempotency_purge(1000, 1000).await.unwrap(), 0);
        assert_eq!(store.idempotency_count().unwrap(), 2);
        assert_eq!(store.idempotency_purge(1000, 0).await.unwrap(), 1);
        assert_eq!(store.idempotency_purge(0, 1000).await.unwrap(), 1);
        assert_eq!(store.idempotency_count().unwrap(), 0);
    }
}
