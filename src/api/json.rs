//! `Body<T>`: the API's JSON body extractor. It demands
//! `application/json`, refuses unknown fields (the types say
//! `deny_unknown_fields`), and names the offending field of any value that
//! does not deserialize (`attendees[2].email`), as a problem document.

use super::problem::{Kind, Problem};
use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use serde::de::DeserializeOwned;

pub struct Body<T>(pub T);

/// The raw bytes an extractor saw, kept for Idempotency-Key fingerprints.
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .is_some_and(|m| {
            m.eq_ignore_ascii_case("application/json")
                || m.eq_ignore_ascii_case("application/merge-patch+json")
        })
}

/// Deserialize `bytes` as `T`, naming the failing field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let detail = inner.to_string();
        if inner.is_syntax() || inner.is_eof() || path == "." {
            let mut p = Problem::new(Kind::InvalidJson, detail);
            if path != "." {
                p.field = Some(path);
            }
            p
        } else {
            Problem::field(path, detail)
        }
    })?;
    de.end()
        .map_err(|e| Problem::new(Kind::InvalidJson, e.to_string()))?;
    Ok(value)
}

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !is_json(ct) {
            return Err(Problem::new(
                Kind::UnsupportedMediaType,
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| Problem::new(Kind::InvalidJson, e.body_text()))?;
        parse(&bytes).map(Body)
    }
}
