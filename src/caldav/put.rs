//! PUT (RFC 4918 section 9.7, RFC 4791 section 5.3.2): in a calendar
//! collection the body must be a valid calendar object resource of a
//! supported component, within max-resource-size, with a UID unique in the
//! collection; elsewhere any content is stored as is.

use super::error::{DavError, DavResult, Precondition};
use super::path;
use super::xml::escape;
use super::{Ctx, Resp, empty};
use crate::ical;
use crate::store::{CalendarObjectMeta, PutRequest, ScheduleTag, StoreError, parent_path};
use hyper::StatusCode;
use hyper::header::{self, HeaderValue};

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
    let calendar = parent_node.as_ref().and_then(|n| n.calendar().cloned());
    let content_type = ctx
        .header("content-type")
        .unwrap_or("application/octet-stream")
        .to_string();
    let meta = match &calendar {
        None => None,
        Some(cal) => {
            let media = content_type.split(';').next().unwrap_or("").trim();
            if !media.eq_ignore_ascii_case("text/calendar") {
                return Err(DavError::precondition(
                    Precondition::SupportedCalendarData,
                    format!("a calendar accepts text/calendar, not {media}"),
                ));
            }
            let limit = ctx.app.config.limits.max_resource_bytes;
            if ctx.body.len() > limit {
                return Err(DavError::precondition(
                    Precondition::MaxResourceSize,
                    format!("the object exceeds {limit} bytes"),
                ));
            }
            let text = std::str::from_utf8(&ctx.body).map_err(|_| {
                DavError::precondition(Precondition::ValidCalendarData, "the body is not UTF-8")
            })?;
            let info = ical::parse_object(text)?;
            let kind = info.kind.as_str();
            if !cal.components.is_empty() && !cal.components.iter().any(|c| c == kind) {
                return Err(DavError::precondition(
                    Precondition::SupportedCalendarComponent,
                    format!("this calendar does not accept {kind}"),
                ));
            }
            Some(CalendarObjectMeta {
                uid: info.uid,
                component: kind.to_string(),
                index: info.index,
            })
        }
    };
    let used = store.usage(user)?;
    if used + ctx.body.len() as u64 > ctx.app.config.limits.quota_bytes {
        return Err(DavError::precondition(
            Precondition::QuotaNotExceeded,
            "quota exceeded",
        ));
    }
    let if_match = ctx.header("if-match").map(str::to_string);
    let if_none_match_any = ctx.header("if-none-match").is_some_and(|v| v.trim() == "*");
    let req = PutRequest {
        body: ctx.body.to_vec(),
        content_type: if meta.is_some() {
            "text/calendar; charset=utf-8".into()
        } else {
            content_type
        },
        if_match,
        if_none_match_any,
        if_schedule_tag: ctx.header("if-schedule-tag-match").map(str::to_string),
        calendar: meta,
        schedule_tag: ScheduleTag::None,
        outbox: Vec::new(),
    };
    let outcome = match store.put(user, path, req).await {
        Ok(o) => o,
        Err(StoreError::UidConflict(other)) => {
            let href = path::node_href(user, &other);
            return Err(DavError::Precondition {
                condition: Precondition::NoUidConflict,
                inner: Some(format!("<D:href>{}</D:href>", escape(&href))),
                detail: format!("UID already used by {href}"),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let mut resp = empty(if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    });
    if let Ok(v) = HeaderValue::from_str(&outcome.etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}
