//! DELETE (RFC 4918 section 9.6) of a resource or a whole collection; an
//! organizer's scheduling object queues CANCELs (RFC 6638 section 3.2.7).

use super::error::{DavError, DavResult};
use super::{Ctx, Resp, empty};
use crate::engine;
use crate::store::DeleteConditions;
use hyper::StatusCode;

pub async fn delete(ctx: &Ctx<'_>) -> DavResult<Resp> {
    let (user, path) = ctx.node_target()?;
    if path.is_empty() {
        return Err(DavError::forbidden("a calendar home cannot be deleted"));
    }
    let store = &ctx.app.store;
    let (path, node) = ctx.find_node(user, path)?.ok_or_else(DavError::not_found)?;
    let cond = engine::Conditions {
        if_match: ctx.header("if-match").map(str::to_string),
        if_schedule_tag: ctx.header("if-schedule-tag-match").map(str::to_string),
        ..engine::Conditions::default()
    };
    // RFC 6638 section 8.1: `Schedule-Reply: F` sends no REPLY.
    let send_reply = !ctx
        .header("schedule-reply")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("F"));
    if node.is_collection() {
        let del = DeleteConditions {
            if_match: cond.if_match,
            if_schedule_tag: cond.if_schedule_tag,
            ..DeleteConditions::default()
        };
        store.delete(user, &path, del).await?;
    } else {
        engine::delete(&ctx.actor(), user, &path, cond, send_reply).await?;
    }
    Ok(empty(StatusCode::NO_CONTENT))
}
