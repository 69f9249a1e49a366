//! iMIP (RFC 6047): iTIP messages sent by email to attendees who are not
//! users of this server.
//!
//! The pieces, each in its own file:
//! - `config`: the `[smtp]` table of herald.toml ([`SmtpConfig`]);
//! - `message`: the MIME message for one iTIP message and one recipient
//!   ([`build_message`]), with the From/Reply-To rule for DMARC;
//! - `summary`: the readable text/HTML summary of the calendar data;
//! - `dkim`: DKIM signing (RFC 6376, rsa-sha256 and ed25519-sha256 via `ring`);
//! - `smtp`: the SMTP client that keeps its connection ([`SmtpSender`]);
//! - `spool`: the folder used when no SMTP host is configured ([`spool`]),
//!   and the retry back-off ([`retry_delay`]).
//!
//! Nothing here touches the store: the outbox and the worker that drives
//! these functions live elsewhere.

mod config;
mod dkim;
pub mod inbound;
mod message;
mod smtp;
mod spool;
mod summary;

#[cfg(test)]
mod tests;

use std::fmt;

pub use config::SmtpConfig;
pub use message::{Outgoing, build_message};
pub use smtp::{Delivery, SmtpSender};
pub use spool::{retry_delay, spool};

/// Why a message could not be built, spooled or configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImipError {
    /// The input cannot make a valid message (bad address, bad id, bad key).
    Build(String),
    /// Reading or writing a file failed.
    Io(String),
    /// The `[smtp]` configuration is inconsistent.
    Config(String),
}

impl fmt::Display for ImipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImipError::Build(m) => write!(f, "cannot build iMIP message: {m}"),
            ImipError::Io(m) => write!(f, "iMIP I/O error: {m}"),
            ImipError::Config(m) => write!(f, "invalid [smtp] configuration: {m}"),
        }
    }
}

impl std::error::Error for ImipError {}

/// The bare address of a `mailto:` URI or of a plain address, checked to be
/// usable in a header and in an SMTP command: one `@` with text on both
/// sides, no white space, controls, angle brackets or quotes.
pub(crate) fn bare_address(value: &str) -> Option<&str> {
    let value = value.trim();
    let addr = match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("mailto:") => value.get(7..)?,
        _ => value,
    };
    let (local, domain) = addr.rsplit_once('@')?;
    let bad = |c: char| c.is_whitespace() || c.is_control() || "<>\"(),;:\\[]".contains(c);
    if local.is_empty() || domain.is_empty() || addr.len() > 320 || addr.chars().any(bad) {
        return None;
    }
    if domain.contains('@') || domain.starts_with('.') || domain.ends_with('.') {
        return None;
    }
    Some(addr)
}

/// The domain of a bare address (text after the last `@`).
pub(crate) fn domain_of(addr: &str) -> &str {
    addr.rsplit_once('@').map_or("", |(_, d)| d)
}
