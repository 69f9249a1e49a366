//! `GET /api/v1/jobs/{id}`: the state of a background job (queued,
//! running, succeeded, failed), its progress and its result or problem;
//! and [`accepted`], the `202 Accepted` answer of a request that queued
//! one. A job is visible only to the principal it acts for (another's is
//! a 404, like an unknown one).

use super::Caller;
use super::problem::{ApiResult, Problem};
use crate::engine::{self, Actor, EngineError, NewAttendee, Role};
use crate::jobs::StepError;
use crate::server::App;
use crate::store::{Job, JobStatus, JobStep, JobWork, StoreError};
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;

/// Where jobs live.
pub const JOBS_PATH: &str = "/api/v1/jobs/";

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
}

/// Work items done out of the total.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// The result of an `add_attendees` job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AddAttendeesResult {
    /// The event the attendees were added to.
    pub event_id: String,
    /// How many addresses were added; each was sent a REQUEST.
    pub added: u64,
    /// How many were already on the event (or repeated): not added again.
    pub skipped_duplicates: u64,
}

/// A background job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    /// What the job does: `add_attendees`.
    pub kind: String,
    pub status: JobState,
    pub progress: Progress,
    /// What a succeeded job did (present once it succeeded).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<AddAttendeesResult>)]
    pub result: Option<serde_json::Value>,
    /// Why a failed job failed (present once it failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Problem>)]
    pub problem: Option<serde_json::Value>,
}

impl From<&Job> for JobView {
    fn from(job: &Job) -> JobView {
        JobView {
            id: job.id.to_string(),
            kind: match job.work {
                JobWork::AddAttendees { .. } => "add_attendees".into(),
            },
            status: match job.status {
                JobStatus::Queued => JobState::Queued,
                JobStatus::Running => JobState::Running,
                JobStatus::Succeeded => JobState::Succeeded,
                JobStatus::Failed => JobState::Failed,
            },
            progress: Progress {
                done: job.done,
                total: job.total,
            },
            result: job.result.clone(),
            problem: job.problem.clone(),
        }
    }
}

/// The state of a background job.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id from the Location of a 202 answer")),
    responses(
        (status = 200, body = JobView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_job(
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let id: u64 = id.parse().map_err(|_| Problem::not_found())?;
    let job = caller
        .app
        .store
        .job(id)?
        .filter(|j| j.owner == caller.user)
        .ok_or_else(Problem::not_found)?;
    Ok(Json(JobView::from(&job)))
}

/// Queue `work` for the caller and answer `202 Accepted` with
/// `Location: /api/v1/jobs/{id}` and the job.
pub async fn accepted(caller: &Caller, work: JobWork) -> ApiResult<Response> {
    let job = caller.app.store.job_create(&caller.user, work).await?;
    crate::jobs::wake();
    let mut resp = (StatusCode::ACCEPTED, Json(JobView::from(&job))).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{JOBS_PATH}{}", job.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// The steps of the API's jobs, done through the engine as the job's owner.
pub struct ApiSteps {
    pub app: Arc<App>,
}

/// Whether a failed step should be tried again, or ends the job (with the
/// problem document the synchronous request would have answered).
fn step_error(e: EngineError) -> StepError {
    match e {
        EngineError::Store(StoreError::RateLimited { retry_after, .. }) => StepError::Retry(
            Duration::from_secs(retry_after.max(1)),
            "limits.invitations_per_hour reached".into(),
        ),
        // Database trouble, a concurrent write after every re-plan, or the
        // job moved on (it is read again): all transient.
        EngineError::Store(
            e @ (StoreError::Backend(_) | StoreError::PreconditionFailed | StoreError::Rejected(_)),
        ) => StepError::Retry(Duration::from_secs(1), e.to_string()),
        e => StepError::Fail(serde_json::to_value(Problem::from(e)).unwrap_or_default()),
    }
}

impl crate::jobs::Steps for ApiSteps {
    async fn step(&self, job: &Job, step: JobStep) -> Result<JobStep, StepError> {
        let JobWork::AddAttendees {
            event_path,
            attendees,
        } = &job.work;
        let items = attendees
            .get(step.from as usize..step.to as usize)
            .unwrap_or_default();
        let new: Vec<NewAttendee> = items
            .iter()
            .map(|a| NewAttendee {
                email: a.email.clone(),
                name: a.name.clone(),
                role: Role::from_param(a.role.as_deref()),
            })
            .collect();
        let app = &self.app;
        let actor = Actor {
            store: &app.store,
            user: &job.owner,
            max_delegates_per_reply: app.config.limits.max_delegates_per_reply,
            outbox_ready: &app.outbox_ready,
        };
        let max = app
            .config
            .limits
            .max_attendees_per_instance
            .max(app.config.api.max_attendees_per_call);
        let out = engine::add_attendees_in_job(&actor, event_path, &new, max, Some(step))
            .await
            .map_err(step_error)?;
        Ok(JobStep {
            added: out.added.len() as u64,
            skipped: out.skipped_duplicates.len() as u64,
            ..step
        })
    }

    async fn result(&self, job: &Job) -> Result<serde_json::Value, StepError> {
        let JobWork::AddAttendees { event_path, .. } = &job.work;
        let r = AddAttendeesResult {
            event_id: super::event_id(event_path),
            added: job.added,
            skipped_duplicates: job.skipped,
        };
        serde_json::to_value(r)
            .map_err(|e| StepError::Retry(Duration::from_secs(60), e.to_string()))
    }
}
