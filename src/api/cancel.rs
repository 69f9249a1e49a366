//! `POST /api/v1/events/{id}/cancel`: cancel an event the caller organizes,
//! or one instance of it, telling the attendees the body selects
//! (`engine::cancel`); answered with the event. A second cancel changes
//! nothing, sends nothing and gives the same answer.

use super::Caller;
use super::attendees::{event_state, path_of, with_etag};
use super::events::EventOut;
use super::json::Body;
use super::problem::{ApiResult, Problem};
use crate::engine::{self, EngineError, Notify};
use crate::scheduling::ItipError;
use axum::Extension;
use axum::extract::Path;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;

/// Who is told of the cancellation.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotifyName {
    /// Every attendee.
    #[default]
    All,
    /// The attendees whose PARTSTAT is ACCEPTED or TENTATIVE now.
    AcceptedOrTentative,
    /// Nobody.
    None,
}

/// Body of `POST /api/v1/events/{id}/cancel`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// `all` when absent.
    #[serde(default)]
    pub notify: NotifyName,
    /// Cancel only this instance of a recurring event: its start as a local
    /// date-time in the event's time zone (`2026-03-10T14:00:00`), in UTC
    /// (`2026-03-10T13:00:00Z`), or a date for an all-day event.
    #[serde(default)]
    pub recurrence_id: Option<String>,
}

/// Cancel the event (STATUS:CANCELLED, SEQUENCE + 1) or, with
/// `recurrence_id`, one instance (EXDATE on the master); the selected
/// attendees get a CANCEL.
#[utoipa::path(post, path = "/api/v1/events/{id}/cancel", tag = "events",
    params(("id" = String, Path, description = "Event id")),
    request_body = CancelRequest,
    responses(
        (status = 200, body = EventOut),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn cancel_event(
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Body(req): Body<CancelRequest>,
) -> ApiResult<Response> {
    let path = path_of(&id)?;
    let notify = match req.notify {
        NotifyName::All => Notify::All,
        NotifyName::AcceptedOrTentative => Notify::AcceptedOrTentative,
        NotifyName::None => Notify::None,
    };
    if let Some(r) = &req.recurrence_id
        && (r.trim().is_empty() || r.len() > 64)
    {
        return Err(Problem::field("recurrence_id", "not a date or date-time"));
    }
    let out = engine::cancel(&caller.actor(), &path, notify, req.recurrence_id)
        .await
        .map_err(|e| match e {
            EngineError::Itip(ItipError::NoSuchInstance(r)) => Problem::field(
                "recurrence_id",
                format!("{r} is not an instance of this event"),
            ),
            e => e.into(),
        })?;
    Ok(with_etag(&out.etag, event_state(&caller, &path)?))
}
