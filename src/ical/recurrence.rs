//! Instances of a recurrence set (RFC 5545 section 3.8.5): the master's
//! DTSTART, RRULE (expanded by the `rrule` crate, bounded in count and
//! time), RDATE (DATE, DATE-TIME and PERIOD) minus EXDATE, with overrides
//! (components carrying RECURRENCE-ID) replacing the instance they name,
//! and RANGE=THISANDFUTURE overrides also moving and reshaping the later
//! instances (RFC 5545 section 3.8.4.4). A VTODO with DUE and RRULE but no
//! DTSTART recurs from DUE, as task clients expect.
//! Also the time span each component covers for CalDAV time-range tests
//! (RFC 4791 section 9.9).

use super::model::Comp;
use super::timezone::{
    Anchor, Time, Zone, Zones, end_of_day, local_to_utc, parse_date_time, parse_duration,
    parse_time, prop_time, prop_times,
};
use chrono::{Datelike, Days, Duration, Months, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use std::collections::HashSet;
use std::str::FromStr;

/// Most rule results looked at in one expansion (including ones before the window).
const BUDGET: usize = 100_000;

/// What a component covers, relative to its DTSTART or absolutely.
#[derive(Debug, Clone)]
pub(crate) enum Shape {
    /// Instance covers [start, start + duration).
    Rel(i64),
    /// Fixed spans (no DTSTART-based recurrence).
    Abs(Vec<(i64, i64)>),
}

/// Timing facts of one component.
#[derive(Debug, Clone)]
pub(crate) struct Timing {
    /// DTSTART, or DUE for a recurring VTODO without DTSTART (`due_anchor`).
    pub dtstart: Option<Time>,
    /// A VTODO with DUE and RRULE but no DTSTART, as task clients write
    /// them: it recurs from DUE, and each instance is "DUE only" of
    /// RFC 4791 section 9.9 (start < DUE <= end).
    pub due_anchor: bool,
    pub shape: Shape,
    pub floating: bool,
}

fn opt_time(c: &Comp<'_>, name: &str, zones: &Zones) -> Result<Option<Time>, String> {
    c.prop(name).map(|p| prop_time(p, zones)).transpose()
}

/// The span rules of RFC 4791 section 9.9 for one component.
pub(crate) fn timing(c: &Comp<'_>, zones: &Zones, float: Option<Tz>) -> Result<Timing, String> {
    let mut dtstart = opt_time(c, "DTSTART", zones)?;
    let due_anchor = c.name == "VTODO"
        && dtstart.is_none()
        && c.prop("RRULE").is_some()
        && c.prop("DUE").is_some();
    if due_anchor {
        dtstart = opt_time(c, "DUE", zones)?;
    }
    let mut floating = dtstart.is_some_and(|t| t.is_floating());
    let mut at = |t: Time| {
        floating |= t.is_floating();
        t.utc(float)
    };
    let duration = c
        .prop("DURATION")
        .map(|p| parse_duration(&p.value).ok_or("DURATION has an invalid value"))
        .transpose()?;
    let shape = match (c.name.as_str(), dtstart) {
        ("VEVENT", Some(s)) => {
            let s_utc = at(s);
            let dur = match (opt_time(c, "DTEND", zones)?, duration) {
                (Some(e), _) => at(e) - s_utc,
                (None, Some(d)) => d,
                (None, None) if s.is_date() => 86_400,
                (None, None) => 0,
            };
            Shape::Rel(dur.max(0))
        }
        ("VTODO", Some(s)) => {
            let s_utc = at(s);
            let dur = match (opt_time(c, "DUE", zones)?, duration) {
                (Some(d), _) => at(d) - s_utc,
                (None, Some(d)) => d,
                (None, None) => 0,
            };
            Shape::Rel(dur.max(0))
        }
        ("VTODO", None) => {
            let due = opt_time(c, "DUE", zones)?.map(&mut at);
            let completed = opt_time(c, "COMPLETED", zones)?.map(&mut at);
            let created = opt_time(c, "CREATED", zones)?.map(&mut at);
            // Half-open spans giving the inclusive tests of RFC 4791
            // section 9.9: DUE only is start < DUE <= end, COMPLETED
            // start <= COMPLETED <= end (whole seconds).
            Shape::Abs(vec![match (due, completed, created) {
                (Some(d), _, _) => (d - 1, d),
                (None, Some(done), Some(cr)) => (cr.min(done) - 1, cr.max(done) + 1),
                (None, Some(done), None) => (done - 1, done + 1),
                (None, None, Some(cr)) => (cr, i64::MAX),
                (None, None, None) => (i64::MIN, i64::MAX),
            }])
        }
        ("VJOURNAL", Some(s)) => Shape::Rel(if s.is_date() { 86_400 } else { 0 }),
        ("VFREEBUSY", _) => {
            let mut spans = Vec::new();
            for p in c.props_named("FREEBUSY") {
                for (t, len) in prop_times(p, zones)? {
                    let s = at(t);
                    spans.push((s, s + len.unwrap_or(0).max(0)));
                }
            }
            if spans.is_empty()
                && let (Some(s), Some(e)) = (dtstart, opt_time(c, "DTEND", zones)?)
            {
                spans.push((at(s), at(e)));
            }
            Shape::Abs(spans)
        }
        _ => Shape::Abs(Vec::new()),
    };
    Ok(Timing {
        dtstart,
        due_anchor,
        shape,
        floating,
    })
}

/// One instance: which member produced it and its span in UTC seconds.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// Index into the members passed to [`expand`].
    pub member: usize,
    pub start: i64,
    pub end: i64,
    /// Recurrence identifier (UTC) when the component is part of a recurring set.
    pub rid: Option<i64>,
    /// Start as a value (to keep DATE instances as dates).
    pub start_time: Option<Time>,
}

/// Result of expanding a recurrence set.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expansion {
    pub items: Vec<Item>,
    pub more_after: Option<i64>,
    pub floating: bool,
}

/// True when [start, end) overlaps [lo, hi) under RFC 4791 section 9.9
/// (zero-length spans overlap when lo <= start < hi).
pub(crate) fn overlaps(start: i64, end: i64, lo: Option<i64>, hi: Option<i64>) -> bool {
    let lo_ok = match lo {
        None => true,
        Some(l) if start == end => l <= start,
        Some(l) => end > l,
    };
    lo_ok && hi.is_none_or(|h| start < h)
}

/// Expand the members (master and overrides of one UID). Master instances
/// are produced when they may overlap [lo, hi] (UTC seconds; instances
/// starting up to one duration before `lo` are included, callers test the
/// exact overlap), at most `cap` of them; overrides and fixed spans are
/// always produced.
pub(crate) fn expand(
    members: &[&Comp<'_>],
    zones: &Zones,
    float: Option<Tz>,
    lo: i64,
    hi: i64,
    cap: usize,
) -> Result<Expansion, String> {
    let mut out = Expansion::default();
    let mut overridden = HashSet::new();
    let mut futures: Vec<Future> = Vec::new();
    let mut master = None;
    for (i, c) in members.iter().enumerate() {
        let t = timing(c, zones, float)?;
        out.floating |= t.floating;
        match c.prop("RECURRENCE-ID") {
            Some(p) => {
                let r = prop_time(p, zones)?;
                out.floating |= r.is_floating();
                let rid = r.utc(float);
                overridden.insert(rid);
                if p.param("RANGE")
                    .is_some_and(|r| r.eq_ignore_ascii_case("THISANDFUTURE"))
                    && let (Some(s), Shape::Rel(d)) = (t.dtstart, &t.shape)
                {
                    futures.push(Future {
                        rid,
                        member: i,
                        delta: s.utc(float) - rid,
                        duration: *d,
                    });
                }
                push_fixed(&mut out.items, i, &t, float, Some(rid));
            }
            None if master.is_none() => master = Some((i, t)),
            None => push_fixed(&mut out.items, i, &t, float, None),
        }
    }
    let Some((mi, mt)) = master else {
        return Ok(out);
    };
    let comp = members[mi];
    let (Some(dt0), Shape::Rel(dur)) = (mt.dtstart, &mt.shape) else {
        push_fixed(&mut out.items, mi, &mt, float, None);
        return Ok(out);
    };
    let recurring = comp.prop("RRULE").is_some() || comp.prop("RDATE").is_some();
    if !recurring {
        push_fixed(&mut out.items, mi, &mt, float, None);
        return Ok(out);
    }
    futures.sort_by_key(|f| f.rid);
    // Instances moved by a THISANDFUTURE override may come from outside the window.
    let shift = futures
        .iter()
        .map(|f| f.delta.saturating_abs())
        .max()
        .unwrap_or(0);
    let longest = futures.iter().map(|f| f.duration).fold(*dur, i64::max);
    let mut starts: Vec<(Time, Option<i64>)> = vec![(dt0, None)];
    if let Some(rule) = comp.prop("RRULE") {
        let gen_lo = lo.saturating_sub(longest).saturating_sub(shift);
        let gen_hi = hi.saturating_add(shift);
        let (more, generated) = rrule_starts(&rule.value, dt0, float, gen_lo, gen_hi, cap)?;
        out.more_after = more;
        starts.extend(generated.into_iter().map(|t| (t, None)));
    }
    for p in comp.props_named("RDATE") {
        starts.extend(prop_times(p, zones)?);
    }
    let mut excluded = HashSet::new();
    for p in comp.props_named("EXDATE") {
        for (t, _) in prop_times(p, zones)? {
            out.floating |= t.is_floating();
            excluded.insert(t.utc(float));
        }
    }
    let mut seen = HashSet::new();
    for (t, len) in starts {
        out.floating |= t.is_floating();
        let s = t.utc(float);
        if excluded.contains(&s) || overridden.contains(&s) || !seen.insert(s) {
            continue;
        }
        // RFC 5545 section 3.8.4.4: the latest THISANDFUTURE override
        // before this instance applies to it (its shift, its duration).
        let future = futures.iter().rev().find(|f| f.rid < s);
        let (member, t, len, dur) = match future {
            Some(f) => (f.member, t.shifted(f.delta), None, f.duration),
            None => (mi, t, len, *dur),
        };
        let start = t.utc(float);
        if start < lo.saturating_sub(len.unwrap_or(dur).max(0)) || start > hi {
            continue;
        }
        let end = match len {
            Some(l) => start + l.max(0),
            None if t.is_date() => date_end(t, dur, float),
            None => start.saturating_add(dur),
        };
        // DUE only: the instance matches start < DUE <= end.
        let (start, end) = if mt.due_anchor {
            (start - 1, start)
        } else {
            (start, end)
        };
        out.items.push(Item {
            member,
            start,
            end,
            rid: Some(s),
            start_time: Some(t),
        });
    }
    Ok(out)
}

/// A RECURRENCE-ID;RANGE=THISANDFUTURE override: later instances move by
/// `delta` seconds and last `duration` seconds.
struct Future {
    rid: i64,
    member: usize,
    delta: i64,
    duration: i64,
}

fn push_fixed(
    items: &mut Vec<Item>,
    member: usize,
    t: &Timing,
    float: Option<Tz>,
    rid: Option<i64>,
) {
    match (&t.shape, t.dtstart) {
        (Shape::Rel(d), Some(s)) => {
            let start = s.utc(float);
            let end = if s.is_date() {
                date_end(s, *d, float)
            } else {
                start.saturating_add(*d)
            };
            items.push(Item {
                member,
                start,
                end,
                rid,
                start_time: Some(s),
            });
        }
        (Shape::Abs(spans), _) => items.extend(spans.iter().map(|&(start, end)| Item {
            member,
            start,
            end,
            rid,
            start_time: None,
        })),
        (Shape::Rel(_), None) => {}
    }
}

/// End of an all-day instance: wall-clock date plus `dur`, resolved like the start.
fn date_end(t: Time, dur: i64, float: Option<Tz>) -> i64 {
    let naive = Duration::try_seconds(dur).and_then(|d| t.naive.checked_add_signed(d));
    match naive {
        Some(naive) => Time { naive, ..t }.utc(float),
        None => t.utc(float).saturating_add(dur),
    }
}

/// Split the UNTIL part out of a rule, returning the rest of the rule text.
fn split_until(rule: &str) -> (String, Option<&str>) {
    let mut rest = Vec::new();
    let mut until = None;
    for part in rule.trim().split(';').filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("UNTIL") => until = Some(v.trim()),
            _ => rest.push(part),
        }
    }
    (rest.join(";"), until)
}

/// Move a rule's start forward by whole multiples of its period so that
/// expansion need not walk from a distant DTSTART to `target`. Only done
/// where the shift provably keeps the instance set after the new start:
/// no COUNT; FREQ of DAILY or longer with month days that exist every
/// period; HOURLY, MINUTELY and SECONDLY only when wall-clock time is
/// absolute time (`fixed_frame`: UTC, floating or a fixed offset), where a
/// shift by whole periods keeps every BYxxx value. Without it a rule such
/// as `FREQ=SECONDLY;INTERVAL=1800` from 1900 would spend the whole result
/// budget before reaching today, and find nothing there.
fn fast_forward(
    body: &str,
    naive: NaiveDateTime,
    target: NaiveDateTime,
    fixed_frame: bool,
) -> NaiveDateTime {
    if target <= naive {
        return naive;
    }
    let mut freq = "";
    let mut interval: i64 = 1;
    for part in body.split(';') {
        match part.split_once('=') {
            Some((k, v)) if k.eq_ignore_ascii_case("FREQ") => freq = v,
            Some((k, v)) if k.eq_ignore_ascii_case("INTERVAL") => {
                interval = v.trim().parse().unwrap_or(0);
            }
            Some((k, _)) if k.eq_ignore_ascii_case("COUNT") => return naive,
            _ => {}
        }
    }
    if !(1..=65_535).contains(&interval) {
        return naive;
    }
    let days = (target.date() - naive.date()).num_days();
    let months = i64::from(target.year() - naive.year()) * 12 + i64::from(target.month())
        - i64::from(naive.month());
    let shifted = match freq.to_ascii_uppercase().as_str() {
        "DAILY" => naive.checked_add_days(Days::new(
            u64::try_from(days / interval * interval).unwrap_or(0),
        )),
        "WEEKLY" => {
            let step = 7 * interval;
            naive.checked_add_days(Days::new(u64::try_from(days / step * step).unwrap_or(0)))
        }
        "MONTHLY" if naive.day() <= 28 => {
            let n = u32::try_from(months / interval * interval).unwrap_or(0);
            naive.checked_add_months(Months::new(n))
        }
        "YEARLY" if !(naive.month() == 2 && naive.day() == 29) => {
            let n = u32::try_from(months / 12 / interval * interval * 12).unwrap_or(0);
            naive.checked_add_months(Months::new(n))
        }
        f @ ("HOURLY" | "MINUTELY" | "SECONDLY") if fixed_frame => {
            let unit = match f {
                "HOURLY" => 3600,
                "MINUTELY" => 60,
                _ => 1,
            };
            let step = unit * interval;
            let periods = (target - naive).num_seconds() / step;
            naive.checked_add_signed(chrono::TimeDelta::seconds(periods * step))
        }
        _ => None,
    };
    shifted.filter(|s| *s <= target).unwrap_or(naive)
}

/// Start times generated by an RRULE within [lo, hi] (UTC), plus where the
/// expansion stopped early (instances may exist at or after that instant).
fn rrule_starts(
    rule: &str,
    dt0: Time,
    float: Option<Tz>,
    lo: i64,
    hi: i64,
    cap: usize,
) -> Result<(Option<i64>, Vec<Time>), String> {
    let bad = |e: &dyn std::fmt::Display| format!("RRULE is not valid: {e}");
    // RECUR values are ASCII (RFC 5545 3.3.10); the rrule crate slices
    // them by bytes and would panic inside a multi-byte character.
    if !rule.is_ascii() {
        return Err(bad(&"non-ASCII characters"));
    }
    let (body, until) = split_until(rule);
    // Expansion frame: the IANA zone itself, or UTC holding wall-clock times.
    let frame = match dt0.anchor {
        Anchor::Zoned(Zone::Iana(tz)) => rrule::Tz::Tz(tz),
        _ => rrule::Tz::UTC,
    };
    // Skip whole periods before the window (the instances generated by
    // DTSTART itself are added by the caller).
    let naive = match chrono::DateTime::from_timestamp(lo.saturating_sub(2 * 86_400), 0) {
        Some(target) => {
            let fixed = !matches!(dt0.anchor, Anchor::Zoned(Zone::Iana(_)));
            fast_forward(&body, dt0.naive, target.naive_utc(), fixed)
        }
        None => dt0.naive,
    };
    let start = match dt0.anchor {
        Anchor::Zoned(z @ Zone::Iana(_)) => frame.timestamp_opt(local_to_utc(z, naive), 0),
        _ => frame.from_local_datetime(&naive),
    }
    .single()
    .ok_or("DTSTART is out of range")?;
    let mut parsed = rrule::RRule::from_str(&body).map_err(|e| bad(&e))?;
    if let Some(u) = until {
        let (naive, is_utc) = match parse_date_time(u) {
            Some(v) => v,
            None => {
                let d = parse_time(u, true, None).ok_or("RRULE has an invalid UNTIL value")?;
                (end_of_day(d.naive), false)
            }
        };
        let utc_secs = match (dt0.anchor, is_utc) {
            (Anchor::Zoned(z @ Zone::Iana(_)), false) => local_to_utc(z, naive),
            (Anchor::Zoned(Zone::Fixed(off)), true) => naive.and_utc().timestamp() + i64::from(off),
            _ => naive.and_utc().timestamp(),
        };
        let until_dt = rrule::Tz::UTC
            .timestamp_opt(utc_secs, 0)
            .single()
            .ok_or("RRULE has an invalid UNTIL value")?;
        if until_dt < start {
            // Nothing after DTSTART: the set is DTSTART alone.
            return Ok((None, Vec::new()));
        }
        parsed = parsed.until(until_dt);
    }
    let cost = super::rule_cost::check(&body)?;
    let budget = super::rule_cost::result_budget(&body, cost, BUDGET);
    let validated = parsed.validate(start).map_err(|e| bad(&e))?;
    let set = rrule::RRuleSet::new(start).rrule(validated).limit();
    let mut out = Vec::new();
    for (n, dt) in (&set).into_iter().enumerate() {
        let t = Time {
            naive: dt.naive_local(),
            anchor: dt0.anchor,
        };
        let s = t.utc(float);
        if s > hi {
            return Ok((Some(s), out));
        }
        if out.len() >= cap || n >= budget {
            return Ok((Some(s), out));
        }
        if s >= lo {
            out.push(t);
        }
    }
    Ok((None, out))
}

#[cfg(test)]
mod tests {
    use super::super::model::parse;
    use super::*;

    fn run(body: &str, lo: i64, hi: i64) -> Expansion {
        let text = format!("BEGIN:VCALENDAR\r\n{body}END:VCALENDAR\r\n");
        let top = parse(&text).unwrap();
        let zones = Zones::from_calendar(&top[0]);
        let members: Vec<&Comp<'_>> = top[0].comps.iter().collect();
        expand(&members, &zones, None, lo, hi, 1000).unwrap()
    }

    fn ts(s: &str) -> i64 {
        parse_date_time(s).unwrap().0.and_utc().timestamp()
    }

    #[test]
    fn weekly_count_until_exdate() {
        let e = run(
            "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nEND:VEVENT\r\n",
            i64::MIN,
            i64::MAX,
        );
        let starts: Vec<i64> = e.items.iter().map(|i| i.start).collect();
        assert_eq!(
            starts,
            vec![
                ts("20240101T100000Z"),
                ts("20240108T100000Z"),
                ts("20240115T100000Z")
            ]
        );
        assert_eq!(e.items[0].end, ts("20240101T110000Z"));
        assert_eq!(e.more_after, None);
        let e = run(
            "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T100000Z\r\nRRULE:FREQ=WEEKLY;UNTIL=20240122T100000Z\r\nEXDATE:20240108T100000Z\r\nEND:VEVENT\r\n",
            i64::MIN,
            i64::MAX,
        );
        let starts: Vec<i64> = e.items.iter().map(|i| i.start).collect();
        // Jan 1, (Jan 8 excluded), Jan 15, Jan 22 (UNTIL is inclusive).
        assert_eq!(
            starts,
            vec![
                ts("20240101T100000Z"),
                ts("20240115T100000Z"),
                ts("20240122T100000Z")
            ]
        );
    }

    #[test]
    fn rdate_period_and_date() {
        let e = run(
            "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T100000Z\r\nDTEND:20240101T103000Z\r\nRDATE;VALUE=PERIOD:20240105T120000Z/PT2H\r\nRDATE:20240110T080000Z,20240111T080000Z\r\nEND:VEVENT\r\n",
            i64::MIN,
            i64::MAX,
        );
        let spans: Vec<(i64, i64)> = e.items.iter().map(|i| (i.start, i.end)).collect();
        assert_eq!(
            spans,
            vec![
                (ts("20240101T100000Z"), ts("20240101T103000Z")),
                (ts("20240105T120000Z"), ts("20240105T140000Z")),
                (ts("20240110T080000Z"), ts("20240110T083000Z")),
                (ts("20240111T080000Z"), ts("20240111T083000Z")),
            ]
        );
    }

    #[test]
    fn new_york_across_dst() {
        // 09:00 New York: EST (-5) before 10 March 2024, EDT (-4) after.
        let e = run(
            "BEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID=America/New_York:20240307T090000\r\nRRULE:FREQ=DAILY;COUNT=5\r\nEND:VEVENT\r\n",
            i64::MIN,
            i64::MAX,
        );
        let starts: Vec<i64> = e.items.iter().map(|i| i.start).collect();
        assert_eq!(
            starts,
            vec![
                ts("20240307T140000Z"),
                ts("20240308T140000Z"),
                ts("20240309T140000Z"),
                ts("20240310T130000Z"),
                ts("20240311T130000Z"),
            ]
        );
        assert!(!e.floating);
    }

    #[test]
    fn infinite_rule_stops_at_bound_and_cap() {
        let body = "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T000000Z\r\nRRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\n";
        let e = run(body, i64::MIN, i64::MAX);
        assert_eq!(e.items.len(), 1000);
        assert_eq!(e.more_after, Some(ts("20240101T001640Z")));
        let e = run(body, ts("20240101T000010Z"), ts("20240101T000012Z"));
        assert_eq!(e.items.len(), 3);
        assert_eq!(e.more_after, Some(ts("20240101T000013Z")));
    }

    #[test]
    fn bad_rules_are_errors() {
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20240101T000000Z\r\nRRULE:FREQ=FOO\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let top = parse(text).unwrap();
        let zones = Zones::from_calendar(&top[0]);
        let m: Vec<&Comp<'_>> = top[0].comps.iter().collect();
        assert!(expand(&m, &zones, None, 0, 10, 10).is_err());
        // UNTIL before DTSTART leaves DTSTART alone.
        let e = run(
            "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T000000Z\r\nRRULE:FREQ=DAILY;UNTIL=20230101T000000Z\r\nEND:VEVENT\r\n",
            i64::MIN,
            i64::MAX,
        );
        assert_eq!(e.items.len(), 1);
    }

    #[test]
    fn fast_forward_keeps_instances() {
        let rules = [
            "FREQ=DAILY;INTERVAL=3",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH",
            "FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR",
            "FREQ=MONTHLY;BYMONTHDAY=31",
            "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
            "FREQ=YEARLY;INTERVAL=7;BYMONTH=6",
        ];
        let dtstart = "DTSTART;TZID=Europe/Berlin:20200115T100000";
        let (lo, hi) = (ts("20270301T000000Z"), ts("20270901T000000Z"));
        for rule in rules {
            assert_window_is_exact(dtstart, rule, lo, hi);
        }
    }

    /// Expanding only [lo, hi] (with its fast-forward) gives the instances
    /// of expanding everything from DTSTART, and there are some.
    fn assert_window_is_exact(dtstart: &str, rule: &str, lo: i64, hi: i64) {
        let body = format!("BEGIN:VEVENT\r\nUID:a\r\n{dtstart}\r\nRRULE:{rule}\r\nEND:VEVENT\r\n");
        let starts = |from: i64, to: i64| -> Vec<i64> {
            run(&body, from, to)
                .items
                .iter()
                .map(|i| i.start)
                .filter(|s| (lo..=hi).contains(s))
                .collect()
        };
        let full = starts(i64::MIN, i64::MAX);
        assert!(!full.is_empty(), "{rule}");
        assert_eq!(full, starts(lo, hi), "{rule}");
    }

    #[test]
    fn sub_daily_rules_from_a_distant_start_reach_the_window() {
        // Found by the rrule_expand fuzz target: every hour since 1900 used
        // to exhaust the result budget around 1905 and return nothing.
        let body = "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:19000101T000000Z\r\nRRULE:FREQ=SECONDLY;INTERVAL=1800;BYMINUTE=0\r\nEND:VEVENT\r\n";
        let (lo, hi) = (ts("20240101T000000Z"), ts("20240201T000000Z"));
        let hours = run(body, lo, hi)
            .items
            .iter()
            .filter(|i| (lo..hi).contains(&i.start))
            .count();
        assert_eq!(hours, 31 * 24);
        // The shift keeps the instance set: the same window, walked from the start.
        let rules = [
            "FREQ=HOURLY;INTERVAL=5;BYMINUTE=0,30",
            "FREQ=MINUTELY;INTERVAL=45",
            "FREQ=SECONDLY;INTERVAL=7200;BYSECOND=0",
        ];
        let (lo, hi) = (ts("20270301T000000Z"), ts("20270305T000000Z"));
        for rule in rules {
            assert_window_is_exact("DTSTART:20270220T031500Z", rule, lo, hi);
        }
    }

    #[test]
    fn overlap_rules() {
        assert!(overlaps(10, 10, Some(10), Some(11)));
        assert!(!overlaps(10, 10, Some(5), Some(10)));
        assert!(!overlaps(10, 20, Some(20), None));
        assert!(overlaps(10, 20, Some(19), Some(21)));
        assert!(overlaps(10, 20, None, None));
    }
}
