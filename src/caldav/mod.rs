//! WebDAV/CalDAV protocol (RFC 4918, 4791, 6578, 5397, 6764, 5689): request
//! routing, authentication and access checks, one handler per method, and
//! the single place where a `DavError` becomes a response. Bodies are parsed
//! by `xml`, iCalendar by `crate::ical`, state lives in `crate::store`.

mod copy_move;
mod delete;
pub mod error;
mod get;
pub mod lock;
mod mkcol;
mod options;
pub mod path;
mod post;
mod propfind;
mod proppatch;
mod props;
mod put;
mod report;
mod work;
pub mod xml;

use crate::auth::AuthResult;
use crate::server::App;
use bytes::Bytes;
use error::{DavError, DavResult};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use path::Target;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub type Resp = Response<Full<Bytes>>;

/// Everything a method handler gets: validated inputs only.
pub struct Ctx<'a> {
    /// Shared, so that heavy work can take it to a blocking thread.
    pub app: &'a Arc<App>,
    /// The authenticated user.
    pub user: String,
    pub target: Target,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Largest body read from a request refused before its body (unknown
/// credentials, a path outside the DAV space): small bodies are read so the
/// connection can be kept alive, larger ones are not read at all and the
/// connection is closed after the answer.
const MAX_UNREAD_DRAIN: u64 = 64 * 1024;

/// Handle one HTTP request from `client`; never fails, never panics on input.
pub async fn handle(app: &Arc<App>, req: Request<Incoming>, client: IpAddr) -> Resp {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let http1 = req.version() < hyper::Version::HTTP_2;
    let (result, keep_alive) = dispatch(app, req, client).await;
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            let code = e.code();
            if code.is_server_error() && code != StatusCode::INSUFFICIENT_STORAGE {
                tracing::error!("{method} {path}: {}", e.detail());
            } else {
                tracing::debug!("{method} {path}: {code}: {}", e.detail());
            }
            let mut resp = e.into_response();
            if code == StatusCode::TOO_MANY_REQUESTS {
                // The failure window is a minute; no wait is longer.
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            }
            resp
        }
    };
    if !keep_alive && http1 {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    tracing::info!(
        "{method} {path} {} {:.1}ms",
        resp.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    resp
}

/// What is decided from the request head alone.
enum Head {
    /// Answered without looking at the body (redirect, OPTIONS).
    Answer(Resp),
    /// Authenticated and allowed: read the body and run the method.
    Proceed(Target, String),
}

/// The answer, and whether the connection can stay open after it.
async fn dispatch(
    app: &Arc<App>,
    req: Request<Incoming>,
    client: IpAddr,
) -> (DavResult<Resp>, bool) {
    let (parts, body) = req.into_parts();
    // Everything that can be refused from the head is refused before the
    // body is read, so an unauthenticated client cannot make the server
    // hold its body (and 100 Continue is only sent once allowed).
    let (target, user) = match admit(app, &parts, client).await {
        Ok(Head::Proceed(t, u)) => (t, u),
        Ok(Head::Answer(r)) => return (Ok(r), drain_small(app, &parts, body).await),
        Err(e) => return (Err(e), drain_small(app, &parts, body).await),
    };
    let body = match read_body(app, &parts, body).await {
        Ok(b) => b,
        Err(e) => return (Err(e), false),
    };
    let ctx = Ctx {
        app,
        user,
        target,
        headers: parts.headers,
        body,
    };
    (run(&ctx, &parts.method).await, true)
}

async fn admit(app: &App, parts: &Parts, client: IpAddr) -> DavResult<Head> {
    let target = match Target::parse(parts.uri.path()) {
        Ok(t) => t,
        Err(path::PathError::NotFound) => return Err(DavError::not_found()),
        Err(path::PathError::Invalid(why)) => return Err(DavError::bad_request(why)),
    };
    if target == Target::WellKnown {
        let mut resp = empty(StatusCode::MOVED_PERMANENTLY);
        resp.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static(path::DAV_ROOT));
        return Ok(Head::Answer(resp));
    }
    if parts.method == Method::OPTIONS {
        return Ok(Head::Answer(options::options()));
    }
    let user = authenticate(app, &parts.headers, client).await?;
    if let Some(owner) = target.owner()
        && owner != user
    {
        return Err(DavError::precondition(
            error::Precondition::NeedPrivileges,
            format!("{user} may not access data of {owner}"),
        ));
    }
    Ok(Head::Proceed(target, user))
}

/// After an answer given from the head: read a small body so the
/// connection stays usable (clients that pool connections expect that);
/// leave anything else unread (no 100 Continue is sent) and close.
pub(crate) async fn drain_small(app: &App, parts: &Parts, body: Incoming) -> bool {
    let expects_continue = parts
        .headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects_continue || content_length(&parts.headers).is_some_and(|n| n > MAX_UNREAD_DRAIN) {
        return false;
    }
    let wait = Duration::from_secs(app.config.limits.header_timeout_seconds);
    let read = Limited::new(body, MAX_UNREAD_DRAIN as usize).collect();
    matches!(tokio::time::timeout(wait, read).await, Ok(Ok(_)))
}

pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Read the whole body within `limits.max_body_bytes` and
/// `limits.body_timeout_seconds`.
async fn read_body(app: &App, parts: &Parts, body: Incoming) -> DavResult<Bytes> {
    let limits = &app.config.limits;
    let limit = limits.max_body_bytes;
    if content_length(&parts.headers).is_some_and(|len| len > limit as u64) {
        return Err(too_large(limit));
    }
    if hyper::body::Body::is_end_stream(&body) {
        // No body (most GETs, PROPFINDs without one): no timer to arm.
        return Ok(Bytes::new());
    }
    let deadline = Duration::from_secs(limits.body_timeout_seconds);
    match tokio::time::timeout(deadline, Limited::new(body, limit).collect()).await {
        Ok(Ok(b)) => Ok(b.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(limit)),
        // A malformed chunked encoding, or the client went away.
        Ok(Err(e)) => Err(DavError::bad_request(format!(
            "the request body could not be read: {e}"
        ))),
        Err(_) => Err(DavError::status(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} seconds",
                limits.body_timeout_seconds
            ),
        )),
    }
}

async fn run(ctx: &Ctx<'_>, method: &Method) -> DavResult<Resp> {
    let m = method.as_str();
    let write = matches!(
        m,
        "PUT"
            | "DELETE"
            | "PROPPATCH"
            | "MKCOL"
            | "MKCALENDAR"
            | "COPY"
            | "MOVE"
            | "LOCK"
            | "UNLOCK"
    );
    if write {
        // The one place locks and the If header are enforced.
        lock::check(ctx, m)?;
    }
    let result = route(ctx, method).await;
    if write && result.as_ref().is_ok_and(|r| r.status().is_success()) {
        lock::after(ctx, m);
    }
    result
}

async fn route(ctx: &Ctx<'_>, method: &Method) -> DavResult<Resp> {
    match method.as_str() {
        "GET" => get::get(ctx, false).await,
        "HEAD" => get::get(ctx, true).await,
        "PUT" => put::put(ctx).await,
        "DELETE" => delete::delete(ctx).await,
        "PROPFIND" => propfind::propfind(ctx).await,
        "PROPPATCH" => proppatch::proppatch(ctx).await,
        "MKCOL" => mkcol::mkcol(ctx, false).await,
        "MKCALENDAR" => mkcol::mkcol(ctx, true).await,
        "COPY" => copy_move::copy_move(ctx, false).await,
        "MOVE" => copy_move::copy_move(ctx, true).await,
        "REPORT" => report::report(ctx).await,
        "POST" => post::post(ctx).await,
        "LOCK" => lock::lock(ctx).await,
        "UNLOCK" => lock::unlock(ctx).await,
        _ => {
            let mut resp = empty(StatusCode::METHOD_NOT_ALLOWED);
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(options::ALLOW));
            Ok(resp)
        }
    }
}

fn too_large(limit: usize) -> DavError {
    DavError::status(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body exceeds {limit} bytes"),
    )
}

async fn authenticate(app: &App, headers: &HeaderMap, client: IpAddr) -> DavResult<String> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(h) = header else {
        return Err(DavError::status(
            StatusCode::UNAUTHORIZED,
            "authentication required",
        ));
    };
    match app.auth.authenticate(h, client).await {
        AuthResult::Ok(user) => Ok(user),
        AuthResult::Invalid => Err(DavError::status(
            StatusCode::UNAUTHORIZED,
            "invalid credentials",
        )),
        AuthResult::Throttled(wait) => Err(DavError::status(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many failed logins; retry after {} seconds",
                wait.as_secs() + 1
            ),
        )),
    }
}

/// A response with no body.
pub fn empty(status: StatusCode) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// A 207 Multi-Status (or other) XML response.
pub fn xml_response(status: StatusCode, body: String) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    r
}

impl Ctx<'_> {
    /// The engine's view of the acting user.
    pub fn actor(&self) -> crate::engine::Actor<'_> {
        crate::engine::Actor {
            store: &self.app.store,
            user: &self.user,
            max_delegates_per_reply: self.app.config.limits.max_delegates_per_reply,
            outbox_ready: &self.app.outbox_ready,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The Depth header: Some(0), Some(1), or None for infinity; `default`
    /// when absent.
    pub fn depth(&self, default: Option<u32>) -> DavResult<Option<u32>> {
        match self.header("depth").map(str::trim) {
            None => Ok(default),
            Some("0") => Ok(Some(0)),
            Some("1") => Ok(Some(1)),
            Some(s) if s.eq_ignore_ascii_case("infinity") => Ok(None),
            Some(other) => Err(DavError::bad_request(format!(
                "Depth must be 0, 1 or infinity, not '{other}'"
            ))),
        }
    }

    /// The node target of this request, or 405/404-style refusal.
    pub fn node_target(&self) -> DavResult<(&str, &str)> {
        match &self.target {
            Target::Node { user, path } => Ok((user, path)),
            _ => Err(DavError::status(
                StatusCode::METHOD_NOT_ALLOWED,
                "this method is not allowed on this resource",
            )),
        }
    }

    /// Find the node the request names, accepting a collection URL without
    /// its trailing slash. Returns the canonical path and the node.
    pub fn find_node(
        &self,
        user: &str,
        path: &str,
    ) -> DavResult<Option<(String, crate::store::Node)>> {
        let store = &self.app.store;
        if let Some(n) = store.node(user, path)? {
            return Ok(Some((path.to_string(), n)));
        }
        if !path.is_empty() && !path.ends_with('/') {
            let dir = format!("{path}/");
            if let Some(n) = store.node(user, &dir)? {
                return Ok(Some((dir, n)));
            }
        }
        Ok(None)
    }
}
