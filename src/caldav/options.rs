//! OPTIONS: the DAV compliance classes and methods herald supports.

use super::{Resp, empty};
use hyper::StatusCode;
use hyper::header::{self, HeaderValue};

/// DAV compliance classes (RFC 4918 section 18, RFC 4791 section 5.1,
/// RFC 5689 section 3, RFC 6638 section 2). Class 2: write locks (`lock`).
pub const DAV: &str =
    "1, 2, 3, access-control, calendar-access, calendar-auto-schedule, extended-mkcol";

pub const ALLOW: &str = "OPTIONS, GET, HEAD, POST, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, MKCALENDAR, COPY, MOVE, REPORT, LOCK, UNLOCK";

pub fn options() -> Resp {
    let mut r = empty(StatusCode::OK);
    let h = r.headers_mut();
    h.insert("dav", HeaderValue::from_static(DAV));
    h.insert(header::ALLOW, HeaderValue::from_static(ALLOW));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    r
}
