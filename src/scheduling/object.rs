//! Reading scheduling objects: validation of a VCALENDAR as one scheduling
//! object (one UID, VEVENT/VTODO components, at most one master), instance
//! keys (RECURRENCE-ID), attendees and their SCHEDULE-AGENT, SEQUENCE,
//! comparison signatures (significant / rescheduling / Schedule-Tag), and
//! deriving an override component from the master.

use super::{Comp, Prop};
use super::{ItipError, normalize_address};
use crate::ical::edit;
use chrono::{NaiveDate, NaiveDateTime};

/// Components that carry scheduling (RFC 6638 covers VEVENT and VTODO).
pub(super) fn is_sched(c: &Comp) -> bool {
    c.name == "VEVENT" || c.name == "VTODO"
}

pub(super) fn sched_comps(cal: &Comp) -> impl Iterator<Item = &Comp> {
    cal.comps.iter().filter(|c| is_sched(c))
}

/// Parse and check one scheduling object; returns its VCALENDAR.
pub(super) fn parse_cal(text: &str) -> Result<Comp, ItipError> {
    let mut top = edit::parse_owned(text).map_err(|e| ItipError::InvalidObject(e.to_string()))?;
    if top.len() != 1 || top[0].name != "VCALENDAR" {
        return Err(ItipError::InvalidObject(
            "expected exactly one VCALENDAR".into(),
        ));
    }
    let cal = top.remove(0);
    let mut uid: Option<&str> = None;
    let mut keys: Vec<Option<String>> = Vec::new();
    for c in sched_comps(&cal) {
        let u = c.value("UID").filter(|u| !u.is_empty());
        let u = u.ok_or_else(|| ItipError::InvalidObject(format!("{} without UID", c.name)))?;
        if uid.is_some_and(|x| x != u) {
            return Err(ItipError::InvalidObject(
                "components with different UIDs".into(),
            ));
        }
        uid = Some(u);
        let k = key(c);
        if keys.contains(&k) {
            return Err(ItipError::InvalidObject(match k {
                Some(k) => format!("two components with RECURRENCE-ID {k}"),
                None => "two components without RECURRENCE-ID".into(),
            }));
        }
        keys.push(k);
    }
    if uid.is_none() {
        return Err(ItipError::InvalidObject("no VEVENT or VTODO".into()));
    }
    let orgs: Vec<String> = sched_comps(&cal)
        .filter_map(|c| c.prop("ORGANIZER"))
        .map(|p| normalize_address(&p.value))
        .collect();
    if orgs.windows(2).any(|w| w[0] != w[1]) {
        return Err(ItipError::OrganizerChanged);
    }
    Ok(cal)
}

pub(super) fn uid(cal: &Comp) -> String {
    sched_comps(cal)
        .find_map(|c| c.value("UID"))
        .unwrap_or_default()
        .to_string()
}

pub(super) fn organizer(cal: &Comp) -> Option<String> {
    sched_comps(cal)
        .find_map(|c| c.prop("ORGANIZER"))
        .map(|p| normalize_address(&p.value))
}

/// Instance key of a date or date-time value.
pub(super) fn rkey(v: &str) -> String {
    v.trim().to_ascii_uppercase()
}

/// None for a master, the RECURRENCE-ID key for an override.
pub(super) fn key(c: &Comp) -> Option<String> {
    c.prop("RECURRENCE-ID").map(instance_key)
}

/// The key of an instance named by a RECURRENCE-ID: its UTC instant when the
/// value is a date-time in a known zone, so that the same instance written
/// in UTC (Google) or in a local zone (Outlook) matches; otherwise the value.
pub(super) fn instance_key(p: &Prop) -> String {
    use chrono::TimeZone;
    let v = rkey(&p.value);
    if let Some(tzid) = p.param("TZID")
        && let Some(tz) = crate::ical::timezone::known_zone(tzid)
        && let Some((naive, false)) = crate::ical::timezone::parse_date_time(&v)
        && let Some(local) = tz.from_local_datetime(&naive).earliest()
    {
        return local
            .with_timezone(&chrono::Utc)
            .format("%Y%m%dT%H%M%SZ")
            .to_string();
    }
    v
}

/// Master and overrides of one object.
pub(super) struct View<'a> {
    pub master: Option<&'a Comp>,
    pub overrides: Vec<(String, &'a Comp)>,
}

impl<'a> View<'a> {
    pub fn new(cal: &'a Comp) -> View<'a> {
        let mut v = View {
            master: None,
            overrides: Vec::new(),
        };
        for c in sched_comps(cal) {
            match key(c) {
                None => v.master = Some(c),
                Some(k) => v.overrides.push((k, c)),
            }
        }
        v
    }
    pub fn get(&self, k: &Option<String>) -> Option<&'a Comp> {
        match k {
            None => self.master,
            Some(k) => self.overrides.iter().find(|(x, _)| x == k).map(|(_, c)| *c),
        }
    }
    /// The component describing instance `k`: its override, else the master.
    pub fn eff(&self, k: &Option<String>) -> Option<&'a Comp> {
        self.get(k).or(self.master)
    }
    pub fn has_override(&self, k: &str) -> bool {
        self.overrides.iter().any(|(x, _)| x == k)
    }
}

/// SCHEDULE-AGENT is SERVER (or absent).
pub(super) fn server_scheduled(p: &Prop) -> bool {
    p.param("SCHEDULE-AGENT")
        .is_none_or(|a| a.eq_ignore_ascii_case("SERVER"))
}

pub(super) fn addresses(c: &Comp) -> Vec<String> {
    c.props_named("ATTENDEE")
        .map(|p| normalize_address(&p.value))
        .collect()
}

pub(super) fn attendee<'a>(c: &'a Comp, addr: &str) -> Option<&'a Prop> {
    c.props_named("ATTENDEE")
        .find(|p| super::address_is(&p.value, addr))
}

/// The ATTENDEEs of the scheduling components of some VCALENDARs, by
/// normalised address, and each component without its ATTENDEEs (its
/// "head"), so that work done once per attendee over a large guest list
/// stays linear: no scan of the component's ATTENDEEs for each attendee,
/// and property lookups (SEQUENCE, STATUS, ...) on the short head instead
/// of the whole component. A component it does not know is scanned as is.
pub(super) struct Roster<'a> {
    comps: Vec<RosterEntry<'a>>,
}

struct RosterEntry<'a> {
    comp: &'a Comp,
    by_addr: std::collections::HashMap<std::borrow::Cow<'a, str>, &'a Prop>,
    head: Comp,
    /// Where the first ATTENDEE stood among the head's properties.
    at: usize,
    large: bool,
}

impl<'a> Roster<'a> {
    pub fn new(cals: &[&'a Comp]) -> Roster<'a> {
        Roster::knowing(cals, |_| None)
    }

    /// A roster that knows, of each scheduling component (the i-th in
    /// order across `cals`), only the ATTENDEEs among `props[known(i)]`
    /// (all of them when `known(i)` is None): for work on a few attendees
    /// of a large guest list whose places are known (guests just added),
    /// without indexing the others. `attendee` finds only those.
    pub fn knowing(
        cals: &[&'a Comp],
        known: impl Fn(usize) -> Option<std::ops::Range<usize>>,
    ) -> Roster<'a> {
        let mut comps = Vec::new();
        for (i, comp) in cals.iter().flat_map(|cal| sched_comps(cal)).enumerate() {
            let mut by_addr = std::collections::HashMap::new();
            let indexed = match known(i) {
                Some(r) => comp.props.get(r).unwrap_or_default(),
                None => &comp.props[..],
            };
            for p in indexed.iter().filter(|p| p.name == "ATTENDEE") {
                by_addr.entry(super::normalized(&p.value)).or_insert(p);
            }
            let at = comp
                .props
                .iter()
                .position(|p| p.name == "ATTENDEE")
                .unwrap_or(0);
            let head = Comp {
                name: comp.name.clone(),
                props: comp
                    .props
                    .iter()
                    .filter(|p| p.name != "ATTENDEE")
                    .cloned()
                    .collect(),
                comps: comp.comps.clone(),
                lineno: comp.lineno,
            };
            let large = comp.props.len() - head.props.len() > super::message::GUEST_LIST_LIMIT;
            comps.push(RosterEntry {
                comp,
                by_addr,
                head,
                at,
                large,
            });
        }
        Roster { comps }
    }

    fn entry(&self, c: &Comp) -> Option<&RosterEntry<'a>> {
        self.comps.iter().find(|e| std::ptr::eq(e.comp, c))
    }

    /// `attendee(c, addr)`.
    pub fn attendee<'b>(&'b self, c: &'b Comp, addr: &str) -> Option<&'b Prop> {
        match self.entry(c) {
            Some(e) => e.by_addr.get(addr).copied(),
            None => attendee(c, addr),
        }
    }

    /// Listed in `c` with SCHEDULE-AGENT=SERVER.
    pub fn scheduled_in(&self, c: &Comp, addr: &str) -> bool {
        self.attendee(c, addr).is_some_and(server_scheduled)
    }

    /// `c` without its ATTENDEEs: for reading its other properties.
    pub fn head<'b>(&'b self, c: &'b Comp) -> &'b Comp {
        self.entry(c).map_or(c, |e| &e.head)
    }

    /// A copy of `c` listing only `att` among its ATTENDEEs when it has more
    /// than `GUEST_LIST_LIMIT`, else all of them.
    pub fn for_recipient(&self, c: &Comp, att: &Prop) -> Comp {
        match self.entry(c) {
            Some(e) if e.large => {
                let mut one = e.head.clone();
                one.props.insert(e.at.min(one.props.len()), att.clone());
                one
            }
            _ => c.clone(),
        }
    }
}

pub(super) fn partstat(p: &Prop) -> String {
    p.param("PARTSTAT")
        .unwrap_or("NEEDS-ACTION")
        .to_ascii_uppercase()
}

pub(super) fn sequence(c: &Comp) -> i64 {
    c.value("SEQUENCE")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0)
        .max(0)
}

/// Write SEQUENCE (only when it differs, so untouched lines stay verbatim).
pub(super) fn set_sequence(c: &mut Comp, n: i64) {
    if sequence(c) != n || (c.prop("SEQUENCE").is_none() && n != 0) {
        c.set("SEQUENCE", &n.to_string());
    }
}

pub(super) fn is_cancelled(c: &Comp) -> bool {
    c.value("STATUS")
        .is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED"))
}

/// EXDATE values as (key, RECURRENCE-ID property naming that instance).
pub(super) fn exdates(c: &Comp) -> Vec<(String, Prop)> {
    let mut out = Vec::new();
    for p in c.props_named("EXDATE") {
        for v in p.value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
            let mut rid = p.renamed("RECURRENCE-ID");
            rid.set_value(v);
            out.push((rkey(v), rid));
        }
    }
    out
}

const TIME_PROPS: [&str; 6] = ["DTSTART", "DTEND", "DURATION", "DUE", "RRULE", "RDATE"];
const OTHER_SIGNIFICANT: [&str; 3] = ["LOCATION", "SUMMARY", "STATUS"];

fn canon_time(p: &Prop) -> String {
    format!("{}:{}", p.param("TZID").unwrap_or(""), rkey(&p.value))
}

/// When instance `c` happens. An override compared with the master (`as_instance`
/// = the override's RECURRENCE-ID) is described by start and length, so that an
/// override that does not move its instance is not a reschedule.
pub(super) fn time_sig(c: &Comp, as_instance: Option<&Prop>) -> Vec<String> {
    match as_instance {
        Some(rid) => vec![canon_time(rid), format!("{:?}", length(c))],
        None if c.prop("RECURRENCE-ID").is_some() => {
            let start = c.prop("DTSTART").map(canon_time).unwrap_or_default();
            vec![start, format!("{:?}", length(c))]
        }
        None => {
            let mut v: Vec<String> = c
                .props
                .iter()
                .filter(|p| TIME_PROPS.contains(&p.name.as_str()))
                .map(|p| p.canonical(&[]))
                .collect();
            v.sort();
            v
        }
    }
}

/// Significant properties other than time and EXDATE, plus the attendee list.
pub(super) fn other_sig(c: &Comp) -> Vec<String> {
    let mut v: Vec<String> = c
        .props
        .iter()
        .filter(|p| OTHER_SIGNIFICANT.contains(&p.name.as_str()))
        .map(|p| p.canonical(&[]).to_ascii_uppercase())
        .collect();
    let mut a = addresses(c);
    a.sort();
    a.dedup();
    v.extend(a.into_iter().map(|a| format!("ATTENDEE:{a}")));
    v.sort();
    v
}

/// Schedule-Tag comparison form: everything but DTSTAMP, LAST-MODIFIED,
/// SEQUENCE, X- properties, alarms and PARTSTAT / SCHEDULE-* parameters.
pub(super) fn tag_sig(c: &Comp) -> Vec<String> {
    const SKIP: [&str; 5] = [
        "DTSTAMP",
        "LAST-MODIFIED",
        "SEQUENCE",
        "CREATED",
        "REQUEST-STATUS",
    ];
    const SKIP_PARAMS: [&str; 4] = ["PARTSTAT", "SCHEDULE-STATUS", "SCHEDULE-FORCE-SEND", "RSVP"];
    let mut v: Vec<String> = c
        .props
        .iter()
        .filter(|p| !SKIP.contains(&p.name.as_str()) && !p.name.starts_with("X-"))
        .map(|p| p.canonical(&SKIP_PARAMS))
        .collect();
    for sub in c.comps.iter().filter(|s| s.name != "VALARM") {
        v.push(edit::to_string(sub));
    }
    v.sort();
    v
}

/// A DATE or DATE-TIME value as naive local time.
fn parse_dt(v: &str) -> Option<NaiveDateTime> {
    let v = v.trim().trim_end_matches(['Z', 'z']);
    if v.len() == 8 {
        return NaiveDate::parse_from_str(v, "%Y%m%d")
            .ok()?
            .and_hms_opt(0, 0, 0);
    }
    NaiveDateTime::parse_from_str(v, "%Y%m%dT%H%M%S").ok()
}

/// RFC 5545 DURATION value in seconds.
pub(super) fn parse_duration(v: &str) -> Option<i64> {
    let v = v.trim();
    let (neg, v) = match v.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let v = v.strip_prefix(['P', 'p'])?;
    let (mut total, mut num, mut any) = (0i64, String::new(), false);
    for ch in v.chars() {
        match ch.to_ascii_uppercase() {
            d if d.is_ascii_digit() => num.push(d),
            'T' if num.is_empty() => {}
            u @ ('W' | 'D' | 'H' | 'M' | 'S') => {
                let n: i64 = num.parse().ok()?;
                let mult = match u {
                    'W' => 604_800,
                    'D' => 86_400,
                    'H' => 3_600,
                    'M' => 60,
                    _ => 1,
                };
                total = total.checked_add(n.checked_mul(mult)?)?;
                num.clear();
                any = true;
            }
            _ => return None,
        }
    }
    (any && num.is_empty()).then_some(if neg { -total } else { total })
}

fn format_duration(secs: i64, date_only: bool) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    if date_only && s.is_multiple_of(86_400) {
        return format!("{sign}P{}D", s / 86_400);
    }
    format!(
        "{sign}P{}DT{}H{}M{}S",
        s / 86_400,
        s % 86_400 / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// Length of the component in seconds (DTEND/DUE minus DTSTART, or DURATION).
pub(super) fn length(c: &Comp) -> Option<i64> {
    if let Some(d) = c.value("DURATION") {
        return parse_duration(d);
    }
    let start = parse_dt(c.value("DTSTART")?)?;
    let end = parse_dt(c.value("DTEND").or_else(|| c.value("DUE"))?)?;
    Some((end - start).num_seconds())
}

/// The override for instance `rid` derived from the master: a copy without
/// RRULE/RDATE/EXDATE, with RECURRENCE-ID, DTSTART = the instance start and
/// the master's length as DURATION (DTEND/DUE dropped when it is unknown).
pub(super) fn instance_from_master(master: &Comp, rid: &Prop) -> Comp {
    let mut c = master.clone();
    let len = length(master);
    let end_name = if master.prop("DUE").is_some() {
        "DUE"
    } else {
        "DTEND"
    };
    let had_end = master.prop(end_name).is_some() || master.prop("DURATION").is_some();
    c.props.retain(|p| {
        !matches!(
            p.name.as_str(),
            "RRULE" | "RDATE" | "EXDATE" | "RECURRENCE-ID" | "DTEND" | "DUE" | "DURATION"
        )
    });
    let mut rid = rid.clone();
    rid.remove_param("RANGE");
    let pos = c.props.iter().position(|p| p.name == "DTSTART");
    let start = rid.renamed("DTSTART");
    match pos {
        Some(i) => c.props[i] = start,
        None => c.props.push(start),
    }
    if had_end && let Some(secs) = len {
        let date_only = rid
            .param("VALUE")
            .is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
        c.props
            .push(Prop::new("DURATION", &format_duration(secs, date_only)));
    }
    let at = c
        .props
        .iter()
        .position(|p| p.name == "UID")
        .map_or(0, |i| i + 1);
    c.props.insert(at, rid);
    c
}

/// True when the master can have instance overrides (RRULE or RDATE).
pub(super) fn recurs(master: &Comp) -> bool {
    master.prop("RRULE").is_some() || master.prop("RDATE").is_some()
}
