//! The event resource of the REST API in the domain's terms (pure, no I/O):
//! `EventSpec`, what an application asks for, its validation into an
//! `Event` (every error names the JSON field, `attendees[2].email`), and
//! the iCalendar object it becomes, with herald's principal as ORGANIZER.
//! Reading a stored object back (`EventView`) is in `event_view`; changing
//! a stored object by a patch is in `event_patch`.
//!
//! Decisions:
//! - Times are local date-times (`2026-03-10T14:00:00`, seconds optional)
//!   in an IANA `time_zone`, written as DTSTART/DTEND with that TZID and a
//!   generated VTIMEZONE (`event_tz`); `UTC` is written in UTC form (`Z`).
//!   A local time that does not exist (a daylight-saving gap) is refused.
//! - All-day events take dates; `end` is exclusive as in iCalendar (a one-day
//!   event on the 10th ends on the 11th) and defaults to the next day. A
//!   `time_zone` given with them is validated and otherwise unused (dates float).
//! - `mode` and `counter_policy` are stored on the VEVENT as X-HERALD-MODE
//!   and X-HERALD-COUNTER-POLICY, so the object describes itself.
//! - Attendees are de-duplicated case-insensitively (the first one wins);
//!   NON-PARTICIPANT attendees get RSVP=FALSE, everyone else RSVP=TRUE.
//! - TEXT values are escaped by the iCalendar writer (newlines become `\n`);
//!   other control characters are refused, and so is any control
//!   character in a name (a parameter value cannot hold one).

use super::event_tz::vtimezone;
use crate::ical::edit;
use crate::ical::model::{Comp, Prop, escape};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::str::FromStr;

/// Longest `summary` and `location`, in characters.
pub const MAX_LINE_CHARS: usize = 1000;
/// Longest `description`, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 100_000;
/// Longest attendee `name`.
pub const MAX_NAME_CHARS: usize = 256;
/// Longest `uid`.
pub const MAX_UID_CHARS: usize = 255;
/// Longest `rrule`.
pub const MAX_RRULE_CHARS: usize = 1000;
/// Years an event may start or end in.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2199;

const PRODID: &str = "-//Herald//Herald API//EN";

/// A field of a request that has no acceptable value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The JSON path of the field (`start`, `attendees[2].email`).
    pub field: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

pub use crate::scheduling::Role;

/// How herald runs the meeting (issue 10, section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Standard,
    Relay,
    DelegateOrganizer,
}

impl Mode {
    pub fn as_ical(self) -> &'static str {
        match self {
            Mode::Standard => "STANDARD",
            Mode::Relay => "RELAY",
            Mode::DelegateOrganizer => "DELEGATE-ORGANIZER",
        }
    }
    /// The X-HERALD-MODE value; `Standard` when absent or unknown.
    pub fn from_ical(v: Option<&str>) -> Mode {
        match v.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
            Some("RELAY") => Mode::Relay,
            Some("DELEGATE-ORGANIZER") => Mode::DelegateOrganizer,
            _ => Mode::Standard,
        }
    }
}

/// What happens to a COUNTER (a new time proposed by an attendee).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CounterPolicy {
    #[default]
    Notify,
    Accept,
}

impl CounterPolicy {
    pub fn as_ical(self) -> &'static str {
        match self {
            CounterPolicy::Notify => "NOTIFY",
            CounterPolicy::Accept => "ACCEPT",
        }
    }
    /// The X-HERALD-COUNTER-POLICY value; `Notify` when absent or unknown.
    pub fn from_ical(v: Option<&str>) -> CounterPolicy {
        match v.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
            Some("ACCEPT") => CounterPolicy::Accept,
            _ => CounterPolicy::Notify,
        }
    }
}

/// An attendee as asked for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AttendeeSpec {
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
}

/// An event as an application asks for it (the JSON body, unvalidated).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventSpec {
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub start: String,
    pub end: Option<String>,
    pub time_zone: Option<String>,
    pub all_day: bool,
    pub rrule: Option<String>,
    pub attendees: Vec<AttendeeSpec>,
    pub mode: Mode,
    pub counter_policy: CounterPolicy,
    pub uid: Option<String>,
}

/// When an event happens, validated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum When {
    Timed {
        start: NaiveDateTime,
        end: NaiveDateTime,
        tz: Tz,
    },
    AllDay {
        start: NaiveDate,
        /// Exclusive.
        end: NaiveDate,
    },
}

/// A validated attendee.
#[derive(Debug, Clone, PartialEq)]
pub struct Attendee {
    /// As given (trimmed), without `mailto:`.
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
}

impl Attendee {
    /// The normalised calendar user address (`mailto:` + lower case).
    pub fn address(&self) -> String {
        crate::scheduling::normalize_address(&format!("mailto:{}", self.email))
    }
}

/// A validated event, ready to become an iCalendar object.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub uid: Option<String>,
    pub summary: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub when: When,
    pub rrule: Option<String>,
    pub attendees: Vec<Attendee>,
    pub mode: Mode,
    pub counter_policy: CounterPolicy,
}

/// The principal the object is organized by.
#[derive(Debug, Clone, PartialEq)]
pub struct Organizer {
    /// `mailto:` address.
    pub address: String,
    pub name: Option<String>,
}

/// A TEXT value: at most `max` characters, no control characters other
/// than newline and tab (CR LF and CR count as a newline).
pub fn text(field: &str, v: &str, max: usize) -> Result<String, FieldError> {
    let v = v.replace("\r\n", "\n").replace('\r', "\n");
    if v.chars().count() > max {
        return Err(FieldError::new(field, format!("at most {max} characters")));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(FieldError::new(
            field,
            "control characters other than newline and tab are not allowed",
        ));
    }
    Ok(v)
}

fn optional_text(field: &str, v: Option<&str>, max: usize) -> Result<Option<String>, FieldError> {
    v.map(|s| text(field, s, max)).transpose()
}

/// An email address as a calendar user address takes it: `local@domain`,
/// no spaces, quotes, brackets or separators, a domain with a dot (or
/// `localhost`), at most 254 characters. `mailto:` in front is accepted.
pub fn email(field: &str, v: &str) -> Result<String, FieldError> {
    let v = v.trim();
    let v = match v.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("mailto:") => &v[7..],
        _ => v,
    };
    let bad = |why: &str| Err(FieldError::new(field, format!("{v:?} {why}")));
    if v.is_empty() {
        return Err(FieldError::new(field, "an email address is required"));
    }
    if v.len() > 254 {
        return bad("is longer than 254 characters");
    }
    if v.chars()
        .any(|c| c.is_control() || c.is_whitespace() || "\"'<>()[]\\,;:".contains(c))
    {
        return bad("is not an email address (it holds a space or a reserved character)");
    }
    let Some((local, domain)) = v.rsplit_once('@') else {
        return bad("is not an email address (no @)");
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if local.is_empty() || local.len() > 64 || local.contains('@') {
        return bad("is not an email address (the part before @)");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return bad("is not an email address (dots in the part before @)");
    }
    let domain_ok = domain.eq_ignore_ascii_case("localhost")
        || (domain.contains('.') && domain.split('.').all(label_ok));
    if !domain_ok {
        return bad("is not an email address (the domain)");
    }
    Ok(v.to_string())
}

/// An IANA time zone name.
pub fn time_zone(field: &str, v: &str) -> Result<Tz, FieldError> {
    Tz::from_str(v.trim()).map_err(|_| {
        FieldError::new(
            field,
            format!("{v:?} is not an IANA time zone name (like Europe/Berlin)"),
        )
    })
}

fn digits_at(s: &[u8], at: &[usize]) -> bool {
    at.iter()
        .all(|&i| s.get(i).is_some_and(|b| b.is_ascii_digit()))
}

fn in_years(field: &str, year: i32) -> Result<(), FieldError> {
    if YEARS.contains(&year) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!(
                "the year must be between {} and {}",
                YEARS.start(),
                YEARS.end()
            ),
        ))
    }
}

/// A date `YYYY-MM-DD` that exists.
pub fn date(field: &str, v: &str) -> Result<NaiveDate, FieldError> {
    let b = v.as_bytes();
    if v.contains('T') {
        return Err(FieldError::new(
            field,
            format!("{v:?}: an all-day event takes a date like 2026-03-10, not a date-time"),
        ));
    }
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits_at(b, &[0, 1, 2, 3, 5, 6, 8, 9]) {
        return Err(FieldError::new(
            field,
            format!("{v:?} is not a date like 2026-03-10"),
        ));
    }
    let d = NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map_err(|_| FieldError::new(field, format!("{v:?} is not a date that exists")))?;
    in_years(field, d.year())?;
    Ok(d)
}

/// A local date-time `YYYY-MM-DDTHH:MM[:SS]` that exists (as a calendar
/// date and time; whether it exists in a zone is checked by `zoned`).
pub fn local_date_time(field: &str, v: &str) -> Result<NaiveDateTime, FieldError> {
    let b = v.as_bytes();
    let shape = |n: usize| {
        b.len() == n
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && (n == 16 || b[16] == b':')
            && digits_at(b, &[0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15])
            && (n == 16 || digits_at(b, &[17, 18]))
    };
    if !(shape(16) || shape(19)) {
        let hint = if v.len() == 10 {
            " (or set all_day for a date)"
        } else if v.ends_with('Z') || v.get(19..).is_some_and(|r| r.starts_with(['+', '-'])) {
            " without an offset: the zone is time_zone"
        } else {
            ""
        };
        return Err(FieldError::new(
            field,
            format!("{v:?} is not a local date-time like 2026-03-10T14:00:00{hint}"),
        ));
    }
    let fmt = if b.len() == 16 {
        "%Y-%m-%dT%H:%M"
    } else {
        "%Y-%m-%dT%H:%M:%S"
    };
    let t = NaiveDateTime::parse_from_str(v, fmt)
        .map_err(|_| FieldError::new(field, format!("{v:?} is not a date and time that exist")))?;
    in_years(field, t.year())?;
    Ok(t)
}

/// The UTC instant of local time `t` in `tz`; refused when the time does
/// not exist there (skipped by a daylight-saving change). An ambiguous
/// time (repeated) is the earlier one.
fn zoned(field: &str, t: NaiveDateTime, tz: Tz) -> Result<i64, FieldError> {
    tz.from_local_datetime(&t)
        .earliest()
        .map(|d| d.timestamp())
        .ok_or_else(|| {
            FieldError::new(
                field,
                format!(
                    "{} does not exist in {} (a daylight-saving change skips it)",
                    t.format("%Y-%m-%dT%H:%M:%S"),
                    tz.name()
                ),
            )
        })
}

/// The timing fields together: `start`, `end`, `time_zone`, `all_day`.
pub fn when(
    start: &str,
    end: Option<&str>,
    tz: Option<&str>,
    all_day: bool,
) -> Result<When, FieldError> {
    let zone = tz.map(|z| time_zone("time_zone", z)).transpose()?;
    if all_day {
        let s = date("start", start)?;
        let e = match end {
            Some(e) => date("end", e)?,
            None => s
                .succ_opt()
                .ok_or_else(|| FieldError::new("start", "no day follows this date"))?,
        };
        if e <= s {
            return Err(FieldError::new(
                "end",
                "end must be after start (the end date of an all-day event is exclusive)",
            ));
        }
        return Ok(When::AllDay { start: s, end: e });
    }
    let s = local_date_time("start", start)?;
    let Some(tz) = zone else {
        return Err(FieldError::new(
            "time_zone",
            "an IANA time zone is required for an event with times (or set all_day)",
        ));
    };
    let Some(end) = end else {
        return Err(FieldError::new(
            "end",
            "end is required for an event with times",
        ));
    };
    let e = local_date_time("end", end)?;
    let (su, eu) = (zoned("start", s, tz)?, zoned("end", e, tz)?);
    if eu <= su {
        return Err(FieldError::new("end", "end must be after start"));
    }
    Ok(When::Timed {
        start: s,
        end: e,
        tz,
    })
}

/// The RRULE value (without `RRULE:`), checked for characters here and
/// for meaning by the iCalendar parser once the object is built.
pub fn rrule(v: &str) -> Result<String, FieldError> {
    let v = v.trim();
    let v = match v.get(..6) {
        Some(p) if p.eq_ignore_ascii_case("RRULE:") => &v[6..],
        _ => v,
    };
    if v.is_empty() || v.len() > MAX_RRULE_CHARS {
        return Err(FieldError::new(
            "rrule",
            format!(
                "a recurrence rule like FREQ=WEEKLY;COUNT=4, at most {MAX_RRULE_CHARS} characters"
            ),
        ));
    }
    if !v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"=;,-+:".contains(&b))
    {
        return Err(FieldError::new(
            "rrule",
            "a recurrence rule holds letters, digits and = ; , - + : only",
        ));
    }
    Ok(v.to_ascii_uppercase())
}

/// A UID: 1 to 255 characters, no control characters.
pub fn uid(v: &str) -> Result<String, FieldError> {
    let n = v.chars().count();
    if n == 0 || n > MAX_UID_CHARS || v.chars().any(char::is_control) || v.trim() != v {
        return Err(FieldError::new(
            "uid",
            format!("1 to {MAX_UID_CHARS} characters, no control characters or surrounding spaces"),
        ));
    }
    Ok(v.to_string())
}

/// The attendee list: each validated, de-duplicated case-insensitively
/// (first wins), at most `max` of them. `base` is the field name of the
/// list (`attendees`).
pub fn attendees(
    base: &str,
    list: &[AttendeeSpec],
    max: usize,
) -> Result<Vec<Attendee>, FieldError> {
    let mut out: Vec<Attendee> = Vec::with_capacity(list.len().min(max));
    let mut seen = std::collections::HashSet::with_capacity(list.len().min(max));
    for (i, a) in list.iter().enumerate() {
        let e = email(&format!("{base}[{i}].email"), &a.email)?;
        let name = match &a.name {
            Some(n) => {
                let f = format!("{base}[{i}].name");
                if n.chars().any(char::is_control) {
                    return Err(FieldError::new(f, "a name cannot hold control characters"));
                }
                if n.chars().count() > MAX_NAME_CHARS {
                    return Err(FieldError::new(
                        f,
                        format!("at most {MAX_NAME_CHARS} characters"),
                    ));
                }
                Some(n.trim().to_string()).filter(|n| !n.is_empty())
            }
            None => None,
        };
        if seen.insert(e.to_lowercase()) {
            out.push(Attendee {
                email: e,
                name,
                role: a.role,
            });
        }
    }
    if out.len() > max {
        return Err(FieldError::new(
            base,
            format!("{} attendees; at most {max} per event", out.len()),
        ));
    }
    Ok(out)
}

/// Validate a whole spec; `max_attendees` is `limits.max_attendees_per_instance`.
pub fn validate(spec: &EventSpec, max_attendees: usize) -> Result<Event, FieldError> {
    let ev = Event {
        uid: spec.uid.as_deref().map(uid).transpose()?,
        summary: text(
            "summary",
            spec.summary.as_deref().unwrap_or(""),
            MAX_LINE_CHARS,
        )?,
        description: optional_text(
            "description",
            spec.description.as_deref(),
            MAX_DESCRIPTION_CHARS,
        )?,
        location: optional_text("location", spec.location.as_deref(), MAX_LINE_CHARS)?,
        when: when(
            &spec.start,
            spec.end.as_deref(),
            spec.time_zone.as_deref(),
            spec.all_day,
        )?,
        rrule: spec.rrule.as_deref().map(rrule).transpose()?,
        attendees: attendees("attendees", &spec.attendees, max_attendees)?,
        mode: spec.mode,
        counter_policy: spec.counter_policy,
    };
    Ok(ev)
}

/// A UTC DATE-TIME value.
pub fn stamp(now: DateTime<Utc>) -> String {
    now.format("%Y%m%dT%H%M%SZ").to_string()
}

/// DTSTART and DTEND properties of `when`.
pub(crate) fn time_props(when: &When) -> (Prop<'static>, Prop<'static>) {
    match *when {
        When::AllDay { start, end } => {
            let p = |name: &str, d: NaiveDate| {
                let mut p = Prop::new(name, &d.format("%Y%m%d").to_string());
                p.set_param("VALUE", "DATE");
                p
            };
            (p("DTSTART", start), p("DTEND", end))
        }
        When::Timed { start, end, tz } => {
            let p = |name: &str, t: NaiveDateTime| {
                if is_utc(tz) {
                    let utc = tz.from_local_datetime(&t).earliest().map(|d| d.naive_utc());
                    Prop::new(
                        name,
                        &format!("{}Z", utc.unwrap_or(t).format("%Y%m%dT%H%M%S")),
                    )
                } else {
                    let mut p = Prop::new(name, &t.format("%Y%m%dT%H%M%S").to_string());
                    p.set_param("TZID", tz.name());
                    p
                }
            };
            (p("DTSTART", start), p("DTEND", end))
        }
    }
}

/// Zones written in UTC form rather than with a TZID.
pub fn is_utc(tz: Tz) -> bool {
    matches!(
        tz,
        Tz::UTC | Tz::Etc__UTC | Tz::Etc__UCT | Tz::UCT | Tz::Etc__Zulu | Tz::Zulu
    )
}

/// The VTIMEZONE `when` needs, if any.
pub(crate) fn timezone_comp(when: &When) -> Option<Comp<'static>> {
    match *when {
        When::Timed { start, tz, .. } if !is_utc(tz) => Some(vtimezone(tz, start.year())),
        _ => None,
    }
}

/// An ORGANIZER property.
pub(crate) fn organizer_prop(o: &Organizer) -> Prop<'static> {
    let mut p = Prop::new("ORGANIZER", &o.address);
    if let Some(n) = o.name.as_deref().filter(|n| !n.is_empty()) {
        p.set_param("CN", n);
    }
    p
}

/// A new ATTENDEE property: NEEDS-ACTION, RSVP (FALSE for NON-PARTICIPANT).
pub(crate) fn attendee_prop(a: &Attendee) -> Prop<'static> {
    let mut p = Prop::new("ATTENDEE", &format!("mailto:{}", a.email));
    if let Some(n) = &a.name {
        p.set_param("CN", n);
    }
    p.set_param("ROLE", a.role.as_param());
    p.set_param("PARTSTAT", "NEEDS-ACTION");
    let rsvp = if a.role == Role::NonParticipant {
        "FALSE"
    } else {
        "TRUE"
    };
    p.set_param("RSVP", rsvp);
    p
}

/// The iCalendar object (VCALENDAR text) of a new event with UID `uid`,
/// organized by `org`, made at `now`.
pub fn to_ical(ev: &Event, uid: &str, org: &Organizer, now: DateTime<Utc>) -> String {
    let mut cal = Comp::new("VCALENDAR");
    cal.props.push(Prop::new("VERSION", "2.0"));
    cal.props.push(Prop::new("PRODID", PRODID));
    cal.comps.extend(timezone_comp(&ev.when));
    let mut e = Comp::new("VEVENT");
    let now = stamp(now);
    e.props.push(Prop::new("UID", &escape(uid)));
    e.props.push(Prop::new("DTSTAMP", &now));
    e.props.push(Prop::new("CREATED", &now));
    e.props.push(Prop::new("LAST-MODIFIED", &now));
    e.props.push(Prop::new("SEQUENCE", "0"));
    e.props.push(Prop::new("STATUS", "CONFIRMED"));
    let (ds, de) = time_props(&ev.when);
    e.props.push(ds);
    e.props.push(de);
    if let Some(r) = &ev.rrule {
        e.props.push(Prop::new("RRULE", r));
    }
    e.props.push(Prop::new("SUMMARY", &escape(&ev.summary)));
    if let Some(d) = &ev.description {
        e.props.push(Prop::new("DESCRIPTION", &escape(d)));
    }
    if let Some(l) = &ev.location {
        e.props.push(Prop::new("LOCATION", &escape(l)));
    }
    e.props.push(organizer_prop(org));
    e.props.extend(ev.attendees.iter().map(attendee_prop));
    e.props
        .push(Prop::new(super::modes::MODE_PROP, ev.mode.as_ical()));
    e.props.push(Prop::new(
        super::modes::COUNTER_POLICY_PROP,
        ev.counter_policy.as_ical(),
    ));
    cal.comps.push(e);
    edit::to_string(&cal)
}

/// The stored object `text` with its master VEVENT's time, rule and texts
/// set from `ev` (attendees, PARTSTATs, overrides and everything else kept;
/// SEQUENCE is left to the scheduling rules). None when it has no VEVENT.
pub fn rewrite_master(text: &str, ev: &Event, now: DateTime<Utc>) -> Option<String> {
    let mut top = edit::parse_owned(text).ok()?;
    let cal = top.iter_mut().find(|c| c.name == "VCALENDAR")?;
    let i = cal
        .comps
        .iter()
        .position(|c| c.name == "VEVENT" && c.prop("RECURRENCE-ID").is_none())?;
    let m = &mut cal.comps[i];
    let now = stamp(now);
    for name in [
        "DTSTART",
        "DTEND",
        "DURATION",
        "RRULE",
        "SUMMARY",
        "DESCRIPTION",
        "LOCATION",
    ] {
        m.remove(name);
    }
    let (ds, de) = time_props(&ev.when);
    m.props.push(ds);
    m.props.push(de);
    if let Some(r) = &ev.rrule {
        m.props.push(Prop::new("RRULE", r));
    }
    m.props.push(Prop::new("SUMMARY", &escape(&ev.summary)));
    if let Some(d) = &ev.description {
        m.props.push(Prop::new("DESCRIPTION", &escape(d)));
    }
    if let Some(l) = &ev.location {
        m.props.push(Prop::new("LOCATION", &escape(l)));
    }
    m.set("DTSTAMP", &now);
    m.set("LAST-MODIFIED", &now);
    if let Some(z) = timezone_comp(&ev.when) {
        let tzid = z.value("TZID").map(str::to_string);
        let have = cal
            .comps
            .iter()
            .any(|c| c.name == "VTIMEZONE" && c.value("TZID").map(str::to_string) == tzid);
        if !have {
            cal.comps.insert(0, z);
        }
    }
    Some(edit::to_string(cal))
}

/// Check a built object with the iCalendar parser; a refusal is blamed
/// on `rrule` when there is one (everything else was validated before).
pub fn check_object(text: &str, has_rrule: bool) -> Result<crate::ical::ObjectInfo, FieldError> {
    crate::ical::parse_object(text).map_err(|e| {
        let field = if has_rrule { "rrule" } else { "start" };
        FieldError::new(field, format!("the event is not valid iCalendar: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> EventSpec {
        EventSpec {
            summary: Some("Viewing".into()),
            start: "2026-03-10T14:00:00".into(),
            end: Some("2026-03-10T15:00".into()),
            time_zone: Some("Europe/Berlin".into()),
            attendees: vec![
                AttendeeSpec {
                    email: "A@Example.org".into(),
                    name: Some("Ann".into()),
                    role: Role::Chair,
                },
                AttendeeSpec {
                    email: "a@example.org".into(),
                    name: None,
                    role: Role::Required,
                },
                AttendeeSpec {
                    email: "bob@example.net".into(),
                    name: None,
                    role: Role::Optional,
                },
            ],
            ..EventSpec::default()
        }
    }

    #[test]
    fn a_valid_spec_becomes_an_object_with_its_zone() {
        let ev = validate(&spec(), 100).unwrap();
        assert_eq!(ev.attendees.len(), 2, "de-duplicated case-insensitively");
        let org = Organizer {
            address: "mailto:shop@example.com".into(),
            name: Some("Shop".into()),
        };
        let text = to_ical(&ev, "u1", &org, Utc::now());
        assert!(
            text.contains("DTSTART;TZID=Europe/Berlin:20260310T140000"),
            "{text}"
        );
        assert!(text.contains("BEGIN:VTIMEZONE"));
        assert!(text.contains("ROLE=CHAIR"));
        assert!(check_object(&text, false).is_ok());
        let view = super::super::event_view::read(&text).unwrap();
        assert_eq!(view.start.as_deref(), Some("2026-03-10T14:00:00"));
        assert_eq!(view.time_zone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(view.attendees.len(), 2);
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |f: fn(&mut EventSpec)| {
            let mut s = spec();
            f(&mut s);
            validate(&s, 100).unwrap_err().field
        };
        assert_eq!(
            field(|s| s.attendees[2].email = "bob".into()),
            "attendees[2].email"
        );
        assert_eq!(
            field(|s| s.time_zone = Some("Mars/Olympus".into())),
            "time_zone"
        );
        assert_eq!(field(|s| s.end = Some("2026-03-10T13:00:00".into())), "end");
        assert_eq!(field(|s| s.start = "2026-02-30T10:00:00".into()), "start");
        assert_eq!(field(|s| s.start = "2026-03-29T02:30:00".into()), "start");
        assert_eq!(field(|s| s.summary = Some("a\u{7}b".into())), "summary");
        assert_eq!(field(|s| s.all_day = true), "start");
        assert_eq!(validate(&spec(), 1).unwrap_err().field, "attendees");
    }
}
