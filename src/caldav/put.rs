//! PUT (RFC 4918 section 9.7, RFC 4791 section 5.3.2, RFC 6638 section 3):
//! in a calendar collection the body must be a valid calendar object
//! resource of a supported component, within max-resource-size, with a UID
//! unique in the collection; a scheduling object resource is passed through
//! the iTIP rules and its messages are queued with the write. Elsewhere any
//! content is stored as is.

use super::error::{DavError, DavResult, Precondition};
use super::path;
use super::xml::escape;
use super::{Ctx, Resp, empty};
use crate::engine::{self, EngineError};
use crate::ical;
use crate::store::{CalendarProps, PutOutcome, PutRequest, ScheduleTag, StoreError, parent_path};
use hyper::StatusCode;
use hyper::header::{self, HeaderValue};

/// Check a body against the calendar's rules; returns the text and what
/// the store keeps about it.
async fn validate<'b>(
    ctx: &Ctx<'_>,
    cal: &CalendarProps,
    content_type: &str,
    body: &'b [u8],
) -> DavResult<(&'b str, ical::ObjectInfo)> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("text/calendar") {
        return Err(DavError::precondition(
            Precondition::SupportedCalendarData,
            format!("a calendar accepts text/calendar, not {media}"),
        ));
    }
    let limit = ctx.app.config.limits.max_resource_bytes;
    if body.len() > limit {
        return Err(DavError::precondition(
            Precondition::MaxResourceSize,
            format!("the object exceeds {limit} bytes"),
        ));
    }
    let text = std::str::from_utf8(body).map_err(|_| {
        DavError::precondition(Precondition::ValidCalendarData, "the body is not UTF-8")
    })?;
    engine::check_attendee_count(text, ctx.app.config.limits.max_attendees_per_instance)?;
    // Parsing a large body or expanding a rule for the index is CPU work:
    // off the async workers, on a blocking thread. A small object without
    // a rule is parsed here (a thread hand-off would cost more).
    let info = if ical::parse_may_be_costly(text) {
        let owned = ctx.body.clone();
        super::work::blocking(move |_| {
            std::str::from_utf8(&owned)
                .map_err(|_| ical::IcalError::invalid(0, "the body is not UTF-8"))
                .and_then(ical::parse_object)
        })
        .await??
    } else {
        ical::parse_object(text)?
    };
    let kind = info.kind.as_str();
    if !cal.components.is_empty() && !cal.components.iter().any(|c| c == kind) {
        return Err(DavError::precondition(
            Precondition::SupportedCalendarComponent,
            format!("this calendar does not accept {kind}"),
        ));
    }
    Ok((text, info))
}

/// CALDAV:no-uid-conflict for a PUT or MOVE that would change the UID of
/// the calendar object at `path` (its own href is the one "already making
/// use of" the UID slot).
pub fn uid_changed(user: &str, path: &str) -> DavError {
    let href = path::node_href(user, path);
    DavError::Precondition {
        condition: Precondition::NoUidConflict,
        inner: Some(format!("<D:href>{}</D:href>", escape(&href))),
        detail: format!("{href} holds another UID; a UID cannot change"),
    }
}

/// CALDAV:no-uid-conflict: another object of the calendar, at `other`, has the UID.
fn uid_conflict(user: &str, other: &str) -> DavError {
    let href = path::node_href(user, other);
    DavError::Precondition {
        condition: Precondition::NoUidConflict,
        inner: Some(format!("<D:href>{}</D:href>", escape(&href))),
        detail: format!("UID already used by {href}"),
    }
}

pub async fn put(ctx: &Ctx<'_>) -> DavResult<Resp> {
    let (user, path) = ctx.node_target()?;
    if path.is_empty() || path.ends_with('/') {
        return Err(DavError::status(
            StatusCode::METHOD_NOT_ALLOWED,
            "PUT on a collection is not allowed",
        ));
    }
    let store = &ctx.app.store;
    let parent = parent_path(path).unwrap_or("");
    let parent_node = store.node(user, parent)?;
    if parent_node
        .as_ref()
        .and_then(|n| n.collection())
        .is_some_and(|c| c.schedule.is_some())
    {
        return Err(DavError::forbidden(
            "the schedule inbox and outbox are written by the server only",
        ));
    }
    let calendar = parent_node.as_ref().and_then(|n| n.calendar().cloned());
    let content_type = media_type(ctx.header("content-type"))?;
    let text = match &calendar {
        Some(cal) => Some(validate(ctx, cal, &content_type, &ctx.body).await?),
        None => None,
    };
    // The quota is enforced by the store, in the write's transaction.
    let cond = engine::Conditions {
        if_match: ctx.header("if-match").map(str::to_string),
        if_none_match_any: ctx.header("if-none-match").is_some_and(|v| v.trim() == "*"),
        if_schedule_tag: ctx.header("if-schedule-tag-match").map(str::to_string),
        policy: None,
    };
    let outcome = match text {
        Some((text, info)) => {
            match engine::save_parsed(&ctx.actor(), user, path, text, info, cond).await {
                Ok(saved) => PutOutcome {
                    created: saved.created,
                    etag: saved.etag,
                    schedule_tag: saved.schedule_tag,
                },
                Err(EngineError::Store(StoreError::UidConflict(other))) => {
                    return Err(if other == path {
                        uid_changed(user, path)
                    } else {
                        uid_conflict(user, &other)
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        None => {
            let req = PutRequest {
                body: ctx.body.to_vec(),
                content_type,
                if_match: cond.if_match,
                if_none_match_any: cond.if_none_match_any,
                if_schedule_tag: cond.if_schedule_tag,
                calendar: None,
                schedule_tag: ScheduleTag::None,
                outbox: Vec::new(),
                seats_wanted: 0,
                policy: None,
            };
            store.put(user, path, req).await?
        }
    };
    let mut resp = empty(if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    });
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&outcome.etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(tag) = &outcome.schedule_tag
        && let Ok(v) = HeaderValue::from_str(tag)
    {
        h.insert("schedule-tag", v);
    }
    Ok(resp)
}

/// Longest Content-Type stored with a resource (returned by GET and as
/// DAV:getcontenttype).
const MAX_CONTENT_TYPE: usize = 255;

/// The Content-Type a PUT stores: the header as sent when it is a media
/// type (RFC 9110 section 8.3: `type/subtype` and parameters) of at most
/// [`MAX_CONTENT_TYPE`] bytes, `application/octet-stream` when absent.
fn media_type(header: Option<&str>) -> DavResult<String> {
    let Some(v) = header.map(str::trim) else {
        return Ok("application/octet-stream".into());
    };
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let essence = v.split(';').next().unwrap_or("").trim();
    let valid = v.len() <= MAX_CONTENT_TYPE
        && v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
        && essence
            .split_once('/')
            .is_some_and(|(t, s)| token(t) && token(s));
    if !valid {
        return Err(DavError::bad_request(format!(
            "Content-Type must be a media type (type/subtype) of at most {MAX_CONTENT_TYPE} bytes"
        )));
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::media_type;

    #[test]
    fn media_types() {
        assert_eq!(media_type(None).unwrap(), "application/octet-stream");
        assert_eq!(media_type(Some("text/plain")).unwrap(), "text/plain");
        assert_eq!(
            media_type(Some(" text/plain; charset=utf-8 ")).unwrap(),
            "text/plain; charset=utf-8"
        );
        for bad in ["", "text", "text/", "/plain", "te xt/plain", "a/b\u{7f}"] {
            assert!(media_type(Some(bad)).is_err(), "{bad:?}");
        }
        assert!(media_type(Some(&format!("text/{}", "x".repeat(300)))).is_err());
    }
}
