//! CALDAV:calendar-multiget (RFC 4791 section 7.9): the named objects, one
//! snapshot; hrefs that name nothing get a 404 response.

use super::{DavResult, object_response};
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
    let mut ms = Multistatus::new();
    for (href, path) in &wanted {
        match path.as_deref().and_then(|p| by_path.get(p)) {
            Some(&i) => {
                let (p, n, body) = &found[i];
                object_response(ctx, &mut ms, user, p, n, body, props, cancelled)?;
            }
            None => ms.response_status(href, 404),
        }
    }
    Ok(xml_response(StatusCode::MULTI_STATUS, ms.finish()))
}
