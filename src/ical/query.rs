//! Query shapes shared by the XML layer (which builds them from request
//! bodies) and the iCalendar layer (which evaluates them): the CALDAV:filter
//! of a calendar-query (RFC 4791 section 9.7) and the CALDAV:calendar-data
//! selection (RFC 4791 section 9.6). Plain data, no behaviour.

use chrono::{DateTime, Utc};

/// CALDAV:time-range: either bound may be absent (RFC 4791 section 9.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// Collations of RFC 4790 that CalDAV servers must support (RFC 4791 section 7.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collation {
    /// `i;ascii-casemap`, the default.
    AsciiCasemap,
    /// `i;octet`.
    Octet,
    /// `i;unicode-casemap` (RFC 5051), accepted as a courtesy.
    UnicodeCasemap,
}

/// CALDAV:text-match: substring match under a collation, optionally negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    pub text: String,
    pub collation: Collation,
    pub negate: bool,
}

/// CALDAV:comp-filter. `name` is upper case (VCALENDAR, VEVENT, VALARM...).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub prop_filters: Vec<PropFilter>,
    pub comp_filters: Vec<CompFilter>,
}

/// CALDAV:prop-filter. `name` is upper case (SUMMARY, UID, ATTENDEE...).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PropFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub text_match: Option<TextMatch>,
    pub param_filters: Vec<ParamFilter>,
}

/// CALDAV:param-filter. `name` is upper case (PARTSTAT, TZID...).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParamFilter {
    pub name: String,
    pub is_not_defined: bool,
    pub text_match: Option<TextMatch>,
}

/// CALDAV:filter: exactly one comp-filter, normally named VCALENDAR.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    pub comp_filter: CompFilter,
}

/// CALDAV:comp inside CALDAV:calendar-data: which properties and
/// sub-components of a component to return.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompSelect {
    pub name: String,
    /// CALDAV:allprop (or no CALDAV:prop element at all).
    pub all_props: bool,
    /// Upper-case property names from CALDAV:prop elements.
    pub props: Vec<String>,
    /// CALDAV:allcomp (or no CALDAV:comp element at all).
    pub all_comps: bool,
    pub comps: Vec<CompSelect>,
}

/// CALDAV:calendar-data in a REPORT or PROPFIND request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CalendarDataSpec {
    /// None: return the whole object as stored.
    pub comp: Option<CompSelect>,
    /// CALDAV:expand: replace recurrence sets by their instances in the range.
    pub expand: Option<TimeRange>,
    /// CALDAV:limit-recurrence-set: keep the master and only the overrides in the range.
    pub limit_recurrence_set: Option<TimeRange>,
    /// CALDAV:limit-freebusy-set: keep only FREEBUSY periods in the range.
    pub limit_freebusy_set: Option<TimeRange>,
}
