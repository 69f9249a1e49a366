//! Evaluation of a CALDAV:filter (RFC 4791 section 9.7) against one stored
//! calendar object: comp-filter, prop-filter, param-filter, text-match
//! under the RFC 4790 collations, is-not-defined, and time-range
//! (RFC 4791 section 9.9) over every instance of recurring components.
//!
//! Limitation: a time-range on VALARM is tested against the trigger of the
//! alarm relative to its parent's own DTSTART/end (not every instance), and
//! REPEAT is ignored.

use super::model::{Comp, Prop, parse, unescape};
use super::query::Collation;
use super::query::{CompFilter, Filter, ParamFilter, PropFilter, TextMatch, TimeRange};
use super::recurrence::{Shape, expand, overlaps, timing};
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

/// `siblings`: the children of one parent; `parent` is that parent.
fn eval_comp(
    cf: &CompFilter,
    siblings: &[&Comp<'_>],
    parent: Option<&Comp<'_>>,
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
                eval_comp(sub, &kids, Some(c), env)
            })
    })
}

/// For each candidate, whether it (or an instance it produces) overlaps the range.
fn time_range_hits(
    tr: &TimeRange,
    siblings: &[&Comp<'_>],
    candidates: &[usize],
    parent: Option<&Comp<'_>>,
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

fn alarm_hit(
    alarm: &Comp<'_>,
    parent: Option<&Comp<'_>>,
    lo: Option<i64>,
    hi: Option<i64>,
    env: &Env<'_>,
) -> bool {
    let Some(trigger) = alarm.prop("TRIGGER") else {
        return false;
    };
    let at = if let Some(d) = parse_duration(&trigger.value) {
        let Some(Ok(t)) = parent.map(|p| timing(p, env.zones, env.float)) else {
            return false;
        };
        let Some(start) = t.dtstart.map(|s| s.utc(env.float)) else {
            return false;
        };
        let related_end = trigger
            .param("RELATED")
            .is_some_and(|r| r.eq_ignore_ascii_case("END"));
        let base = match (&t.shape, related_end) {
            (Shape::Rel(dur), true) => start + dur,
            _ => start,
        };
        base + d
    } else {
        match prop_time(trigger, env.zones) {
            Ok(t) => t.utc(env.float),
            Err(_) => return false,
        }
    };
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
