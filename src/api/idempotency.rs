//! `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header) on every
//! POST, PATCH and DELETE under `/api/v1`: the first request with a key
//! runs and its answer is kept (status, `Location`, `ETag`,
//! `Content-Type`, body) for `api.idempotency_ttl`; the same key with the
//! same request (method, path and query, body: a SHA-256 fingerprint)
//! replays that answer; the same key with another request is 422
//! `/errors/idempotency-key-reused`; while the first still runs, 409
//! `/errors/idempotency-key-in-use`. Keys are per principal.
//!
//! A keyed request runs in a task of its own, so a client that goes away
//! does not cancel it halfway: it finishes and its answer is kept for the
//! retry. An answer that asks for a retry (5xx, 429) is not kept: the key
//! is released. Crash window: a change committed by the handler whose
//! answer was not yet recorded when the process died is made again by a
//! retry with the same key (the Running record does not survive a
//! restart); the store write and the answer are two commits.

use super::Caller;
use super::problem::{Kind, Problem};
use crate::store::{IdemBegin, StoredAnswer};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use std::future::Future;

/// The request header.
pub const HEADER: &str = "Idempotency-Key";
/// Set on a replayed answer.
pub const REPLAYED: &str = "idempotent-replayed";
/// Longest key, in characters.
pub const MAX_KEY: usize = 255;
/// A key whose request has run this much longer than a body may take to
/// arrive counts as abandoned (its task died without settling it).
const STALE_GRACE_SECONDS: i64 = 600;
/// When `api.idempotency_ttl` cannot be read (it is checked at start).
const DEFAULT_TTL_SECONDS: i64 = 86_400;

/// The headers of an answer that a replay repeats.
const KEPT: [HeaderName; 3] = [header::LOCATION, header::ETAG, header::CONTENT_TYPE];

/// Whether requests with `method` take an Idempotency-Key.
pub fn covers(method: &Method) -> bool {
    *method == Method::POST || *method == Method::PATCH || *method == Method::DELETE
}

fn bad_key(detail: &str) -> Problem {
    Problem::field(HEADER, detail)
}

/// The key of a request: None without the header. 1 to 255 visible ASCII
/// characters; a value in double quotes (the draft's Structured Field
/// String) stands for the text inside them.
pub fn key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let mut values = headers.get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(bad_key("send one Idempotency-Key"));
    }
    let text = value
        .to_str()
        .map_err(|_| bad_key("the Idempotency-Key must be visible ASCII"))?
        .trim();
    let text = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => inner,
        None => text,
    };
    if text.is_empty() || text.len() > MAX_KEY {
        return Err(bad_key("the Idempotency-Key must have 1 to 255 characters"));
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad_key(
            "the Idempotency-Key must be visible ASCII characters (no spaces)",
        ));
    }
    Ok(Some(text.to_string()))
}

/// SHA-256 (hex) of method, path and query, and body.
pub fn fingerprint(method: &Method, path_and_query: &str, body: &[u8]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(method.as_str().as_bytes());
    ctx.update(b"\0");
    ctx.update(path_and_query.as_bytes());
    ctx.update(b"\0");
    ctx.update(body);
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether an answer with `status` is kept for replays: not when it asks
/// the client to try again.
fn kept(status: StatusCode) -> bool {
    !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS)
}

fn replay(a: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK);
    let mut resp = (status, a.body).into_response();
    let h = resp.headers_mut();
    h.remove(header::CONTENT_TYPE);
    for (name, value) in a.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            h.insert(n, v);
        }
    }
    h.insert(REPLAYED, HeaderValue::from_static("true"));
    resp
}

/// Run `call` (the request, whose fingerprint is `fp`) under `key`:
/// replay, refuse, or run it and keep its answer.
pub async fn run<F>(caller: Caller, key: String, fp: String, call: F) -> Response
where
    F: Future<Output = Response> + Send + 'static,
{
    let app = caller.app.clone();
    let (ttl, stale) = (ttl(&app.config), stale_after(&app.config));
    let attempt = match app
        .store
        .idempotency_begin(&caller.user, &key, fp, ttl, stale)
        .await
    {
        Ok(IdemBegin::Fresh(a)) => a,
        Ok(IdemBegin::Done(a)) => return replay(a),
        Ok(IdemBegin::Running) => {
            return Problem {
                retry_after: Some(1),
                ..Problem::new(
                    Kind::IdempotencyKeyInUse,
                    "a request with this Idempotency-Key is still running; retry it later",
                )
            }
            .into_response();
        }
        Ok(IdemBegin::Mismatch) => {
            return Problem {
                field: Some(HEADER.into()),
                ..Problem::new(
                    Kind::IdempotencyKeyReused,
                    "this Idempotency-Key was used for another request (method, path or body)",
                )
            }
            .into_response();
        }
        Err(e) => return Problem::from(e).into_response(),
    };
    let (user, held_key) = (caller.user.clone(), key.clone());
    let task = tokio::spawn(async move {
        let (parts, body) = call.await.into_parts();
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                let p = Problem::internal(format!("the answer could not be collected: {e}"));
                let (parts, body) = p.into_response().into_parts();
                let bytes = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                settle(&caller, &key, attempt, None).await;
                return (parts, bytes);
            }
        };
        let answer = kept(parts.status).then(|| StoredAnswer {
            status: parts.status.as_u16(),
            headers: KEPT
                .iter()
                .filter_map(|n| {
                    let v = parts.headers.get(n)?.to_str().ok()?;
                    Some((n.as_str().to_string(), v.to_string()))
                })
                .collect(),
            body: body.to_vec(),
        });
        settle(&caller, &key, attempt, answer).await;
        (parts, body)
    });
    match task.await {
        Ok((parts, body)) => Response::from_parts(parts, axum::body::Body::from(body)),
        Err(e) => {
            // The handler panicked: its task is gone; the key would stay
            // Running until it is stale, so it is released here.
            if let Err(e) = app
                .store
                .idempotency_abandon(&user, &held_key, attempt)
                .await
            {
                tracing::error!("api: cannot release an Idempotency-Key: {e}");
            }
            Problem::internal(format!("the request failed: {e}")).into_response()
        }
    }
}

/// Seconds after which a Running key counts as abandoned.
pub fn stale_after(config: &crate::config::Config) -> i64 {
    (config.limits.body_timeout_seconds as i64).saturating_add(STALE_GRACE_SECONDS)
}

/// How long keys live (`api.idempotency_ttl`).
pub fn ttl(config: &crate::config::Config) -> i64 {
    config
        .api
        .idempotency_ttl_seconds()
        .unwrap_or(DEFAULT_TTL_SECONDS)
}

/// How often expired keys are removed.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// For `herald serve`, before it serves: release the keys of requests a
/// previous process left running (nothing of it runs any more).
pub async fn release_interrupted(store: &crate::store::Store) -> Result<(), String> {
    let n = store
        .idempotency_release_running()
        .await
        .map_err(|e| format!("cannot release interrupted Idempotency-Keys: {e}"))?;
    if n > 0 {
        tracing::info!(
            "api: {n} Idempotency-Key(s) of requests interrupted by the last stop released"
        );
    }
    Ok(())
}

/// For `herald serve`: remove expired keys every ten minutes, until the
/// task is dropped.
pub async fn expire(store: crate::store::Store, ttl: i64, stale: i64) {
    loop {
        tokio::time::sleep(PURGE_EVERY).await;
        match store.idempotency_purge(ttl, stale).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!("api: {n} expired Idempotency-Key(s) removed"),
            Err(e) => tracing::error!("api: cannot remove expired Idempotency-Keys: {e}"),
        }
    }
}

/// Keep `answer` for the key, or release it (None).
async fn settle(caller: &Caller, key: &str, attempt: u64, answer: Option<StoredAnswer>) {
    let store = &caller.app.store;
    let r = match answer {
        Some(a) => {
            store
                .idempotency_finish(&caller.user, key, attempt, a)
                .await
        }
        None => store.idempotency_abandon(&caller.user, key, attempt).await,
    };
    match r {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "api: Idempotency-Key of {} was taken over before its request finished",
            caller.user
        ),
        Err(e) => tracing::error!("api: cannot settle an Idempotency-Key: {e}"),
    }
}

/// Document the header, and the 409 and 422 it may cause, on every POST,
/// PATCH and DELETE of the OpenAPI document.
pub fn document(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::{
        ContentBuilder, Ref, Required, ResponseBuilder, schema::ObjectBuilder, schema::Type,
    };
    let parameter = ParameterBuilder::new()
        .name(HEADER)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Makes the request safe to retry: the same key with the same request replays the first answer.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(MAX_KEY + 2))
                .pattern(Some("^[!-~]+$")),
        ))
        .build();
    let problem = |d: &str| {
        ResponseBuilder::new()
            .description(d)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
    };
    for item in doc.paths.paths.values_mut() {
        for op in [&mut item.post, &mut item.patch, &mut item.delete]
            .into_iter()
            .flatten()
        {
            let params = op.parameters.get_or_insert_with(Vec::new);
            if !params.iter().any(|p| p.name == HEADER) {
                params.push(parameter.clone());
            }
            let responses = &mut op.responses.responses;
            responses
                .entry("409".into())
                .or_insert_with(|| problem("Conflict, or the Idempotency-Key is in use").into());
            responses.entry("422".into()).or_insert_with(|| {
                problem("Invalid field, or the Idempotency-Key was used for another request").into()
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(HEADER, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn keys() {
        assert_eq!(key(&headers(&[])).unwrap(), None);
        assert_eq!(key(&headers(&["abc-1"])).unwrap().as_deref(), Some("abc-1"));
        // The draft's sf-string form is the same key.
        assert_eq!(
            key(&headers(&["\"abc-1\""])).unwrap().as_deref(),
            Some("abc-1")
        );
        let long = "k".repeat(255);
        assert_eq!(key(&headers(&[&long])).unwrap(), Some(long.clone()));
        for bad in ["", "\"\"", "a b", "\"a b\""] {
            let p = key(&headers(&[bad])).unwrap_err();
            assert_eq!(p.field.as_deref(), Some(HEADER), "{bad:?}");
        }
        assert!(key(&headers(&[&format!("{long}k")])).is_err());
        assert!(key(&headers(&["a", "b"])).is_err());
        let mut h = HeaderMap::new();
        h.insert(HEADER, HeaderValue::from_bytes("é".as_bytes()).unwrap());
        assert!(key(&h).is_err());
    }

    #[test]
    fn fingerprints() {
        let f = fingerprint(&Method::POST, "/api/v1/events", b"{}");
        assert_eq!(f.len(), 64);
        assert_eq!(f, fingerprint(&Method::POST, "/api/v1/events", b"{}"));
        assert_ne!(f, fingerprint(&Method::PATCH, "/api/v1/events", b"{}"));
        assert_ne!(f, fingerprint(&Method::POST, "/api/v1/events?x", b"{}"));
        assert_ne!(f, fingerprint(&Method::POST, "/api/v1/events", b"{ }"));
        // No ambiguity between the path and the body.
        assert_ne!(
            fingerprint(&Method::POST, "/a", b"b"),
            fingerprint(&Method::POST, "/ab", b"")
        );
    }

    #[test]
    fn what_is_kept() {
        assert!(kept(StatusCode::CREATED));
        assert!(kept(StatusCode::UNPROCESSABLE_ENTITY));
        assert!(kept(StatusCode::PRECONDITION_FAILED));
        assert!(!kept(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(!kept(StatusCode::TOO_MANY_REQUESTS));
    }

    #[test]
    fn replays_the_kept_headers() {
        let r = replay(StoredAnswer {
            status: 201,
            headers: vec![
                ("location".into(), "/api/v1/events/x".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: b"{}".to_vec(),
        });
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers()[header::LOCATION], "/api/v1/events/x");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(r.headers()[REPLAYED], "true");
    }

    fn caller(dir: &std::path::Path) -> Caller {
        let store = crate::store::Store::open(dir).unwrap();
        let app = crate::server::App {
            auth: crate::auth::Authenticator::new(
                store.clone(),
                std::time::Duration::from_secs(60),
                0,
            ),
            store,
            config: crate::config::Config::default(),
            outbox_ready: Default::default(),
            locks: Default::default(),
        };
        Caller {
            app: std::sync::Arc::new(app),
            user: "shop".into(),
            token_id: "t".into(),
        }
    }

    async fn body(r: Response) -> (StatusCode, String) {
        let status = r.status();
        let b = r.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(b.to_vec()).unwrap())
    }

    /// A handler that counts its runs and answers 201 with the run number.
    fn created(
        runs: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
        status: StatusCode,
    ) -> impl Future<Output = Response> + Send + 'static {
        let runs = runs.clone();
        async move {
            let n = runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let mut r = (status, format!("{{\"run\":{n}}}")).into_response();
            r.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_static("/api/v1/events/x"),
            );
            r
        }
    }

    #[tokio::test]
    async fn concurrent_requests_run_once() {
        let dir = tempfile::tempdir().unwrap();
        let c = caller(dir.path());
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let f = run(
                c.clone(),
                "k".into(),
                "fp".into(),
                created(&runs, StatusCode::CREATED),
            );
            tasks.push(tokio::spawn(async move { body(f.await).await }));
        }
        let (mut replayed, mut in_use) = (0, 0);
        for t in tasks {
            match t.await.unwrap() {
                (StatusCode::CREATED, b) => {
                    assert_eq!(b, "{\"run\":1}");
                    replayed += 1;
                }
                (StatusCode::CONFLICT, b) => {
                    assert!(b.contains("/errors/idempotency-key-in-use"), "{b}");
                    in_use += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(replayed + in_use, 50);
        // After it finished: the same request replays, with its Location.
        let r = run(
            c.clone(),
            "k".into(),
            "fp".into(),
            created(&runs, StatusCode::CREATED),
        )
        .await;
        assert_eq!(r.headers()[header::LOCATION], "/api/v1/events/x");
        assert_eq!(r.headers()[REPLAYED], "true");
        assert_eq!(body(r).await, (StatusCode::CREATED, "{\"run\":1}".into()));
        // Another request with the key: 422, and it does not run.
        let r = run(
            c.clone(),
            "k".into(),
            "other".into(),
            created(&runs, StatusCode::CREATED),
        )
        .await;
        let (status, b) = body(r).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(b.contains("/errors/idempotency-key-reused"), "{b}");
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn server_errors_are_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let c = caller(dir.path());
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let failing = created(&runs, StatusCode::SERVICE_UNAVAILABLE);
        let r = run(c.clone(), "k".into(), "fp".into(), failing).await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        let r = run(
            c.clone(),
            "k".into(),
            "fp".into(),
            created(&runs, StatusCode::CREATED),
        )
        .await;
        assert_eq!(body(r).await, (StatusCode::CREATED, "{\"run\":2}".into()));
    }

    #[tokio::test]
    async fn a_panicking_handler_releases_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let c = caller(dir.path());
        let boom = async {
            if true {
                panic!("handler bug");
            }
            StatusCode::OK.into_response()
        };
        let r = run(c.clone(), "k".into(), "fp".into(), boom).await;
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(c.app.store.idempotency_count().unwrap(), 0);
    }

    #[test]
    fn documented_on_every_change() {
        let doc: serde_json::Value = serde_json::from_slice(&super::super::openapi_json()).unwrap();
        let mut seen = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for m in ["post", "patch", "delete"] {
                let Some(op) = item.get(m) else { continue };
                seen += 1;
                let params = op["parameters"].as_array().unwrap();
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == HEADER && p["in"] == "header"),
                    "{m} {path}"
                );
                assert!(op["responses"].get("409").is_some(), "{m} {path}");
                assert!(op["responses"].get("422").is_some(), "{m} {path}");
            }
            if let Some(get) = item.get("get") {
                let params = get["parameters"].as_array().cloned().unwrap_or_default();
                assert!(!params.iter().any(|p| p["name"] == HEADER), "get {path}");
            }
        }
        assert!(seen > 0);
        assert!(doc["paths"].get("/api/v1/jobs/{id}").is_some());
    }
}
