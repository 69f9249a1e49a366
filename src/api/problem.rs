//! RFC 9457 problem documents: the API's one error type (`Problem`), its
//! stable `type` URIs, and the single mapping from engine and store errors
//! to HTTP statuses.

use crate::engine::EngineError;
use crate::store::StoreError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The kinds of problem the API reports; each has a stable `type` URI
/// (`/errors/NAME`) that clients may match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The body is not JSON, or not JSON for this request.
    InvalidJson,
    /// A field's value is not acceptable (named in `field`).
    Validation,
    Unauthorized,
    NotFound,
    Conflict,
    PreconditionFailed,
    PreconditionRequired,
    IdempotencyKeyReused,
    IdempotencyKeyInUse,
    PayloadTooLarge,
    UnsupportedMediaType,
    MethodNotAllowed,
    RateLimited,
    /// The iTIP rules refused the change (RFC 5546 / RFC 6638).
    SchedulingRefused,
    /// Fewer seats are free than asked for (`available` says how many).
    CapacityExceeded,
    /// The hold expired or was released.
    Gone,
    Internal,
}

impl Kind {
    pub fn type_uri(self) -> &'static str {
        match self {
            Kind::InvalidJson => "/errors/invalid-json",
            Kind::Validation => "/errors/validation",
            Kind::Unauthorized => "/errors/unauthorized",
            Kind::NotFound => "/errors/not-found",
            Kind::Conflict => "/errors/conflict",
            Kind::PreconditionFailed => "/errors/precondition-failed",
            Kind::PreconditionRequired => "/errors/precondition-required",
            Kind::IdempotencyKeyReused => "/errors/idempotency-key-reused",
            Kind::IdempotencyKeyInUse => "/errors/idempotency-key-in-use",
            Kind::PayloadTooLarge => "/errors/payload-too-large",
            Kind::UnsupportedMediaType => "/errors/unsupported-media-type",
            Kind::MethodNotAllowed => "/errors/method-not-allowed",
            Kind::RateLimited => "/errors/rate-limited",
            Kind::SchedulingRefused => "/errors/scheduling-refused",
            Kind::CapacityExceeded => "/errors/capacity-exceeded",
            Kind::Gone => "/errors/gone",
            Kind::Internal => "/errors/internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Kind::InvalidJson => StatusCode::BAD_REQUEST,
            Kind::Validation | Kind::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::Unauthorized => StatusCode::UNAUTHORIZED,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::Conflict
            | Kind::IdempotencyKeyInUse
            | Kind::SchedulingRefused
            | Kind::CapacityExceeded => StatusCode::CONFLICT,
            Kind::Gone => StatusCode::GONE,
            Kind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Kind::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Kind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Kind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::InvalidJson => "The body is not valid JSON for this request",
            Kind::Validation => "A field has an invalid value",
            Kind::Unauthorized => "A valid bearer token is required",
            Kind::NotFound => "Not found",
            Kind::Conflict => "The request conflicts with the current state",
            Kind::PreconditionFailed => "The If-Match condition failed",
            Kind::PreconditionRequired => "This request needs If-Match",
            Kind::IdempotencyKeyReused => "The Idempotency-Key was used with another request",
            Kind::IdempotencyKeyInUse => "A request with this Idempotency-Key is still running",
            Kind::PayloadTooLarge => "The body is too large",
            Kind::UnsupportedMediaType => "The body must be application/json",
            Kind::MethodNotAllowed => "Method not allowed",
            Kind::RateLimited => "Too many invitations",
            Kind::SchedulingRefused => "The scheduling rules refused the change",
            Kind::CapacityExceeded => "Not enough seats are free",
            Kind::Gone => "The hold has expired or was released",
            Kind::Internal => "Internal error",
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// Stable URI reference of the kind of problem, e.g. `/errors/validation`.
    #[serde(rename = "type")]
    pub type_uri: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// The offending field of the request, as a path (`attendees[2].email`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds to wait before retrying (429).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Seats free at the time of the refusal (`/errors/capacity-exceeded`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<u32>,
}

impl Problem {
    pub fn new(kind: Kind, detail: impl Into<String>) -> Problem {
        Problem {
            type_uri: kind.type_uri(),
            title: kind.title(),
            status: kind.status().as_u16(),
            detail: detail.into(),
            field: None,
            retry_after: None,
            available: None,
        }
    }

    /// A validation problem naming `field`.
    pub fn field(field: impl Into<String>, detail: impl Into<String>) -> Problem {
        Problem {
            field: Some(field.into()),
            ..Problem::new(Kind::Validation, detail)
        }
    }

    pub fn not_found() -> Problem {
        Problem::new(Kind::NotFound, "no such resource")
    }

    pub fn internal(detail: impl Into<String>) -> Problem {
        let detail = detail.into();
        tracing::error!("api: {detail}");
        Problem::new(Kind::Internal, "the server failed; the error is logged")
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            h.insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"herald\""),
            );
        }
        resp
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        match e {
            StoreError::NotFound => Problem::not_found(),
            StoreError::AlreadyExists => Problem::new(Kind::Conflict, "it already exists"),
            StoreError::PreconditionFailed => Problem::new(
                Kind::PreconditionFailed,
                "the event changed since the ETag given in If-Match",
            ),
            StoreError::UidConflict(_) => {
                Problem::field("uid", "another event of this principal has this UID")
            }
            StoreError::QuotaExceeded => {
                Problem::new(Kind::Conflict, "the principal's storage quota is used up")
            }
            StoreError::Rejected(why) => Problem::new(Kind::SchedulingRefused, why),
            StoreError::CapacityExceeded { available } => Problem {
                available: Some(available),
                ..Problem::new(
                    Kind::CapacityExceeded,
                    format!("not enough seats: {available} available"),
                )
            },
            StoreError::RateLimited { limit, retry_after } => Problem {
                retry_after: Some(retry_after),
                ..Problem::new(
                    Kind::RateLimited,
                    format!("more than {limit} invitations per hour"),
                )
            },
            e @ (StoreError::ParentMissing
            | StoreError::NotAllowedHere(_)
            | StoreError::InvalidSyncToken
            | StoreError::Backend(_)) => Problem::internal(e.to_string()),
        }
    }
}

impl From<EngineError> for Problem {
    fn from(e: EngineError) -> Problem {
        match e {
            EngineError::Store(e) => e.into(),
            EngineError::Itip(e) => Problem::new(Kind::SchedulingRefused, e.to_string()),
            EngineError::OrganizerChange(d) | EngineError::AttendeeChange(d) => {
                Problem::new(Kind::SchedulingRefused, d)
            }
            EngineError::NotUniqueScheduling { detail, .. } => Problem::field("uid", detail),
            EngineError::TooManyAttendees { found, max } => Problem::field(
                "attendees",
                format!("{found} attendees; at most {max} per event"),
            ),
            EngineError::Field { field, detail } => Problem::field(field, detail),
            EngineError::InvalidObject(d) => Problem::new(Kind::Validation, d),
            EngineError::Internal(d) => Problem::internal(d),
        }
    }
}

/// What API handlers return.
pub type ApiResult<T> = std::result::Result<T, Problem>;
