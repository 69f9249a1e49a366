//! Time zones and time values: resolving a TZID (IANA name, vendor-prefixed
//! IANA name, common Windows name, or as a last resort a fixed offset taken
//! from the object's own VTIMEZONE), and parsing DATE, DATE-TIME, DURATION
//! and PERIOD values (RFC 5545 section 3.3) into instants.
//!
//! Approximation: a VTIMEZONE whose TZID matches no known zone is treated as
//! a fixed offset, the TZOFFSETTO of its most recent STANDARD sub-component
//! (or of any sub-component when there is no STANDARD), ignoring DST rules.

use super::model::{Comp, Prop};
use chrono::{
    DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::str::FromStr;

/// A resolved time zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Zone {
    Iana(Tz),
    /// Fixed offset east of UTC, seconds.
    Fixed(i32),
}

/// How a value's wall-clock time relates to UTC.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Anchor {
    Utc,
    /// Floating DATE-TIME.
    Floating,
    /// DATE (always floating; naive time is midnight).
    Date,
    Zoned(Zone),
}

/// A DATE or DATE-TIME value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Time {
    pub naive: NaiveDateTime,
    pub anchor: Anchor,
}

impl Time {
    pub fn is_date(&self) -> bool {
        self.anchor == Anchor::Date
    }
    pub fn is_floating(&self) -> bool {
        matches!(self.anchor, Anchor::Date | Anchor::Floating)
    }
    /// The same value `secs` seconds of wall-clock time later.
    pub fn shifted(self, secs: i64) -> Time {
        match Duration::try_seconds(secs).and_then(|d| self.naive.checked_add_signed(d)) {
            Some(naive) => Time { naive, ..self },
            None => self,
        }
    }
    /// UTC unix seconds; floating values use `float` (UTC when None).
    pub fn utc(&self, float: Option<Tz>) -> i64 {
        match self.anchor {
            Anchor::Utc => self.naive.and_utc().timestamp(),
            Anchor::Floating | Anchor::Date => match float {
                Some(tz) => local_to_utc(Zone::Iana(tz), self.naive),
                None => self.naive.and_utc().timestamp(),
            },
            Anchor::Zoned(z) => local_to_utc(z, self.naive),
        }
    }
}

/// Local wall-clock time in `zone` to UTC seconds. Ambiguous times take the
/// earlier instant; times in a gap use the offset before the gap (RFC 5545 3.3.5).
pub(crate) fn local_to_utc(zone: Zone, naive: NaiveDateTime) -> i64 {
    match zone {
        Zone::Fixed(off) => naive.and_utc().timestamp() - i64::from(off),
        Zone::Iana(tz) => match tz.from_local_datetime(&naive).earliest() {
            Some(dt) => dt.timestamp(),
            None => {
                let before = naive
                    .checked_sub_signed(Duration::hours(12))
                    .unwrap_or(naive);
                let off = tz.offset_from_utc_datetime(&before).fix().local_minus_utc();
                naive.and_utc().timestamp() - i64::from(off)
            }
        },
    }
}

/// UTC seconds to a UTC date-time (clamped to chrono's range).
pub(crate) fn utc_dt(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Format UTC seconds as an iCalendar UTC DATE-TIME.
pub(crate) fn fmt_utc(t: i64) -> String {
    utc_dt(t).format("%Y%m%dT%H%M%SZ").to_string()
}

const WINDOWS: &[(&str, &str)] = &[
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("Mountain Standard Time", "America/Denver"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("India Standard Time", "Asia/Kolkata"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("UTC", "UTC"),
    ("Coordinated Universal Time", "UTC"),
];

/// A TZID to a known zone, without looking at VTIMEZONEs.
pub(crate) fn known_zone(tzid: &str) -> Option<Tz> {
    let tzid = tzid.trim().trim_matches('"');
    if let Ok(tz) = Tz::from_str(tzid) {
        return Some(tz);
    }
    if let Some((_, iana)) = WINDOWS.iter().find(|(w, _)| w.eq_ignore_ascii_case(tzid)) {
        return Tz::from_str(iana).ok();
    }
    // Vendor prefixes such as "/mozilla.org/20050126_1/Europe/Berlin".
    let mut rest = tzid;
    while let Some(i) = rest.find('/') {
        rest = &rest[i + 1..];
        if let Ok(tz) = Tz::from_str(rest) {
            return Some(tz);
        }
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .find(|t| t.name().eq_ignore_ascii_case(tzid))
        .copied()
}

/// Offset of a VTIMEZONE approximated as fixed (see module docs).
fn vtimezone_offset(vtz: &Comp<'_>) -> Option<i32> {
    let mut best: Option<(bool, String, i32)> = None;
    for sub in &vtz.comps {
        let standard = sub.name == "STANDARD";
        let Some(off) = sub.prop("TZOFFSETTO").and_then(|p| parse_offset(&p.value)) else {
            continue;
        };
        let start = sub
            .prop("DTSTART")
            .map(|p| p.value.to_string())
            .unwrap_or_default();
        let better = match &best {
            None => true,
            Some((bs, bstart, _)) => (standard, &start) > (*bs, bstart),
        };
        if better {
            best = Some((standard, start, off));
        }
    }
    best.map(|(_, _, o)| o)
}

/// `+HHMM[SS]` / `-HHMM[SS]` to seconds.
fn parse_offset(v: &str) -> Option<i32> {
    let v = v.trim();
    let (sign, digits) = match v.as_bytes().first()? {
        b'+' => (1, &v[1..]),
        b'-' => (-1, &v[1..]),
        _ => return None,
    };
    if !(digits.len() == 4 || digits.len() == 6) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[0..2].parse().ok()?;
    let m: i32 = digits[2..4].parse().ok()?;
    let s: i32 = if digits.len() == 6 {
        digits[4..6].parse().ok()?
    } else {
        0
    };
    Some(sign * (h * 3600 + m * 60 + s))
}

/// The zone a `calendar-timezone` or `CALDAV:timezone` text (a VCALENDAR
/// with one VTIMEZONE) stands for: its TZID when that names a known zone,
/// else its standard offset as an `Etc/GMT` zone when that is a whole
/// number of hours (other custom zones give None: UTC).
pub(crate) fn zone_of_vtimezone(text: &str) -> Option<Tz> {
    let top = super::model::parse(text).ok()?;
    let vtz = top
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c.comps.iter()))
        .find(|c| c.name == "VTIMEZONE")?;
    if let Some(tz) = vtz.prop("TZID").and_then(|p| known_zone(&p.value)) {
        return Some(tz);
    }
    let off = vtimezone_offset(vtz)?;
    if off % 3600 != 0 {
        return None;
    }
    // POSIX signs: Etc/GMT-5 is five hours east of UTC.
    let hours = -off / 3600;
    let name = match hours {
        0 => "Etc/GMT".to_string(),
        h => format!("Etc/GMT{h:+}"),
    };
    Tz::from_str(&name).ok()
}

/// TZIDs resolvable in one object: known zones plus its VTIMEZONEs.
#[derive(Debug, Default)]
pub(crate) struct Zones {
    map: HashMap<String, Zone>,
}

impl Zones {
    pub fn from_calendar(cal: &Comp<'_>) -> Self {
        let mut map = HashMap::new();
        for c in cal.comps.iter().filter(|c| c.name == "VTIMEZONE") {
            let Some(id) = c.prop("TZID") else { continue };
            let id = id.value.trim().to_string();
            let zone = match known_zone(&id) {
                Some(tz) => Some(Zone::Iana(tz)),
                None => vtimezone_offset(c).map(Zone::Fixed),
            };
            if let Some(z) = zone {
                map.entry(id).or_insert(z);
            }
        }
        Zones { map }
    }

    pub fn resolve(&self, tzid: &str) -> Option<Zone> {
        self.map
            .get(tzid.trim())
            .copied()
            .or_else(|| known_zone(tzid).map(Zone::Iana))
    }
}

fn digits(s: &str, n: usize) -> Option<u32> {
    if s.len() == n && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    let y = digits(s.get(0..4)?, 4)?;
    let m = digits(s.get(4..6)?, 2)?;
    let d = digits(s.get(6..8)?, 2)?;
    if s.len() != 8 || y == 0 {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
}

/// DATE-TIME text to (naive, is_utc).
pub(crate) fn parse_date_time(s: &str) -> Option<(NaiveDateTime, bool)> {
    let (body, utc) = match s.strip_suffix(['Z', 'z']) {
        Some(b) => (b, true),
        None => (s, false),
    };
    let (d, t) = body.split_once(['T', 't'])?;
    let date = parse_date(d)?;
    let h = digits(t.get(0..2)?, 2)?;
    let m = digits(t.get(2..4)?, 2)?;
    let sec = digits(t.get(4..6)?, 2)?;
    if t.len() != 6 {
        return None;
    }
    // Leap second 60 is clamped to 59.
    let time = NaiveTime::from_hms_opt(h, m, sec.min(59))?;
    Some((date.and_time(time), utc))
}

/// One DATE or DATE-TIME value text, typed by `value_date` and zoned by `tzid`.
pub(crate) fn parse_time(s: &str, value_date: bool, zone: Option<Zone>) -> Option<Time> {
    let s = s.trim();
    if value_date || (s.len() == 8 && !s.contains(['T', 't'])) {
        let d = parse_date(s)?;
        return Some(Time {
            naive: d.and_time(NaiveTime::MIN),
            anchor: Anchor::Date,
        });
    }
    let (naive, utc) = parse_date_time(s)?;
    let anchor = if utc {
        Anchor::Utc
    } else {
        match zone {
            Some(z) => Anchor::Zoned(z),
            None => Anchor::Floating,
        }
    };
    Some(Time { naive, anchor })
}

/// DURATION value (RFC 5545 section 3.3.6) in seconds (nominal days = 86400).
pub(crate) fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    let mut total: i64 = 0;
    let mut num: Option<i64> = None;
    let mut in_time = false;
    let mut any = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            d @ '0'..='9' => {
                let v = num
                    .unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(i64::from(d.to_digit(10)?))?;
                if v > 1_000_000_000 {
                    return None;
                }
                num = Some(v);
            }
            'T' if !in_time && num.is_none() => in_time = true,
            u => {
                let n = num.take()?;
                let mult = match (u, in_time) {
                    ('W', false) => 7 * 86400,
                    ('D', false) => 86400,
                    ('H', true) => 3600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return None,
                };
                total = total.checked_add(n.checked_mul(mult)?)?;
                any = true;
            }
        }
    }
    if num.is_some() || !any {
        return None;
    }
    Some(if neg { -total } else { total })
}

/// A property's value list as times, honouring VALUE=DATE and TZID.
/// PERIOD values yield (start, Some(end seconds)).
pub(crate) fn prop_times(p: &Prop<'_>, zones: &Zones) -> Result<Vec<(Time, Option<i64>)>, String> {
    let value_date = p
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
    let zone = match p.param("TZID") {
        Some(id) => Some(
            zones
                .resolve(id)
                .ok_or_else(|| format!("{} has an unknown TZID {id:?}", p.name))?,
        ),
        None => None,
    };
    let mut out = Vec::new();
    for part in p.value.split(',') {
        let part = part.trim();
        if let Some((a, b)) = part.split_once('/') {
            let start = parse_time(a, false, zone)
                .filter(|t| !t.is_date())
                .ok_or_else(|| format!("{} has an invalid period value", p.name))?;
            let end = match parse_duration(b) {
                Some(d) => start.utc(None) + d,
                None => parse_time(b, false, zone)
                    .filter(|t| !t.is_date())
                    .ok_or_else(|| format!("{} has an invalid period value", p.name))?
                    .utc(None),
            };
            // The end is kept relative to the start so floating periods still work.
            out.push((start, Some(end - start.utc(None))));
        } else {
            let t = parse_time(part, value_date, zone).ok_or_else(|| {
                format!(
                    "{} has an invalid {} value",
                    p.name,
                    if value_date { "date" } else { "date-time" }
                )
            })?;
            out.push((t, None));
        }
    }
    Ok(out)
}

/// Single DATE/DATE-TIME property value.
pub(crate) fn prop_time(p: &Prop<'_>, zones: &Zones) -> Result<Time, String> {
    let mut v = prop_times(p, zones)?;
    match (v.pop(), v.is_empty()) {
        (Some((t, None)), true) => Ok(t),
        _ => Err(format!(
            "{} must hold exactly one date or date-time",
            p.name
        )),
    }
}

/// Midnight-aligned helper used for "end of day" computations.
pub(crate) fn end_of_day(t: NaiveDateTime) -> NaiveDateTime {
    t.with_hour(23)
        .and_then(|x| x.with_minute(59))
        .and_then(|x| x.with_second(59))
        .unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_tzids() {
        assert_eq!(known_zone("Europe/Berlin"), Some(Tz::Europe__Berlin));
        assert_eq!(
            known_zone("/mozilla.org/20050126_1/Europe/Berlin"),
            Some(Tz::Europe__Berlin)
        );
        assert_eq!(
            known_zone("/citadel.org/20190914_1/Europe/Paris"),
            Some(Tz::Europe__Paris)
        );
        assert_eq!(
            known_zone("Eastern Standard Time"),
            Some(Tz::America__New_York)
        );
        assert_eq!(
            known_zone("W. Europe Standard Time"),
            Some(Tz::Europe__Berlin)
        );
        assert_eq!(known_zone("Nowhere/Special"), None);
    }

    #[test]
    fn fixed_offset_from_vtimezone() {
        let t = "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:My Zone\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";
        let cal = &super::super::model::parse(t).unwrap()[0];
        let zones = Zones::from_calendar(cal);
        assert_eq!(zones.resolve("My Zone"), Some(Zone::Fixed(3600)));
        assert_eq!(zones.resolve("Other"), None);
    }

    #[test]
    fn values() {
        assert_eq!(parse_duration("PT1H30M"), Some(5400));
        assert_eq!(parse_duration("-P1W"), Some(-604800));
        assert_eq!(parse_duration("P1DT2S"), Some(86402));
        assert_eq!(parse_duration("P"), None);
        assert_eq!(parse_duration("PT1D"), None);
        assert!(parse_date("20240230").is_none());
        assert!(parse_date_time("20240101T250000").is_none());
        assert!(parse_date_time("2024-01-01T10:00:00").is_none());
        let t = parse_time(
            "20240310T023000",
            false,
            Some(Zone::Iana(Tz::America__New_York)),
        )
        .unwrap();
        // 02:30 does not exist that day; offset before the gap (-5h) applies.
        assert_eq!(fmt_utc(t.utc(None)), "20240310T073000Z");
    }

    #[test]
    fn zones_of_calendar_timezone_texts() {
        let known = "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:/mozilla.org/20050126_1/Europe/Berlin\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";
        assert_eq!(zone_of_vtimezone(known), Some(chrono_tz::Europe::Berlin));
        let custom = "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:My office\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0500\r\nTZOFFSETTO:+0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";
        assert_eq!(zone_of_vtimezone(custom), Some(chrono_tz::Etc::GMTMinus5));
        let half = custom.replace("+0500", "+0530");
        assert_eq!(zone_of_vtimezone(&half), None);
        assert_eq!(zone_of_vtimezone("garbage"), None);
    }
}
