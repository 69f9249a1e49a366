//! Evaluation of a CALDAV:filter (RFC 4791 section 9.7) against one stored
//! calendar object: comp-filter, prop-filter, param-filter, text-match
//! under the RFC 4790 collations, is-not-defined, and time-range
//! (RFC 4791 section 9.9) over every instance of recurring components.
//!
//! A time-range on VALARM tests every trigger of the alarm: REPEAT
//! repetitions DURATION apart, and for a relative TRIGGER the START (or
//! END) of every instance of the parent that the parent itself produces
//! (overrides carry their own alarms).

use super::model::{Comp, Prop, parse, unescape};
use super::query::Collation;
use super::query::{CompFilter, Filter, ParamFilter, PropFilter, TextMatch, TimeRange};
use super::recurrence::{expand, overlaps};
use super::timezone::{Zones, parse_duration, prop_time};
use chrono_tz::Tz;
use std::collections::HashMap;

/// Instances looked at per recurrence set for one time-range test.
pub(crate) const QUERY_CAP: usize = 5000;

struct Env<'z> {
    zones: &'z Zones,
    float: Option<Tz>,
}

/// Evaluate `filter` against `text`; unparseable text gives false.
pub fn matches(text: &str, filter: &Filter, default_tz: Option<Tz>) -> bool {
    let Ok(top) = parse(text) else {
        return false;
    };
    let zones = top.first().map(Zones::from_calendar).unwrap_or_default();
    let env = Env {
        zones: &zones,
        float: default_tz,
    };
    let all: Vec<&Comp<'_>> = top.iter().collect();
    eval_comp(&filter.comp_filter, &all, None, &env)
}

pub(crate) fn range_secs(tr: &TimeRange) -> (Option<i64>, Option<i64>) {
    (
        tr.start.map(|t| t.timestamp()),
        tr.end.map(|t| t.timestamp()),
    )
}

/// A component whose children are being filtered, with its own siblings
/// (the other members of its recurrence set are among them).
type Parent<'p, 'a> = (&'p Comp<'a>, &'p [&'p Comp<'a>]);

/// `siblings`: the children of one parent; `parent` is that parent.
fn eval_comp(
    cf: &CompFilter,
    siblings: &[&Comp<'_>],
    parent: Option<Parent<'_, '_>>,
    env: &Env<'_>,
) -> bool {
    let candidates: Vec<usize> = siblings
        .iter()
        .enumerate()
        .filter(|(_, c)| c.name.eq_ignore_ascii_case(&cf.name))
        .map(|(i, _)| i)
        .collect();
    if cf.is_not_defined {
        return candidates.is_empty();
    }
    let in_range: Option<Vec<bool>> = cf
        .time_range
        .as_ref()
        .map(|tr| time_range_hits(tr, siblings, &candidates, parent, env));
    candidates.iter().enumerate().any(|(n, &i)| {
        let c = siblings[i];
        in_range.as_ref().is_none_or(|v| v[n])
            && cf.prop_filters.iter().all(|pf| eval_prop(pf, c, env))
            && cf.comp_filters.iter().all(|sub| {
                let kids: Vec<&Comp<'_>> = c.comps.iter().collect();
                eval_comp(sub, &kids, Some((c, siblings)), env)
            })
    })
}

/// For each candidate, whether it (or an instance it produces) overlaps the range.
fn time_range_hits(
    tr: &TimeRange,
    siblings: &[&Comp<'_>],
    candidates: &[usize],
    parent: Option<Parent<'_, '_>>,
    env: &Env<'_>,
) -> Vec<bool> {
    let (lo, hi) = range_secs(tr);
    let mut hits = vec![false; candidates.len()];
    // Group candidates by UID so overrides replace master instances.
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for (n, &i) in candidates.iter().enumerate() {
        let c = siblings[i];
        if c.name == "VALARM" {
            hits[n] = alarm_hit(c, parent, lo, hi, env);
            continue;
        }
        groups
            .entry(c.text("UID").unwrap_or_default())
            .or_default()
            .push(n);
    }
    for ns in groups.values() {
        let members: Vec<&Comp<'_>> = ns.iter().map(|&n| siblings[candidates[n]]).collect();
        let Ok(exp) = expand(
            &members,
            env.zones,
            env.float,
            lo.unwrap_or(i64::MIN),
            hi.unwrap_or(i64::MAX),
            QUERY_CAP,
        ) else {
            continue;
        };
        for item in &exp.items {
            if overlaps(item.start, item.end, lo, hi) {
                hits[ns[item.member]] = true;
            }
        }
        // Expansion stopped early inside the range: be conservative.
        if let Some(m) = exp.more_after
            && hi.is_none_or(|h| m < h)
        {
            for (k, &n) in ns.iter().enumerate() {
                if members[k].prop("RRULE").is_some() {
                    hits[n] = true;
                }
            }
        }
    }
    hits
}

/// Whether a trigger of `alarm` falls in [lo, hi) (RFC 4791 section 9.9:
/// start <= trigger < end).
fn alarm_hit(
    alarm: &Comp<'_>,
    parent: Option<Parent<'_, '_>>,
    lo: Option<i64>,
    hi: Option<i64>,
    env: &Env<'_>,
) -> bool {
    let Some(trigger) = alarm.prop("TRIGGER") else {
        return false;
    };
    // RFC 5545 section 3.8.6.2: REPEAT more triggers, DURATION apart.
    let repeat: i64 = alarm
        .text("REPEAT")
        .and_then(|r| r.trim().parse().ok())
        .unwrap_or(0);
    let step = alarm
        .prop("DURATION")
        .and_then(|p| parse_duration(&p.value));
    let (repeat, step) = match step {
        Some(st) if repeat > 0 && st > 0 => (repeat, st),
        _ => (0, 0),
    };
    let Some(offset) = parse_duration(&trigger.value) else {
        return match prop_time(trigger, env.zones) {
            Ok(t) => repeats_hit(t.utc(env.float), repeat, step, lo, hi),
            Err(_) => false,
        };
    };
    let Some((p, siblings)) = parent else {
        return false;
    };
    let related_end = trigger
        .param("RELATED")
        .is_some_and(|r| r.eq_ignore_ascii_case("END"));
    // Instance bases b with some b + offset + k * step in [lo, hi).
    let last = offset.saturating_add(repeat.saturating_mul(step));
    let exp_lo = lo.map_or(i64::MIN, |l| l.saturating_sub(last));
    let exp_hi = hi.map_or(i64::MAX, |h| h.saturating_sub(offset));
    let uid = p.text("UID");
    let members: Vec<&Comp<'_>> = siblings
        .iter()
        .copied()
        .filter(|s| s.name == p.name && s.text("UID") == uid)
        .collect();
    let Some(me) = members.iter().position(|m| std::ptr::eq(*m, p)) else {
        return false;
    };
    let Ok(exp) = expand(&members, env.zones, env.float, exp_lo, exp_hi, QUERY_CAP) else {
        return false;
    };
    if exp.more_after.is_some_and(|m| m < exp_hi) {
        // Expansion stopped inside the range: be conservative.
        return true;
    }
    // Without DTSTART (a VTODO with DUE) triggers are relative to DUE,
    // the end of the instance's span (RFC 5545 section 3.8.6.3).
    let has_start = p.prop("DTSTART").is_some();
    if !has_start && p.prop("DUE").is_none() {
        return false;
    }
    exp.items.iter().filter(|i| i.member == me).any(|i| {
        let base = if related_end || !has_start {
            i.end
        } else {
            i.start
        };
        repeats_hit(base.saturating_add(offset), repeat, step, lo, hi)
    })
}

/// Whether one of first, first + step, ..., first + repeat * step lies in
/// [lo, hi), without walking the repetitions.
fn repeats_hit(first: i64, repeat: i64, step: i64, lo: Option<i64>, hi: Option<i64>) -> bool {
    let k = match lo {
        Some(l) if l > first && step > 0 => {
            let gap = l.saturating_sub(first);
            gap / step + i64::from(gap % step != 0)
        }
        Some(l) if l > first => return false,
        _ => 0,
    };
    if k > repeat {
        return false;
    }
    let at = first.saturating_add(k.saturating_mul(step));
    overlaps(at, at, lo, hi)
}

fn eval_prop(pf: &PropFilter, c: &Comp<'_>, env: &Env<'_>) -> bool {
    let mut props = c
        .props
        .iter()
        .filter(|p| p.name.eq_ignore_ascii_case(&pf.name));
    if pf.is_not_defined {
        return props.next().is_none();
    }
    props.any(|p| {
        pf.time_range.as_ref().is_none_or(|tr| {
            let (lo, hi) = range_secs(tr);
            match prop_time(p, env.zones) {
                Ok(t) => {
                    let s = t.utc(env.float);
                    overlaps(s, s, lo, hi)
                }
                Err(_) => false,
            }
        }) && pf
            .text_match
            .as_ref()
            .is_none_or(|tm| text_matches(tm, &unescape(&p.value)))
            && pf.param_filters.iter().all(|f| eval_param(f, p))
    })
}

fn eval_param(pf: &ParamFilter, p: &Prop<'_>) -> bool {
    let values = p
        .params
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(&pf.name))
        .flat_map(|(_, v)| v.iter());
    if pf.is_not_defined {
        return values.count() == 0;
    }
    let values: Vec<&String> = values.collect();
    if values.is_empty() {
        return false;
    }
    match &pf.text_match {
        None => true,
        Some(tm) if tm.negate => values.iter().all(|v| text_matches(tm, v)),
        Some(tm) => values.iter().any(|v| text_matches(tm, v)),
    }
}

/// Substring match under the collation, inverted by `negate`.
pub(crate) fn text_matches(tm: &TextMatch, value: &str) -> bool {
    let found = match tm.collation {
        Collation::Octet => value.contains(&tm.text),
        Collation::AsciiCasemap => value
            .to_ascii_lowercase()
            .contains(&tm.text.to_ascii_lowercase()),
        Collation::UnicodeCasemap => value.to_lowercase().contains(&tm.text.to_lowercase()),
    };
    found != tm.negate
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
