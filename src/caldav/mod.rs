//! WebDAV/CalDAV protocol (RFC 4918, 4791, 6578, 5397, 6764, 5689): request
//! routing, authentication and access checks, one handler per method, and
//! the single place where a `DavError` becomes a response. Bodies are parsed
//! by `xml`, iCalendar by `crate::ical`, state lives in `crate::store`.

mod copy_move;
mod delete;
pub mod error;
mod get;
mod mkcol;
mod options;
pub mod path;
mod post;
mod propfind;
mod proppatch;
mod props;
mod put;
mod report;
mod schedule;
mod work;
pub mod xml;

use crate::server::App;
use bytes::Bytes;
use error::{DavError, DavResult};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use path::Target;
use std::sync::Arc;
use std::time::Instant;

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

/// Handle one HTTP request; never fails, never panics on input.
pub async fn handle(app: &Arc<App>, req: Request<Incoming>) -> Resp {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let result = dispatch(app, req).await;
    let resp = match result {
        Ok(r) => r,
        Err(e) => {
            let code = e.code();
            if code.is_server_error() && code != StatusCode::INSUFFICIENT_STORAGE {
                tracing::error!("{method} {path}: {}", e.detail());
            } else {
                tracing::debug!("{method} {path}: {code}: {}", e.detail());
            }
            e.into_response()
        }
    };
    tracing::info!(
        "{method} {path} {} {:.1}ms",
        resp.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    resp
}

async fn dispatch(app: &Arc<App>, req: Request<Incoming>) -> DavResult<Resp> {
    // Read the body before any answer, even a refusal: a response sent
    // over an unread body makes hyper close the connection, and clients
    // that pool connections (python-requests) then fail their next request.
    let (parts, body) = req.into_parts();
    let limit = app.config.limits.max_body_bytes;
    if let Some(len) = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(too_large(limit));
    }
    let body = match Limited::new(body, limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(too_large(limit)),
    };
    let target = match Target::parse(parts.uri.path()) {
        Ok(t) => t,
        Err(path::PathError::NotFound) => return Err(DavError::not_found()),
        Err(path::PathError::Invalid(why)) => return Err(DavError::bad_request(why)),
    };
    if target == Target::WellKnown {
        let mut resp = empty(StatusCode::MOVED_PERMANENTLY);
        resp.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static(path::DAV_ROOT));
        return Ok(resp);
    }
    if parts.method == Method::OPTIONS {
        return Ok(options::options());
    }
    let user = authenticate(app, &parts.headers).await?;
    if let Some(owner) = target.owner()
        && owner != user
    {
        return Err(DavError::precondition(
            error::Precondition::NeedPrivileges,
            format!("{user} may not access data of {owner}"),
        ));
    }
    let ctx = Ctx {
        app,
        user,
        target,
        headers: parts.headers,
        body,
    };
    match parts.method.as_str() {
        "GET" => get::get(&ctx, false).await,
        "HEAD" => get::get(&ctx, true).await,
        "PUT" => put::put(&ctx).await,
        "DELETE" => delete::delete(&ctx).await,
        "PROPFIND" => propfind::propfind(&ctx).await,
        "PROPPATCH" => proppatch::proppatch(&ctx).await,
        "MKCOL" => mkcol::mkcol(&ctx, false).await,
        "MKCALENDAR" => mkcol::mkcol(&ctx, true).await,
        "COPY" => copy_move::copy_move(&ctx, false).await,
        "MOVE" => copy_move::copy_move(&ctx, true).await,
        "REPORT" => report::report(&ctx).await,
        "POST" => post::post(&ctx).await,
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

async fn authenticate(app: &App, headers: &HeaderMap) -> DavResult<String> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match header {
        Some(h) => match app.auth.authenticate(h).await {
            Some(user) => Ok(user),
            None => Err(DavError::status(
                StatusCode::UNAUTHORIZED,
                "invalid credentials",
            )),
        },
        None => Err(DavError::status(
            StatusCode::UNAUTHORIZED,
            "authentication required",
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
