//! VTIMEZONE components (RFC 5545 section 3.6.5) for the IANA zones the API
//! writes into events. Herald itself resolves an IANA TZID through
//! chrono-tz without any VTIMEZONE (`crate::ical::timezone::known_zone`),
//! but RFC 5545 section 3.2.19 asks for one per TZID and other calendar
//! clients (the attendees', reading the iTIP message, which carries the
//! object's VTIMEZONEs) may rely on it. The component is derived from the
//! chrono-tz offsets: the transitions of the year before the event's year
//! are found by search; when each one recurs on the same "n-th weekday of
//! the month" in the two years after, it becomes an observance with a
//! yearly RRULE, otherwise the transitions of those four years are written
//! one by one. A zone without transitions gets one STANDARD observance.

use crate::ical::model::{Comp, Prop};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Weekday};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

/// One change of a zone's offset.
#[derive(Debug, Clone, PartialEq)]
struct Transition {
    /// UTC unix seconds of the change.
    at: i64,
    from: i32,
    to: i32,
    dst: bool,
    name: Option<String>,
}

impl Transition {
    /// The wall-clock time of the change in the offset before it (the
    /// DTSTART of an observance, RFC 5545 section 3.6.5).
    fn onset(&self) -> Option<NaiveDateTime> {
        DateTime::from_timestamp(self.at + i64::from(self.from), 0).map(|d| d.naive_utc())
    }
}

/// Offset east of UTC, whether it is daylight time, and its abbreviation.
fn offset_at(tz: Tz, t: i64) -> Option<(i32, bool, Option<String>)> {
    let naive = DateTime::from_timestamp(t, 0)?.naive_utc();
    let off = tz.offset_from_utc_datetime(&naive);
    Some((
        off.fix().local_minus_utc(),
        off.dst_offset() != Duration::zero(),
        off.abbreviation().map(str::to_string),
    ))
}

/// Transitions in [from, to) (UTC seconds), found by stepping 6 hours and
/// bisecting to the second.
fn transitions(tz: Tz, from: i64, to: i64) -> Vec<Transition> {
    const STEP: i64 = 6 * 3600;
    let mut out = Vec::new();
    let Some(mut prev) = offset_at(tz, from) else {
        return out;
    };
    let mut t = from;
    while t < to {
        let next_t = (t + STEP).min(to);
        let Some(next) = offset_at(tz, next_t) else {
            break;
        };
        if (next.0, next.1) != (prev.0, prev.1) {
            let (mut lo, mut hi) = (t, next_t);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                match offset_at(tz, mid) {
                    Some(m) if (m.0, m.1) == (prev.0, prev.1) => lo = mid,
                    _ => hi = mid,
                }
            }
            let after = offset_at(tz, hi).unwrap_or_else(|| next.clone());
            out.push(Transition {
                at: hi,
                from: prev.0,
                to: after.0,
                dst: after.1,
                name: after.2,
            });
        }
        prev = next;
        t = next_t;
    }
    out
}

fn year_bounds(year: i32) -> Option<(i64, i64)> {
    let start = NaiveDate::from_ymd_opt(year, 1, 1)?.and_hms_opt(0, 0, 0)?;
    let end = NaiveDate::from_ymd_opt(year + 1, 1, 1)?.and_hms_opt(0, 0, 0)?;
    // A day of margin either side: local new year differs from UTC's.
    Some((
        start.and_utc().timestamp() - 86_400,
        end.and_utc().timestamp() - 86_400,
    ))
}

fn transitions_in_year(tz: Tz, year: i32) -> Vec<Transition> {
    match year_bounds(year) {
        Some((a, b)) => transitions(tz, a, b),
        None => Vec::new(),
    }
}

/// ±HHMM (±HHMMSS when there are seconds), RFC 5545 section 3.3.14.
fn utc_offset(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    if s == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{s:02}")
    }
}

fn weekday_code(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|d| d.pred_opt()).map_or(28, |d| d.day())
}

/// The n-th (1..=4, or -1 for the last) weekday `w` of a month.
fn nth_weekday(year: i32, month: u32, n: i32, w: Weekday) -> Option<NaiveDate> {
    if n > 0 {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let shift = (7 + w.num_days_from_monday() - first.weekday().num_days_from_monday()) % 7;
        let day = 1 + shift + 7 * (n as u32 - 1);
        NaiveDate::from_ymd_opt(year, month, day)
    } else {
        let last = NaiveDate::from_ymd_opt(year, month, days_in_month(year, month))?;
        let back = (7 + last.weekday().num_days_from_monday() - w.num_days_from_monday()) % 7;
        NaiveDate::from_ymd_opt(year, month, last.day() - back)
    }
}

/// The yearly rule a transition's onset follows: (month, n, weekday).
fn rule_of(onset: NaiveDateTime) -> (u32, i32, Weekday) {
    let d = onset.date();
    let n = if d.day() + 7 > days_in_month(d.year(), d.month()) {
        -1
    } else {
        ((d.day() - 1) / 7 + 1) as i32
    };
    (d.month(), n, d.weekday())
}

/// Whether `tr`'s rule gives a transition with the same offsets in `year`.
fn recurs_in(tz: Tz, tr: &Transition, year: i32) -> bool {
    let Some(onset) = tr.onset() else {
        return false;
    };
    let (month, n, w) = rule_of(onset);
    let Some(date) = nth_weekday(year, month, n, w) else {
        return false;
    };
    let expected = date.and_time(onset.time());
    transitions_in_year(tz, year)
        .iter()
        .any(|t| t.from == tr.from && t.to == tr.to && t.onset() == Some(expected))
}

fn observance(tr: &Transition, rrule: Option<String>) -> Option<Comp<'static>> {
    let onset = tr.onset()?;
    let mut c = Comp::new(if tr.dst { "DAYLIGHT" } else { "STANDARD" });
    c.props.push(Prop::new(
        "DTSTART",
        &onset.format("%Y%m%dT%H%M%S").to_string(),
    ));
    if let Some(r) = rrule {
        c.props.push(Prop::new("RRULE", &r));
    }
    c.props
        .push(Prop::new("TZOFFSETFROM", &utc_offset(tr.from)));
    c.props.push(Prop::new("TZOFFSETTO", &utc_offset(tr.to)));
    if let Some(name) = tr.name.as_deref().filter(|n| valid_tzname(n)) {
        c.props.push(Prop::new("TZNAME", name));
    }
    Some(c)
}

/// Abbreviations are letters, digits and signs ("CET", "+03"); anything
/// else is left out rather than escaped.
fn valid_tzname(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 16
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-')
}

/// A VTIMEZONE for `tz` valid around `year` (the event's start year).
pub fn vtimezone(tz: Tz, year: i32) -> Comp<'static> {
    let mut z = Comp::new("VTIMEZONE");
    z.props.push(Prop::new("TZID", tz.name()));
    let base = year - 1;
    let first = transitions_in_year(tz, base);
    let regular = !first.is_empty()
        && first
            .iter()
            .all(|t| recurs_in(tz, t, base + 1) && recurs_in(tz, t, base + 2));
    if regular {
        for tr in &first {
            let Some(onset) = tr.onset() else { continue };
            let (month, n, w) = rule_of(onset);
            let rule = format!("FREQ=YEARLY;BYMONTH={month};BYDAY={n}{}", weekday_code(w));
            z.comps.extend(observance(tr, Some(rule)));
        }
        return z;
    }
    let all: Vec<Transition> = (base..=base + 3)
        .flat_map(|y| transitions_in_year(tz, y))
        .collect();
    if all.is_empty() {
        let at = year_bounds(year).map_or(0, |b| b.0);
        let (off, dst, name) = offset_at(tz, at).unwrap_or((0, false, None));
        let fixed = Transition {
            at: -i64::from(off),
            from: off,
            to: off,
            dst,
            name,
        };
        z.comps.extend(observance(&fixed, None));
        return z;
    }
    z.comps
        .extend(all.iter().filter_map(|t| observance(t, None)));
    z
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ical::edit::to_string;

    #[test]
    fn europe_berlin_has_two_yearly_rules() {
        let text = to_string(&vtimezone(chrono_tz::Europe::Berlin, 2026));
        assert!(text.contains("TZID:Europe/Berlin\r\n"), "{text}");
        assert!(
            text.contains(
                "BEGIN:DAYLIGHT\r\nDTSTART:20250330T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "BEGIN:STANDARD\r\nDTSTART:20251026T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn new_york_uses_second_and_first_sunday() {
        let text = to_string(&vtimezone(chrono_tz::America::New_York, 2026));
        assert!(
            text.contains("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU"),
            "{text}"
        );
        assert!(
            text.contains("RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU"),
            "{text}"
        );
        assert!(text.contains("TZOFFSETTO:-0400"), "{text}");
    }

    #[test]
    fn fixed_zone_has_one_standard() {
        let text = to_string(&vtimezone(chrono_tz::Asia::Tokyo, 2026));
        assert_eq!(text.matches("BEGIN:STANDARD").count(), 1, "{text}");
        assert!(
            text.contains("TZOFFSETFROM:+0900\r\nTZOFFSETTO:+0900"),
            "{text}"
        );
        assert!(!text.contains("DAYLIGHT"));
    }

    #[test]
    fn the_result_is_accepted_by_the_parser() {
        for tz in [
            chrono_tz::Europe::London,
            chrono_tz::Australia::Sydney,
            chrono_tz::Asia::Kolkata,
            chrono_tz::Africa::Casablanca,
        ] {
            let z = to_string(&vtimezone(tz, 2026));
            let text = format!(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{z}BEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID={}:20260310T140000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                tz.name()
            );
            assert!(crate::ical::parse_object(&text).is_ok(), "{text}");
        }
        assert_eq!(utc_offset(19800), "+0530");
        assert_eq!(utc_offset(-3600), "-0100");
        assert_eq!(utc_offset(-(3600 + 75)), "-010115");
    }
}
