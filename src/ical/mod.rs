//! iCalendar (RFC 5545) support for the CalDAV server: the public API the
//! rest of Herald codes against (validation of stored objects, time-range
//! indexing, calendar-query filters, calendar-data rendering, free/busy,
//! import splitting and collection export) and its error type. The work is
//! done in the sub-modules; this file only declares the shared types.

mod bounds;
pub(crate) mod edit;
mod filter;
mod freebusy;
#[cfg(test)]
mod fuzz_tests;
mod instances;
mod merge;
pub(crate) mod model;
mod object;
pub mod query;
mod recurrence;
mod render;
mod rule_cost;
mod seats;
pub(crate) mod timezone;

use std::fmt;

pub use bounds::{Limits, OutputError};
pub use filter::matches;
pub use freebusy::{FreeBusy, free_busy};
pub use merge::{merge_calendars, split_by_uid};
pub use object::{parse_may_be_costly, parse_object};
pub use render::render;
pub use seats::seats_taken;

/// Why an iCalendar text was refused. `line` is 1-based (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IcalError {
    /// Malformed or semantically invalid data (RFC 4791 valid-calendar-data).
    Invalid { line: usize, message: String },
    /// A component type the server does not store (supported-calendar-component).
    UnsupportedComponent { line: usize, message: String },
    /// A METHOD property is present (RFC 4791 section 4.1).
    MethodPresent { line: usize },
    /// An override's RECURRENCE-ID names no instance of its master
    /// (valid-calendar-object-resource, see `instances`).
    NoSuchInstance { line: usize, message: String },
}

impl IcalError {
    /// True for objects holding no supported component (e.g. only VTIMEZONE).
    pub fn is_unsupported_component(&self) -> bool {
        matches!(self, IcalError::UnsupportedComponent { .. })
    }
    /// True when the object carries METHOD (a 403 precondition for PUT).
    pub fn is_method_present(&self) -> bool {
        matches!(self, IcalError::MethodPresent { .. })
    }
    /// True when an override names no instance of its master.
    pub fn is_no_such_instance(&self) -> bool {
        matches!(self, IcalError::NoSuchInstance { .. })
    }
    pub(crate) fn invalid(line: usize, message: impl Into<String>) -> Self {
        IcalError::Invalid {
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for IcalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (line, msg) = match self {
            IcalError::Invalid { line, message } => (*line, message.as_str()),
            IcalError::UnsupportedComponent { line, message }
            | IcalError::NoSuchInstance { line, message } => (*line, message.as_str()),
            IcalError::MethodPresent { line } => {
                (*line, "METHOD is not allowed in a calendar object resource")
            }
        };
        if line > 0 {
            write!(f, "line {line}: {msg}")
        } else {
            f.write_str(msg)
        }
    }
}

impl std::error::Error for IcalError {}

/// The component types a calendar object resource may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComponentKind {
    Event,
    Todo,
    Journal,
    FreeBusy,
}

impl ComponentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Event => "VEVENT",
            ComponentKind::Todo => "VTODO",
            ComponentKind::Journal => "VJOURNAL",
            ComponentKind::FreeBusy => "VFREEBUSY",
        }
    }

    /// Case-insensitive.
    pub fn from_name(s: &str) -> Option<Self> {
        [
            ComponentKind::Event,
            ComponentKind::Todo,
            ComponentKind::Journal,
            ComponentKind::FreeBusy,
        ]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

/// What the store keeps about a calendar object resource (RFC 4791 section 4.1).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub uid: String,
    pub kind: ComponentKind,
    pub index: TimeIndex,
}

/// Precomputed instance spans in UTC seconds, for time-range queries without reparsing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeIndex {
    /// Sorted (start, end) of every instance, UTC unix seconds, end exclusive
    /// (end == start for zero-duration instances). Capped (see `more_after`).
    pub spans: Vec<(i64, i64)>,
    /// Some(t) when expansion stopped at the cap (or the rule is infinite): instances
    /// may exist starting at or after t; queries reaching past t must evaluate precisely.
    pub more_after: Option<i64>,
    /// True when spans are exact (no floating times involved). Floating
    /// DATE-TIME or DATE values depend on the querying time zone (RFC 4791 section 9.9):
    /// then spans are computed as if UTC and exact = false; callers fall back to `matches`.
    pub exact: bool,
}

/// Widest UTC offset in use (UTC+14 / UTC-12), used to widen floating spans.
const FLOAT_SLACK: i64 = 14 * 3600;

impl TimeIndex {
    /// RFC 4791 section 9.9 overlap with [start, end); None bounds are open.
    /// Conservative when !exact (widened by 14 hours either side) and when the
    /// range reaches `more_after` (returns true).
    pub fn may_overlap(&self, start: Option<i64>, end: Option<i64>) -> bool {
        if let Some(m) = self.more_after
            && end.is_none_or(|e| e > m)
        {
            return true;
        }
        let slack = if self.exact { 0 } else { FLOAT_SLACK };
        let lo = start.map(|s| s.saturating_sub(slack));
        let hi = end.map(|e| e.saturating_add(slack));
        // Spans are sorted by start: only those starting before `hi` can match.
        let upto = match hi {
            Some(h) => self.spans.partition_point(|&(s, _)| s < h),
            None => self.spans.len(),
        };
        self.spans[..upto]
            .iter()
            .any(|&(s, e)| recurrence::overlaps(s, e, lo, hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_errors() {
        assert_eq!(ComponentKind::from_name("vtodo"), Some(ComponentKind::Todo));
        assert_eq!(ComponentKind::from_name("VALARM"), None);
        assert_eq!(ComponentKind::Journal.as_str(), "VJOURNAL");
        let e = IcalError::invalid(12, "DTSTART has an invalid date-time value");
        assert_eq!(
            e.to_string(),
            "line 12: DTSTART has an invalid date-time value"
        );
        assert!(IcalError::MethodPresent { line: 2 }.is_method_present());
        assert!(!e.is_unsupported_component());
    }

    #[test]
    fn index_overlap() {
        let idx = TimeIndex {
            spans: vec![(100, 200), (300, 300)],
            more_after: None,
            exact: true,
        };
        assert!(idx.may_overlap(Some(150), Some(160)));
        assert!(!idx.may_overlap(Some(200), Some(300)));
        assert!(idx.may_overlap(Some(300), Some(301)));
        assert!(idx.may_overlap(None, None));
        assert!(!idx.may_overlap(Some(400), None));
        let more = TimeIndex {
            more_after: Some(1000),
            ..idx.clone()
        };
        assert!(more.may_overlap(Some(5000), Some(6000)));
        let floating = TimeIndex {
            exact: false,
            ..idx
        };
        assert!(floating.may_overlap(Some(400), Some(500)));
    }
}
