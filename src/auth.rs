//! Authentication: HTTP Basic against argon2 password hashes, with a
//! short-lived cache of verified credentials (argon2 costs tens of
//! milliseconds on purpose; checking it on every request would cap the
//! server at a few hundred requests per second).

use crate::store::Store;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use base64ct::{Base64, Encoding};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most cached credentials kept; the cache is cleared when it grows past this.
const MAX_CACHED: usize = 10_000;

/// Hash a password into an argon2id PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Check a password against a PHC string.
pub fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A random password of 20 characters from an unambiguous alphabet.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        for b in argon2::password_hash::generate_salt() {
            if out.len() < 20 {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    out
}

/// Split an `Authorization: Basic ...` header into user and password.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = Base64::decode_vec(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

/// Verifies credentials, remembering successes for `ttl`.
pub struct Authenticator {
    store: Store,
    ttl: Duration,
    cache: Mutex<HashMap<String, (String, String, Instant)>>,
}

impl Authenticator {
    pub fn new(store: Store, ttl: Duration) -> Self {
        Authenticator {
            store,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The user named by a valid Authorization header, or None.
    pub async fn authenticate(&self, header: &str) -> Option<String> {
        if let Ok(cache) = self.cache.lock()
            && let Some((user, hash, at)) = cache.get(header)
            && at.elapsed() < self.ttl
        {
            // A changed password invalidates the entry at once.
            if self
                .store
                .principal(user)
                .ok()
                .flatten()
                .is_some_and(|p| &p.password_hash == hash)
            {
                return Some(user.clone());
            }
        }
        let (user, password) = parse_basic(header)?;
        let principal = self.store.principal(&user).ok()??;
        let hash = principal.password_hash.clone();
        let check_hash = hash.clone();
        let ok = tokio::task::spawn_blocking(move || verify_password(&check_hash, &password))
            .await
            .unwrap_or(false);
        if !ok {
            return None;
        }
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(header.to_string(), (user.clone(), hash, Instant::now()));
        }
        Some(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header() {
        assert_eq!(
            parse_basic("Basic YWxpY2U6c2VjcmV0OmNvbG9u"),
            Some(("alice".into(), "secret:colon".into()))
        );
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
    }

    #[test]
    fn hash_and_verify() {
        let h = hash_password("pw").unwrap();
        assert!(verify_password(&h, "pw"));
        assert!(!verify_password(&h, "other"));
        assert!(!verify_password("garbage", "pw"));
        let p = generate_password();
        assert_eq!(p.len(), 20);
    }
}
