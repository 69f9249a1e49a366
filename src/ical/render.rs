//! CALDAV:calendar-data output (RFC 4791 section 9.6): partial selection of
//! components and properties, `expand` (each instance in the range as its
//! own component, times in UTC), `limit-recurrence-set` and
//! `limit-freebusy-set`.
//!
//! Floating and all-day values are read in `Limits::timezone` (the
//! request's or the calendar's zone, RFC 4791 section 9.8). Limitation: on
//! expand, all-day (DATE) instances keep DATE values rather than UTC
//! date-times.

use super::IcalError;
use super::bounds::{Limits, Out, OutputError};
use super::filter::range_secs;
use super::model::{Comp, Prop};
use super::object::single_calendar;
use super::query::{CalendarDataSpec, CompSelect, TimeRange};
use super::recurrence::{Item, expand, overlaps};
use super::timezone::{Zones, fmt_utc, prop_times, utc_dt};
use chrono_tz::Tz;
use std::borrow::Cow;
use std::collections::HashMap;

/// Produce calendar-data for `text` according to `spec`, within `limits`:
/// at most `max_instances` instances per recurrence set and `max_bytes` of
/// output, checked as it is written (instances are written one at a time,
/// never collected).
pub fn render(
    text: &str,
    spec: &CalendarDataSpec,
    limits: &Limits<'_>,
) -> Result<String, OutputError> {
    if spec.comp.is_none()
        && spec.expand.is_none()
        && spec.limit_recurrence_set.is_none()
        && spec.limit_freebusy_set.is_none()
    {
        if text.len() > limits.max_bytes {
            return Err(OutputError::TooLarge(limits.max_bytes));
        }
        return Ok(text.to_string());
    }
    let cal = single_calendar(text)?;
    let zones = Zones::from_calendar(&cal);
    // The children to write: a component as stored, or one instance of it.
    let children: Vec<(&Comp<'_>, Option<Item>)> = if let Some(tr) = &spec.expand {
        expand_set(&cal, &zones, tr, limits)?
    } else if let Some(tr) = &spec.limit_recurrence_set {
        limit_set(&cal, &zones, tr, limits)?
            .into_iter()
            .map(|c| (c, None))
            .collect()
    } else {
        cal.comps.iter().map(|c| (c, None)).collect()
    };
    let sel = spec.comp.as_ref();
    let mut out = Out::new(limits.max_bytes, text.len() + 64);
    out.line("BEGIN:VCALENDAR")?;
    for p in cal.props.iter().filter(|p| keeps_prop(&cal, sel, p)) {
        out.line(&p.line)?;
    }
    for (c, item) in children {
        limits.check()?;
        let Some(child_sel) = child_select(sel, c) else {
            continue;
        };
        let limited;
        let c = match &spec.limit_freebusy_set {
            Some(tr) if c.name == "VFREEBUSY" => {
                let mut copy = c.clone();
                limit_freebusy(&mut copy, &zones, tr);
                limited = copy;
                &limited
            }
            _ => c,
        };
        let timing = item
            .as_ref()
            .and_then(|i| instance_timing(c, i, limits.timezone));
        write_selected(&mut out, c, child_sel, timing.as_deref())?;
    }
    out.line("END:VCALENDAR")?;
    Ok(out.buf)
}

/// Whether property `p` of `comp` survives the selection `sel`.
fn keeps_prop(comp: &Comp<'_>, sel: Option<&CompSelect>, p: &Prop<'_>) -> bool {
    let Some(sel) = sel else { return true };
    sel.all_props
        || (comp.name == "VCALENDAR" && matches!(p.name.as_str(), "VERSION" | "PRODID"))
        || sel.props.iter().any(|n| n.eq_ignore_ascii_case(&p.name))
}

/// The selection for child `c` of a component selected by `sel`: None when
/// the child is left out, Some(None) when it is written whole.
fn child_select<'s>(sel: Option<&'s CompSelect>, c: &Comp<'_>) -> Option<Option<&'s CompSelect>> {
    match sel {
        None => Some(None),
        Some(s) if s.all_comps => Some(None),
        Some(s) => s
            .comps
            .iter()
            .find(|x| x.name.eq_ignore_ascii_case(&c.name))
            .map(Some),
    }
}

/// Write `c` under selection `sel`; with `timing`, its timing properties
/// are replaced by those (one instance of a recurrence set).
fn write_selected(
    out: &mut Out,
    c: &Comp<'_>,
    sel: Option<&CompSelect>,
    timing: Option<&[Prop<'static>]>,
) -> Result<(), OutputError> {
    if sel.is_none() && timing.is_none() {
        return out.comp(c);
    }
    out.line(&format!("BEGIN:{}", c.name))?;
    let kept = c
        .props
        .iter()
        .filter(|p| timing.is_none() || !TIMING.contains(&p.name.as_str()));
    for p in kept.chain(timing.unwrap_or(&[])) {
        if keeps_prop(c, sel, p) {
            out.line(&p.line)?;
        }
    }
    for sub in &c.comps {
        if let Some(s) = child_select(sel, sub) {
            write_selected(out, sub, s, None)?;
        }
    }
    out.line(&format!("END:{}", c.name))
}

/// A new property from a complete logical line.
fn synth(name: &str, line: String) -> Prop<'static> {
    let value = line
        .split_once(':')
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    Prop {
        name: name.to_string(),
        params: Vec::new(),
        value: Cow::Owned(value),
        line: Cow::Owned(line),
        lineno: 0,
    }
}

fn is_recurring_kind(name: &str) -> bool {
    matches!(name, "VEVENT" | "VTODO" | "VJOURNAL")
}

/// Scheduling components grouped by UID, in order of first appearance.
fn groups<'c, 'a>(cal: &'c Comp<'a>) -> Vec<Vec<&'c Comp<'a>>> {
    let mut order: Vec<Vec<&Comp<'a>>> = Vec::new();
    let mut by_uid: HashMap<String, usize> = HashMap::new();
    for c in cal.comps.iter().filter(|c| is_recurring_kind(&c.name)) {
        let uid = c.text("UID").unwrap_or_default();
        let n = *by_uid.entry(uid).or_insert_with(|| {
            order.push(Vec::new());
            order.len() - 1
        });
        order[n].push(c);
    }
    order
}

/// The instances of one recurrence set overlapping the range, sorted;
/// refused when there are more than `max_instances` of them.
fn expansion(
    members: &[&Comp<'_>],
    zones: &Zones,
    tr: &TimeRange,
    limits: &Limits<'_>,
) -> Result<Vec<Item>, OutputError> {
    let (lo, hi) = range_secs(tr);
    let line = members.first().map_or(0, |c| c.lineno);
    let cap = limits.max_instances;
    let exp = expand(
        members,
        zones,
        limits.timezone,
        lo.unwrap_or(i64::MIN),
        hi.unwrap_or(i64::MAX),
        cap.saturating_add(1),
    )
    .map_err(|m| IcalError::invalid(line, m))?;
    // Stopped (by the cap or the rule's work budget) inside the range.
    if exp.more_after.is_some_and(|m| hi.is_none_or(|h| m < h)) {
        return Err(OutputError::TooManyInstances(cap));
    }
    let mut items: Vec<Item> = exp
        .items
        .into_iter()
        .filter(|i| overlaps(i.start, i.end, lo, hi))
        .collect();
    if items.len() > cap {
        return Err(OutputError::TooManyInstances(cap));
    }
    items.sort_by_key(|i| i.start);
    Ok(items)
}

/// `name` at UTC seconds `t`: a DATE (the day `t` falls on in `tz`, the
/// zone the date was resolved in) or a UTC DATE-TIME.
fn date_or_utc(name: &str, t: i64, date: bool, tz: Option<Tz>) -> Prop<'static> {
    if date {
        let d = match tz {
            Some(tz) => utc_dt(t).with_timezone(&tz).format("%Y%m%d").to_string(),
            None => utc_dt(t).format("%Y%m%d").to_string(),
        };
        synth(name, format!("{name};VALUE=DATE:{d}"))
    } else {
        synth(name, format!("{name}:{}", fmt_utc(t)))
    }
}

const TIMING: &[&str] = &[
    "DTSTART",
    "DTEND",
    "DUE",
    "RECURRENCE-ID",
    "RRULE",
    "RDATE",
    "EXDATE",
    "EXRULE",
];

/// The timing properties of one instance of `comp`, in UTC (None for a
/// component without a start, which is written as stored).
fn instance_timing(comp: &Comp<'_>, item: &Item, tz: Option<Tz>) -> Option<Vec<Prop<'static>>> {
    let st = item.start_time?;
    let date = st.is_date();
    if comp.prop("DTSTART").is_none() {
        // A VTODO recurring from its DUE (no DTSTART).
        let due = item.rid.unwrap_or(item.end);
        let mut out = vec![date_or_utc("DUE", due, date, tz)];
        if let Some(rid) = item.rid {
            out.push(date_or_utc("RECURRENCE-ID", rid, date, tz));
        }
        return Some(out);
    }
    let mut out = vec![date_or_utc("DTSTART", item.start, date, tz)];
    if comp.prop("DTEND").is_some() {
        out.push(date_or_utc("DTEND", item.end, date, tz));
    }
    if comp.prop("DUE").is_some() {
        out.push(date_or_utc("DUE", item.end, date, tz));
    }
    if let Some(rid) = item.rid {
        out.push(date_or_utc("RECURRENCE-ID", rid, date, tz));
    }
    Some(out)
}

/// The children of an expanded calendar: every instance in the range (at
/// most `max_instances` per recurrence set), then the components that do
/// not recur; VTIMEZONE is dropped (times are in UTC).
fn expand_set<'c, 'a>(
    cal: &'c Comp<'a>,
    zones: &Zones,
    tr: &TimeRange,
    limits: &Limits<'_>,
) -> Result<Vec<(&'c Comp<'a>, Option<Item>)>, OutputError> {
    let mut out = Vec::new();
    for members in groups(cal) {
        let mut last_fixed = None;
        for item in expansion(&members, zones, tr, limits)? {
            if item.start_time.is_none() {
                if last_fixed == Some(item.member) {
                    continue;
                }
                last_fixed = Some(item.member);
            }
            out.push((members[item.member], Some(item)));
        }
    }
    out.extend(
        cal.comps
            .iter()
            .filter(|c| c.name != "VTIMEZONE" && !is_recurring_kind(&c.name))
            .map(|c| (c, None)),
    );
    Ok(out)
}

/// The components kept by limit-recurrence-set: masters, and the overrides
/// whose instance falls in the range.
fn limit_set<'c, 'a>(
    cal: &'c Comp<'a>,
    zones: &Zones,
    tr: &TimeRange,
    limits: &Limits<'_>,
) -> Result<Vec<&'c Comp<'a>>, OutputError> {
    let (lo, hi) = range_secs(tr);
    let mut keep_override: Vec<&'c Comp<'a>> = Vec::new();
    for members in groups(cal) {
        for item in expansion(&members, zones, tr, limits)? {
            keep_override.push(members[item.member]);
        }
        for m in &members {
            let Some(p) = m.prop("RECURRENCE-ID") else {
                continue;
            };
            let Ok(v) = prop_times(p, zones) else {
                continue;
            };
            let Some((t, _)) = v.first() else { continue };
            let rid = t.utc(limits.timezone);
            let future = p
                .param("RANGE")
                .is_some_and(|r| r.eq_ignore_ascii_case("THISANDFUTURE"));
            if overlaps(rid, rid, lo, hi) || (future && hi.is_none_or(|h| rid < h)) {
                keep_override.push(*m);
            }
        }
    }
    Ok(cal
        .comps
        .iter()
        .filter(|c| {
            c.prop("RECURRENCE-ID").is_none()
                || !is_recurring_kind(&c.name)
                || keep_override.iter().any(|k| std::ptr::eq(*k, *c))
        })
        .collect())
}

fn limit_freebusy(c: &mut Comp<'_>, zones: &Zones, tr: &TimeRange) {
    let (lo, hi) = range_secs(tr);
    let mut props = Vec::with_capacity(c.props.len());
    for p in std::mem::take(&mut c.props) {
        if p.name != "FREEBUSY" {
            props.push(p);
            continue;
        }
        let Ok(periods) = prop_times(&p, zones) else {
            continue;
        };
        let parts: Vec<&str> = p.value.split(',').collect();
        let kept: Vec<&str> = periods
            .iter()
            .zip(&parts)
            .filter(|((t, len), _)| {
                let s = t.utc(None);
                overlaps(s, s + len.unwrap_or(0), lo, hi)
            })
            .map(|(_, part)| *part)
            .collect();
        if kept.is_empty() {
            continue;
        }
        let prefix = &p.line[..p.line.len() - p.value.len()];
        let line = format!("{prefix}{}", kept.join(","));
        props.push(synth("FREEBUSY", line));
    }
    c.props = props;
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
