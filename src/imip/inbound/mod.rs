//! Inbound iMIP (RFC 6047): the analysis of one received email that may
//! carry an iTIP message (an attendee's REPLY from Gmail, Outlook, Apple
//! Mail or Thunderbird, a COUNTER, a REFRESH, or a REQUEST from an outside
//! organizer). Pure: the raw RFC 5322 bytes and a [`TrustPolicy`] go in, a
//! [`Verdict`] comes out; nothing here reads the store or the network.
//!
//! The pieces:
//! - `mime`: walking the MIME tree (mail-parser) within the limits and
//!   collecting the calendar parts;
//! - `itip`: checking one calendar part (METHOD, UID, ATTENDEE count) and
//!   normalising its text;
//! - `trust`: Authentication-Results (RFC 8601), DMARC-style alignment
//!   (RFC 7489) and the reply tokens;
//! - `windows_tz`: Windows time-zone names to IANA names.
//!
//! Decisions:
//! - Order of the checks: size, MIME structure (depth, number of parts),
//!   calendar part (none: `Ignored`), calendar content, From, trust. A
//!   message without From but also without a calendar is `Ignored`, not
//!   `Refused`.
//! - Calendar parts are `text/calendar`, `application/ics`, and
//!   `application/octet-stream` named `*.ics`, at any depth of nested
//!   multiparts. Parts inside an attached `message/rfc822` (a forwarded
//!   invitation) are not iTIP messages of this sender and are not used;
//!   they still count for the depth and part limits.
//! - Among several calendar parts the usable ones are ranked: a Content-Type
//!   `method=` equal to the METHOD property first, then an inline
//!   `text/calendar`, then document order. When none is usable, the verdict
//!   of the best-ranked part is returned, a `Refused` before an `Ignored`.
//! - A calendar part whose transfer encoding cannot be decoded (invalid
//!   base64 characters) is `Refused(Malformed)`; a `text/calendar` part
//!   whose text is not iCalendar at all (no `BEGIN:VCALENDAR`, e.g. HTML) is
//!   `Ignored(NotItip)`; iCalendar that does not parse, has no component,
//!   no UID, several UIDs, or a Content-Type `method=` that contradicts its
//!   METHOD property is `Refused(BadCalendar)`. A calendar with no METHOD at
//!   all (neither parameter nor property) is a plain calendar file:
//!   `Ignored(NotItip)`.
//! - A REPLY or REFRESH component must carry exactly one ATTENDEE
//!   (RFC 5546 sections 3.2.3 and 3.2.6), otherwise `Refused(BadCalendar)`:
//!   one attendee cannot answer for another.
//! - Several From header fields are `Refused(Malformed)` (RFC 5322 allows
//!   one; RFC 7489 section 6.6.1 leaves such messages to local policy); a
//!   From field with several addresses uses the first.
//! - Missing METHOD property with a Content-Type `method=`: `method` comes
//!   from the parameter and the text is left without METHOD (the scheduling
//!   code accepts that).
//! - Windows TZIDs: see `itip` (renamed to the IANA name everywhere; the
//!   original name is kept once, as an `X-HERALD-ORIGINAL-TZID` property of
//!   the renamed VTIMEZONE).

mod itip;
mod mime;
mod trust;
mod windows_tz;

#[cfg(test)]
mod tests;

use crate::scheduling::Method;

pub use trust::{reply_token, verify_reply_token};

/// Larger messages are refused without being parsed.
pub const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;
/// Deepest nesting of MIME parts (the top-level part is depth 0).
pub const MAX_MIME_DEPTH: usize = 20;
/// Most MIME parts (multiparts and leaves, nested messages included).
pub const MAX_PARTS: usize = 200;
/// Largest decoded calendar part.
pub const MAX_CALENDAR_BYTES: usize = 1024 * 1024;

/// How far the sender of an inbound message is believed. The default is
/// strict, with no trusted authserv-id and no reply tokens: nothing vouches.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrustPolicy {
    /// `imip.sender_verification`: Strict (default: need a reply token or authenticated From) or FromOnly
    /// (trust From as is; for an MTA that already rejects DMARC failures).
    pub from_only: bool,
    /// `imip.trusted_authserv_ids`: authserv-ids of OUR receiving MTA whose topmost Authentication-Results we believe.
    pub trusted_authserv_ids: Vec<String>,
    /// Reply-token address local part prefix and domain, e.g. local "herald", domain "example.org":
    /// recipient addresses `herald+TOKEN@example.org` carry a token. None = tokens off.
    pub reply_token_local: Option<String>,
    pub reply_token_domain: Option<String>,
}

/// Why the sender is believed (or not).
#[derive(Debug, Clone, PartialEq)]
pub enum SenderAuth {
    /// A per-invitation reply token was found in a recipient address (envelope recipient, Delivered-To,
    /// To, Cc, in that order): the caller looks it up; it binds the message to (event, attendee)
    /// whatever the headers say. Lower-case base32.
    Token(String),
    /// The topmost Authentication-Results header with a trusted authserv-id shows dmarc=pass, or dkim=pass
    /// with header.d aligned with the From domain, or spf=pass with the smtp.mailfrom domain aligned.
    /// Carries the method that passed: "dmarc", "dkim" or "spf".
    Authenticated(String),
    /// `policy.from_only` is set (and neither of the above applied).
    FromOnly,
    /// Nothing vouches for From; the caller refuses REPLY/REQUEST/CANCEL under the strict policy.
    Unverified(String),
}

/// A usable iTIP message.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// Message-ID without <>, or "sha256:<hex of the raw bytes>" when absent.
    pub message_id: String,
    /// Normalised "mailto:..." of the From header's (first) address; never Sender, Reply-To,
    /// Resent-From or X- headers.
    pub from: String,
    pub sender_auth: SenderAuth,
    /// From the Content-Type method= parameter, else the METHOD property.
    pub method: Method,
    /// The iCalendar text, normalised: CRLF line ends (refolded at 75 octets), PARTSTAT, ROLE, CUTYPE
    /// and RSVP parameter values and METHOD and STATUS property values upper-cased, Windows TZIDs
    /// renamed to IANA names (see `itip`); nothing else changed.
    pub ical: String,
    pub uid: String,
}

/// The message is not for the scheduling code (no error on the sender's side).
#[derive(Debug, Clone, PartialEq)]
pub enum Ignored {
    NoCalendarPart,
    /// A METHOD herald does not accept by mail (PUBLISH, DECLINECOUNTER, unknown), upper-cased.
    UnsupportedMethod(String),
    /// A calendar part that is not an iTIP message (not iCalendar, or no METHOD).
    NotItip(String),
}

/// The message cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub enum Refused {
    /// Over MAX_MESSAGE_BYTES, or a calendar part over MAX_CALENDAR_BYTES.
    TooLarge,
    /// MIME nested deeper than MAX_MIME_DEPTH.
    TooDeep,
    /// Not a parseable message: no header, more than MAX_PARTS parts, several From fields,
    /// undecodable calendar part.
    Malformed(String),
    BadCalendar(String),
    /// No From header field, or no address in it.
    NoFrom,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Itip(Inbound),
    Ignored(Ignored),
    Refused(Refused),
}

/// Analyse one message. `envelope_recipients` are the SMTP/LMTP RCPT TO addresses (may be empty for
/// `herald ingest`).
pub fn analyze(raw: &[u8], envelope_recipients: &[String], policy: &TrustPolicy) -> Verdict {
    if raw.len() > MAX_MESSAGE_BYTES {
        return Verdict::Refused(Refused::TooLarge);
    }
    let msg = match mime::parse(raw) {
        Ok(m) => m,
        Err(r) => return Verdict::Refused(r),
    };
    let candidates = match mime::calendar_parts(&msg) {
        Ok(c) => c,
        Err(r) => return Verdict::Refused(r),
    };
    if candidates.is_empty() {
        return Verdict::Ignored(Ignored::NoCalendarPart);
    }
    let cal = match itip::choose(&candidates) {
        Ok(c) => c,
        Err(u) => return u.into(),
    };
    let from = match mime::from_address(&msg) {
        Ok(f) => f,
        Err(r) => return Verdict::Refused(r),
    };
    let headers = mime::top_headers(&msg);
    let recipients = mime::recipients(&msg, envelope_recipients);
    let sender_auth = trust::sender_auth(&headers, &recipients, &from, policy);
    Verdict::Itip(Inbound {
        message_id: mime::message_id(&msg, raw),
        from: crate::scheduling::normalize_address(&format!("mailto:{from}")),
        sender_auth,
        method: cal.method,
        ical: cal.ical,
        uid: cal.uid,
    })
}
