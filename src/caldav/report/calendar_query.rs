//! CALDAV:calendar-query (RFC 4791 section 7.8). Candidates come from the
//! time-range index when the filter has a time-range on a component; a
//! filter that is only "component X overlapping [start, end)" is answered
//! from the index alone when the index is exact for the object, everything
//! else is checked with `ical::matches`.

use super::{DavResult, calendar_target, calendar_tz, object_response_in};
use crate::caldav::error::{DavError, Precondition};
use crate::caldav::work::{LOAD_CHUNK, output_error};
use crate::caldav::xml::{Multistatus, ReportProps};
use crate::caldav::{Ctx, Resp, xml_response};
use crate::ical::OutputError;
use crate::ical::timezone::{known_zone, zone_of_vtimezone};
use crate::ical::{self, query::Filter, query::TimeRange};
use crate::store::ScheduleBox;
use hyper::StatusCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// The zone of a VTIMEZONE text (calendar-timezone or CALDAV:timezone):
/// its TZID (IANA, Windows or vendor-prefixed IANA), else its offset.
pub fn tz_of(vtimezone: &str) -> Option<chrono_tz::Tz> {
    zone_of_vtimezone(vtimezone)
}

/// The one component time-range a filter is shaped around, and whether it
/// is the whole filter.
fn time_range_of(filter: &Filter) -> Option<(TimeRange, bool)> {
    let top = &filter.comp_filter;
    if top.name != "VCALENDAR" || top.is_not_defined || top.comp_filters.len() != 1 {
        return None;
    }
    let comp = &top.comp_filters[0];
    let range = comp.time_range?;
    let simple = top.prop_filters.is_empty()
        && top.time_range.is_none()
        && !comp.is_not_defined
        && comp.prop_filters.is_empty()
        && comp.comp_filters.is_empty();
    Some((range, simple))
}

pub fn run(
    ctx: &Ctx<'_>,
    props: &ReportProps,
    filter: &Filter,
    timezone: Option<&str>,
    timezone_id: Option<&str>,
    cancelled: &AtomicBool,
) -> DavResult<Resp> {
    if filter.comp_filter.name != "VCALENDAR" {
        return Err(DavError::precondition(
            Precondition::ValidFilter,
            "the filter must start with a VCALENDAR comp-filter",
        ));
    }
    let (user, path, node) = calendar_target(ctx)?;
    let store = &ctx.app.store;
    // RFC 4791 section 7.3: the request's zone, else the calendar's.
    let default_tz = timezone_id
        .and_then(known_zone)
        .or_else(|| timezone.and_then(tz_of))
        .or_else(|| calendar_tz(&node));

    // The schedule inbox (RFC 6638 section 2.2) is queried like a calendar;
    // its iTIP messages are not in the time index, so each is checked.
    let inbox = node
        .collection()
        .is_some_and(|c| c.schedule == Some(ScheduleBox::Inbox));
    // (member path, already known to match)
    let candidates: Vec<(String, bool)> = if node.resource().is_some() {
        vec![(path.clone(), false)]
    } else if node.calendar().is_none() && !inbox {
        return Err(DavError::forbidden(
            "calendar-query applies to calendar collections",
        ));
    } else if let Some((range, simple)) = time_range_of(filter).filter(|_| !inbox) {
        let start = range.start.map(|t| t.timestamp());
        let end = range.end.map(|t| t.timestamp());
        // An exact index hit answers a simple filter once the component
        // type is checked below.
        store
            .time_candidates(&user, &path, start, end)?
            .into_iter()
            .map(|(p, exact)| (p, exact && simple))
            .collect()
    } else {
        store
            .children(&user, &path)?
            .into_iter()
            .filter(|(_, n)| !n.is_collection())
            .map(|(p, _)| (p, false))
            .collect()
    };
    let wanted_comp = filter
        .comp_filter
        .comp_filters
        .first()
        .map(|c| c.name.as_str());
    let paths: Vec<String> = candidates.iter().map(|(p, _)| p.clone()).collect();
    let mut ms = Multistatus::new();
    // `resources` skips vanished paths, so match by path rather than position.
    let known: std::collections::HashMap<&str, bool> =
        candidates.iter().map(|(p, k)| (p.as_str(), *k)).collect();
    // Read in chunks: memory holds a chunk of bodies, not the calendar.
    let objects = paths
        .chunks(LOAD_CHUNK)
        .map(|chunk| store.resources(&user, chunk));
    for chunk in objects {
        for (p, n, body) in &chunk? {
            if cancelled.load(Ordering::Relaxed) {
                return Err(output_error(OutputError::Cancelled, p));
            }
            let is_known = known.get(p.as_str()).copied().unwrap_or(false);
            let kind_ok = match (
                wanted_comp,
                n.resource().and_then(|r| r.component.as_deref()),
            ) {
                (Some(w), Some(c)) => w == c,
                _ => true,
            };
            let ok = if is_known {
                kind_ok
            } else {
                let text = String::from_utf8_lossy(body);
                ical::matches(&text, filter, default_tz)
            };
            if ok {
                object_response_in(
                    ctx, &mut ms, &user, p, n, body, props, default_tz, cancelled,
                )?;
            }
        }
    }
    Ok(xml_response(StatusCode::MULTI_STATUS, ms.finish()))
}
