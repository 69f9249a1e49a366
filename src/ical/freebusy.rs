//! Free/busy computation for CALDAV:free-busy-query (RFC 4791 section
//! 7.10): busy time of VEVENT instances (TRANSP:TRANSPARENT and
//! STATUS:CANCELLED excluded, STATUS:TENTATIVE as BUSY-TENTATIVE) and the
//! FREEBUSY periods of stored VFREEBUSY components, merged per type and
//! clipped to the requested range, in UTC. Floating and all-day times are
//! read in `Limits::timezone` (the calendar's zone; UTC when None).

use super::bounds::{Limits, Out, OutputError};
use super::model::{Comp, parse};
use super::recurrence::expand;
use super::timezone::{Zones, fmt_utc, prop_times};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

const TYPES: [&str; 3] = ["BUSY", "BUSY-UNAVAILABLE", "BUSY-TENTATIVE"];

fn add(periods: &mut [Vec<(i64, i64)>; 3], kind: usize, s: i64, e: i64, lo: i64, hi: i64) {
    let (s, e) = (s.max(lo), e.min(hi));
    if s < e {
        periods[kind].push((s, e));
    }
}

/// Bytes of one written FREEBUSY line, at least.
const PERIOD_LINE: usize = "FREEBUSY:20240101T000000Z/20240101T010000Z\r\n".len();

fn collect(
    cal: &Comp<'_>,
    lo: i64,
    hi: i64,
    periods: &mut [Vec<(i64, i64)>; 3],
    limits: &Limits<'_>,
) -> Result<(), OutputError> {
    let zones = Zones::from_calendar(cal);
    let mut events: HashMap<String, Vec<&Comp<'_>>> = HashMap::new();
    for c in &cal.comps {
        match c.name.as_str() {
            "VEVENT" => events
                .entry(c.text("UID").unwrap_or_default())
                .or_default()
                .push(c),
            "VFREEBUSY" => {
                for p in c.props_named("FREEBUSY") {
                    let kind = match p.param("FBTYPE").map(str::to_ascii_uppercase).as_deref() {
                        None | Some("BUSY") => 0,
                        Some("BUSY-UNAVAILABLE") => 1,
                        Some("BUSY-TENTATIVE") => 2,
                        Some(_) => continue,
                    };
                    for (t, len) in prop_times(p, &zones).unwrap_or_default() {
                        let s = t.utc(limits.timezone);
                        add(periods, kind, s, s + len.unwrap_or(0), lo, hi);
                    }
                }
            }
            _ => {}
        }
    }
    let cap = limits.max_instances;
    for members in events.values() {
        limits.check()?;
        let Ok(exp) = expand(
            members,
            &zones,
            limits.timezone,
            lo,
            hi,
            cap.saturating_add(1),
        ) else {
            continue;
        };
        // Stopped inside the range: the busy time would be incomplete.
        if exp.more_after.is_some_and(|m| m < hi) || exp.items.len() > cap {
            return Err(OutputError::TooManyInstances(cap));
        }
        for item in exp.items {
            let c = members[item.member];
            let upper = |n: &str| c.text(n).map(|v| v.trim().to_ascii_uppercase());
            if upper("TRANSP").as_deref() == Some("TRANSPARENT")
                || upper("STATUS").as_deref() == Some("CANCELLED")
            {
                continue;
            }
            let kind = if upper("STATUS").as_deref() == Some("TENTATIVE") {
                2
            } else {
                0
            };
            add(periods, kind, item.start, item.end, lo, hi);
        }
    }
    Ok(())
}

/// Merge the collected periods in place once they grow past what the
/// answer may hold; refuse when even merged they do not fit.
fn compact(periods: &mut [Vec<(i64, i64)>; 3], max_bytes: usize) -> Result<(), OutputError> {
    let most = max_bytes / PERIOD_LINE;
    let total: usize = periods.iter().map(Vec::len).sum();
    if total <= most.max(1024) * 2 {
        return Ok(());
    }
    for list in periods.iter_mut() {
        *list = merge(std::mem::take(list));
    }
    if periods.iter().map(Vec::len).sum::<usize>() > most {
        return Err(OutputError::TooLarge(max_bytes));
    }
    Ok(())
}

/// Sort and merge overlapping or touching periods.
fn merge(mut v: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    v.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// A VCALENDAR with one VFREEBUSY covering [start, end), within `limits`
/// (instances per recurrence set, bytes of the answer, cancellation).
pub fn free_busy<'a>(
    objects: impl IntoIterator<Item = &'a str>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    limits: &Limits<'_>,
) -> Result<String, OutputError> {
    let mut fb = FreeBusy::new(start, end);
    for text in objects {
        fb.add(text, limits)?;
    }
    fb.finish(limits)
}

/// Busy time collected object by object, so that callers need not hold
/// every object at once.
pub struct FreeBusy {
    lo: i64,
    hi: i64,
    periods: [Vec<(i64, i64)>; 3],
}

impl FreeBusy {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        FreeBusy {
            lo: start.timestamp(),
            hi: end.timestamp(),
            periods: Default::default(),
        }
    }

    /// Add the busy time of one stored object (unparseable text adds none).
    pub fn add(&mut self, text: &str, limits: &Limits<'_>) -> Result<(), OutputError> {
        limits.check()?;
        let Ok(top) = parse(text) else {
            return Ok(());
        };
        for cal in top.iter().filter(|c| c.name == "VCALENDAR") {
            collect(cal, self.lo, self.hi, &mut self.periods, limits)?;
        }
        compact(&mut self.periods, limits.max_bytes)
    }

    /// The VCALENDAR text.
    pub fn finish(self, limits: &Limits<'_>) -> Result<String, OutputError> {
        let FreeBusy { lo, hi, periods } = self;
        let mut out = Out::new(limits.max_bytes, 512);
        for l in [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Herald//Herald Calendar Server//EN",
            "BEGIN:VFREEBUSY",
        ] {
            out.line(l)?;
        }
        out.line(&format!("DTSTAMP:{}", fmt_utc(Utc::now().timestamp())))?;
        out.line(&format!("DTSTART:{}", fmt_utc(lo)))?;
        out.line(&format!("DTEND:{}", fmt_utc(hi)))?;
        for (kind, list) in periods.into_iter().enumerate() {
            let list = merge(list);
            for (s, e) in list {
                let param = if kind == 0 {
                    String::new()
                } else {
                    format!(";FBTYPE={}", TYPES[kind])
                };
                out.line(&format!("FREEBUSY{param}:{}/{}", fmt_utc(s), fmt_utc(e)))?;
            }
        }
        out.line("END:VFREEBUSY")?;
        out.line("END:VCALENDAR")?;
        Ok(out.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ev(uid: &str, start: &str, end: &str, extra: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART:{start}\r\nDTEND:{end}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    }

    #[test]
    fn merges_and_types() {
        let a = ev("a", "20240101T090000Z", "20240101T100000Z", "");
        let b = ev("b", "20240101T093000Z", "20240101T110000Z", "");
        let c = ev(
            "c",
            "20240101T120000Z",
            "20240101T130000Z",
            "STATUS:TENTATIVE\r\n",
        );
        let d = ev(
            "d",
            "20240101T140000Z",
            "20240101T150000Z",
            "TRANSP:TRANSPARENT\r\n",
        );
        let e = ev(
            "e",
            "20240101T150000Z",
            "20240101T160000Z",
            "STATUS:CANCELLED\r\n",
        );
        let f = ev("f", "20231231T230000Z", "20240101T010000Z", "");
        let r = ev(
            "r",
            "20240101T170000Z",
            "20240101T173000Z",
            "RRULE:FREQ=DAILY\r\n",
        );
        let fb = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VFREEBUSY\r\nUID:fb\r\nFREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20240101T180000Z/PT1H,20240101T200000Z/20240101T203000Z\r\nFREEBUSY;FBTYPE=FREE:20240101T210000Z/PT1H\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
        let objs = [a.as_str(), &b, &c, &d, &e, &f, &r, fb, "garbage"];
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap();
        let out = free_busy(objs, start, end, &Limits::new(5000, 1 << 20)).unwrap();
        let lines: Vec<&str> = out
            .split("\r\n")
            .filter(|l| l.starts_with("FREEBUSY"))
            .collect();
        assert_eq!(
            lines,
            vec![
                "FREEBUSY:20240101T000000Z/20240101T010000Z",
                "FREEBUSY:20240101T090000Z/20240101T110000Z",
                "FREEBUSY:20240101T170000Z/20240101T173000Z",
                "FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20240101T180000Z/20240101T190000Z",
                "FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20240101T200000Z/20240101T203000Z",
                "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20240101T120000Z/20240101T130000Z",
            ]
        );
        assert!(out.contains("DTSTART:20240101T000000Z\r\nDTEND:20240102T000000Z\r\n"));
        assert!(out.starts_with("BEGIN:VCALENDAR\r\n"));
    }

    #[test]
    fn limits_refuse_rather_than_truncate() {
        let r = ev(
            "r",
            "20240101T170000Z",
            "20240101T173000Z",
            "RRULE:FREQ=DAILY\r\n",
        );
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap();
        assert!(free_busy([r.as_str()], start, end, &Limits::new(31, 1 << 20)).is_ok());
        assert_eq!(
            free_busy([r.as_str()], start, end, &Limits::new(30, 1 << 20)),
            Err(OutputError::TooManyInstances(30))
        );
        assert_eq!(
            free_busy([r.as_str()], start, end, &Limits::new(31, 500)),
            Err(OutputError::TooLarge(500))
        );
    }

    #[test]
    fn floating_and_all_day_in_the_calendars_zone() {
        let day = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20240102\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:e\r\nDTSTART:20240103T090000\r\nDURATION:PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2024, 1, 5, 0, 0, 0).unwrap();
        let ny = Limits {
            timezone: "America/New_York".parse().ok(),
            ..Limits::new(100, 1 << 20)
        };
        let out = free_busy([day], start, end, &ny).unwrap();
        assert!(
            out.contains("FREEBUSY:20240102T050000Z/20240103T050000Z\r\n"),
            "{out}"
        );
        assert!(
            out.contains("FREEBUSY:20240103T140000Z/20240103T150000Z\r\n"),
            "{out}"
        );
        let utc = free_busy([day], start, end, &Limits::new(100, 1 << 20)).unwrap();
        assert!(
            utc.contains("FREEBUSY:20240102T000000Z/20240103T000000Z\r\n"),
            "{utc}"
        );
    }
}
