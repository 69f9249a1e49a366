//! CALDAV:calendar-multiget (RFC 4791 section 7.9): the named objects, one
//! snapshot; hrefs that name nothing get a 404 response.

use super::{DavResult, calendar_tz, object_response_in};
use crate::caldav::path::{Target, href_target};
use crate::caldav::xml::{Multistatus, ReportProps};
use crate::caldav::{Ctx, Resp, xml_response};
use hyper::StatusCode;
use std::sync::atomic::AtomicBool;

pub fn run(
    ctx: &Ctx<'_>,
    props: &ReportProps,
    hrefs: &[String],
    cancelled: &AtomicBool,
) -> DavResult<Resp> {
    let (user, _) = ctx.node_target()?;
    let mut wanted: Vec<(String, Option<String>)> = Vec::with_capacity(hrefs.len());
    for href in hrefs {
        let path = match href_target(href) {
            Ok(Target::Node { user: u, path }) if u == user => Some(path),
            _ => None,
        };
        wanted.push((href.clone(), path));
    }
    let paths: Vec<String> = wanted.iter().filter_map(|(_, p)| p.clone()).collect();
    let found = ctx.app.store.resources(user, &paths)?;
    let by_path: std::collections::HashMap<&str, usize> = found
        .iter()
        .enumerate()
        .map(|(i, (p, _, _))| (p.as_str(), i))
        .collect();
    // Expand and limit-recurrence-set read floating times in the
    // calendar's zone: one node read, only when they are asked for.
    let zoned = props
        .calendar_data
        .as_ref()
        .is_some_and(|s| s.expand.is_some() || s.limit_recurrence_set.is_some());
    let tz = match ctx.node_target() {
        Ok((u, p)) if zoned => ctx.find_node(u, p)?.and_then(|(_, n)| calendar_tz(&n)),
        _ => None,
    };
    let mut ms = Multistatus::new();
    for (href, path) in &wanted {
        match path.as_deref().and_then(|p| by_path.get(p)) {
            Some(&i) => {
                let (p, n, body) = &found[i];
                object_response_in(ctx, &mut ms, user, p, n, body, props, tz, cancelled)?;
            }
            None => ms.response_status(href, 404),
        }
    }
    Ok(xml_response(StatusCode::MULTI_STATUS, ms.finish()))
}
