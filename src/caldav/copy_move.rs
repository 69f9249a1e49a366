//! COPY and MOVE (RFC 4918 sections 9.8 and 9.9) within one user's home,
//! including whole collections; calendar rules (only calendar objects,
//! unique UIDs) hold at the destination.

use super::error::{DavError, DavResult, Precondition};
use super::path::{self, Target};
use super::xml::escape;
use super::{Ctx, Resp, empty};
use crate::store::{CopyMove, StoreError};
use hyper::StatusCode;

pub async fn copy_move(ctx: &Ctx<'_>, is_move: bool) -> DavResult<Resp> {
    let (user, path) = ctx.node_target()?;
    let (src, node) = ctx.find_node(user, path)?.ok_or_else(DavError::not_found)?;
    if src.is_empty() {
        return Err(DavError::forbidden(
            "a calendar home cannot be copied or moved",
        ));
    }
    let dest = ctx
        .header("destination")
        .ok_or_else(|| DavError::bad_request("the Destination header is missing"))?;
    let dst = match path::href_target(dest) {
        Ok(Target::Node { user: u, path: p }) if u == user => p,
        Ok(Target::Node { .. }) => {
            return Err(DavError::forbidden("COPY/MOVE across users is not allowed"));
        }
        // Dot segments, encoded '/' or NUL (RFC 4918 section 8.3 asks for
        // absolute paths; `..` would step into another home).
        Err(path::PathError::Invalid(why)) => {
            return Err(DavError::bad_request(format!("Destination: {why}")));
        }
        // Hrefs are read as paths on this server (whatever the host), so
        // this is never the 502 for another server (section 9.8.5).
        Ok(_) | Err(path::PathError::NotFound) => {
            return Err(DavError::forbidden(
                "the Destination is not a location in a calendar home",
            ));
        }
    };
    if dst.is_empty() {
        return Err(DavError::forbidden("cannot replace a calendar home"));
    }
    let overwrite = match ctx.header("overwrite").map(str::trim) {
        None | Some("T") | Some("t") => true,
        Some("F") | Some("f") => false,
        Some(other) => {
            return Err(DavError::bad_request(format!(
                "Overwrite must be T or F, not '{other}'"
            )));
        }
    };
    let depth = ctx.depth(None)?;
    let shallow = match depth {
        None => false,
        Some(0) if !is_move && node.is_collection() => true,
        Some(0) if !node.is_collection() => false,
        _ => {
            return Err(DavError::bad_request(
                "Depth must be infinity (or 0 for COPY of a collection)",
            ));
        }
    };
    let dst = if node.is_collection() && !dst.ends_with('/') {
        format!("{dst}/")
    } else if !node.is_collection() {
        dst.trim_end_matches('/').to_string()
    } else {
        dst
    };
    if dst == src {
        return Err(DavError::forbidden("source and destination are the same"));
    }
    // A COPY of a scheduling object would make a second one with its UID
    // in the user's calendars (RFC 6638 section 3.2.4.1); MOVE keeps one.
    let into_calendar = || -> DavResult<bool> {
        let parent = crate::store::parent_path(&dst).unwrap_or("");
        Ok(ctx
            .app
            .store
            .node(user, parent)?
            .is_some_and(|n| n.calendar().is_some()))
    };
    if !is_move && node.resource().is_some_and(|r| r.schedule_tag.is_some()) && into_calendar()? {
        return Err(DavError::precondition(
            Precondition::UniqueSchedulingObjectResource,
            "a scheduling object cannot be copied (MOVE it instead)",
        ));
    }
    let op = CopyMove {
        is_move,
        overwrite,
        shallow,
    };
    match ctx.app.store.copy_move(user, &src, &dst, op).await {
        Ok(true) => Ok(empty(StatusCode::CREATED)),
        Ok(false) => Ok(empty(StatusCode::NO_CONTENT)),
        Err(StoreError::UidConflict(other)) => {
            let href = path::node_href(user, &other);
            Err(DavError::Precondition {
                condition: Precondition::NoUidConflict,
                inner: Some(format!("<D:href>{}</D:href>", escape(&href))),
                detail: format!("UID already used by {href}"),
            })
        }
        Err(e) => Err(e.into()),
    }
}
