//! The `[smtp]` table of herald.toml: where and how iMIP mail is sent.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use super::ImipError;

/// SMTP settings. Every key has a default; an empty `host` means "not
/// configured": messages then go to the spool folder.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// SMTP server host name; "" = not configured.
    pub host: String,
    /// Port, 587 by default (465 for `security = "tls"`, 25 for relays).
    pub port: u16,
    /// "none", "starttls" (default) or "tls" (implicit TLS).
    #[serde(deserialize_with = "security_value")]
    pub security: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// File holding the password (trailing line break removed).
    pub password_file: Option<PathBuf>,
    /// Envelope sender, and the From address of mail sent "via Herald".
    pub from: String,
    /// Name given in EHLO; the machine's host name when unset.
    pub helo: Option<String>,
    /// Domains Herald may use in From directly (it is allowed to send as them).
    pub sender_domains: Vec<String>,
    /// PEM private key (RSA or Ed25519) for DKIM signing.
    pub dkim_key: Option<PathBuf>,
    pub dkim_selector: Option<String>,
    pub max_attempts: u32,
    pub retry_base_seconds: u64,
    pub retry_max_seconds: u64,
    pub timeout_seconds: u64,
    /// SMTP connections the outbox worker keeps open in parallel (1-64).
    pub connections: usize,
    /// Most messages handed to the relay (final "." sent) whose result is
    /// not yet recorded durably (1-64). A crash repeats at most this many;
    /// delivery runs at most this many per commit (fsync) time.
    pub max_unrecorded: usize,
}

/// Default of `connections`.
pub const DEFAULT_CONNECTIONS: usize = 4;
/// Default of `max_unrecorded`: a crash sends at most one message twice.
pub const DEFAULT_MAX_UNRECORDED: usize = 1;

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: String::new(),
            port: 587,
            security: "starttls".to_string(),
            username: None,
            password: None,
            password_file: None,
            from: "herald@localhost".to_string(),
            helo: None,
            sender_domains: Vec::new(),
            dkim_key: None,
            dkim_selector: None,
            max_attempts: 8,
            retry_base_seconds: 30,
            retry_max_seconds: 3600,
            timeout_seconds: 30,
            connections: DEFAULT_CONNECTIONS,
            max_unrecorded: DEFAULT_MAX_UNRECORDED,
        }
    }
}

/// The password is never printed.
impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_file", &self.password_file)
            .field("from", &self.from)
            .field("helo", &self.helo)
            .field("sender_domains", &self.sender_domains)
            .field("dkim_key", &self.dkim_key)
            .field("dkim_selector", &self.dkim_selector)
            .field("max_attempts", &self.max_attempts)
            .field("retry_base_seconds", &self.retry_base_seconds)
            .field("retry_max_seconds", &self.retry_max_seconds)
            .field("timeout_seconds", &self.timeout_seconds)
            .field("connections", &self.connections)
            .field("max_unrecorded", &self.max_unrecorded)
            .finish()
    }
}

/// The accepted values of `security`.
pub(crate) const SECURITY_VALUES: [&str; 3] = ["none", "starttls", "tls"];

fn security_value<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let value = String::deserialize(d)?;
    let lower = value.to_ascii_lowercase();
    if SECURITY_VALUES.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(serde::de::Error::custom(format!(
            "security must be \"none\", \"starttls\" or \"tls\", not {value:?}"
        )))
    }
}

impl SmtpConfig {
    /// True when a host is set, i.e. mail is sent rather than spooled.
    pub fn is_configured(&self) -> bool {
        !self.host.trim().is_empty()
    }

    /// The SMTP password: `password`, or the content of `password_file`
    /// without its trailing line break; `None` when neither is set.
    pub fn password(&self) -> Result<Option<String>, ImipError> {
        match (&self.password, &self.password_file) {
            (Some(_), Some(_)) => Err(ImipError::Config(
                "set either password or password_file, not both".into(),
            )),
            (Some(p), None) => Ok(Some(p.clone())),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ImipError::Io(format!("reading password_file {}: {e}", path.display()))
                })?;
                Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()))
            }
            (None, None) => Ok(None),
        }
    }

    /// The DKIM key file and selector when both are set; an error when only
    /// one of them is.
    pub(crate) fn dkim(&self) -> Result<Option<(&std::path::Path, &str)>, ImipError> {
        match (&self.dkim_key, &self.dkim_selector) {
            (Some(key), Some(sel)) if !sel.trim().is_empty() => Ok(Some((key, sel.trim()))),
            (None, None) => Ok(None),
            _ => Err(ImipError::Config(
                "dkim_key and dkim_selector must be set together".into(),
            )),
        }
    }
}
