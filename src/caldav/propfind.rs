//! PROPFIND (RFC 4918 section 9.1) with Depth 0 and 1; Depth infinity is
//! refused with DAV:propfind-finite-depth.

use super::error::{DavError, DavResult, Precondition};
use super::path::Target;
use super::props::{self, Res};
use super::xml::{self, Multistatus, Prop, PropFind, PropStat, QName};
use super::{Ctx, Resp, xml_response};
use crate::store::Principal;
use hyper::StatusCode;

pub async fn propfind(ctx: &Ctx<'_>) -> DavResult<Resp> {
    let depth = ctx.depth(None)?;
    let Some(depth) = depth else {
        return Err(DavError::precondition(
            Precondition::PropfindFiniteDepth,
            "Depth: infinity is not supported",
        ));
    };
    let request = xml::parse_propfind(&ctx.body)?;
    let mut ms = Multistatus::new();
    let store = &ctx.app.store;
    let me = store
        .principal(&ctx.user)?
        .ok_or_else(|| DavError::Internal("authenticated user vanished".into()))?;
    match &ctx.target {
        Target::Root => {
            respond(ctx, &mut ms, &Res::Root, &request);
            if depth == 1 {
                respond(ctx, &mut ms, &Res::PrincipalsRoot, &request);
                respond(ctx, &mut ms, &Res::CalendarsRoot, &request);
            }
        }
        Target::PrincipalsRoot => {
            respond(ctx, &mut ms, &Res::PrincipalsRoot, &request);
            if depth == 1 {
                respond(ctx, &mut ms, &Res::Principal(&me), &request);
            }
        }
        Target::CalendarsRoot => {
            respond(ctx, &mut ms, &Res::CalendarsRoot, &request);
            if depth == 1 {
                let home = store
                    .node(&me.name, "")?
                    .ok_or_else(|| DavError::Internal("home missing".into()))?;
                let res = Res::Node {
                    user: &me.name,
                    path: "",
                    node: &home,
                };
                respond(ctx, &mut ms, &res, &request);
            }
        }
        Target::Principal(_) => {
            let p: &Principal = &me;
            respond(ctx, &mut ms, &Res::Principal(p), &request);
        }
        Target::Node { user, path } => {
            let (path, node) = ctx.find_node(user, path)?.ok_or_else(DavError::not_found)?;
            let res = Res::Node {
                user,
                path: &path,
                node: &node,
            };
            respond(ctx, &mut ms, &res, &request);
            if depth == 1 && node.is_collection() {
                let wants_data = wants_calendar_data(&request);
                for (child_path, child) in store.children(user, &path)? {
                    let res = Res::Node {
                        user,
                        path: &child_path,
                        node: &child,
                    };
                    if wants_data && child.resource().is_some_and(|r| r.uid.is_some()) {
                        let body = store.body(user, &child_path)?.unwrap_or_default();
                        respond_with_data(ctx, &mut ms, &res, &request, Some(&body));
                    } else {
                        respond(ctx, &mut ms, &res, &request);
                    }
                    let max = ctx.app.config.limits.max_response_bytes;
                    if ms.written() > max {
                        return Err(DavError::precondition(
                            Precondition::NumberOfMatchesWithinLimits,
                            format!("the answer exceeds limits.max_response_bytes ({max})"),
                        ));
                    }
                }
            }
        }
        Target::WellKnown => return Err(DavError::not_found()),
    }
    Ok(xml_response(StatusCode::MULTI_STATUS, ms.finish()))
}

fn wants_calendar_data(req: &PropFind) -> bool {
    matches!(req, PropFind::Prop(names) if names.iter().any(|n| n.is(xml::NS_CALDAV, "calendar-data")))
}

fn respond(ctx: &Ctx<'_>, ms: &mut Multistatus, res: &Res<'_>, req: &PropFind) {
    respond_with_data(ctx, ms, res, req, None);
}

/// One DAV:response for `res`; `data` is the body for CALDAV:calendar-data.
pub fn respond_with_data(
    ctx: &Ctx<'_>,
    ms: &mut Multistatus,
    res: &Res<'_>,
    req: &PropFind,
    data: Option<&[u8]>,
) {
    let propstats = propstats(ctx, res, req, |name| {
        if name.is(xml::NS_CALDAV, "calendar-data") {
            data.map(|d| Prop::Text(name.clone(), String::from_utf8_lossy(d).into_owned()))
        } else {
            None
        }
    });
    ms.response(&res.href(), &propstats);
}

/// Split the requested properties into found (200) and missing (404).
/// `extra` answers properties computed by the caller (calendar-data).
pub fn propstats(
    ctx: &Ctx<'_>,
    res: &Res<'_>,
    req: &PropFind,
    mut extra: impl FnMut(&QName) -> Option<Prop>,
) -> Vec<PropStat> {
    match req {
        PropFind::PropName => vec![PropStat {
            status: 200,
            props: props::all_names(res).into_iter().map(Prop::Empty).collect(),
        }],
        PropFind::AllProp { include } => vec![PropStat {
            status: 200,
            props: props::allprop(ctx, res, include),
        }],
        PropFind::Prop(names) => {
            let mut found = Vec::new();
            let mut missing = Vec::new();
            for name in names {
                match extra(name).or_else(|| props::value(ctx, res, name)) {
                    Some(p) => found.push(p),
                    None => missing.push(Prop::Empty(name.clone())),
                }
            }
            let mut out = Vec::new();
            if !found.is_empty() || missing.is_empty() {
                out.push(PropStat {
                    status: 200,
                    props: found,
                });
            }
            if !missing.is_empty() {
                out.push(PropStat {
                    status: 404,
                    props: missing,
                });
            }
            out
        }
    }
}
