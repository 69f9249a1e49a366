//! The XML layer of the CalDAV server: parses WebDAV/CalDAV request bodies
//! (PROPFIND, PROPPATCH, MKCALENDAR, extended MKCOL, REPORT) into typed
//! values and writes multistatus and DAV:error response bodies. It knows
//! nothing of storage or I/O; filters and calendar-data selections are built
//! as `crate::ical::query` values.
//!
//! Input is untrusted: DOCTYPEs are refused ([`XmlError::DtdRefused`]),
//! entity references other than the five predefined ones and character
//! references are refused, bodies must be UTF-8, and element nesting is
//! capped at [`MAX_DEPTH`]. Unknown elements are ignored (RFC 4918 17),
//! namespace prefixes are resolved, never compared.

mod lockinfo;
mod names;
mod reader;
mod report;
mod request;
mod valid_filter;
mod writer;

pub use lockinfo::{LockInfo, parse_lockinfo};
pub use names::{NS_APPLE, NS_CALDAV, NS_CALSERVER, NS_DAV, QName, XmlError};
pub use reader::MAX_DEPTH;
pub use report::{Report, ReportProps, parse_report};
pub use request::{
    PropFind, PropPatchOp, PropValue, parse_mkcol, parse_propertyupdate, parse_propfind,
};
pub use writer::{
    Multistatus, Prop, PropStat, error_body, escape, escaped_len, reason_phrase, status_line,
};
