//! Configuration: one TOML file (`herald.toml`), every key with a default,
//! unknown keys refused by name. Command-line flags and `HERALD_*`
//! environment variables override the file; `Config::resolve` does that in
//! one step so the rest of the program sees a single validated value.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Default listen address: loopback only, so a first start exposes nothing.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8008";
/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "herald-data";
/// Largest request body accepted (RFC 4918 bodies and calendar objects).
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Largest calendar object resource (CALDAV:max-resource-size).
pub const DEFAULT_MAX_RESOURCE_BYTES: usize = 1024 * 1024;
/// How long a verified HTTP Basic credential is trusted without argon2.
pub const DEFAULT_AUTH_CACHE_SECONDS: u64 = 300;
/// Per-user storage quota reported by quota-available-bytes.
pub const DEFAULT_QUOTA_BYTES: u64 = 1024 * 1024 * 1024;
/// Seconds a client has to send a request's head (HTTP) once it started.
pub const DEFAULT_HEADER_TIMEOUT_SECONDS: u64 = 10;
/// Seconds a client has to send a whole request body (HTTP) or DATA (LMTP).
pub const DEFAULT_BODY_TIMEOUT_SECONDS: u64 = 60;
/// Seconds an idle connection (HTTP keep-alive, LMTP between commands) stays open.
pub const DEFAULT_IDLE_TIMEOUT_SECONDS: u64 = 60;
/// Open connections allowed; 0 means automatic (see `crate::conn`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 0;
/// Failed logins per minute, per user name and per client address, before 429.
pub const DEFAULT_FAILED_LOGINS_PER_MINUTE: u32 = 10;
/// Twice the largest guest lists of common calendar services (about 1,000),
/// so `benches/invitations.rs` (1,000 attendees) fits with room to spare.
pub const DEFAULT_MAX_ATTENDEES_PER_INSTANCE: usize = 2000;
/// A delegation names one delegate in practice; ten leaves room for odd clients.
pub const DEFAULT_MAX_DELEGATES_PER_REPLY: usize = 10;
/// Five events at the attendee maximum per hour; far above any person's use.
pub const DEFAULT_INVITATIONS_PER_HOUR: u64 = 10_000;
/// Most instances of one recurring object expanded for a report
/// (CALDAV:expand, limit-recurrence-set, free/busy).
pub const DEFAULT_MAX_INSTANCES_PER_OBJECT: usize = 10_000;
/// Largest generated response body (REPORT, free/busy, a calendar as one document).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub tls: TlsConfig,
    pub limits: LimitsConfig,
    /// Outgoing mail (iMIP); unset host means mail is spooled to files.
    pub smtp: crate::imip::SmtpConfig,
    /// Incoming mail (iMIP replies and invitations).
    pub imip: ImipConfig,
    /// The REST API for applications (`/api/v1`).
    pub api: ApiConfig,
}

/// `[api]`: the REST API for applications.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Adding more attendees than this in one call runs as a job (202 Accepted).
    pub async_threshold: usize,
    /// How long an Idempotency-Key is remembered: a number and a unit
    /// (`s`, `m`, `h`, `d`), e.g. "24h".
    pub idempotency_ttl: String,
    /// Largest JSON request body in bytes.
    pub max_body_bytes: usize,
    /// Most attendees one call may add.
    pub max_attendees_per_call: usize,
    /// The public base URL (e.g. "https://cal.example.org") used in the feed
    /// URLs the API returns; the request's Host when unset.
    pub public_url: Option<String>,
    /// Shortest `ttl` of a seat hold, in seconds.
    pub min_hold_ttl_seconds: i64,
    /// Shortest `remind_after` of an event, in seconds.
    pub min_remind_after_seconds: i64,
    /// Shortest `waitlist_offer_ttl` of an event, in seconds.
    pub min_waitlist_offer_ttl_seconds: i64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            async_threshold: 500,
            idempotency_ttl: "24h".into(),
            max_body_bytes: 4 * 1024 * 1024,
            max_attendees_per_call: 10_000,
            public_url: None,
            min_hold_ttl_seconds: 1,
            min_remind_after_seconds: 1,
            min_waitlist_offer_ttl_seconds: 1,
        }
    }
}

impl ApiConfig {
    /// `idempotency_ttl` in seconds.
    pub fn idempotency_ttl_seconds(&self) -> Result<i64, String> {
        parse_duration(&self.idempotency_ttl).ok_or_else(|| {
            format!(
                "api.idempotency_ttl: '{}' is not a duration like \"24h\"",
                self.idempotency_ttl
            )
        })
    }
}

/// "90s", "15m", "24h", "7d" or a plain number of seconds.
fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: i64 = num.parse().ok()?;
    let scale = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    n.checked_mul(scale).filter(|v| *v > 0)
}

/// `[imip]`: how replies and invitations arriving by mail are received and trusted.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ImipConfig {
    /// Address of the LMTP listener (RFC 2033), e.g. "127.0.0.1:2424"; off when unset.
    pub lmtp_listen: Option<String>,
    /// "strict": a reply must come with a passing, aligned
    /// Authentication-Results from a trusted authserv-id; "from-only": trust
    /// From as is (only behind an MTA that already rejects DMARC failures).
    pub sender_verification: String,
    /// authserv-ids of the receiving MTA whose Authentication-Results count.
    pub trusted_authserv_ids: Vec<String>,
    /// Put invitations from organizers outside this server straight into the
    /// user's calendar (otherwise they wait in the schedule inbox).
    pub auto_add_invitations: bool,
    /// Largest message accepted by LMTP and `herald ingest`.
    pub max_message_bytes: usize,
    /// Per-invitation reply addresses: outgoing REQUESTs name
    /// `local+TOKEN@domain` (from `reply_address`) as ORGANIZER and
    /// Reply-To; a reply to that address is bound to its event and attendee
    /// whatever its headers say. Needs plus-addressing at the MTA.
    pub reply_tokens: bool,
    /// The base address for reply tokens, e.g. "calendar@example.org".
    pub reply_address: Option<String>,
    /// The key that signs reply tokens (`DATA_DIR/reply-token.key`), loaded
    /// at start; not a configuration key.
    #[serde(skip)]
    pub token_key: Option<Vec<u8>>,
}

impl ImipConfig {
    /// (local part, domain) of `reply_address` when reply tokens are on.
    pub fn reply_token_parts(&self) -> Option<(String, String)> {
        if !self.reply_tokens {
            return None;
        }
        let (local, domain) = self.reply_address.as_deref()?.trim().rsplit_once('@')?;
        let local = local.trim_start_matches("mailto:");
        Some((local.to_string(), domain.to_ascii_lowercase()))
    }

    /// Read (or create, owner-only) the reply-token key in `data_dir`.
    pub fn load_token_key(&mut self, data_dir: &Path) -> Result<(), String> {
        if !self.reply_tokens {
            return Ok(());
        }
        let path = data_dir.join("reply-token.key");
        let key = match std::fs::read(&path) {
            Ok(k) if k.len() >= 32 => {
                crate::private_fs::restrict(&path, crate::private_fs::FILE_MODE)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                k
            }
            _ => {
                let mut k = vec![0u8; 32];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut k)
                    .map_err(|_| "cannot make a reply-token key".to_string())?;
                crate::private_fs::create_dir(data_dir).map_err(|e| e.to_string())?;
                let _ = std::fs::remove_file(&path); // a short or damaged key
                crate::private_fs::write_new(&path, &k)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                k
            }
        };
        self.token_key = Some(key);
        Ok(())
    }
}

impl Default for ImipConfig {
    fn default() -> Self {
        ImipConfig {
            lmtp_listen: None,
            sender_verification: "strict".into(),
            trusted_authserv_ids: Vec::new(),
            auto_add_invitations: false,
            max_message_bytes: 10 * 1024 * 1024,
            reply_tokens: false,
            reply_address: None,
            token_key: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: String,
    /// Directory holding the redb database, the control socket and spools.
    pub data_dir: PathBuf,
    /// Seconds a verified password stays cached (argon2 is deliberately slow).
    pub auth_cache_seconds: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain; with `key`, herald serves HTTPS.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Largest calendar object in bytes (CALDAV:max-resource-size).
    pub max_resource_bytes: usize,
    /// Per-user quota in bytes.
    pub quota_bytes: u64,
    /// Seconds to receive a request head once its first byte arrived (HTTP);
    /// a slower client is disconnected.
    pub header_timeout_seconds: u64,
    /// Seconds to receive a whole request body (HTTP, answered 408 after)
    /// or a whole LMTP DATA.
    pub body_timeout_seconds: u64,
    /// Seconds a connection may sit idle: HTTP keep-alive between requests,
    /// LMTP waiting for a command.
    pub idle_timeout_seconds: u64,
    /// Most open HTTP and LMTP connections; 0 = automatic: the soft
    /// file-descriptor limit (raised to the hard limit at start) minus a
    /// reserve of 128 for the database, the control socket and mail, at most
    /// 16384. At the cap the longest-idle connection is closed for a new
    /// one; when none is idle the new one is closed at once.
    pub max_connections: usize,
    /// Failed HTTP logins allowed per minute for one user name and for one
    /// client address; beyond that new logins are answered 429 (credentials
    /// already verified keep working). 0 turns throttling off.
    pub failed_logins_per_minute: u32,
    /// Most ATTENDEEs in one component of a calendar object
    /// (CALDAV:max-attendees-per-instance, RFC 4791 section 5.2.9); a PUT
    /// above it is refused with that precondition.
    pub max_attendees_per_instance: usize,
    /// Most addresses in the DELEGATED-TO of one REPLY; a reply delegating
    /// to more is refused whole (each delegate becomes an attendee whom the
    /// organizer's next change mails).
    pub max_delegates_per_reply: usize,
    /// Most invitations (REQUEST/ADD messages, one per recipient) queued per
    /// principal per hour (a sliding hour); over it a write that would
    /// queue more is refused with 429 and Retry-After and queues nothing.
    pub invitations_per_hour: u64,
    /// Most instances of one recurring object a report expands (CALDAV:expand,
    /// limit-recurrence-set, free/busy); more in the range is answered with
    /// 507 and DAV:number-of-matches-within-limits.
    pub max_instances_per_object: usize,
    /// Largest generated response body in bytes (REPORT answers, free/busy,
    /// a calendar collection as one document, PROPFIND with calendar-data),
    /// checked while it is written;
    /// a larger one is refused with 507 (DAV:number-of-matches-within-limits).
    pub max_response_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN.to_string(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            auth_cache_seconds: DEFAULT_AUTH_CACHE_SECONDS,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_resource_bytes: DEFAULT_MAX_RESOURCE_BYTES,
            quota_bytes: DEFAULT_QUOTA_BYTES,
            header_timeout_seconds: DEFAULT_HEADER_TIMEOUT_SECONDS,
            body_timeout_seconds: DEFAULT_BODY_TIMEOUT_SECONDS,
            idle_timeout_seconds: DEFAULT_IDLE_TIMEOUT_SECONDS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            failed_logins_per_minute: DEFAULT_FAILED_LOGINS_PER_MINUTE,
            max_attendees_per_instance: DEFAULT_MAX_ATTENDEES_PER_INSTANCE,
            max_delegates_per_reply: DEFAULT_MAX_DELEGATES_PER_REPLY,
            invitations_per_hour: DEFAULT_INVITATIONS_PER_HOUR,
            max_instances_per_object: DEFAULT_MAX_INSTANCES_PER_OBJECT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// Overrides from the command line and environment, highest priority first
/// (flag, then `HERALD_*` variable, then file, then default).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// Parse a TOML document; unknown keys are an error naming the key.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Load the file (if any), apply overrides, and validate.
    pub fn resolve(file: Option<&Path>, overrides: &Overrides) -> Result<Config, String> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
                Config::from_toml(&text)
                    .map_err(|e| format!("invalid config {}: {e}", path.display()))?
            }
            None => Config::default(),
        };
        if let Some(listen) = &overrides.listen {
            config.server.listen = listen.clone();
        }
        if let Some(dir) = &overrides.data_dir {
            config.server.data_dir = dir.clone();
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        self.listen_addr()?;
        self.api.idempotency_ttl_seconds()?;
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err("tls.cert and tls.key must be set together".into());
        }
        if !matches!(
            self.imip.sender_verification.as_str(),
            "strict" | "from-only"
        ) {
            return Err(format!(
                "imip.sender_verification: '{}' is not \"strict\" or \"from-only\"",
                self.imip.sender_verification
            ));
        }
        if self.imip.reply_tokens && self.imip.reply_token_parts().is_none() {
            return Err(
                "imip.reply_tokens needs imip.reply_address, e.g. \"calendar@example.org\"".into(),
            );
        }
        if let Some(addr) = &self.imip.lmtp_listen
            && addr.parse::<SocketAddr>().is_err()
        {
            return Err(format!("imip.lmtp_listen: '{addr}' is not an ADDR:PORT"));
        }
        for (key, value) in [
            ("smtp.connections", self.smtp.connections),
            ("smtp.max_unrecorded", self.smtp.max_unrecorded),
        ] {
            if !(1..=64).contains(&value) {
                return Err(format!("{key}: {value} is not between 1 and 64"));
            }
        }
        let l = &self.limits;
        if l.header_timeout_seconds == 0
            || l.body_timeout_seconds == 0
            || l.idle_timeout_seconds == 0
        {
            return Err(
                "limits.header_timeout_seconds, body_timeout_seconds and idle_timeout_seconds must be at least 1"
                    .into(),
            );
        }
        if self.limits.max_resource_bytes > self.limits.max_body_bytes {
            return Err("limits.max_resource_bytes must not exceed limits.max_body_bytes".into());
        }
        Ok(())
    }

    /// The listen address, parsed.
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        self.server.listen.parse().map_err(|_| {
            format!(
                "server.listen: '{}' is not an ADDR:PORT such as 127.0.0.1:8008",
                self.server.listen
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_parses_and_matches_defaults() {
        let text = include_str!("../herald.example.toml");
        let parsed = Config::from_toml(text).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::from_toml("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n").unwrap_err();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn overrides_win() {
        let o = Overrides {
            listen: Some("127.0.0.1:9".into()),
            data_dir: Some("/tmp/x".into()),
        };
        let c = Config::resolve(None, &o).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9");
        assert_eq!(c.server.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn bad_listen_refused() {
        let o = Overrides {
            listen: Some("nowhere".into()),
            data_dir: None,
        };
        assert!(Config::resolve(None, &o).is_err());
    }

    #[test]
    fn smtp_parallelism_is_bounded() {
        for bad in [
            "connections = 0",
            "max_unrecorded = 0",
            "max_unrecorded = 65",
        ] {
            let c = Config::from_toml(&format!("[smtp]\n{bad}\n")).unwrap();
            let err = c.validate().unwrap_err();
            assert!(err.contains(bad.split(' ').next().unwrap()), "{err}");
        }
        let c = Config::from_toml("[smtp]\nconnections = 8\nmax_unrecorded = 4\n").unwrap();
        assert!(c.validate().is_ok());
    }
}
