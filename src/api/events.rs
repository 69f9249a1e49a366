//! `POST /api/v1/events`, `GET /api/v1/events[/{id}]`, `PATCH
//! /api/v1/events/{id}` and `GET /api/v1/events/{id}/history`: JSON to and
//! from the engine's event operations (`engine::events`). An event is a
//! calendar object in the principal's calendar, so events made over CalDAV
//! show here and the other way round.

use super::Caller;
use super::attendees::{AttendeeInput, RoleName, path_of, present};
use super::json::Body;
use super::problem::{ApiResult, Kind, Problem};
use crate::engine::EngineError;
use crate::engine::event::{AttendeeSpec, CounterPolicy, EventSpec, Mode};
use crate::engine::event_view::{Delivery, Status};
use crate::engine::events::{self, EventPatch, Loaded};
use crate::engine::seats::{self, Minimums, PolicySpec};
use crate::store::{Policy, PolicySettings, StoreError, WaitlistMode};
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ModeName {
    #[default]
    Standard,
    Relay,
    DelegateOrganizer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum CounterPolicyName {
    #[default]
    Notify,
    Accept,
}

/// Body of `POST /api/v1/events`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    /// Local date-time (`2026-03-10T14:00:00`) in `time_zone`, or a date with `all_day`.
    pub start: String,
    /// Local date-time, or (all day) the exclusive end date.
    #[serde(default)]
    pub end: Option<String>,
    /// IANA time zone name, e.g. `Europe/Berlin`.
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub all_day: bool,
    /// RFC 5545 RRULE value, e.g. `FREQ=WEEKLY;COUNT=4`.
    #[serde(default)]
    pub rrule: Option<String>,
    #[serde(default)]
    pub attendees: Vec<AttendeeInput>,
    #[serde(default)]
    pub mode: ModeName,
    #[serde(default)]
    pub counter_policy: CounterPolicyName,
    #[serde(default)]
    pub uid: Option<String>,
    /// Seats: adding attendees beyond it is refused (409 `/errors/capacity-exceeded`).
    #[serde(default)]
    pub capacity: Option<i64>,
    /// Whether a DECLINED answer frees the seat (default true).
    #[serde(default)]
    pub release_on_decline: Option<bool>,
    /// What a freed seat does for the waiting list: `invite` the first person
    /// waiting, or `offer` them a hold for `waitlist_offer_ttl`.
    #[serde(default)]
    pub waitlist: Option<WaitlistName>,
    /// ISO 8601 duration of a waiting-list offer (default PT1H).
    #[serde(default)]
    pub waitlist_offer_ttl: Option<String>,
    /// ISO 8601 duration after which attendees still NEEDS-ACTION get the REQUEST again.
    #[serde(default)]
    pub remind_after: Option<String>,
    /// Most reminders per attendee (default 1).
    #[serde(default)]
    pub max_reminders: Option<i64>,
}

/// What a freed seat does for the waiting list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WaitlistName {
    Invite,
    Offer,
}

impl WaitlistName {
    fn as_str(self) -> &'static str {
        match self {
            WaitlistName::Invite => "invite",
            WaitlistName::Offer => "offer",
        }
    }
}

/// Body of `PATCH /api/v1/events/{id}` (JSON merge patch: a field set to
/// null is removed). Attendees change through `/attendees`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventPatchInput {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub summary: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub location: Option<Option<String>>,
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub end: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub time_zone: Option<Option<String>>,
    #[serde(default)]
    pub all_day: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub rrule: Option<Option<String>>,
    /// Seats (null: no limit).
    #[serde(default, deserialize_with = "present_i64")]
    #[schema(value_type = Option<i64>, nullable)]
    pub capacity: Option<Option<i64>>,
    #[serde(default)]
    pub release_on_decline: Option<bool>,
    /// `invite` or `offer` (null: no waiting list).
    #[serde(default, deserialize_with = "present_waitlist")]
    #[schema(value_type = Option<WaitlistName>, nullable)]
    pub waitlist: Option<Option<WaitlistName>>,
    #[serde(default)]
    pub waitlist_offer_ttl: Option<String>,
    /// ISO 8601 duration (null: no reminders).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub remind_after: Option<Option<String>>,
    #[serde(default)]
    pub max_reminders: Option<i64>,
}

fn present_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

fn present_waitlist<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<WaitlistName>>, D::Error> {
    Option::<WaitlistName>::deserialize(d).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonOut {
    pub email: String,
    pub name: Option<String>,
}

/// How an attendee's invitation travels.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryName {
    Queued,
    Sent,
    Failed,
    Local,
    None,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttendeeOut {
    pub email: String,
    pub name: Option<String>,
    pub role: RoleName,
    /// RFC 5545 PARTSTAT (`NEEDS-ACTION`, `ACCEPTED`, `DECLINED`, `TENTATIVE`, ...).
    pub partstat: String,
    pub delivery: DeliveryName,
    /// The mail server's answer when the delivery failed.
    pub delivery_error: Option<String>,
    /// RFC 6638 SCHEDULE-STATUS.
    pub schedule_status: Option<String>,
    /// When the first invitation was queued (RFC 3339).
    pub invited_at: Option<String>,
    /// Reminders sent (the REQUEST again while NEEDS-ACTION).
    pub reminders_sent: u32,
    /// When the next reminder is due (RFC 3339), if one is.
    pub next_reminder_at: Option<String>,
}

/// An event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    pub id: String,
    pub uid: String,
    pub sequence: i64,
    /// `confirmed`, `tentative` or `cancelled`.
    pub status: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub time_zone: Option<String>,
    pub all_day: bool,
    pub rrule: Option<String>,
    pub mode: ModeName,
    pub counter_policy: CounterPolicyName,
    pub organizer: Option<PersonOut>,
    pub attendees: Vec<AttendeeOut>,
    /// When the last answer arrived (RFC 3339).
    pub last_reply_at: Option<String>,
    /// Seats (absent: no limit).
    pub capacity: Option<u32>,
    /// Seats the guest list takes.
    pub taken: u32,
    /// Seats in active holds.
    pub held: u32,
    /// Seats free: capacity - taken - held (absent without a capacity).
    pub available: Option<u32>,
    pub release_on_decline: bool,
    pub waitlist: Option<WaitlistName>,
    /// ISO 8601 duration of a waiting-list offer.
    pub waitlist_offer_ttl: String,
    /// People on the waiting list.
    pub waiting: usize,
    /// ISO 8601 duration; absent: no reminders.
    pub remind_after: Option<String>,
    pub max_reminders: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub events: Vec<EventOut>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepOut {
    pub at: String,
    /// created, sent, failed, replied, countered, updated, cancelled, refused,
    /// and what timers did: hold-expired, promoted (invited from the waiting
    /// list), offered (a hold for the first person waiting), reminded, ...
    pub kind: String,
    pub who: String,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub history: Vec<StepOut>,
}

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Tentative => "tentative",
        Status::Confirmed => "confirmed",
        Status::Cancelled => "cancelled",
    }
}

/// The JSON of a loaded event stored at `path`.
pub fn event_out(path: &str, l: Loaded) -> EventOut {
    let v = l.view;
    let p = l.policy.unwrap_or_else(|| Policy {
        settings: PolicySettings::default(),
        taken: 0,
        held: 0,
        waiting: Vec::new(),
        offered: Vec::new(),
        chain: 0,
    });
    let attendees = v
        .attendees
        .into_iter()
        .zip(l.delivery)
        .zip(l.invites)
        .map(|((a, d), i)| AttendeeOut {
            invited_at: i.as_ref().map(|i| rfc3339(i.invited_at)),
            reminders_sent: i.as_ref().map_or(0, |i| i.reminders_sent),
            // A reminder is still to come only for who has not answered.
            next_reminder_at: i
                .as_ref()
                .and_then(|i| i.next_reminder_at)
                .filter(|_| a.partstat.eq_ignore_ascii_case("NEEDS-ACTION"))
                .map(rfc3339),
            email: a.email,
            name: a.name,
            role: a.role.into(),
            partstat: a.partstat,
            delivery: match d.delivery {
                Delivery::Queued => DeliveryName::Queued,
                Delivery::Sent => DeliveryName::Sent,
                Delivery::Failed => DeliveryName::Failed,
                Delivery::Local => DeliveryName::Local,
                Delivery::None => DeliveryName::None,
            },
            delivery_error: d.error,
            schedule_status: a.schedule_status,
        })
        .collect();
    EventOut {
        id: super::event_id(path),
        uid: v.uid,
        sequence: v.sequence,
        status: status_name(v.status).into(),
        summary: v.summary,
        description: v.description,
        location: v.location,
        start: v.start,
        end: v.end,
        time_zone: v.time_zone,
        all_day: v.all_day,
        rrule: v.rrule,
        mode: match v.mode {
            Mode::Standard => ModeName::Standard,
            Mode::Relay => ModeName::Relay,
            Mode::DelegateOrganizer => ModeName::DelegateOrganizer,
        },
        counter_policy: match v.counter_policy {
            CounterPolicy::Notify => CounterPolicyName::Notify,
            CounterPolicy::Accept => CounterPolicyName::Accept,
        },
        organizer: v.organizer.map(|o| PersonOut {
            email: o.email,
            name: o.name,
        }),
        attendees,
        last_reply_at: l.last_reply_at.map(rfc3339),
        available: p.available(),
        capacity: p.settings.capacity,
        taken: p.taken,
        held: p.held,
        release_on_decline: p.settings.release_on_decline,
        waitlist: p.settings.waitlist.map(|w| match w {
            WaitlistMode::Invite => WaitlistName::Invite,
            WaitlistMode::Offer => WaitlistName::Offer,
        }),
        waitlist_offer_ttl: crate::clock::format_duration(p.settings.waitlist_offer_ttl),
        waiting: p.waiting.len(),
        remind_after: p.settings.remind_after.map(crate::clock::format_duration),
        max_reminders: p.settings.max_reminders,
    }
}

/// The caller's event `id` as answered, with its ETag.
pub fn answer(caller: &Caller, path: &str, status: StatusCode) -> ApiResult<Response> {
    let loaded =
        events::load(&caller.app.store, &caller.user, path)?.ok_or_else(Problem::not_found)?;
    let etag = loaded.etag.clone();
    let mut resp = (status, Json(event_out(path, loaded))).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&format!("/api/v1/events/{}", super::event_id(path)))
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// The operator's shortest durations.
pub(super) fn minimums(caller: &Caller) -> Minimums {
    let a = &caller.app.config.api;
    Minimums {
        hold_ttl: a.min_hold_ttl_seconds.max(1),
        remind_after: a.min_remind_after_seconds.max(1),
        waitlist_offer_ttl: a.min_waitlist_offer_ttl_seconds.max(1),
    }
}

fn policy_of(input: &EventInput) -> PolicySpec {
    PolicySpec {
        capacity: input.capacity.map(Some),
        release_on_decline: input.release_on_decline,
        waitlist: input.waitlist.map(|w| Some(w.as_str().to_string())),
        waitlist_offer_ttl: input.waitlist_offer_ttl.clone(),
        remind_after: input.remind_after.clone().map(Some),
        max_reminders: input.max_reminders,
    }
}

fn spec_of(input: EventInput) -> EventSpec {
    EventSpec {
        summary: input.summary,
        description: input.description,
        location: input.location,
        start: input.start,
        end: input.end,
        time_zone: input.time_zone,
        all_day: input.all_day,
        rrule: input.rrule,
        attendees: input
            .attendees
            .into_iter()
            .map(|a| AttendeeSpec {
                email: a.email,
                name: a.name,
                role: a.role.unwrap_or(RoleName::Required).into(),
            })
            .collect(),
        mode: match input.mode {
            ModeName::Standard => Mode::Standard,
            ModeName::Relay => Mode::Relay,
            ModeName::DelegateOrganizer => Mode::DelegateOrganizer,
        },
        counter_policy: match input.counter_policy {
            CounterPolicyName::Notify => CounterPolicy::Notify,
            CounterPolicyName::Accept => CounterPolicy::Accept,
        },
        uid: input.uid,
    }
}

/// Most attendees an event made through the API may have.
pub(super) fn max_attendees(caller: &Caller) -> usize {
    let c = &caller.app.config;
    c.limits
        .max_attendees_per_instance
        .max(c.api.max_attendees_per_call)
}

/// Create an event; every attendee is invited (iTIP REQUEST by email, or
/// directly for users of this server).
#[utoipa::path(post, path = "/api/v1/events", tag = "events",
    request_body = EventInput,
    responses(
        (status = 201, body = EventOut, headers(("Location" = String), ("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_event(
    Extension(caller): Extension<Caller>,
    Body(input): Body<EventInput>,
) -> ApiResult<Response> {
    let policy = policy_of(&input);
    let settings = if policy.is_empty() {
        None
    } else {
        Some(
            seats::settings(&policy, PolicySettings::default(), &minimums(&caller))
                .map_err(EngineError::from)?,
        )
    };
    let spec = spec_of(input);
    let (path, _) =
        events::create(&caller.actor(), &spec, max_attendees(&caller), settings).await?;
    answer(&caller, &path, StatusCode::CREATED)
}

/// An event with every attendee's PARTSTAT and delivery state.
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events",
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, body = EventOut, headers(("ETag" = String))),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_event(
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    answer(&caller, &path_of(&id)?, StatusCode::OK)
}

/// Reschedule or edit an event (If-Match with its ETag is required). The
/// scheduling rules decide SEQUENCE and who gets an update.
#[utoipa::path(patch, path = "/api/v1/events/{id}", tag = "events",
    params(("id" = String, Path, description = "Event id"),
           ("If-Match" = String, Header, description = "The event's ETag")),
    request_body(content = EventPatchInput, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, body = EventOut, headers(("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 428, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn patch_event(
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(input): Body<EventPatchInput>,
) -> ApiResult<Response> {
    let path = path_of(&id)?;
    if caller.app.store.node(&caller.user, &path)?.is_none() {
        return Err(Problem::not_found());
    }
    let Some(if_match) = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    else {
        return Err(Problem::new(
            Kind::PreconditionRequired,
            "send If-Match with the event's ETag",
        ));
    };
    let policy = PolicySpec {
        capacity: input.capacity,
        release_on_decline: input.release_on_decline,
        waitlist: input.waitlist.map(|w| w.map(|w| w.as_str().to_string())),
        waitlist_offer_ttl: input.waitlist_offer_ttl.clone(),
        remind_after: input.remind_after.clone(),
        max_reminders: input.max_reminders,
    };
    let event_fields = input.summary.is_some()
        || input.description.is_some()
        || input.location.is_some()
        || input.start.is_some()
        || input.end.is_some()
        || input.time_zone.is_some()
        || input.all_day.is_some()
        || input.rrule.is_some();
    let settings = if policy.is_empty() {
        None
    } else {
        let base = caller
            .app
            .store
            .policy(&caller.user, &path)?
            .map(|p| p.settings)
            .unwrap_or_default();
        Some(seats::settings(&policy, base, &minimums(&caller)).map_err(EngineError::from)?)
    };
    if !event_fields {
        let loaded =
            events::load(&caller.app.store, &caller.user, &path)?.ok_or_else(Problem::not_found)?;
        if loaded.etag != if_match {
            return Err(StoreError::PreconditionFailed.into());
        }
    }
    let patch = EventPatch {
        summary: input.summary,
        description: input.description,
        location: input.location,
        start: input.start,
        end: input.end,
        time_zone: input.time_zone,
        all_day: input.all_day,
        rrule: input.rrule,
    };
    if event_fields {
        events::patch(
            &caller.actor(),
            &path,
            &patch,
            if_match,
            max_attendees(&caller),
        )
        .await?;
    }
    if let Some(settings) = settings {
        seats::set_policy(&caller.actor(), &path, settings).await?;
    }
    answer(&caller, &path, StatusCode::OK)
}

/// Query of `GET /api/v1/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Events ending after this instant (RFC 3339) or date.
    pub from: Option<String>,
    /// Events starting before this instant (RFC 3339) or date.
    pub to: Option<String>,
    /// `confirmed`, `tentative` or `cancelled`.
    pub status: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Events per page (1-500, default 50).
    pub limit: Option<String>,
}

fn instant(field: &str, v: &str) -> ApiResult<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp());
    }
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
        .ok_or_else(|| Problem::field(field, format!("{v:?} is not an RFC 3339 instant or a date")))
}

/// The principal's events, in a stable order, a page at a time.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(ListQuery),
    responses(
        (status = 200, body = EventList),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_events(
    Extension(caller): Extension<Caller>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<EventList>> {
    let Query(q) = query.map_err(|e| Problem::new(Kind::Validation, e.body_text()))?;
    let from = q.from.as_deref().map(|v| instant("from", v)).transpose()?;
    let to = q.to.as_deref().map(|v| instant("to", v)).transpose()?;
    let status = match q.status.as_deref() {
        None => None,
        Some("confirmed") => Some(Status::Confirmed),
        Some("tentative") => Some(Status::Tentative),
        Some("cancelled") => Some(Status::Cancelled),
        Some(other) => {
            return Err(Problem::field(
                "status",
                format!("{other:?}: confirmed, tentative or cancelled"),
            ));
        }
    };
    let limit = match q.limit.as_deref() {
        None => 50,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| Problem::field("limit", "a number from 1 to 500"))?,
    };
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            super::event_path(c)
                .ok_or_else(|| Problem::field("cursor", "not a cursor of this list"))?,
        ),
    };
    let page = events::list(
        &caller.app.store,
        &caller.user,
        from,
        to,
        status,
        after.as_deref(),
        limit,
    )?;
    Ok(Json(EventList {
        events: page
            .events
            .into_iter()
            .map(|(p, l)| event_out(&p, l))
            .collect(),
        next_cursor: page.next_after.map(|p| super::event_id(&p)),
    }))
}

/// Everything that happened to an event: created, sent, replied,
/// countered, updated, cancelled, with who and when.
#[utoipa::path(get, path = "/api/v1/events/{id}/history", tag = "events",
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, body = History),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn event_history(
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<History>> {
    let path = path_of(&id)?;
    let steps =
        events::history(&caller.app.store, &caller.user, &path)?.ok_or_else(Problem::not_found)?;
    Ok(Json(History {
        history: steps
            .into_iter()
            .map(|s| StepOut {
                at: rfc3339(s.at),
                kind: s.kind,
                who: s.who,
                detail: s.detail,
            })
            .collect(),
    }))
}
