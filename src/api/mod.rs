//! The REST API for applications (`/api/v1`, issue 10) and the calendar
//! feeds (`/feeds/{token}.ics`). An axum router on the server's hyper
//! connections: this module authenticates the bearer token from the request
//! head (before any body byte is read), reads the body within
//! `api.max_body_bytes`, runs the router, and collects the answer. The
//! routes and the OpenAPI 3.1 document (`/api/v1/openapi.json`) come from
//! one list (`utoipa_axum`), so the document cannot drift from the
//! handlers. Handlers translate JSON to engine operations; errors are
//! problem documents (`problem`), mapped in one place.

pub mod attendees;
pub mod cancel;
pub mod counters;
pub mod events;
pub mod feeds;
pub mod idempotency;
pub mod jobs;
pub mod json;
pub mod principal;
pub mod problem;
pub mod seats;

use crate::caldav::Resp;
use crate::server::App;
use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::response::IntoResponse;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use problem::{Kind, Problem};
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where the API lives.
pub const API_PREFIX: &str = "/api/";
/// Where calendar feeds live.
pub const FEED_PREFIX: &str = "/feeds/";
/// The OpenAPI document; readable without a token.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";
/// Bearer tokens start with this, so they are recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "hrld_";
/// Feed tokens (the secret in `/feeds/{token}.ics`) start with this.
pub const FEED_TOKEN_PREFIX: &str = "hfd_";

/// The authenticated principal of an API request, with the shared state.
#[derive(Clone)]
pub struct Caller {
    pub app: Arc<App>,
    /// The principal's user name.
    pub user: String,
    pub token_id: String,
}

impl Caller {
    /// The engine's view of this principal.
    pub fn actor(&self) -> crate::engine::Actor<'_> {
        crate::engine::Actor {
            store: &self.app.store,
            user: &self.user,
            max_delegates_per_reply: self.app.config.limits.max_delegates_per_reply,
            outbox_ready: &self.app.outbox_ready,
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Herald API",
        version = "1",
        description = "Invitations for applications: herald is the iTIP ORGANIZER on the application's behalf."
    ),
    modifiers(&BearerScheme),
    components(schemas(Problem))
)]
struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        // utoipa fills `info.license` from Cargo.toml, which names none: a
        // license object without a name is invalid OpenAPI.
        doc.info.license = None;
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The router and the OpenAPI document, built once.
/// The routes and the OpenAPI document, with the (method, path template)
/// pairs the document declares.
struct Api {
    router: Router,
    doc: Bytes,
    operations: Vec<(String, Vec<String>)>,
}

fn router() -> &'static Api {
    static ROUTER: OnceLock<Api> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
            .routes(routes!(principal::get_principal))
            .routes(routes!(events::create_event, events::list_events))
            .routes(routes!(events::get_event, events::patch_event))
            .routes(routes!(events::event_history))
            .routes(routes!(jobs::get_job))
            .routes(routes!(attendees::add_attendees))
            .routes(routes!(
                attendees::update_attendee,
                attendees::remove_attendee
            ))
            .routes(routes!(cancel::cancel_event))
            .routes(routes!(counters::list_counters))
            .routes(routes!(counters::accept_counter))
            .routes(routes!(counters::decline_counter))
            .routes(routes!(seats::create_hold))
            .routes(routes!(
                seats::get_hold,
                seats::confirm_hold,
                seats::release_hold
            ))
            .routes(routes!(seats::join_waitlist, seats::get_waitlist))
            .routes(routes!(seats::pending))
            .routes(routes!(feeds::create_feed, feeds::list_feeds))
            .routes(routes!(feeds::get_feed, feeds::delete_feed))
            .route("/feeds/{file}", axum::routing::get(feeds::serve))
            .split_for_parts();
        idempotency::document(&mut doc);
        let mut operations = Vec::new();
        for (template, item) in &doc.paths.paths {
            let segments: Vec<String> = template.split('/').map(str::to_string).collect();
            for (method, op) in [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PATCH", &item.patch),
                ("PUT", &item.put),
                ("DELETE", &item.delete),
            ] {
                if op.is_some() {
                    operations.push((method.to_string(), segments.clone()));
                }
            }
        }
        let doc = Bytes::from(doc.to_pretty_json().unwrap_or_default());
        let router = router
            .method_not_allowed_fallback(method_not_allowed)
            .fallback(fallback);
        Api {
            router,
            doc,
            operations,
        }
    })
}

/// Whether the OpenAPI document declares `method` on `path` (a `{name}`
/// segment matches any one non-empty segment).
fn declared(method: &Method, path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    router().operations.iter().any(|(m, t)| {
        m == method.as_str()
            && t.len() == parts.len()
            && t.iter()
                .zip(&parts)
                .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
    })
}

/// The OpenAPI document as served at [`OPENAPI_PATH`].
pub fn openapi_json() -> Bytes {
    router().doc.clone()
}

async fn fallback(method: Method) -> Problem {
    if method == Method::GET || method == Method::HEAD {
        Problem::not_found()
    } else {
        Problem::new(
            Kind::MethodNotAllowed,
            format!("{method} is not allowed here"),
        )
    }
}

/// A known path with a method it does not take (axum adds `Allow`).
async fn method_not_allowed(method: Method) -> Problem {
    Problem::new(
        Kind::MethodNotAllowed,
        format!("{method} is not allowed here"),
    )
}

/// Whether `path` belongs to this module rather than to CalDAV.
pub fn owns(path: &str) -> bool {
    path.starts_with(API_PREFIX) || path == "/api" || path.starts_with(FEED_PREFIX)
}

/// Handle one API or feed request; never fails, never panics on input.
pub async fn handle(app: &Arc<App>, req: Request<Incoming>, client: IpAddr) -> Resp {
    let started = Instant::now();
    let method = req.method().clone();
    let mut path = req.uri().path().to_string();
    if path.starts_with(FEED_PREFIX) {
        // The feed token is a secret: never in the log.
        path = format!("{FEED_PREFIX}…");
    }
    let (resp, keep_alive) = dispatch(app, req, client).await;
    let (mut parts, body) = resp.into_parts();
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            tracing::error!("{method} {path}: the answer could not be collected: {e}");
            Bytes::new()
        }
    };
    if !keep_alive {
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    tracing::info!(
        "{method} {path} {} {:.1}ms",
        parts.status.as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    Response::from_parts(parts, Full::new(bytes))
}

async fn dispatch(
    app: &Arc<App>,
    req: Request<Incoming>,
    _client: IpAddr,
) -> (axum::response::Response, bool) {
    let (mut parts, body) = req.into_parts();
    if parts.uri.path() == OPENAPI_PATH && parts.method == Method::GET {
        let keep = crate::caldav::drain_small(app, &parts, body).await;
        let mut resp = openapi_json().into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return (resp, keep);
    }
    if parts.uri.path().starts_with(API_PREFIX) {
        match authenticate(app, &parts.headers) {
            Ok(caller) => {
                parts.extensions.insert(caller);
            }
            Err(p) => {
                let keep = crate::caldav::drain_small(app, &parts, body).await;
                return (p.into_response(), keep);
            }
        }
    }
    parts.extensions.insert(app.clone());
    let bytes = match read_body(app, &parts, body).await {
        Ok(b) => b,
        Err(p) => return (p.into_response(), false),
    };
    let caller = parts.extensions.get::<Caller>().cloned();
    let keyed = match caller {
        Some(c)
            if idempotency::covers(&parts.method) && declared(&parts.method, parts.uri.path()) =>
        {
            match idempotency::key(&parts.headers) {
                Ok(Some(key)) => Some((c, key)),
                Ok(None) => None,
                Err(p) => return (p.into_response(), true),
            }
        }
        _ => None,
    };
    let resp = match keyed {
        Some((caller, key)) => {
            let target = parts.uri.path_and_query().map_or("", |p| p.as_str());
            let fp = idempotency::fingerprint(&parts.method, target, &bytes);
            idempotency::run(caller, key, fp, route(parts, bytes)).await
        }
        None => route(parts, bytes).await,
    };
    (resp, true)
}

/// Run the router on a request whose body is in hand.
fn route(
    parts: axum::http::request::Parts,
    body: Bytes,
) -> impl Future<Output = axum::response::Response> + Send + 'static {
    let req = Request::from_parts(parts, axum::body::Body::from(body));
    async move {
        match tower::ServiceExt::oneshot(router().router.clone(), req).await {
            Ok(r) => r,
            Err(never) => match never {},
        }
    }
}

/// The caller of a request with `Authorization: Bearer TOKEN`.
fn authenticate(app: &Arc<App>, headers: &axum::http::HeaderMap) -> Result<Caller, Problem> {
    let unauthorized = |d: &str| Problem::new(Kind::Unauthorized, d);
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("send Authorization: Bearer TOKEN"))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| unauthorized("send Authorization: Bearer TOKEN"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthorized("the API takes bearer tokens only"));
    }
    let token = token.trim();
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
        return Err(unauthorized("the token is not valid"));
    }
    let record = app
        .store
        .token_by_hash(&crate::auth::secret_hash(token))?
        .ok_or_else(|| unauthorized("the token is not valid"))?;
    Ok(Caller {
        app: app.clone(),
        user: record.principal,
        token_id: record.id,
    })
}

/// The body within `api.max_body_bytes` and `limits.body_timeout_seconds`.
async fn read_body(
    app: &App,
    parts: &axum::http::request::Parts,
    body: Incoming,
) -> Result<Bytes, Problem> {
    let limit = app.config.api.max_body_bytes;
    let too_large = || {
        Problem::new(
            Kind::PayloadTooLarge,
            format!("the body exceeds {limit} bytes (api.max_body_bytes)"),
        )
    };
    if crate::caldav::content_length(&parts.headers).is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    if hyper::body::Body::is_end_stream(&body) {
        return Ok(Bytes::new());
    }
    let secs = app.config.limits.body_timeout_seconds;
    match tokio::time::timeout(
        Duration::from_secs(secs),
        Limited::new(body, limit).collect(),
    )
    .await
    {
        Ok(Ok(b)) => Ok(b.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Ok(Err(e)) => Err(Problem::new(
            Kind::InvalidJson,
            format!("the body could not be read: {e}"),
        )),
        Err(_) => Err(Problem {
            status: 408,
            ..Problem::new(
                Kind::InvalidJson,
                format!("the body did not arrive within {secs} seconds"),
            )
        }),
    }
}

/// The API id of the event stored at `path` (below the principal's home):
/// opaque to clients, unpadded base64url of the path.
pub fn event_id(path: &str) -> String {
    use base64ct::Encoding;
    base64ct::Base64UrlUnpadded::encode_string(path.as_bytes())
}

/// The path an event id stands for, when it is a well-formed id of a
/// calendar object path (no `..`, ends in `.ics`-like member name).
pub fn event_path(id: &str) -> Option<String> {
    use base64ct::Encoding;
    if id.len() > 1024 {
        return None;
    }
    let bytes = base64ct::Base64UrlUnpadded::decode_vec(id).ok()?;
    let path = String::from_utf8(bytes).ok()?;
    let ok = !path.is_empty()
        && !path.ends_with('/')
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
    ok.then_some(path)
}
