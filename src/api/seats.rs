//! Seats and time over the API (issue 11): seat holds for checkout flows
//! (`POST /api/v1/events/{id}/holds`, `GET`/`PUT`/`DELETE
//! /api/v1/holds/{id}`), the waiting list (`POST`/`GET
//! /api/v1/events/{id}/waitlist`) and the invitations nobody answered
//! (`GET /api/v1/attendees/pending`). JSON to the engine's seat operations
//! (`engine::seats`); capacity, `taken`, `held` and `available` are part of
//! the event itself.

use super::Caller;
use super::attendees::path_of;
use super::events::minimums;
use super::json::Body;
use super::problem::{ApiResult, Kind, Problem};
use crate::engine::{EngineError, seats};
use crate::store::{Confirmed, Hold, HoldState, Waiting};
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Body of `POST /api/v1/events/{id}/holds`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// Seats to hold (1 to 10,000).
    pub seats: i64,
    /// ISO 8601 duration until the hold expires by itself, e.g. `PT10M`.
    pub ttl: String,
}

/// Someone to invite or to put on the waiting list.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonInput {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// Body of `PUT /api/v1/holds/{id}`: who gets the held seats (at most its
/// seats; may be empty for a waiting-list offer: the person offered).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    #[serde(default)]
    pub attendees: Vec<PersonInput>,
}

/// The state of a hold.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HoldStateName {
    Held,
    Confirmed,
    Released,
    Expired,
}

/// A seat hold.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldOut {
    pub id: String,
    /// The event's id.
    pub event_id: String,
    pub seats: u32,
    /// RFC 3339.
    pub expires_at: String,
    pub state: HoldStateName,
    /// Who the seats went to (confirmed).
    pub attendees: Vec<String>,
    /// The waiting-list entry this hold is offered to.
    pub offered_to: Option<String>,
}

fn hold_out(h: Hold) -> HoldOut {
    HoldOut {
        id: h.id.to_string(),
        event_id: super::event_id(&h.path),
        seats: h.seats,
        expires_at: crate::clock::rfc3339(h.expires_at),
        state: match h.state {
            HoldState::Held => HoldStateName::Held,
            HoldState::Confirmed => HoldStateName::Confirmed,
            HoldState::Released => HoldStateName::Released,
            HoldState::Expired => HoldStateName::Expired,
        },
        attendees: h.attendees,
        offered_to: h.offered_to.map(|w| w.email),
    }
}

fn hold_id(id: &str) -> ApiResult<u64> {
    id.parse().map_err(|_| Problem::not_found())
}

/// Hold seats of an event during a checkout; they come back by themselves
/// at `expires_at` unless the hold is confirmed.
#[utoipa::path(post, path = "/api/v1/events/{id}/holds", tag = "seats",
    params(("id" = String, Path, description = "Event id")),
    request_body = HoldRequest,
    responses(
        (status = 201, body = HoldOut, headers(("Location" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_hold(
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Body(input): Body<HoldRequest>,
) -> ApiResult<Response> {
    let path = path_of(&id)?;
    let ttl = seats::duration("ttl", &input.ttl, minimums(&caller).hold_ttl)
        .map_err(EngineError::from)?;
    let hold = seats::create_hold(&caller.actor(), &path, input.seats, ttl).await?;
    let location = format!("/api/v1/holds/{}", hold.id);
    let mut resp = (StatusCode::CREATED, Json(hold_out(hold))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// A hold of the caller.
#[utoipa::path(get, path = "/api/v1/holds/{id}", tag = "seats",
    params(("id" = String, Path, description = "Hold id")),
    responses(
        (status = 200, body = HoldOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_hold(
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<HoldOut>> {
    let hold = caller
        .app
        .store
        .hold(hold_id(&id)?)?
        .filter(|h| h.user == caller.user)
        .ok_or_else(Problem::not_found)?;
    Ok(Json(hold_out(hold)))
}

/// Confirm a hold: its seats become attendees and their invitations are
/// queued, in one transaction. Confirming again answers the same and
/// invites nobody twice; an expired or released hold is 410 Gone.
#[utoipa::path(put, path = "/api/v1/holds/{id}", tag = "seats",
    params(("id" = String, Path, description = "Hold id")),
    request_body = ConfirmRequest,
    responses(
        (status = 200, body = HoldOut),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 410, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn confirm_hold(
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Body(input): Body<ConfirmRequest>,
) -> ApiResult<Json<HoldOut>> {
    let id = hold_id(&id)?;
    let guests = people(input.attendees)?;
    let max = super::events::max_attendees(&caller);
    match seats::confirm_hold(&caller.actor(), id, guests, max).await? {
        Confirmed::Done { hold, .. } => Ok(Json(hold_out(hold))),
        Confirmed::Gone(h) => Err(Problem::new(
            Kind::Gone,
            format!(
                "hold {} {} at {}",
                h.id,
                if h.state == HoldState::Released {
                    "was released"
                } else {
                    "expired"
                },
                crate::clock::rfc3339(h.changed)
            ),
        )),
    }
}

/// Release a hold at once (its seats are free again).
#[utoipa::path(delete, path = "/api/v1/holds/{id}", tag = "seats",
    params(("id" = String, Path, description = "Hold id")),
    responses(
        (status = 200, body = HoldOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn release_hold(
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<HoldOut>> {
    let h = seats::release_hold(&caller.actor(), hold_id(&id)?).await?;
    Ok(Json(hold_out(h)))
}

fn people(list: Vec<PersonInput>) -> ApiResult<Vec<Waiting>> {
    if list.len() > seats::MAX_HOLD_SEATS as usize {
        return Err(Problem::field(
            "attendees",
            format!("at most {} per call", seats::MAX_HOLD_SEATS),
        ));
    }
    list.into_iter()
        .enumerate()
        .map(|(i, p)| {
            seats::guest(&format!("attendees[{i}]"), &p.email, p.name).map_err(Problem::from)
        })
        .collect()
}

/// Body of `POST /api/v1/events/{id}/waitlist`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitlistRequest {
    pub attendees: Vec<PersonInput>,
}

/// One person on the waiting list.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitingOut {
    pub email: String,
    pub name: Option<String>,
    /// 1 is next.
    pub position: usize,
    /// When they were added (RFC 3339).
    pub since: String,
}

/// An offer made to someone who waited: a hold the application confirms.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfferOut {
    pub email: String,
    pub hold_id: String,
    pub expires_at: String,
}

/// The waiting list of an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitlistOut {
    /// Addresses this call added (POST only).
    pub added: Vec<String>,
    pub waiting: Vec<WaitingOut>,
    /// Open offers (`waitlist: "offer"`).
    pub offers: Vec<OfferOut>,
}

fn waitlist_out(caller: &Caller, path: &str, added: Vec<String>) -> ApiResult<Json<WaitlistOut>> {
    let p = caller
        .app
        .store
        .policy(&caller.user, path)?
        .ok_or_else(Problem::not_found)?;
    let offers = caller
        .app
        .store
        .offers(&caller.user, path)?
        .into_iter()
        .filter_map(|h| {
            let email = h.offered_to?.email;
            Some(OfferOut {
                email,
                hold_id: h.id.to_string(),
                expires_at: crate::clock::rfc3339(h.expires_at),
            })
        })
        .collect();
    Ok(Json(WaitlistOut {
        added,
        waiting: p
            .waiting
            .into_iter()
            .enumerate()
            .map(|(i, w)| WaitingOut {
                email: w.email,
                name: w.name,
                position: i + 1,
                since: crate::clock::rfc3339(w.at),
            })
            .collect(),
        offers,
    }))
}

/// Add people to the waiting list (the event needs `waitlist`). When a
/// seat frees, the first person waiting is invited or offered a hold.
#[utoipa::path(post, path = "/api/v1/events/{id}/waitlist", tag = "seats",
    params(("id" = String, Path, description = "Event id")),
    request_body = WaitlistRequest,
    responses(
        (status = 200, body = WaitlistOut),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn join_waitlist(
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Body(input): Body<WaitlistRequest>,
) -> ApiResult<Json<WaitlistOut>> {
    let path = path_of(&id)?;
    let people = people(input.attendees)?;
    let (_, added) = seats::join_waitlist(&caller.actor(), &path, people).await?;
    waitlist_out(&caller, &path, added)
}

/// The waiting list of an event, in order, with the open offers.
#[utoipa::path(get, path = "/api/v1/events/{id}/waitlist", tag = "seats",
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, body = WaitlistOut),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_waitlist(
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<WaitlistOut>> {
    let path = path_of(&id)?;
    if caller.app.store.node(&caller.user, &path)?.is_none() {
        return Err(Problem::not_found());
    }
    waitlist_out(&caller, &path, Vec::new())
}

/// Query of `GET /api/v1/attendees/pending`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PendingQuery {
    /// ISO 8601 duration: only invitations older than this (default: all).
    pub older_than: Option<String>,
}

/// An invitation nobody answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingOut {
    pub event_id: String,
    pub uid: String,
    pub summary: Option<String>,
    pub start: Option<String>,
    pub email: String,
    pub name: Option<String>,
    /// RFC 3339.
    pub invited_at: String,
    pub reminders_sent: u32,
    pub next_reminder_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PendingList {
    pub pending: Vec<PendingOut>,
}

/// Every invitation without an answer (PARTSTAT NEEDS-ACTION) across the
/// caller's events that are not cancelled, oldest first.
#[utoipa::path(get, path = "/api/v1/attendees/pending", tag = "seats",
    params(PendingQuery),
    responses(
        (status = 200, body = PendingList),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn pending(
    Extension(caller): Extension<Caller>,
    Query(q): Query<PendingQuery>,
) -> ApiResult<Json<PendingList>> {
    let age = match q.older_than.as_deref() {
        Some(v) => seats::duration("older_than", v, 1).map_err(EngineError::from)?,
        None => 0,
    };
    let before = crate::clock::now().saturating_sub(age);
    let list = seats::pending(&caller.app.store, &caller.user, before)?;
    let pending = list
        .into_iter()
        .map(|p| PendingOut {
            event_id: super::event_id(&p.path),
            uid: p.uid,
            summary: p.summary,
            start: p.start,
            email: p.email,
            name: p.name,
            invited_at: crate::clock::rfc3339(p.invite.invited_at),
            reminders_sent: p.invite.reminders_sent,
            next_reminder_at: p.invite.next_reminder_at.map(crate::clock::rfc3339),
        })
        .collect();
    Ok(Json(PendingList { pending }))
}
