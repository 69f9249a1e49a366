//! DELETE (RFC 4918 section 9.6) of a resource or a whole collection.

use super::error::{DavError, DavResult};
use super::{Ctx, Resp, empty};
use crate::store::DeleteConditions;
use hyper::StatusCode;

pub async fn delete(ctx: &Ctx<'_>) -> DavResult<Resp> {
    let (user, path) = ctx.node_target()?;
    if path.is_empty() {
        return Err(DavError::forbidden("a calendar home cannot be deleted"));
    }
    let (path, _) = ctx.find_node(user, path)?.ok_or_else(DavError::not_found)?;
    let cond = DeleteConditions {
        if_match: ctx.header("if-match").map(str::to_string),
        if_schedule_tag: ctx.header("if-schedule-tag-match").map(str::to_string),
        ..DeleteConditions::default()
    };
    ctx.app.store.delete(user, &path, cond).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
