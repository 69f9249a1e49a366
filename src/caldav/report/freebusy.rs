//! CALDAV:free-busy-query (RFC 4791 section 7.10): a VFREEBUSY over the
//! calendar's objects in the range.

use super::{DavResult, calendar_target, calendar_tz};
use crate::caldav::error::DavError;
use crate::caldav::work::{LOAD_CHUNK, output_error};
use crate::caldav::{Ctx, Resp};
use crate::ical::{self, query::TimeRange};
use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper::header::{self, HeaderValue};
use std::sync::atomic::AtomicBool;

pub fn run(ctx: &Ctx<'_>, range: &TimeRange, cancelled: &AtomicBool) -> DavResult<Resp> {
    let (Some(start), Some(end)) = (range.start, range.end) else {
        return Err(DavError::bad_request(
            "free-busy-query needs a time-range with start and end",
        ));
    };
    let (user, path, node) = calendar_target(ctx)?;
    if node.calendar().is_none() {
        return Err(DavError::forbidden(
            "free-busy-query applies to calendar collections",
        ));
    }
    let store = &ctx.app.store;
    let paths: Vec<String> = store
        .time_candidates(&user, &path, Some(start.timestamp()), Some(end.timestamp()))?
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let limits = ical::Limits {
        max_instances: ctx.app.config.limits.max_instances_per_object,
        max_bytes: ctx.app.config.limits.max_response_bytes,
        cancelled,
        // RFC 4791 section 7.10: floating times in the calendar's zone.
        timezone: calendar_tz(&node),
    };
    let mut fb = ical::FreeBusy::new(start, end);
    for chunk in paths.chunks(LOAD_CHUNK) {
        for (p, _, b) in store.resources(&user, chunk)? {
            fb.add(&String::from_utf8_lossy(&b), &limits)
                .map_err(|e| output_error(e, &p))?;
        }
    }
    let body = fb.finish(&limits).map_err(|e| output_error(e, &path))?;
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    Ok(r)
}
