//! DELETE (RFC 4918 section 9.6) of a resource or a whole collection.

use super::error::{DavError, DavResult};
use super::{Ctx, Resp, empty};
use hyper::StatusCode;

pub async fn delete(ctx: &Ctx<'_>) -> DavResult<Resp> {
    let (user, path) = ctx.node_target()?;
    if path.is_empty() {
        return Err(DavError::forbidden("a calendar home cannot be deleted"));
    }
    let (path, _) = ctx.find_node(user, path)?.ok_or_else(DavError::not_found)?;
    let if_match = ctx.header("if-match").map(str::to_string);
    ctx.app.store.delete(user, &path, if_match).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
