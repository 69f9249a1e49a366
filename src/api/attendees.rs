//! `POST /api/v1/events/{id}/attendees` (add attendees; the synchronous
//! path, up to `api.async_threshold` of them), `PATCH` and `DELETE
//! /api/v1/events/{id}/attendees/{email}`: JSON to the engine's attendee
//! operations (`engine::add_attendees` and friends), answered with the
//! event. Also the answer shared with `cancel`: the event and its ETag.

use super::Caller;
use super::events::EventOut;
use super::json::Body;
use super::problem::{ApiResult, Kind, Problem};
use crate::engine::{self, AttendeeChange, EngineError, NewAttendee, Role};
use crate::scheduling::{self, ItipError};
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// An attendee's role (RFC 5545 ROLE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RoleName {
    Chair,
    Required,
    Optional,
    NonParticipant,
}

impl From<RoleName> for Role {
    fn from(r: RoleName) -> Role {
        match r {
            RoleName::Chair => Role::Chair,
            RoleName::Required => Role::Required,
            RoleName::Optional => Role::Optional,
            RoleName::NonParticipant => Role::NonParticipant,
        }
    }
}

impl From<Role> for RoleName {
    fn from(r: Role) -> RoleName {
        match r {
            Role::Chair => RoleName::Chair,
            Role::Required => RoleName::Required,
            Role::Optional => RoleName::Optional,
            Role::NonParticipant => RoleName::NonParticipant,
        }
    }
}

/// One attendee to invite.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendeeInput {
    /// E-mail address.
    pub email: String,
    /// Display name (CN).
    #[serde(default)]
    pub name: Option<String>,
    /// `required` when absent.
    #[serde(default)]
    pub role: Option<RoleName>,
}

/// Body of `POST /api/v1/events/{id}/attendees`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddAttendeesRequest {
    pub attendees: Vec<AttendeeInput>,
}

/// Body of `PATCH /api/v1/events/{id}/attendees/{email}`: the fields to
/// change (JSON merge patch: `"name": null` removes the name).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendeePatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub name: Option<Option<String>>,
    #[serde(default)]
    pub role: Option<RoleName>,
}

/// A field that is present (possibly null): `Some`, absent stays `None`.
pub(super) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Answer of `POST /api/v1/events/{id}/attendees`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttendeesAdded {
    /// Addresses added (lower case); each was sent a REQUEST.
    pub added: Vec<String>,
    /// Addresses already on the event (or repeated in the request): not added again.
    pub skipped_duplicates: Vec<String>,
    pub event: EventOut,
}

/// The object path of an event id of the caller; 404 for anything else.
pub(super) fn path_of(id: &str) -> ApiResult<String> {
    super::event_path(id).ok_or_else(Problem::not_found)
}

/// The event at `path` in the caller's home, as answered.
pub(super) fn event_state(caller: &Caller, path: &str) -> ApiResult<EventOut> {
    let loaded = crate::engine::events::load(&caller.app.store, &caller.user, path)?
        .ok_or_else(Problem::not_found)?;
    Ok(super::events::event_out(path, loaded))
}

/// `body` as JSON with the event's ETag.
pub(super) fn with_etag<T: Serialize>(etag: &str, body: T) -> Response {
    let mut resp = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

/// Attendees past `api.async_threshold` go to a job (`api::jobs`): 202
/// Accepted with its Location, once the event is known to exist.
async fn run_async(
    caller: &Caller,
    path: &str,
    attendees: Vec<NewAttendee>,
) -> ApiResult<Response> {
    let store = &caller.app.store;
    let node = store.node(&caller.user, path)?;
    if node
        .as_ref()
        .and_then(|n| n.resource())
        .and_then(|r| r.uid.as_ref())
        .is_none()
    {
        return Err(Problem::not_found());
    }
    // A list the event cannot take is refused now, not half-way through the job.
    let body = store.body(&caller.user, path)?.unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let on_event: std::collections::HashSet<String> =
        scheduling::attendees_of(&text).into_iter().collect();
    let fresh: std::collections::HashSet<String> = attendees
        .iter()
        .filter_map(|a| scheduling::mail_address(&a.email).ok())
        .filter(|a| !on_event.contains(a))
        .collect();
    let max = super::events::max_attendees(caller);
    let after = scheduling::most_attendees(&text) + fresh.len();
    if after > max {
        return Err(Problem::field(
            "attendees",
            format!("{after} attendees on the event afterwards; at most {max} per event"),
        ));
    }
    let work = crate::store::JobWork::AddAttendees {
        event_path: path.to_string(),
        attendees: attendees
            .into_iter()
            .map(|a| crate::store::JobAttendee {
                email: a.email,
                name: a.name,
                role: Some(a.role.as_param().to_string()),
            })
            .collect(),
    };
    super::jobs::accepted(caller, work).await
}

/// Check the request's attendees, naming the bad field.
fn new_attendees(caller: &Caller, req: AddAttendeesRequest) -> ApiResult<Vec<NewAttendee>> {
    let max = caller.app.config.api.max_attendees_per_call;
    if req.attendees.is_empty() {
        return Err(Problem::field(
            "attendees",
            "at least one attendee is required",
        ));
    }
    if req.attendees.len() > max {
        return Err(Problem::field(
            "attendees",
            format!("{} attendees: at most {max} per call", req.attendees.len()),
        ));
    }
    req.attendees
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            scheduling::mail_address(&a.email)
                .map_err(|e| Problem::field(format!("attendees[{i}].email"), e))?;
            if let Some(n) = &a.name {
                scheduling::check_name(n)
                    .map_err(|e| Problem::field(format!("attendees[{i}].name"), e))?;
            }
            Ok(NewAttendee {
                email: a.email,
                name: a.name,
                role: a.role.unwrap_or(RoleName::Required).into(),
            })
        })
        .collect()
}

/// Add attendees to an event the caller organizes: each new one gets a
/// REQUEST, nobody else a message, SEQUENCE unchanged. Addresses already on
/// the event are skipped (case-insensitively).
#[utoipa::path(post, path = "/api/v1/events/{id}/attendees", tag = "attendees",
    params(("id" = String, Path, description = "Event id")),
    request_body = AddAttendeesRequest,
    responses(
        (status = 200, body = AttendeesAdded),
        (status = 202, body = super::jobs::JobView,
            description = "More than api.async_threshold attendees: they are added by a job",
            headers(("Location" = String, description = "The job: /api/v1/jobs/{id}"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn add_attendees(
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Body(req): Body<AddAttendeesRequest>,
) -> ApiResult<Response> {
    let path = path_of(&id)?;
    let new = new_attendees(&caller, req)?;
    let threshold = caller.app.config.api.async_threshold;
    if new.len() > threshold {
        return run_async(&caller, &path, new).await;
    }
    let max = super::events::max_attendees(&caller);
    let out = engine::add_attendees(&caller.actor(), &path, &new, max).await?;
    let event = event_state(&caller, &path)?;
    Ok(with_etag(
        &out.etag,
        AttendeesAdded {
            added: out.added,
            skipped_duplicates: out.skipped_duplicates,
            event,
        },
    ))
}

/// 404 for an attendee the event does not have.
fn attendee_problem(e: EngineError) -> Problem {
    match e {
        EngineError::Itip(ItipError::NoSuchAttendee) => {
            Problem::new(Kind::NotFound, "the event has no such attendee")
        }
        e => e.into(),
    }
}

/// Change an attendee's name or role; nobody is sent a message.
#[utoipa::path(patch, path = "/api/v1/events/{id}/attendees/{email}", tag = "attendees",
    params(
        ("id" = String, Path, description = "Event id"),
        ("email" = String, Path, description = "The attendee's e-mail address"),
    ),
    request_body = AttendeePatch,
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
pub async fn update_attendee(
    Extension(caller): Extension<Caller>,
    Path((id, email)): Path<(String, String)>,
    Body(patch): Body<AttendeePatch>,
) -> ApiResult<Response> {
    let path = path_of(&id)?;
    if let Some(Some(n)) = &patch.name {
        scheduling::check_name(n).map_err(|e| Problem::field("name", e))?;
    }
    let change = AttendeeChange {
        name: patch.name,
        role: patch.role.map(Role::from),
    };
    let out = engine::update_attendee(&caller.actor(), &path, &email, &change)
        .await
        .map_err(attendee_problem)?;
    Ok(with_etag(&out.etag, event_state(&caller, &path)?))
}

/// Remove an attendee: they get a CANCEL, nobody else a message.
#[utoipa::path(delete, path = "/api/v1/events/{id}/attendees/{email}", tag = "attendees",
    params(
        ("id" = String, Path, description = "Event id"),
        ("email" = String, Path, description = "The attendee's e-mail address"),
    ),
    responses(
        (status = 200, body = EventOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn remove_attendee(
    Extension(caller): Extension<Caller>,
    Path((id, email)): Path<(String, String)>,
) -> ApiResult<Response> {
    let path = path_of(&id)?;
    let out = engine::remove_attendee(&caller.actor(), &path, &email)
        .await
        .map_err(attendee_problem)?;
    Ok(with_etag(&out.etag, event_state(&caller, &path)?))
}
