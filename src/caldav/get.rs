//! GET and HEAD: a resource as stored; a calendar collection as one
//! text/calendar document (so a plain webcal subscription works); other
//! collections as a short plain-text listing.

use super::error::{DavError, DavResult, Precondition};
use super::path::Target;
use super::{Ctx, Resp, empty};
use crate::ical;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

fn response(body: Vec<u8>, content_type: &str, head: bool) -> Resp {
    let len = body.len();
    let mut r = Response::new(Full::new(if head {
        Bytes::new()
    } else {
        Bytes::from(body)
    }));
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}

fn too_large(max: usize, size: u64) -> DavError {
    DavError::precondition(
        Precondition::NumberOfMatchesWithinLimits,
        format!("the calendar is {size} bytes, more than limits.max_response_bytes ({max})"),
    )
}

pub async fn get(ctx: &Ctx<'_>, head: bool) -> DavResult<Resp> {
    let (user, path) = match &ctx.target {
        Target::Node { user, path } => (user.as_str(), path.as_str()),
        _ => {
            let text = b"Herald CalDAV server. Point your calendar client at this host.\n".to_vec();
            return Ok(response(text, "text/plain; charset=utf-8", head));
        }
    };
    let store = &ctx.app.store;
    let (path, node) = ctx.find_node(user, path)?.ok_or_else(DavError::not_found)?;
    if let Some(res) = node.resource() {
        if let Some(inm) = ctx.header("if-none-match")
            && (inm.trim() == "*" || inm.split(',').any(|t| t.trim() == node.etag))
        {
            let mut r = empty(StatusCode::NOT_MODIFIED);
            if let Ok(v) = HeaderValue::from_str(&node.etag) {
                r.headers_mut().insert(header::ETAG, v);
            }
            return Ok(r);
        }
        let body = store.body(user, &path)?.unwrap_or_default();
        let mut r = response(body, &res.content_type, head);
        let h = r.headers_mut();
        if let Some(tag) = &res.schedule_tag
            && let Ok(v) = HeaderValue::from_str(tag)
        {
            h.insert("schedule-tag", v);
        }
        if let Ok(v) = HeaderValue::from_str(&node.etag) {
            h.insert(header::ETAG, v);
        }
        let modified = DateTime::<Utc>::from_timestamp(node.modified, 0).unwrap_or_default();
        if let Ok(v) =
            HeaderValue::from_str(&modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        {
            h.insert(header::LAST_MODIFIED, v);
        }
        return Ok(r);
    }
    let children = store.children(user, &path)?;
    if node.calendar().is_some() {
        // The whole calendar as one document: refused before anything is
        // read when the objects alone exceed limits.max_response_bytes.
        let max = ctx.app.config.limits.max_response_bytes;
        let total: u64 = children
            .iter()
            .filter_map(|(_, n)| n.resource().map(|r| r.size))
            .sum();
        if total > max as u64 {
            return Err(too_large(max, total));
        }
        let paths: Vec<String> = children
            .into_iter()
            .filter(|(_, n)| !n.is_collection())
            .map(|(p, _)| p)
            .collect();
        // Merging every object is CPU work: on the work pool.
        let (app, user) = (ctx.app.clone(), user.to_string());
        let name = node.displayname.clone();
        return super::work::heavy(move |_| {
            let objects = app.store.resources(&user, &paths)?;
            let texts: Vec<String> = objects
                .into_iter()
                .map(|(_, _, b)| String::from_utf8_lossy(&b).into_owned())
                .collect();
            let merged = ical::merge_calendars(texts.iter().map(String::as_str), name.as_deref());
            if merged.len() > max {
                return Err(too_large(max, merged.len() as u64));
            }
            Ok(response(
                merged.into_bytes(),
                "text/calendar; charset=utf-8",
                head,
            ))
        })
        .await?;
    }
    let mut listing = String::new();
    for (p, n) in children {
        listing.push_str(crate::store::member_name(&p));
        if n.is_collection() {
            listing.push('/');
        }
        listing.push('\n');
    }
    Ok(response(
        listing.into_bytes(),
        "text/plain; charset=utf-8",
        head,
    ))
}
