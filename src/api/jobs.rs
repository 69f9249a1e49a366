//! `GET /api/v1/jobs/{id}`: the state of a background job (queued,
//! running, succeeded, failed), its progress and its result or problem;
//! and [`accepted`], the `202 Accepted` answer of a request that queued
//! one. A job is visible only to the principal it acts for (another's is
//! a 404, like an unknown one).

use super::Caller;
use super::problem::{ApiResult, Problem};
use crate::store::{Job, JobStatus, JobWork};
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
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
    #[schema(value_type = Option<Object>)]
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
