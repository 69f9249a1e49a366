//! `DavError`, the one error type of the WebDAV/CalDAV layer, and the one
//! place where errors become HTTP responses. A precondition knows its XML
//! element and its status (RFC 4918 section 16, RFC 4791 section 1.3).

use super::xml::{self, QName, XmlError};
use crate::engine::EngineError;
use crate::ical::IcalError;
use crate::scheduling::ItipError;
use crate::store::StoreError;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode, header};

/// Preconditions and postconditions named in the RFCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    // RFC 4791 (CALDAV:)
    ValidCalendarData,
    ValidCalendarObjectResource,
    SupportedCalendarData,
    SupportedCalendarComponent,
    NoUidConflict,
    MaxResourceSize,
    MaxAttendeesPerInstance,
    CalendarCollectionLocationOk,
    ValidFilter,
    SupportedFilter,
    SupportedCollation,
    // RFC 6638 (CALDAV:)
    AllowedAttendeeChange,
    AllowedOrganizerChange,
    SameOrganizerInAllComponents,
    UniqueSchedulingObjectResource,
    ValidSchedulingMessage,
    ValidScheduleDefaultCalendarUrl,
    // RFC 4918 / 6578 / 3744 / 4331 (DAV:)
    ValidSyncToken,
    ResourceMustBeNull,
    PropfindFiniteDepth,
    CannotModifyProtectedProperty,
    NeedPrivileges,
    NumberOfMatchesWithinLimits,
    QuotaNotExceeded,
    ValidResourceType,
    SupportedReport,
    // RFC 4918 section 16 (locking)
    LockTokenSubmitted,
    NoConflictingLock,
    LockTokenMatchesRequestUri,
}

impl Precondition {
    pub fn element(self) -> QName {
        use Precondition::*;
        let (caldav, name) = match self {
            ValidCalendarData => (true, "valid-calendar-data"),
            ValidCalendarObjectResource => (true, "valid-calendar-object-resource"),
            SupportedCalendarData => (true, "supported-calendar-data"),
            SupportedCalendarComponent => (true, "supported-calendar-component"),
            NoUidConflict => (true, "no-uid-conflict"),
            MaxResourceSize => (true, "max-resource-size"),
            MaxAttendeesPerInstance => (true, "max-attendees-per-instance"),
            CalendarCollectionLocationOk => (true, "calendar-collection-location-ok"),
            ValidFilter => (true, "valid-filter"),
            SupportedFilter => (true, "supported-filter"),
            SupportedCollation => (true, "supported-collation"),
            AllowedAttendeeChange => (true, "allowed-attendee-scheduling-object-change"),
            AllowedOrganizerChange => (true, "allowed-organizer-scheduling-object-change"),
            SameOrganizerInAllComponents => (true, "same-organizer-in-all-components"),
            UniqueSchedulingObjectResource => (true, "unique-scheduling-object-resource"),
            ValidSchedulingMessage => (true, "valid-scheduling-message"),
            ValidScheduleDefaultCalendarUrl => (true, "valid-schedule-default-calendar-URL"),
            ValidSyncToken => (false, "valid-sync-token"),
            ResourceMustBeNull => (false, "resource-must-be-null"),
            PropfindFiniteDepth => (false, "propfind-finite-depth"),
            CannotModifyProtectedProperty => (false, "cannot-modify-protected-property"),
            NeedPrivileges => (false, "need-privileges"),
            NumberOfMatchesWithinLimits => (false, "number-of-matches-within-limits"),
            QuotaNotExceeded => (false, "quota-not-exceeded"),
            ValidResourceType => (false, "valid-resourcetype"),
            SupportedReport => (false, "supported-report"),
            LockTokenSubmitted => (false, "lock-token-submitted"),
            NoConflictingLock => (false, "no-conflicting-lock"),
            LockTokenMatchesRequestUri => (false, "lock-token-matches-request-uri"),
        };
        if caldav {
            QName::caldav(name)
        } else {
            QName::dav(name)
        }
    }

    pub fn status(self) -> StatusCode {
        use Precondition::*;
        match self {
            ResourceMustBeNull => StatusCode::METHOD_NOT_ALLOWED,
            NumberOfMatchesWithinLimits | QuotaNotExceeded => StatusCode::INSUFFICIENT_STORAGE,
            ValidResourceType => StatusCode::FORBIDDEN,
            LockTokenSubmitted | NoConflictingLock => StatusCode::LOCKED,
            LockTokenMatchesRequestUri => StatusCode::CONFLICT,
            _ => StatusCode::FORBIDDEN,
        }
    }
}

#[derive(Debug)]
pub enum DavError {
    /// A plain status with a short text explanation.
    Status(StatusCode, String),
    /// A failed precondition: status, DAV:error body with the element and
    /// optional inner XML (e.g. the conflicting href), and a log message.
    Precondition {
        condition: Precondition,
        inner: Option<String>,
        detail: String,
    },
    /// A server fault; logged in full, answered with a plain 500.
    Internal(String),
    /// A per-user rate limit (RFC 6585 429 Too Many Requests) with the
    /// seconds after which the request would fit (Retry-After).
    TooMany { retry_after: u64, msg: String },
}

pub type DavResult<T> = Result<T, DavError>;

impl DavError {
    pub fn status(code: StatusCode, msg: impl Into<String>) -> Self {
        DavError::Status(code, msg.into())
    }
    pub fn precondition(condition: Precondition, detail: impl Into<String>) -> Self {
        DavError::Precondition {
            condition,
            inner: None,
            detail: detail.into(),
        }
    }
    pub fn bad_request(msg: impl Into<String>) -> Self {
        DavError::Status(StatusCode::BAD_REQUEST, msg.into())
    }
    pub fn not_found() -> Self {
        DavError::Status(StatusCode::NOT_FOUND, "not found".into())
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        DavError::Status(StatusCode::FORBIDDEN, msg.into())
    }

    pub fn code(&self) -> StatusCode {
        match self {
            DavError::Status(c, _) => *c,
            DavError::Precondition { condition, .. } => condition.status(),
            DavError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            DavError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The response for this error (logged by the caller, once).
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let code = self.code();
        let retry_after = match &self {
            DavError::TooMany { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        let (body, ctype) = match self {
            DavError::Status(_, msg) | DavError::TooMany { msg, .. } => {
                (format!("{msg}\n"), "text/plain; charset=utf-8")
            }
            DavError::Precondition {
                condition, inner, ..
            } => (
                xml::error_body(&condition.element(), inner.as_deref()),
                "application/xml; charset=utf-8",
            ),
            DavError::Internal(_) => (
                "internal server error\n".to_string(),
                "text/plain; charset=utf-8",
            ),
        };
        let mut resp = Response::new(Full::new(Bytes::from(body)));
        *resp.status_mut() = code;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(ctype),
        );
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        if code == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"Herald\", charset=\"UTF-8\""),
            );
        }
        resp
    }

    /// What to log about this error.
    pub fn detail(&self) -> &str {
        match self {
            DavError::Status(_, m) | DavError::Internal(m) | DavError::TooMany { msg: m, .. } => m,
            DavError::Precondition { detail, .. } => detail,
        }
    }
}

impl From<XmlError> for DavError {
    fn from(e: XmlError) -> Self {
        match e {
            XmlError::UnsupportedCollation(c) => DavError::precondition(
                Precondition::SupportedCollation,
                format!("unsupported collation {c}"),
            ),
            XmlError::InvalidFilter(why) => {
                DavError::precondition(Precondition::ValidFilter, format!("invalid filter: {why}"))
            }
            XmlError::UnsupportedFilter(why) => DavError::precondition(
                Precondition::SupportedFilter,
                format!("unsupported filter: {why}"),
            ),
            XmlError::UnsupportedCalendarData(why) => DavError::precondition(
                Precondition::SupportedCalendarData,
                format!("unsupported calendar-data: {why}"),
            ),
            other => DavError::bad_request(format!("invalid XML body: {other}")),
        }
    }
}

impl From<StoreError> for DavError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => DavError::not_found(),
            StoreError::AlreadyExists => DavError::status(
                StatusCode::METHOD_NOT_ALLOWED,
                "a resource already exists at this URL",
            ),
            StoreError::ParentMissing => {
                DavError::status(StatusCode::CONFLICT, "the parent collection does not exist")
            }
            StoreError::NotAllowedHere(why) => DavError::forbidden(why),
            StoreError::PreconditionFailed => {
                DavError::status(StatusCode::PRECONDITION_FAILED, "precondition failed")
            }
            StoreError::UidConflict(href) => DavError::Precondition {
                condition: Precondition::NoUidConflict,
                inner: Some(format!("<D:href>{}</D:href>", xml::escape(&href))),
                detail: format!("UID already used by {href}"),
            },
            StoreError::InvalidSyncToken => {
                DavError::precondition(Precondition::ValidSyncToken, "invalid sync token")
            }
            StoreError::QuotaExceeded => {
                DavError::precondition(Precondition::QuotaNotExceeded, "quota exceeded")
            }
            StoreError::Rejected(why) => DavError::forbidden(why),
            e @ StoreError::CapacityExceeded { .. } => DavError::forbidden(e.to_string()),
            StoreError::Backend(e) => DavError::Internal(e),
            e @ StoreError::RateLimited { retry_after, .. } => DavError::TooMany {
                retry_after,
                msg: e.to_string(),
            },
        }
    }
}

/// The engine's refusals as CalDAV preconditions (RFC 6638 section 3.2.4).
impl From<EngineError> for DavError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Store(e) => e.into(),
            EngineError::Itip(ItipError::AttendeeChangeNotAllowed(what)) => DavError::precondition(
                Precondition::AllowedAttendeeChange,
                format!("an attendee may not change {what}"),
            ),
            // RFC 6638 section 3.2.4.2.
            EngineError::Itip(e @ ItipError::OrganizerChanged) => {
                DavError::precondition(Precondition::SameOrganizerInAllComponents, e.to_string())
            }
            EngineError::Itip(e) => {
                DavError::precondition(Precondition::ValidSchedulingMessage, e.to_string())
            }
            EngineError::OrganizerChange(detail) => {
                DavError::precondition(Precondition::AllowedOrganizerChange, detail)
            }
            EngineError::AttendeeChange(detail) => {
                DavError::precondition(Precondition::AllowedAttendeeChange, detail)
            }
            EngineError::NotUniqueScheduling { user, path, detail } => match path {
                Some(path) => {
                    let href = super::path::node_href(&user, &path);
                    DavError::Precondition {
                        condition: Precondition::UniqueSchedulingObjectResource,
                        inner: Some(format!("<D:href>{}</D:href>", xml::escape(&href))),
                        detail: format!("{detail}: {href}"),
                    }
                }
                None => {
                    DavError::precondition(Precondition::UniqueSchedulingObjectResource, detail)
                }
            },
            EngineError::TooManyAttendees { found, max } => DavError::precondition(
                Precondition::MaxAttendeesPerInstance,
                format!("{found} ATTENDEEs in one component; at most {max} are allowed"),
            ),
            EngineError::Field { field, detail } => {
                DavError::bad_request(format!("{field}: {detail}"))
            }
            EngineError::InvalidObject(why) => {
                DavError::precondition(Precondition::ValidCalendarData, why)
            }
            EngineError::Internal(why) => DavError::Internal(why),
        }
    }
}

impl From<IcalError> for DavError {
    fn from(e: IcalError) -> Self {
        let condition = if e.is_unsupported_component() {
            Precondition::SupportedCalendarComponent
        } else if e.is_method_present() || e.is_no_such_instance() {
            Precondition::ValidCalendarObjectResource
        } else {
            Precondition::ValidCalendarData
        };
        DavError::precondition(condition, e.to_string())
    }
}
