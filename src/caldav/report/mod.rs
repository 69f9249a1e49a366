//! REPORT (RFC 3253 section 3.6): dispatch to the CalDAV reports
//! (calendar-query, calendar-multiget, free-busy-query), sync-collection
//! (RFC 6578) and the principal search reports (RFC 3744 section 9).

mod calendar_query;
mod freebusy;
mod multiget;
mod principal;
mod sync;

use super::error::{DavError, DavResult, Precondition};
use super::propfind::propstats;
use super::props::Res;
use super::work::{self, output_error};
use super::xml::{self, Multistatus, NS_CALDAV, Prop, Report, ReportProps};
use super::{Ctx, Resp};
use crate::ical::query::{CompFilter, TimeRange};
use crate::ical::{self, OutputError};
use crate::store::Node;
use std::sync::atomic::AtomicBool;

pub async fn report(ctx: &Ctx<'_>) -> DavResult<Resp> {
    let report = xml::parse_report(&ctx.body)?;
    check_ranges(&report)?;
    if !is_heavy(&report) {
        return run(ctx, report, &NOT_CANCELLED);
    }
    let app = ctx.app.clone();
    let (user, target) = (ctx.user.clone(), ctx.target.clone());
    let (headers, body) = (ctx.headers.clone(), ctx.body.clone());
    work::heavy(move |cancelled| {
        let ctx = Ctx {
            app: &app,
            user,
            target,
            headers,
            body,
        };
        run(&ctx, report, cancelled)
    })
    .await?
}

static NOT_CANCELLED: AtomicBool = AtomicBool::new(false);

/// Reports that parse or expand objects go to the work pool; a multiget or
/// sync of stored data as is stays on the fast path.
fn is_heavy(report: &Report) -> bool {
    let computed = |p: &ReportProps| {
        p.calendar_data
            .as_ref()
            .is_some_and(|s| *s != Default::default())
    };
    match report {
        Report::CalendarQuery { .. } | Report::FreeBusyQuery { .. } => true,
        Report::CalendarMultiget { props, .. } | Report::SyncCollection { props, .. } => {
            computed(props)
        }
        _ => false,
    }
}

/// RFC 4791 section 9.9: a time-range (and the expand and limit-* ranges)
/// must not end before it starts.
fn check_ranges(report: &Report) -> DavResult<()> {
    fn backwards(tr: &TimeRange) -> bool {
        matches!((tr.start, tr.end), (Some(s), Some(e)) if e < s)
    }
    fn in_filter(cf: &CompFilter) -> bool {
        cf.time_range.as_ref().is_some_and(backwards)
            || cf
                .prop_filters
                .iter()
                .any(|p| p.time_range.as_ref().is_some_and(backwards))
            || cf.comp_filters.iter().any(in_filter)
    }
    let in_spec = |p: &ReportProps| {
        p.calendar_data.as_ref().is_some_and(|s| {
            [&s.expand, &s.limit_recurrence_set, &s.limit_freebusy_set]
                .into_iter()
                .flatten()
                .any(backwards)
        })
    };
    let bad = match report {
        Report::CalendarQuery { props, filter, .. } => {
            in_spec(props) || in_filter(&filter.comp_filter)
        }
        Report::CalendarMultiget { props, .. } | Report::SyncCollection { props, .. } => {
            in_spec(props)
        }
        Report::FreeBusyQuery { range } => backwards(range),
        _ => false,
    };
    if bad {
        return Err(DavError::precondition(
            Precondition::ValidFilter,
            "a time range ends before it starts",
        ));
    }
    Ok(())
}

fn run(ctx: &Ctx<'_>, report: Report, cancelled: &AtomicBool) -> DavResult<Resp> {
    match report {
        Report::CalendarQuery {
            props,
            filter,
            timezone,
            timezone_id,
        } => calendar_query::run(
            ctx,
            &props,
            &filter,
            timezone.as_deref(),
            timezone_id.as_deref(),
            cancelled,
        ),
        Report::CalendarMultiget { props, hrefs } => multiget::run(ctx, &props, &hrefs, cancelled),
        Report::FreeBusyQuery { range } => freebusy::run(ctx, &range, cancelled),
        Report::SyncCollection {
            token,
            level,
            limit,
            props,
        } => sync::run(ctx, &token, &level, limit, &props, cancelled),
        Report::PrincipalPropertySearch {
            matches,
            props,
            test_any,
        } => principal::search(ctx, &matches, &props, test_any),
        Report::PrincipalSearchPropertySet => Ok(principal::search_property_set()),
        Report::ExpandProperty { .. }
        | Report::PrincipalMatch { .. }
        | Report::AclPrincipalPropSet { .. }
        | Report::Unknown(_) => Err(DavError::precondition(
            Precondition::SupportedReport,
            "this report is not supported here",
        )),
    }
}

/// The limits of report output still open to the multistatus `ms`.
pub fn limits<'c>(ctx: &Ctx<'_>, ms: &Multistatus, cancelled: &'c AtomicBool) -> ical::Limits<'c> {
    let l = &ctx.app.config.limits;
    ical::Limits {
        max_instances: l.max_instances_per_object,
        max_bytes: l.max_response_bytes.saturating_sub(ms.written()),
        cancelled,
        timezone: None,
    }
}

/// The zone of a calendar collection's `calendar-timezone` (RFC 4791
/// section 5.2.2), in which its floating and all-day values are read.
pub fn calendar_tz(node: &Node) -> Option<chrono_tz::Tz> {
    node.calendar()
        .and_then(|c| c.timezone.as_deref())
        .and_then(calendar_query::tz_of)
}

/// Append one DAV:response for a calendar object, computing
/// CALDAV:calendar-data from `body` with the requested selection. The
/// answer stays within limits.max_response_bytes: computed data is
/// bounded as it is written, stored data is checked once appended (one
/// object past the bound at most). Floating and all-day values (expand,
/// limit-recurrence-set) are read in `tz`.
#[allow(clippy::too_many_arguments)]
pub fn object_response_in(
    ctx: &Ctx<'_>,
    ms: &mut Multistatus,
    user: &str,
    path: &str,
    node: &Node,
    body: &[u8],
    props: &ReportProps,
    tz: Option<chrono_tz::Tz>,
    cancelled: &AtomicBool,
) -> DavResult<()> {
    let text = String::from_utf8_lossy(body);
    let limits = ical::Limits {
        timezone: tz,
        ..limits(ctx, ms, cancelled)
    };
    limits.check().map_err(|e| output_error(e, path))?;
    let mut data = match &props.calendar_data {
        None => None,
        Some(spec) if *spec == Default::default() => Some(text.into_owned()),
        Some(spec) => {
            let d = ical::render(&text, spec, &limits).map_err(|e| output_error(e, path))?;
            if xml::escaped_len(&d) > limits.max_bytes {
                return Err(output_error(
                    OutputError::TooLarge(ctx.app.config.limits.max_response_bytes),
                    path,
                ));
            }
            Some(d)
        }
    };
    let res = Res::Node { user, path, node };
    let stats = propstats(ctx, &res, &props.propfind, |name| {
        if name.is(NS_CALDAV, "calendar-data") {
            data.take().map(|d| Prop::Text(name.clone(), d))
        } else {
            None
        }
    });
    ms.response(&res.href(), &stats);
    let max = ctx.app.config.limits.max_response_bytes;
    if ms.written() > max {
        return Err(output_error(OutputError::TooLarge(max), path));
    }
    Ok(())
}

/// The calendar collection a calendar report targets, with its path.
pub fn calendar_target(ctx: &Ctx<'_>) -> DavResult<(String, String, Node)> {
    let (user, path) = ctx.node_target()?;
    let (path, node) = ctx.find_node(user, path)?.ok_or_else(DavError::not_found)?;
    Ok((user.to_string(), path, node))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(inner: &str) -> Report {
        let body = format!(
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">{inner}</C:calendar-query>"#
        );
        xml::parse_report(body.as_bytes()).unwrap()
    }

    #[test]
    fn backwards_ranges_are_refused() {
        let filter = |tr: &str| {
            format!(
                r#"<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">{tr}</C:comp-filter></C:comp-filter></C:filter>"#
            )
        };
        let ok = query(&filter(
            r#"<C:time-range start="20240101T000000Z" end="20240102T000000Z"/>"#,
        ));
        assert!(check_ranges(&ok).is_ok());
        let open = query(&filter(r#"<C:time-range start="20240101T000000Z"/>"#));
        assert!(check_ranges(&open).is_ok());
        // A backward filter range is refused while parsing (valid-filter).
        let body = format!(
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">{}</C:calendar-query>"#,
            filter(r#"<C:time-range start="20240102T000000Z" end="20240101T000000Z"/>"#)
        );
        let e = DavError::from(xml::parse_report(body.as_bytes()).unwrap_err());
        assert_eq!(e.code(), hyper::StatusCode::FORBIDDEN);
        let expand = query(&format!(
            r#"<D:prop><C:calendar-data><C:expand start="20250101T000000Z" end="20240101T000000Z"/></C:calendar-data></D:prop>{}"#,
            filter("")
        ));
        assert!(check_ranges(&expand).is_err());
        assert!(is_heavy(&expand));
    }
}
