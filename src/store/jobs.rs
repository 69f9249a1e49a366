//! The API's background jobs (table `jobs`: id -> Job, ids from the `job`
//! counter): what a job is to do (its work items), who owns it, and its
//! progress, so that a job resumes after a restart where it stopped.
//!
//! Crash safety: a job is done in steps of consecutive work items. The
//! change a step makes and the step's progress (`done` moves from `from`
//! to `to`) are committed in ONE transaction: the write carries a
//! [`JobStep`] (`Store::put_with_job`), checked with the write's other
//! preconditions (`done` must still be `from`, so a step never applies
//! twice) and applied with it. A step that finds nothing to change records
//! its progress alone (`job_advance`, also conditional on `from`). After a
//! crash the job goes on at `done`: no step is repeated, none skipped.

use super::Store;
use super::error::{Result, StoreError};
use super::tables::{JOB_COUNTER, JOBS};
use super::write::{W, now};
use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub fn finished(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed)
    }
}

/// One attendee to add (an item of `JobWork::AddAttendees`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobAttendee {
    /// The address, without `mailto:`.
    pub email: String,
    /// CN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// ROLE (RFC 5545 section 3.2.16), e.g. `REQ-PARTICIPANT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// What a job does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum JobWork {
    /// Add attendees to the owner's event at `event_path` (below the home).
    AddAttendees {
        event_path: String,
        attendees: Vec<JobAttendee>,
    },
}

impl JobWork {
    /// How many work items there are.
    pub fn len(&self) -> usize {
        match self {
            JobWork::AddAttendees { attendees, .. } => attendees.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop the work items (kept no longer than the job runs).
    fn clear(&mut self) {
        match self {
            JobWork::AddAttendees { attendees, .. } => attendees.clear(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    /// The principal the job acts for (and the only one who may see it).
    pub owner: String,
    pub created: i64,
    pub updated: i64,
    pub status: JobStatus,
    /// Work items done (a prefix of the list).
    pub done: u64,
    pub total: u64,
    /// Sums of the steps' `added` and `skipped`.
    #[serde(default)]
    pub added: u64,
    #[serde(default)]
    pub skipped: u64,
    pub work: JobWork,
    /// What a succeeded job reports (JSON chosen by its kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// Why a failed job failed (a problem document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<serde_json::Value>,
}

/// The progress of one step of a job: items `from..to` were done, of
/// which `added` changed something and `skipped` did not (already there).
/// Carried by the write that does them (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobStep {
    pub job: u64,
    pub from: u64,
    pub to: u64,
    pub added: u64,
    pub skipped: u64,
}

impl JobStep {
    /// Items `from..to` of `job`, not yet counted.
    pub fn new(job: u64, from: u64, to: u64) -> JobStep {
        JobStep {
            job,
            from,
            to,
            added: 0,
            skipped: 0,
        }
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEnd {
    Succeeded(serde_json::Value),
    Failed(serde_json::Value),
}

impl W<'_> {
    fn job(&self, id: u64) -> Result<Option<Job>> {
        let t = self.0.open_table(JOBS)?;
        let v = t.get(id)?;
        match v {
            Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
            None => Ok(None),
        }
    }

    fn put_job(&self, job: &Job) -> Result<()> {
        let bytes = serde_json::to_vec(job)?;
        self.0.open_table(JOBS)?.insert(job.id, bytes.as_slice())?;
        Ok(())
    }

    /// The job `step` advances, when it is running and at `step.from`
    /// (a precondition: no write yet).
    pub(super) fn check_job_step(&self, step: JobStep) -> Result<Job> {
        let job = self.job(step.job)?.ok_or(StoreError::NotFound)?;
        if job.status != JobStatus::Running || job.done != step.from || step.to > job.total {
            return Err(StoreError::Rejected(format!(
                "job {} is not running at item {}",
                step.job, step.from
            )));
        }
        Ok(job)
    }

    /// Record `step` on `job` (checked by `check_job_step`).
    pub(super) fn apply_job_step(&self, mut job: Job, step: JobStep) -> Result<()> {
        job.done = step.to;
        job.added += step.added;
        job.skipped += step.skipped;
        job.updated = now();
        self.put_job(&job)
    }
}

impl Store {
    /// Queue a job for `owner`; returns it with its id.
    pub async fn job_create(&self, owner: &str, work: JobWork) -> Result<Job> {
        let owner = owner.to_string();
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let t = now();
                let job = Job {
                    id: w.next(JOB_COUNTER)?,
                    owner,
                    created: t,
                    updated: t,
                    status: JobStatus::Queued,
                    done: 0,
                    total: work.len() as u64,
                    added: 0,
                    skipped: 0,
                    work,
                    result: None,
                    problem: None,
                };
                w.put_job(&job)?;
                Ok(job)
            })
            .await
    }

    pub fn job(&self, id: u64) -> Result<Option<Job>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(JOBS)?;
        match t.get(id)? {
            Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
            None => Ok(None),
        }
    }

    /// Ids of the jobs not finished (queued or interrupted), oldest first.
    pub fn jobs_unfinished(&self) -> Result<Vec<u64>> {
        #[derive(Deserialize)]
        struct Head {
            status: JobStatus,
        }
        let txn = self.db.begin_read()?;
        let t = txn.open_table(JOBS)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (k, v) = row?;
            let head: Head = serde_json::from_slice(v.value())?;
            if !head.status.finished() {
                out.push(k.value());
            }
        }
        Ok(out)
    }

    /// Mark a queued job running; returns it (None when it is gone or finished).
    pub async fn job_start(&self, id: u64) -> Result<Option<Job>> {
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let Some(mut job) = w.job(id)? else {
                    return Ok(None);
                };
                if job.status.finished() {
                    return Ok(None);
                }
                if job.status == JobStatus::Queued {
                    job.status = JobStatus::Running;
                    job.updated = now();
                    w.put_job(&job)?;
                }
                Ok(Some(job))
            })
            .await
    }

    /// Record `step` when no write carried it: true when it moved the job,
    /// false when a write already did (the job is at `step.to` or past).
    pub async fn job_advance(&self, step: JobStep) -> Result<bool> {
        self.writer
            .write(move |txn| {
                let w = W(txn);
                if let Some(job) = w.job(step.job)?
                    && job.done >= step.to
                {
                    return Ok(false);
                }
                let job = w.check_job_step(step)?;
                w.apply_job_step(job, step)?;
                Ok(true)
            })
            .await
    }

    /// Finish a job: its status, result or problem; its work items go.
    pub async fn job_finish(&self, id: u64, end: JobEnd) -> Result<()> {
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let mut job = w.job(id)?.ok_or(StoreError::NotFound)?;
                match end {
                    JobEnd::Succeeded(v) => {
                        job.status = JobStatus::Succeeded;
                        job.result = Some(v);
                    }
                    JobEnd::Failed(v) => {
                        job.status = JobStatus::Failed;
                        job.problem = Some(v);
                    }
                }
                job.work.clear();
                job.updated = now();
                w.put_job(&job)
            })
            .await
    }

    /// Remove jobs finished more than `age` seconds ago; returns how many.
    pub async fn jobs_purge(&self, age: i64) -> Result<usize> {
        self.writer
            .write(move |txn| {
                #[derive(Deserialize)]
                struct Head {
                    status: JobStatus,
                    updated: i64,
                }
                let cutoff = now().saturating_sub(age);
                let mut removed = 0;
                txn.open_table(JOBS)?.retain(|_, v| {
                    let old = serde_json::from_slice::<Head>(v)
                        .is_ok_and(|h| h.status.finished() && h.updated < cutoff);
                    removed += usize::from(old);
                    !old
                })?;
                Ok(removed)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(n: usize) -> JobWork {
        JobWork::AddAttendees {
            event_path: "default/e.ics".into(),
            attendees: (0..n)
                .map(|i| JobAttendee {
                    email: format!("a{i}@example.com"),
                    name: None,
                    role: None,
                })
                .collect(),
        }
    }

    #[tokio::test]
    async fn lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let job = store.job_create("shop", work(5)).await.unwrap();
        assert_eq!((job.status, job.done, job.total), (JobStatus::Queued, 0, 5));
        let second = store.job_create("shop", work(1)).await.unwrap();
        assert!(second.id > job.id);
        assert_eq!(store.jobs_unfinished().unwrap(), vec![job.id, second.id]);
        let step = JobStep {
            added: 2,
            ..JobStep::new(job.id, 0, 2)
        };
        // Not running yet: a step is refused.
        assert!(store.job_advance(step).await.is_err());
        store.job_start(job.id).await.unwrap().unwrap();
        assert!(store.job_advance(step).await.unwrap());
        // The same step again: already done, nothing moves.
        assert!(!store.job_advance(step).await.unwrap());
        // A step that skips items is refused.
        let skip = JobStep::new(job.id, 3, 5);
        assert!(store.job_advance(skip).await.is_err());
        let past = JobStep::new(job.id, 2, 6);
        assert!(store.job_advance(past).await.is_err());
        let j = store.job(job.id).unwrap().unwrap();
        assert_eq!((j.done, j.added, j.skipped), (2, 2, 0));
        store
            .job_finish(job.id, JobEnd::Succeeded(serde_json::json!({"added": 5})))
            .await
            .unwrap();
        let j = store.job(job.id).unwrap().unwrap();
        assert_eq!(j.status, JobStatus::Succeeded);
        assert!(j.work.is_empty());
        assert_eq!(store.jobs_unfinished().unwrap(), vec![second.id]);
        assert_eq!(store.jobs_purge(3600).await.unwrap(), 0);
        assert_eq!(store.jobs_purge(-1).await.unwrap(), 1);
        assert!(store.job(job.id).unwrap().is_none());
        assert!(store.job(second.id).unwrap().is_some());
    }

    fn plain_put(summary: &str, if_match: Option<String>) -> crate::store::PutRequest {
        let body = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250106T100000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let info = crate::ical::parse_object(&body).unwrap();
        crate::store::PutRequest {
            body: body.into_bytes(),
            content_type: "text/calendar".into(),
            if_match,
            if_none_match_any: false,
            if_schedule_tag: None,
            calendar: Some(crate::store::CalendarObjectMeta {
                uid: info.uid,
                component: "VEVENT".into(),
                index: info.index,
            }),
            schedule_tag: crate::store::ScheduleTag::None,
            outbox: Vec::new(),
            seats_wanted: 0,
            policy: None,
        }
    }

    /// The change and the progress commit together, or neither does.
    #[tokio::test]
    async fn step_rides_on_the_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let p = crate::store::Principal {
            name: "shop".into(),
            password_hash: String::new(),
            emails: vec!["mailto:shop@example.com".into()],
            displayname: None,
            created: 0,
            organizer: true,
        };
        store.create_principal(p, true).await.unwrap();
        let path = "default/e.ics";
        store
            .put("shop", path, plain_put("v0", None))
            .await
            .unwrap();
        let job = store.job_create("shop", work(4)).await.unwrap();
        store.job_start(job.id).await.unwrap();
        let step = |from, to| JobStep::new(job.id, from, to);
        let etag = |s: &Store| s.node("shop", path).unwrap().unwrap().etag;
        let before = etag(&store);
        // A write refused by its own precondition moves nothing.
        let stale = plain_put("v1", Some("\"nope\"".into()));
        assert!(
            store
                .put_with_job("shop", path, stale, Some(step(0, 2)))
                .await
                .is_err()
        );
        assert_eq!(store.job(job.id).unwrap().unwrap().done, 0);
        // A step the job is not at refuses the write.
        let wrong = plain_put("v1", None);
        assert!(
            store
                .put_with_job("shop", path, wrong, Some(step(1, 2)))
                .await
                .is_err()
        );
        assert_eq!(etag(&store), before);
        // The right step: both.
        let ok = plain_put("v1", Some(before.clone()));
        store
            .put_with_job("shop", path, ok, Some(step(0, 2)))
            .await
            .unwrap();
        assert_ne!(etag(&store), before);
        assert_eq!(store.job(job.id).unwrap().unwrap().done, 2);
        // Repeating the step (a retry after a crash would): refused, unchanged.
        let again = plain_put("v2", None);
        assert!(
            store
                .put_with_job("shop", path, again, Some(step(0, 2)))
                .await
                .is_err()
        );
        assert!(!store.job_advance(step(0, 2)).await.unwrap());
    }
}
