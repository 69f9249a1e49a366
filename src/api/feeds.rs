//! Calendar subscriptions: the secret read-only URL `/feeds/{token}.ics`
//! (one VCALENDAR of a calendar, for Apple Calendar, Thunderbird and Google
//! to subscribe to without an account) and the API to make, list and
//! revoke them (`/api/v1/feeds`). The token in the URL is the only
//! credential: the store knows its SHA-256, never the token, and an unknown
//! or revoked token is a plain 404 that tells nothing.

use super::Caller;
use super::json::Body;
use super::problem::{ApiResult, Problem};
use crate::server::App;
use crate::store::{Feed, Node};
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

use super::FEED_TOKEN_PREFIX;
/// Longest calendar name a feed may name.
const MAX_CALENDAR_NAME: usize = 255;

// ---------------------------------------------------------------------------
// GET/HEAD /feeds/{token}.ics

/// A plain-text answer of the feed URL (not a problem document: the
/// readers are calendar applications).
fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut r = (status, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn not_found() -> Response {
    plain(StatusCode::NOT_FOUND, "not found\n")
}

fn too_large() -> Response {
    plain(
        StatusCode::INSUFFICIENT_STORAGE,
        "the calendar is larger than this server serves in one answer (limits.max_response_bytes)\n",
    )
}

/// The strong entity tag of a calendar as a whole: it changes with every
/// change to a member (the collection's sync state: its id and change
/// number) and with its name (X-WR-CALNAME).
pub fn calendar_etag(node: &Node) -> Option<String> {
    let c = node.collection()?;
    let name = node.displayname.as_deref().unwrap_or("");
    let d = ring::digest::digest(&ring::digest::SHA256, name.as_bytes());
    let h: String = d.as_ref()[..4].iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("\"feed-{:x}-{:x}-{h}\"", c.id, c.sync_seq))
}

/// Whether `If-None-Match` (weak comparison, RFC 9110 section 13.1.2)
/// matches `etag`.
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || bare(t) == bare(etag))
}

/// The feed a `/feeds/` file name stands for, if it is a live one.
fn feed_of(app: &App, file: &str) -> Option<Feed> {
    let token = file.strip_suffix(".ics")?;
    if !token.starts_with(FEED_TOKEN_PREFIX) || token.len() > 200 {
        return None;
    }
    match app.store.feed_by_hash(&crate::auth::secret_hash(token)) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("feed lookup failed: {e}");
            None
        }
    }
}

fn with_cache_headers(mut r: Response, etag: &str, file_name: &str) -> Response {
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    // A secret URL: no shared cache keeps it; clients revalidate with the ETag.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{file_name}.ics\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `GET` (and `HEAD`) `/feeds/{token}.ics`: the calendar as one VCALENDAR.
pub async fn serve(
    Extension(app): Extension<Arc<App>>,
    file: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let Ok(Path(file)) = file else {
        return not_found();
    };
    let Some(feed) = feed_of(&app, &file) else {
        return not_found();
    };
    // The node is read before the members: the ETag is never newer than
    // the body it goes with (at worst older, and the next poll refetches).
    let node = match app.store.node(&feed.user, &feed.calendar) {
        Ok(Some(n)) if n.calendar().is_some() => n,
        Ok(_) => return not_found(),
        Err(e) => {
            tracing::error!("feed {}: {e}", feed.id);
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
        }
    };
    let Some(etag) = calendar_etag(&node) else {
        return not_found();
    };
    let file_name: String = crate::store::member_name(&feed.calendar)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if none_match(&headers, &etag) {
        let r = StatusCode::NOT_MODIFIED.into_response();
        return with_cache_headers(r, &etag, &file_name);
    }
    let max = app.config.limits.max_response_bytes;
    let name = node.displayname.clone();
    let job = tokio::task::spawn_blocking(move || merged(&app, &feed, name.as_deref(), max));
    match job.await {
        Ok(Ok(Some(text))) => {
            let mut r = text.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/calendar; charset=utf-8"),
            );
            with_cache_headers(r, &etag, &file_name)
        }
        Ok(Ok(None)) => too_large(),
        Ok(Err(e)) => {
            tracing::error!("feed: {e}");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
        }
        Err(e) => {
            tracing::error!("feed: the merge failed: {e}");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
        }
    }
}

/// The calendar's objects merged into one VCALENDAR; None when it would
/// exceed `max` bytes (refused before reading when the objects alone do).
fn merged(
    app: &App,
    feed: &Feed,
    name: Option<&str>,
    max: usize,
) -> crate::store::Result<Option<String>> {
    let children = app.store.children(&feed.user, &feed.calendar)?;
    let total: u64 = children
        .iter()
        .filter_map(|(_, n)| n.resource().map(|r| r.size))
        .sum();
    if total > max as u64 {
        return Ok(None);
    }
    let paths: Vec<String> = children
        .into_iter()
        .filter(|(_, n)| !n.is_collection())
        .map(|(p, _)| p)
        .collect();
    let objects = app.store.resources(&feed.user, &paths)?;
    let texts: Vec<String> = objects
        .into_iter()
        .map(|(_, _, b)| String::from_utf8_lossy(&b).into_owned())
        .collect();
    let text = crate::ical::merge_calendars(texts.iter().map(String::as_str), name);
    Ok((text.len() <= max).then_some(text))
}

// ---------------------------------------------------------------------------
// /api/v1/feeds

/// `POST /api/v1/feeds` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFeed {
    /// The calendar to publish (its name below the principal's home, e.g.
    /// `default`); the principal's default calendar when absent.
    #[schema(max_length = 255)]
    pub calendar: Option<String>,
}

/// A feed as listed (its token is never shown again).
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedView {
    pub id: String,
    /// The calendar it publishes.
    pub calendar: String,
    /// When it was made (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub created: String,
}

/// A new feed: `url` carries the secret token and is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedCreated {
    pub id: String,
    /// The subscription URL (`.../feeds/TOKEN.ics`).
    pub url: String,
    pub calendar: String,
    #[schema(format = DateTime)]
    pub created: String,
}

/// The caller's feeds, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedList {
    pub feeds: Vec<FeedView>,
}

fn rfc3339(unix: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn view(f: &Feed) -> FeedView {
    FeedView {
        id: f.id.clone(),
        calendar: f.calendar.trim_end_matches('/').to_string(),
        created: rfc3339(f.created),
    }
}

/// Where the server is reached, for the URL a new feed is given:
/// `api.public_url`, else the scheme and the request's Host.
fn base_url(app: &App, headers: &HeaderMap) -> String {
    if let Some(base) = &app.config.api.public_url {
        return base.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
    let tls = app.config.tls.cert.is_some() && app.config.tls.key.is_some();
    match host {
        Some(h) => format!("{}://{h}", if tls { "https" } else { "http" }),
        None => String::new(),
    }
}

/// The calendar a `NewFeed` names, as a path below the home ("name/").
fn chosen_calendar(caller: &Caller, req: &NewFeed) -> ApiResult<String> {
    let store = &caller.app.store;
    let Some(name) = &req.calendar else {
        return store
            .default_calendar(&caller.user, Some("VEVENT"))?
            .ok_or_else(|| Problem::field("calendar", "the principal has no calendar"));
    };
    let slug = name.trim_matches('/');
    if slug.is_empty()
        || slug.len() > MAX_CALENDAR_NAME
        || slug.contains('/')
        || slug.chars().any(char::is_control)
        || slug == "."
        || slug == ".."
    {
        return Err(Problem::field(
            "calendar",
            "a calendar name: not empty, no '/', at most 255 bytes",
        ));
    }
    let path = format!("{slug}/");
    match store.node(&caller.user, &path)? {
        Some(n) if n.calendar().is_some() => Ok(path),
        _ => Err(Problem::field(
            "calendar",
            format!("the principal has no calendar named '{slug}'"),
        )),
    }
}

/// Make a subscription URL for one of the caller's calendars.
#[utoipa::path(post, path = "/api/v1/feeds", tag = "feeds",
    request_body = NewFeed,
    responses(
        (status = 201, body = FeedCreated, headers(("Location" = String, description = "the feed's API resource"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_feed(
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Body(req): Body<NewFeed>,
) -> ApiResult<Response> {
    let calendar = chosen_calendar(&caller, &req)?;
    let (token, hash) = crate::auth::new_secret(FEED_TOKEN_PREFIX).map_err(Problem::internal)?;
    let id = crate::auth::new_secret_id().map_err(Problem::internal)?;
    let feed = Feed {
        id: id.clone(),
        user: caller.user.clone(),
        calendar,
        created: chrono::Utc::now().timestamp(),
    };
    caller.app.store.feed_add(hash, feed.clone()).await?;
    let v = view(&feed);
    let body = FeedCreated {
        url: format!(
            "{}{}{token}.ics",
            base_url(&caller.app, &headers),
            super::FEED_PREFIX
        ),
        id: v.id,
        calendar: v.calendar,
        created: v.created,
    };
    let mut r = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/feeds/{id}")) {
        r.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(r)
}

/// The caller's feeds (without their tokens).
#[utoipa::path(get, path = "/api/v1/feeds", tag = "feeds",
    responses(
        (status = 200, body = FeedList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_feeds(Extension(caller): Extension<Caller>) -> ApiResult<Json<FeedList>> {
    let feeds = caller.app.store.feeds(Some(&caller.user))?;
    Ok(Json(FeedList {
        feeds: feeds.iter().map(view).collect(),
    }))
}

/// The caller's feed with this id (another principal's is a 404).
fn own_feed(caller: &Caller, id: &str) -> ApiResult<Feed> {
    caller
        .app
        .store
        .feeds(Some(&caller.user))?
        .into_iter()
        .find(|f| f.id == id)
        .ok_or_else(Problem::not_found)
}

/// One of the caller's feeds.
#[utoipa::path(get, path = "/api/v1/feeds/{id}", tag = "feeds",
    params(("id" = String, Path, description = "the feed's id")),
    responses(
        (status = 200, body = FeedView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_feed(
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<FeedView>> {
    let Path(id) = id.map_err(|_| Problem::not_found())?;
    Ok(Json(view(&own_feed(&caller, &id)?)))
}

/// Revoke one of the caller's feeds: its URL answers 404 from now on.
#[utoipa::path(delete, path = "/api/v1/feeds/{id}", tag = "feeds",
    params(("id" = String, Path, description = "the feed's id")),
    responses(
        (status = 204, description = "revoked"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn delete_feed(
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<StatusCode> {
    let Path(id) = id.map_err(|_| Problem::not_found())?;
    caller
        .app
        .store
        .feed_revoke(&id, Some(&caller.user))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_weak_comparison_and_lists() {
        let mut h = HeaderMap::new();
        assert!(!none_match(&h, "\"a\""));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"b\", W/\"a\""),
        );
        assert!(none_match(&h, "\"a\""));
        assert!(!none_match(&h, "\"c\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&h, "\"c\""));
    }

    #[test]
    fn etag_follows_sync_state_and_name() {
        use crate::store::{Collection, NodeKind};
        let node = |seq, name: Option<&str>| Node {
            created: 0,
            modified: 0,
            etag: "\"x\"".into(),
            displayname: name.map(str::to_string),
            dead_props: vec![],
            kind: NodeKind::Collection(Collection {
                id: 7,
                sync_seq: seq,
                calendar: Some(Default::default()),
                schedule: None,
                default_calendar: None,
            }),
        };
        let a = calendar_etag(&node(1, None)).unwrap();
        assert_eq!(a, calendar_etag(&node(1, None)).unwrap());
        assert_ne!(a, calendar_etag(&node(2, None)).unwrap());
        assert_ne!(a, calendar_etag(&node(1, Some("Work"))).unwrap());
        assert!(a.starts_with('"') && a.ends_with('"') && !a.starts_with("W/"));
    }
}
