//! CALDAV:free-busy-query (RFC 4791 section 7.10): a VFREEBUSY over the
//! calendar's objects in the range.

use super::{DavResult, calendar_target};
use crate::caldav::error::DavError;
use crate::caldav::{Ctx, Resp};
use crate::ical::{self, query::TimeRange};
use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper::header::{self, HeaderValue};

pub fn run(ctx: &Ctx<'_>, range: &TimeRange) -> DavResult<Resp> {
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
    let objects = store.resources(&user, &paths)?;
    let texts: Vec<String> = objects
        .iter()
        .map(|(_, _, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    let body = ical::free_busy(texts.iter().map(String::as_str), start, end);
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    Ok(r)
}
