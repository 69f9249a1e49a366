//! CALDAV:calendar-data output (RFC 4791 section 9.6): partial selection of
//! components and properties, `expand` (each instance in the range as its
//! own component, times in UTC), `limit-recurrence-set` and
//! `limit-freebusy-set`.
//!
//! Limitations: on expand, floating times are taken as UTC and all-day
//! (DATE) instances keep DATE values rather than UTC date-times; overrides
//! with RANGE=THISANDFUTURE are treated as single-instance overrides.

use super::IcalError;
use super::filter::{QUERY_CAP, range_secs};
use super::model::{Comp, Prop, write_comp};
use super::object::single_calendar;
use super::query::{CalendarDataSpec, CompSelect, TimeRange};
use super::recurrence::{Item, expand, overlaps};
use super::timezone::{Zones, fmt_utc, prop_times, utc_dt};
use std::borrow::Cow;
use std::collections::HashMap;

/// Produce calendar-data for `text` according to `spec`.
pub fn render(text: &str, spec: &CalendarDataSpec) -> Result<String, IcalError> {
    if spec.comp.is_none()
        && spec.expand.is_none()
        && spec.limit_recurrence_set.is_none()
        && spec.limit_freebusy_set.is_none()
    {
        return Ok(text.to_string());
    }
    let mut cal = single_calendar(text)?;
    let zones = Zones::from_calendar(&cal);
    if let Some(tr) = &spec.expand {
        cal.comps = expand_set(&cal, &zones, tr)?;
    } else if let Some(tr) = &spec.limit_recurrence_set {
        cal.comps = limit_set(&cal, &zones, tr)?;
    }
    if let Some(tr) = &spec.limit_freebusy_set {
        for c in cal.comps.iter_mut().filter(|c| c.name == "VFREEBUSY") {
            limit_freebusy(c, &zones, tr);
        }
    }
    let cal = match &spec.comp {
        Some(sel) => select(&cal, sel),
        None => cal,
    };
    let mut out = String::with_capacity(text.len() + 64);
    write_comp(&mut out, &cal);
    Ok(out)
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

fn expansion(members: &[&Comp<'_>], zones: &Zones, tr: &TimeRange) -> Result<Vec<Item>, IcalError> {
    let (lo, hi) = range_secs(tr);
    let line = members.first().map_or(0, |c| c.lineno);
    let exp = expand(
        members,
        zones,
        None,
        lo.unwrap_or(i64::MIN),
        hi.unwrap_or(i64::MAX),
        QUERY_CAP,
    )
    .map_err(|m| IcalError::invalid(line, m))?;
    let mut items: Vec<Item> = exp
        .items
        .into_iter()
        .filter(|i| overlaps(i.start, i.end, lo, hi))
        .collect();
    items.sort_by_key(|i| i.start);
    Ok(items)
}

fn date_or_utc(name: &str, t: i64, date: bool) -> Prop<'static> {
    if date {
        let d = utc_dt(t).format("%Y%m%d");
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

/// One instance of `comp` as a stand-alone component with UTC times.
fn instance<'a>(comp: &Comp<'a>, item: &Item) -> Comp<'a> {
    let Some(st) = item.start_time else {
        return comp.clone();
    };
    let date = st.is_date();
    let mut out = comp.clone();
    out.props.retain(|p| !TIMING.contains(&p.name.as_str()));
    out.props.push(date_or_utc("DTSTART", item.start, date));
    if comp.prop("DTEND").is_some() {
        out.props.push(date_or_utc("DTEND", item.end, date));
    }
    if comp.prop("DUE").is_some() {
        out.props.push(date_or_utc("DUE", item.end, date));
    }
    if let Some(rid) = item.rid {
        out.props.push(date_or_utc("RECURRENCE-ID", rid, date));
    }
    out
}

fn expand_set<'a>(
    cal: &Comp<'a>,
    zones: &Zones,
    tr: &TimeRange,
) -> Result<Vec<Comp<'a>>, IcalError> {
    let mut out = Vec::new();
    for members in groups(cal) {
        let mut last_fixed = None;
        for item in expansion(&members, zones, tr)? {
            if item.start_time.is_none() {
                if last_fixed == Some(item.member) {
                    continue;
                }
                last_fixed = Some(item.member);
            }
            out.push(instance(members[item.member], &item));
        }
    }
    out.extend(
        cal.comps
            .iter()
            .filter(|c| c.name != "VTIMEZONE" && !is_recurring_kind(&c.name))
            .cloned(),
    );
    Ok(out)
}

fn limit_set<'a>(
    cal: &Comp<'a>,
    zones: &Zones,
    tr: &TimeRange,
) -> Result<Vec<Comp<'a>>, IcalError> {
    let (lo, hi) = range_secs(tr);
    let mut keep_override: Vec<&Comp<'a>> = Vec::new();
    for members in groups(cal) {
        for item in expansion(&members, zones, tr)? {
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
            let rid = t.utc(None);
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
        .cloned()
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

/// Apply a CALDAV:comp selection.
fn select<'a>(comp: &Comp<'a>, sel: &CompSelect) -> Comp<'a> {
    let keep_always: &[&str] = if comp.name == "VCALENDAR" {
        &["VERSION", "PRODID"]
    } else {
        &[]
    };
    let props = comp
        .props
        .iter()
        .filter(|p| {
            sel.all_props
                || keep_always.contains(&p.name.as_str())
                || sel.props.iter().any(|n| n.eq_ignore_ascii_case(&p.name))
        })
        .cloned()
        .collect();
    let comps = if sel.all_comps {
        comp.comps.clone()
    } else {
        comp.comps
            .iter()
            .filter_map(|c| {
                sel.comps
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(&c.name))
                    .map(|s| select(c, s))
            })
            .collect()
    };
    Comp {
        name: comp.name.clone(),
        props,
        comps,
        lineno: comp.lineno,
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
