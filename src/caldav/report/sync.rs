//! DAV:sync-collection (RFC 6578): members changed since a token, removed
//! members as 404 responses, a new token; DAV:limit honoured with a 507
//! response for the collection when the list was cut.

use super::{DavResult, calendar_target, calendar_tz, object_response_in};
use crate::caldav::error::{DavError, Precondition};
use crate::caldav::path::node_href;
use crate::caldav::propfind::propstats;
use crate::caldav::props::Res;
use crate::caldav::xml::{Multistatus, ReportProps};
use crate::caldav::{Ctx, Resp, xml_response};
use hyper::StatusCode;
use std::sync::atomic::AtomicBool;

pub fn run(
    ctx: &Ctx<'_>,
    token: &str,
    level: &str,
    limit: Option<u32>,
    props: &ReportProps,
    cancelled: &AtomicBool,
) -> DavResult<Resp> {
    let (user, path, node) = calendar_target(ctx)?;
    if !node.is_collection() {
        return Err(DavError::precondition(
            Precondition::SupportedReport,
            "sync-collection applies to collections",
        ));
    }
    // RFC 6578 section 3.2 asks for Depth: 0, but common clients send 1;
    // the DAV:sync-level element decides the scope, and a Depth of
    // infinity is taken to ask for sync-level infinite too.
    let infinite = level == "infinite"
        || ctx.header("depth").is_some_and(|d| {
            let d = d.trim();
            d.eq_ignore_ascii_case("infinity") || d.eq_ignore_ascii_case("infinite")
        });
    let store = &ctx.app.store;
    let token = (!token.trim().is_empty()).then_some(token);
    let limit = limit.map(|l| l as usize);
    // A calendar holds no collections: infinite is the same as 1 there.
    let mut changes = if infinite && node.calendar().is_none() {
        store.tree_changes_since(&user, &path, token, limit)?
    } else {
        store.changes_since(&user, &path, token, limit)?
    };
    // Collections are answered below by their path without the '/'.
    for name in changes.changed.iter_mut().chain(changes.removed.iter_mut()) {
        if name.ends_with('/') {
            name.pop();
        }
    }
    let mut ms = Multistatus::new();
    let changed: Vec<String> = changes
        .changed
        .iter()
        .map(|n| format!("{path}{n}"))
        .collect();
    let found = store.resources(&user, &changed)?;
    let tz = calendar_tz(&node);
    for (p, n, body) in &found {
        object_response_in(ctx, &mut ms, &user, p, n, body, props, tz, cancelled)?;
    }
    // Sub-collections changed (plain collections only) have no body.
    for p in &changed {
        let dir = format!("{p}/");
        if let Some(n) = store.node(&user, &dir)? {
            let res = Res::Node {
                user: &user,
                path: &dir,
                node: &n,
            };
            let stats = propstats(ctx, &res, &props.propfind, |_| None);
            ms.response(&res.href(), &stats);
        }
    }
    for name in &changes.removed {
        ms.response_status(&node_href(&user, &format!("{path}{name}")), 404);
    }
    if changes.truncated {
        ms.response_status(&node_href(&user, &path), 507);
    }
    ms.sync_token(&changes.token);
    Ok(xml_response(StatusCode::MULTI_STATUS, ms.finish()))
}
