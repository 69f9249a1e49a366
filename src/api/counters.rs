//! `GET /api/v1/events/{id}/counters` and `POST .../counters/{n}/accept`
//! or `/decline`: the new times attendees proposed from their mail clients
//! (iTIP COUNTER) for events whose `counter_policy` is `notify`, and the
//! organizer's decision (the engine reschedules, or sends DECLINECOUNTER).

use super::Caller;
use super::problem::{ApiResult, Problem};
use crate::engine::modes::{self, Counter, CounterState};
use axum::extract::Path;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

/// A proposal of another time by an attendee.
#[derive(Debug, Serialize, ToSchema)]
pub struct CounterView {
    /// Its number for this event, from 1 in arrival order.
    pub n: usize,
    /// The proposing attendee's email address.
    pub from: String,
    /// When it arrived (RFC 3339).
    pub received_at: String,
    /// The proposed DTSTART (and DTEND or DURATION) lines, as the client wrote them.
    pub proposed_start: Option<String>,
    pub proposed_end: Option<String>,
    /// `pending`, `accepted` or `declined`.
    pub state: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CounterList {
    pub counters: Vec<CounterView>,
}

fn view(c: Counter) -> CounterView {
    CounterView {
        n: c.n,
        from: c
            .from
            .strip_prefix("mailto:")
            .unwrap_or(&c.from)
            .to_string(),
        received_at: chrono::DateTime::from_timestamp(c.at, 0)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default(),
        proposed_start: c.proposed_start,
        proposed_end: c.proposed_end,
        state: match c.state {
            CounterState::Pending => "pending",
            CounterState::Accepted => "accepted",
            CounterState::Declined => "declined",
        }
        .into(),
    }
}

/// The path and UID of the caller's event `id`; 404 for anything else.
fn own_event(caller: &Caller, id: &str) -> ApiResult<(String, String)> {
    let path = super::attendees::path_of(id)?;
    let store = &caller.app.store;
    let uid = store
        .node(&caller.user, &path)?
        .and_then(|n| n.resource().and_then(|r| r.uid.clone()))
        .ok_or_else(Problem::not_found)?;
    Ok((path, uid))
}

/// The COUNTERs received for an event.
#[utoipa::path(get, path = "/api/v1/events/{id}/counters", tag = "events",
    params(("id" = String, Path, description = "The event id")),
    responses(
        (status = 200, body = CounterList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_counters(
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<CounterList>> {
    let (_, uid) = own_event(&caller, &id)?;
    let all = modes::counters(&caller.app.store, &caller.user, &uid)?;
    Ok(Json(CounterList {
        counters: all.into_iter().map(view).collect(),
    }))
}

async fn decide(
    caller: Caller,
    id: String,
    n: String,
    accept: bool,
) -> ApiResult<Json<CounterView>> {
    let (path, _) = own_event(&caller, &id)?;
    // A number that names no counter is a 404, like an unknown id.
    let n: usize = n.parse().map_err(|_| Problem::not_found())?;
    let c = modes::decide_counter(&caller.actor(), &path, n, accept).await?;
    Ok(Json(view(c)))
}

/// Accept a COUNTER: the event moves to the proposed time and every
/// attendee gets the update (SEQUENCE bumped). Deciding again answers the
/// first decision.
#[utoipa::path(post, path = "/api/v1/events/{id}/counters/{n}/accept", tag = "events",
    params(("id" = String, Path, description = "The event id"),
           ("n" = usize, Path, description = "The counter's number")),
    responses(
        (status = 200, body = CounterView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn accept_counter(
    Extension(caller): Extension<Caller>,
    Path((id, n)): Path<(String, String)>,
) -> ApiResult<Json<CounterView>> {
    decide(caller, id, n, true).await
}

/// Decline a COUNTER: the proposer gets a DECLINECOUNTER; the event stays.
#[utoipa::path(post, path = "/api/v1/events/{id}/counters/{n}/decline", tag = "events",
    params(("id" = String, Path, description = "The event id"),
           ("n" = usize, Path, description = "The counter's number")),
    responses(
        (status = 200, body = CounterView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn decline_counter(
    Extension(caller): Extension<Caller>,
    Path((id, n)): Path<(String, String)>,
) -> ApiResult<Json<CounterView>> {
    decide(caller, id, n, false).await
}
