//! `GET /api/v1/principal`: who the bearer token speaks for.

use super::Caller;
use super::problem::{ApiResult, Problem};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

/// The principal a token belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrincipalView {
    pub name: String,
    /// Calendar user addresses (without `mailto:`).
    pub emails: Vec<String>,
    pub display_name: Option<String>,
    pub organizer: bool,
    /// The id of the token used for this request.
    pub token_id: String,
}

/// The principal of the bearer token.
#[utoipa::path(get, path = "/api/v1/principal", tag = "principal",
    responses(
        (status = 200, body = PrincipalView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_principal(Extension(caller): Extension<Caller>) -> ApiResult<Json<PrincipalView>> {
    let p = caller
        .app
        .store
        .principal(&caller.user)?
        .ok_or_else(Problem::not_found)?;
    Ok(Json(PrincipalView {
        name: p.name,
        emails: p
            .emails
            .iter()
            .map(|e| e.strip_prefix("mailto:").unwrap_or(e).to_string())
            .collect(),
        display_name: p.displayname,
        organizer: p.organizer,
        token_id: caller.token_id.clone(),
    }))
}
