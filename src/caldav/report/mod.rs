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
use super::xml::{self, Multistatus, NS_CALDAV, Prop, Report, ReportProps};
use super::{Ctx, Resp};
use crate::ical;
use crate::store::Node;

pub async fn report(ctx: &Ctx<'_>) -> DavResult<Resp> {
    match xml::parse_report(&ctx.body)? {
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
        ),
        Report::CalendarMultiget { props, hrefs } => multiget::run(ctx, &props, &hrefs),
        Report::FreeBusyQuery { range } => freebusy::run(ctx, &range),
        Report::SyncCollection {
            token,
            level: _,
            limit,
            props,
        } => sync::run(ctx, &token, limit, &props),
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

/// Append one DAV:response for a calendar object, computing
/// CALDAV:calendar-data from `body` with the requested selection.
pub fn object_response(
    ctx: &Ctx<'_>,
    ms: &mut Multistatus,
    user: &str,
    path: &str,
    node: &Node,
    body: &[u8],
    props: &ReportProps,
) -> DavResult<()> {
    let text = String::from_utf8_lossy(body);
    let mut data = match &props.calendar_data {
        None => None,
        Some(spec) if *spec == Default::default() => Some(text.into_owned()),
        Some(spec) => Some(ical::render(&text, spec).map_err(|e| {
            DavError::Internal(format!("stored object {path} does not render: {e}"))
        })?),
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
    Ok(())
}

/// The calendar collection a calendar report targets, with its path.
pub fn calendar_target(ctx: &Ctx<'_>) -> DavResult<(String, String, Node)> {
    let (user, path) = ctx.node_target()?;
    let (path, node) = ctx.find_node(user, path)?.ok_or_else(DavError::not_found)?;
    Ok((user.to_string(), path, node))
}
