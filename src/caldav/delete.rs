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
    let mut cond = DeleteConditions {
        if_match: ctx.header("if-match").map(str::to_string),
        if_schedule_tag: ctx.header("if-schedule-tag-match").map(str::to_string),
        ..DeleteConditions::default()
    };
    if node.resource().is_some_and(|r| r.schedule_tag.is_some())
        && let Some(body) = store.body(user, &path)?
        && let Ok(text) = String::from_utf8(body)
    {
        // RFC 6638 section 8.1: `Schedule-Reply: F` sends no REPLY.
        let send_reply = !ctx
            .header("schedule-reply")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("F"));
        cond.outbox = engine::plan_delete(&ctx.actor(), &text, send_reply)?;
        cond.expected_etag = Some(node.etag.clone());
    }
    let queued = !cond.outbox.is_empty();
    store.delete(user, &path, cond).await?;
    if queued {
        ctx.app.outbox_ready.notify_one();
    }
    Ok(empty(StatusCode::NO_CONTENT))
}
