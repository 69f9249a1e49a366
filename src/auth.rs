//! Authentication: HTTP Basic against argon2 password hashes, with a
//! short-lived cache of verified credentials (argon2 costs tens of
//! milliseconds on purpose; checking it on every request would cap the
//! server at a few hundred requests per second).
//!
//! Against guessing: an unknown user name costs the same argon2 check as a
//! known one (against a dummy hash), so timing does not tell which names
//! exist; and failed logins are counted per user name and per client
//! address, so that past `limits.failed_logins_per_minute` new logins are
//! refused (429) until the minute is over. Credentials already verified
//! (in the cache) keep working, so an attacker cannot lock a user's
//! running clients out. argon2 runs on the blocking pool, never on the
//! async workers.

use crate::store::Store;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use base64ct::{Base64, Encoding};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most cached credentials kept; the cache is cleared when it grows past this.
const MAX_CACHED: usize = 10_000;
/// The window failed logins are counted in.
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Most user names and addresses with failures remembered; expired entries
/// are dropped first, then everything (throttling restarts from zero rather
/// than memory growing without bound).
const MAX_TRACKED: usize = 100_000;

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

/// What an unknown user name is checked against: the argon2id hash (same
/// parameters as `hash_password`; a unit test keeps them equal) of a random
/// password nobody knows. A constant, so starting costs no hashing.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$mSHZ2Y3/3tgQHnwQtrwsVA$XnNvREvpCOf+yCxTDgIJDP4AOe34GlQWub7LWDx6soU";

/// The outcome of checking an Authorization header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthResult {
    Ok(String),
    /// Wrong or malformed credentials, or an unknown user.
    Invalid,
    /// Too many failures for this user name or address: try after this long.
    Throttled(Duration),
}

/// Failures per key in the current window.
#[derive(Default)]
struct Failures {
    map: HashMap<String, (Instant, u32)>,
}

impl Failures {
    /// Time left until `key` may try again, if it is over `max`.
    fn blocked(&self, key: &str, max: u32) -> Option<Duration> {
        let (start, n) = self.map.get(key)?;
        let left = FAILURE_WINDOW.checked_sub(start.elapsed())?;
        (*n >= max).then_some(left)
    }

    fn record(&mut self, key: String) {
        if self.map.len() >= MAX_TRACKED {
            self.map
                .retain(|_, (start, _)| start.elapsed() < FAILURE_WINDOW);
            if self.map.len() >= MAX_TRACKED {
                self.map.clear();
            }
        }
        let entry = self.map.entry(key).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= FAILURE_WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

/// Verifies credentials, remembering successes for `ttl`.
pub struct Authenticator {
    store: Store,
    ttl: Duration,
    cache: Mutex<HashMap<String, (String, String, Instant)>>,
    /// Failures allowed per minute per user name and per address; 0 = no limit.
    max_failures: u32,
    failures: Mutex<Failures>,
}

impl Authenticator {
    pub fn new(store: Store, ttl: Duration, failed_logins_per_minute: u32) -> Self {
        Authenticator {
            store,
            ttl,
            cache: Mutex::new(HashMap::new()),
            max_failures: failed_logins_per_minute,
            failures: Mutex::new(Failures::default()),
        }
    }

    /// Check an Authorization header sent from `client`.
    pub async fn authenticate(&self, header: &str, client: IpAddr) -> AuthResult {
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
                return AuthResult::Ok(user.clone());
            }
        }
        let Some((user, password)) = parse_basic(header) else {
            return self.failed(None, client);
        };
        let user_key = format!("user:{user}");
        let addr_key = format!("addr:{client}");
        if self.max_failures > 0
            && let Ok(f) = self.failures.lock()
        {
            let wait = [&user_key, &addr_key]
                .iter()
                .filter_map(|k| f.blocked(k, self.max_failures))
                .max();
            if let Some(wait) = wait {
                return AuthResult::Throttled(wait);
            }
        }
        let hash = match self.store.principal(&user) {
            Ok(Some(p)) => Some(p.password_hash),
            _ => None,
        };
        // Unknown users cost one argon2 check too, against the dummy hash.
        let check_hash = hash.clone().unwrap_or_else(|| DUMMY_HASH.to_string());
        let verified = tokio::task::spawn_blocking(move || verify_password(&check_hash, &password))
            .await
            .unwrap_or(false);
        let Some(hash) = hash.filter(|_| verified) else {
            return self.failed(Some(user_key), client);
        };
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(header.to_string(), (user.clone(), hash, Instant::now()));
        }
        AuthResult::Ok(user)
    }

    fn failed(&self, user_key: Option<String>, client: IpAddr) -> AuthResult {
        if self.max_failures > 0
            && let Ok(mut f) = self.failures.lock()
        {
            if let Some(k) = user_key {
                f.record(k);
            }
            f.record(format!("addr:{client}"));
        }
        AuthResult::Invalid
    }
}

/// A new bearer secret (API or feed token): `prefix` and 32 random bytes
/// in unpadded base64url, with the hex SHA-256 the store keeps of it.
pub fn new_secret(prefix: &str) -> Result<(String, String), String> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| "the system random source failed".to_string())?;
    let token = format!(
        "{prefix}{}",
        base64ct::Base64UrlUnpadded::encode_string(&bytes)
    );
    let hash = secret_hash(&token);
    Ok((token, hash))
}

/// The hex SHA-256 of a bearer secret: what the store looks it up by. A
/// fast hash is enough: the secret has 256 random bits, nothing to guess.
pub fn secret_hash(token: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A short public id for a stored secret (12 random hex digits).
pub fn new_secret_id() -> Result<String, String> {
    let mut bytes = [0u8; 6];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| "the system random source failed".to_string())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
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
    fn failures_block_after_max_within_the_window() {
        let mut f = Failures::default();
        for _ in 0..3 {
            assert!(f.blocked("k", 3).is_none());
            f.record("k".into());
        }
        let wait = f.blocked("k", 3).unwrap();
        assert!(wait <= FAILURE_WINDOW && wait > Duration::from_secs(50));
        assert!(f.blocked("other", 3).is_none());
    }

    #[test]
    fn unknown_users_cost_an_argon2_check() {
        // Timing parity: the dummy hash uses the same parameters as real ones.
        let real = hash_password("pw").unwrap();
        let (a, b) = (
            PasswordHash::new(&real).unwrap(),
            PasswordHash::new(DUMMY_HASH).unwrap(),
        );
        assert_eq!(a.algorithm, b.algorithm);
        assert_eq!(a.params, b.params);
        assert!(!verify_password(DUMMY_HASH, "pw"));
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
