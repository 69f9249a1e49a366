//! The job worker: runs the API's background jobs (`store::jobs`) step by
//! step, `chunk` work items at a time, round-robin over the unfinished
//! jobs so that one large job does not hold up the others. It starts with
//! `herald serve` next to the outbox worker and resumes whatever a previous
//! process left queued or running.
//!
//! Crash safety lies in the steps: a step commits its change together with
//! its progress (`Store::put_with_job`), so a job interrupted anywhere goes
//! on at the first item not committed. After a step the worker records the
//! progress itself (`Store::job_advance`), which is a no-op when the step's
//! write already did, and the only record when the step found nothing to
//! change. What a step does is behind [`Steps`], so the loop can be tested
//! without the engine.

use crate::store::{Job, JobEnd, JobStep, Store};
use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Work items per step.
pub const CHUNK: usize = 500;
/// How often the worker looks for jobs when nothing wakes it.
const POLL: Duration = Duration::from_secs(5);
/// Pause after a store error.
const BACKOFF: Duration = Duration::from_secs(1);
/// Finished jobs stay visible this long (seconds), then they are removed.
pub const KEEP_FINISHED_SECONDS: i64 = 7 * 86_400;
/// How often finished jobs past that age are looked for.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

static READY: Notify = Notify::const_new();

/// Wake the worker (a job was queued).
pub fn wake() {
    READY.notify_one();
}

/// Why a step did not complete.
#[derive(Debug, Clone, PartialEq)]
pub enum StepError {
    /// Try again after this long (rate limit, store trouble); the job waits.
    Retry(Duration, String),
    /// The job cannot go on: it fails with this problem document.
    Fail(serde_json::Value),
}

/// What the steps of each kind of job do.
pub trait Steps: Send + Sync {
    /// Do items `step.from..step.to` of `job`, committing the step (with
    /// its counts) with the change (`Store::put_with_job`). Ok with the
    /// step as counted, also when there was nothing to change (the worker
    /// then records it).
    fn step(
        &self,
        job: &Job,
        step: JobStep,
    ) -> impl Future<Output = Result<JobStep, StepError>> + Send;

    /// The result of a job whose items are all done.
    fn result(
        &self,
        job: &Job,
    ) -> impl Future<Output = Result<serde_json::Value, StepError>> + Send;
}

pub struct Worker<S> {
    store: Store,
    steps: S,
    chunk: usize,
    /// Jobs waiting for a retry, and until when.
    waiting: HashMap<u64, Instant>,
}

impl<S: Steps> Worker<S> {
    pub fn new(store: Store, steps: S, chunk: usize) -> Worker<S> {
        Worker {
            store,
            steps,
            chunk: chunk.max(1),
            waiting: HashMap::new(),
        }
    }

    /// Run until the task is dropped.
    pub async fn run(mut self) {
        let mut purged = Instant::now();
        loop {
            if purged.elapsed() >= PURGE_EVERY {
                purged = Instant::now();
                match self.store.jobs_purge(KEEP_FINISHED_SECONDS).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("jobs: {n} finished job(s) removed"),
                    Err(e) => tracing::error!("jobs: cannot remove finished jobs: {e}"),
                }
            }
            match self.round().await {
                Ok(true) => {}
                Ok(false) => {
                    let _ = tokio::time::timeout(self.idle_wait(), READY.notified()).await;
                }
                Err(e) => {
                    tracing::error!("jobs: {e}");
                    tokio::time::sleep(BACKOFF).await;
                }
            }
        }
    }

    /// How long to sleep when no job can run now.
    fn idle_wait(&self) -> Duration {
        let now = Instant::now();
        self.waiting
            .values()
            .map(|t| t.saturating_duration_since(now))
            .min()
            .map_or(POLL, |d| d.min(POLL))
    }

    /// One step of every unfinished job that may run now; false when none could.
    pub async fn round(&mut self) -> crate::store::Result<bool> {
        let ids = self.store.jobs_unfinished()?;
        let now = Instant::now();
        self.waiting
            .retain(|id, until| ids.contains(id) && *until > now);
        let mut ran = false;
        for id in ids {
            if self.waiting.contains_key(&id) {
                continue;
            }
            ran = true;
            if let Err(e) = self.advance(id).await {
                tracing::error!("job {id}: {e}");
                self.waiting.insert(id, Instant::now() + BACKOFF);
            }
        }
        Ok(ran)
    }

    /// One step of job `id`, or its end when every item is done.
    async fn advance(&mut self, id: u64) -> crate::store::Result<()> {
        let Some(job) = self.store.job_start(id).await? else {
            return Ok(());
        };
        if job.done >= job.total {
            let end = match self.steps.result(&job).await {
                Ok(v) => JobEnd::Succeeded(v),
                Err(StepError::Fail(p)) => JobEnd::Failed(p),
                Err(StepError::Retry(after, why)) => {
                    self.wait(id, after, &why);
                    return Ok(());
                }
            };
            tracing::info!("job {id}: finished ({} items)", job.total);
            return self.store.job_finish(id, end).await;
        }
        let to = job.total.min(job.done + self.chunk as u64);
        let step = JobStep::new(id, job.done, to);
        match self.steps.step(&job, step).await {
            Ok(counted) if (counted.job, counted.from, counted.to) == (id, step.from, step.to) => {
                self.store.job_advance(counted).await?;
                Ok(())
            }
            Ok(other) => Err(crate::store::StoreError::Backend(format!(
                "a step of job {id} reported {other:?} for {step:?}"
            ))),
            Err(StepError::Retry(after, why)) => {
                self.wait(id, after, &why);
                Ok(())
            }
            Err(StepError::Fail(p)) => {
                tracing::info!("job {id}: failed at item {}", step.from);
                self.store.job_finish(id, JobEnd::Failed(p)).await
            }
        }
    }

    fn wait(&mut self, id: u64, after: Duration, why: &str) {
        tracing::info!("job {id}: waiting {}s: {why}", after.as_secs());
        self.waiting.insert(id, Instant::now() + after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{JobAttendee, JobStatus, JobWork, PutRequest};
    use std::sync::Mutex;

    /// Steps that write one object per step (carrying the step), failing or
    /// "crashing" where told.
    #[derive(Default)]
    struct Fake {
        /// (from, to) of every step attempted.
        calls: Mutex<Vec<(u64, u64)>>,
        /// Commit the step's write, then report an error (a crash before
        /// the worker's own record).
        crash_after_write_at: Option<u64>,
        retry_at: Mutex<Option<u64>>,
        fail_at: Option<u64>,
    }

    fn put_req(text: &str) -> PutRequest {
        PutRequest {
            body: text.as_bytes().to_vec(),
            content_type: "text/plain".into(),
            if_match: None,
            if_none_match_any: false,
            if_schedule_tag: None,
            calendar: None,
            schedule_tag: Default::default(),
            outbox: Vec::new(),
            seats_wanted: 0,
            policy: None,
        }
    }

    struct Steps2<'a>(&'a Fake, Store);

    impl Steps for Steps2<'_> {
        async fn step(&self, _job: &Job, step: JobStep) -> Result<JobStep, StepError> {
            let f = self.0;
            f.calls.lock().unwrap().push((step.from, step.to));
            if f.fail_at == Some(step.from) {
                return Err(StepError::Fail(serde_json::json!({"title": "no"})));
            }
            {
                let mut r = f.retry_at.lock().unwrap();
                if *r == Some(step.from) {
                    *r = None;
                    return Err(StepError::Retry(Duration::ZERO, "later".into()));
                }
            }
            let path = format!("files/{}-{}.txt", step.from, step.to);
            let step = JobStep {
                added: step.to - step.from,
                ..step
            };
            self.1
                .put_with_job("u", &path, put_req("x"), Some(step))
                .await
                .map_err(|e| StepError::Retry(Duration::ZERO, e.to_string()))?;
            if f.crash_after_write_at == Some(step.from) {
                return Err(StepError::Retry(Duration::ZERO, "crashed".into()));
            }
            Ok(step)
        }

        async fn result(&self, job: &Job) -> Result<serde_json::Value, StepError> {
            Ok(serde_json::json!({"items": job.total}))
        }
    }

    async fn setup(dir: &std::path::Path, n: usize) -> (Store, u64) {
        let store = Store::open(dir).unwrap();
        let p = crate::store::Principal {
            name: "u".into(),
            password_hash: String::new(),
            emails: vec!["mailto:u@example.com".into()],
            displayname: None,
            created: 0,
            organizer: true,
        };
        store.create_principal(p, false).await.unwrap();
        store
            .mkcol("u", "files/", Default::default())
            .await
            .unwrap();
        let work = JobWork::AddAttendees {
            event_path: "default/e.ics".into(),
            attendees: (0..n)
                .map(|i| JobAttendee {
                    email: format!("a{i}@example.com"),
                    name: None,
                    role: None,
                })
                .collect(),
        };
        let job = store.job_create("u", work).await.unwrap();
        (store, job.id)
    }

    async fn run_to_end<S: Steps>(w: &mut Worker<S>) {
        for _ in 0..100 {
            if !w.round().await.unwrap() {
                return;
            }
        }
        panic!("the job did not end");
    }

    #[tokio::test]
    async fn chunks_in_order_then_result() {
        let dir = tempfile::tempdir().unwrap();
        let (store, id) = setup(dir.path(), 7).await;
        let fake = Fake::default();
        let mut w = Worker::new(store.clone(), Steps2(&fake, store.clone()), 3);
        run_to_end(&mut w).await;
        assert_eq!(*fake.calls.lock().unwrap(), vec![(0, 3), (3, 6), (6, 7)]);
        let job = store.job(id).unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Succeeded);
        assert_eq!((job.done, job.total, job.added), (7, 7, 7));
        assert_eq!(job.result, Some(serde_json::json!({"items": 7})));
    }

    /// A step whose write committed but whose worker never recorded it (a
    /// crash): the next worker goes on after it, neither repeating nor
    /// skipping items.
    #[tokio::test]
    async fn a_committed_step_is_not_repeated() {
        let dir = tempfile::tempdir().unwrap();
        let (store, id) = setup(dir.path(), 7).await;
        let crashing = Fake {
            crash_after_write_at: Some(3),
            ..Fake::default()
        };
        let mut w = Worker::new(store.clone(), Steps2(&crashing, store.clone()), 3);
        w.round().await.unwrap();
        w.round().await.unwrap();
        drop(w);
        assert_eq!(store.job(id).unwrap().unwrap().done, 6);
        // A new process: a fresh worker on the same store.
        let fake = Fake::default();
        let mut w = Worker::new(store.clone(), Steps2(&fake, store.clone()), 3);
        run_to_end(&mut w).await;
        assert_eq!(*fake.calls.lock().unwrap(), vec![(6, 7)]);
        let job = store.job(id).unwrap().unwrap();
        assert_eq!((job.status, job.done), (JobStatus::Succeeded, 7));
        // Counted once each, the committed step included.
        assert_eq!(job.added, 7);
    }

    #[tokio::test]
    async fn retry_waits_fail_ends() {
        let dir = tempfile::tempdir().unwrap();
        let (store, id) = setup(dir.path(), 7).await;
        let fake = Fake {
            retry_at: Mutex::new(Some(3)),
            fail_at: Some(6),
            ..Fake::default()
        };
        let mut w = Worker::new(store.clone(), Steps2(&fake, store.clone()), 3);
        run_to_end(&mut w).await;
        assert_eq!(
            *fake.calls.lock().unwrap(),
            vec![(0, 3), (3, 6), (3, 6), (6, 7)]
        );
        let job = store.job(id).unwrap().unwrap();
        assert_eq!((job.status, job.done), (JobStatus::Failed, 6));
        assert!(job.problem.is_some());
        assert!(job.work.is_empty());
    }
}
