//! The MIME side (RFC 2045-2049, RFC 5322): parsing with mail-parser within
//! the limits, walking the part tree for calendar parts, and reading the
//! header fields the analysis needs (From, Message-ID, recipients, raw
//! Authentication-Results in order).
//!
//! mail-parser builds multiparts as a flat list without recursion, but an
//! attached `message/rfc822` becomes a nested `Message` (dropped
//! recursively). Before parsing, the Content-Type fields of the raw bytes
//! are counted: each level of nesting needs at least one (a
//! `multipart/digest` part defaults to `message/rfc822`, so two levels per
//! field at most), so refusing more than `PRESCAN_CONTENT_TYPES` of them bounds
//! the nesting whatever the input. The walk itself recurses at most
//! MAX_MIME_DEPTH + 1 levels.

use std::borrow::Cow;

use mail_parser::{Address, HeaderName, Message, MessageParser, MimeHeaders, PartType};
use ring::digest;

use super::{MAX_MIME_DEPTH, MAX_PARTS, Refused};

/// Content-Type fields allowed in the raw bytes before parsing (generous: a
/// quoted message in a text body may contain some).
const PRESCAN_CONTENT_TYPES: usize = 4 * MAX_PARTS;

/// One calendar part as found in the message.
#[derive(Debug, Clone)]
pub(super) struct CalendarPart {
    /// The decoded text (charset applied for text/*, UTF-8 otherwise).
    pub text: String,
    /// The Content-Type `method` parameter, upper-cased.
    pub method_param: Option<String>,
    /// `text/calendar` without `Content-Disposition: attachment`.
    pub inline_text_calendar: bool,
    /// The transfer encoding could not be decoded (the text is the raw body).
    pub encoding_problem: bool,
}

/// Parse the message, or refuse it.
pub(super) fn parse(raw: &[u8]) -> Result<Message<'_>, Refused> {
    if content_type_fields(raw) > PRESCAN_CONTENT_TYPES {
        return Err(Refused::Malformed(format!(
            "more than {MAX_PARTS} MIME parts"
        )));
    }
    let msg = MessageParser::new()
        .parse(raw)
        .ok_or_else(|| Refused::Malformed("no header fields".into()))?;
    if msg.parts.first().is_none_or(|p| p.headers.is_empty()) {
        return Err(Refused::Malformed("no header fields".into()));
    }
    Ok(msg)
}

/// Lines starting with "Content-Type:" (any case).
fn content_type_fields(raw: &[u8]) -> usize {
    const NAME: &[u8] = b"content-type:";
    let mut count = 0;
    let mut at_line_start = true;
    for (i, &b) in raw.iter().enumerate() {
        if at_line_start
            && (b == b'c' || b == b'C')
            && raw
                .get(i..i + NAME.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(NAME))
        {
            count += 1;
        }
        at_line_start = b == b'\n';
    }
    count
}

/// The calendar parts of the message in document order, or TooDeep /
/// Malformed when the tree breaks the limits.
pub(super) fn calendar_parts(msg: &Message<'_>) -> Result<Vec<CalendarPart>, Refused> {
    let mut out = Vec::new();
    let mut count = 0;
    walk(msg, 0, 0, true, &mut count, &mut out)?;
    Ok(out)
}

fn walk(
    msg: &Message<'_>,
    id: usize,
    depth: usize,
    collect: bool,
    count: &mut usize,
    out: &mut Vec<CalendarPart>,
) -> Result<(), Refused> {
    if depth > MAX_MIME_DEPTH {
        return Err(Refused::TooDeep);
    }
    *count += 1;
    if *count > MAX_PARTS {
        return Err(Refused::Malformed(format!(
            "more than {MAX_PARTS} MIME parts"
        )));
    }
    let Some(part) = msg.parts.get(id) else {
        return Ok(());
    };
    match &part.body {
        PartType::Multipart(children) => {
            for &child in children {
                // Children always follow their parent; anything else would be a loop.
                if child as usize > id {
                    walk(msg, child as usize, depth + 1, collect, count, out)?;
                }
            }
        }
        PartType::Message(nested) => {
            // A forwarded message: limits apply, its calendars are not this sender's.
            walk(nested, 0, depth + 1, false, count, out)?;
        }
        PartType::Text(_) | PartType::Html(_) | PartType::Binary(_) | PartType::InlineBinary(_) => {
            if collect && let Some(c) = calendar_part(part) {
                out.push(c);
            }
        }
    }
    Ok(())
}

fn calendar_part(part: &mail_parser::MessagePart<'_>) -> Option<CalendarPart> {
    let ct = part.content_type()?;
    let ctype = ct.ctype();
    let sub = ct.subtype().unwrap_or("");
    let text_calendar = ctype.eq_ignore_ascii_case("text")
        && (sub.eq_ignore_ascii_case("calendar") || sub.eq_ignore_ascii_case("x-vcalendar"));
    let ics = ctype.eq_ignore_ascii_case("application") && sub.eq_ignore_ascii_case("ics");
    let named_ics = ctype.eq_ignore_ascii_case("application")
        && sub.eq_ignore_ascii_case("octet-stream")
        && part
            .attachment_name()
            .is_some_and(|n| n.to_ascii_lowercase().trim().ends_with(".ics"));
    if !(text_calendar || ics || named_ics) {
        return None;
    }
    let attr = |name: &str| {
        ct.attributes()
            .and_then(|a| a.iter().find(|a| a.name.eq_ignore_ascii_case(name)))
            .map(|a| a.value.trim().to_string())
    };
    let method_param = attr("method")
        .filter(|m| !m.is_empty())
        .map(|m| m.to_ascii_uppercase());
    let attachment = part
        .content_disposition()
        .is_some_and(|d| d.is_attachment());
    let text = match &part.body {
        PartType::Text(t) | PartType::Html(t) => t.to_string(),
        PartType::Binary(b) | PartType::InlineBinary(b) => decode_bytes(b, attr("charset")),
        _ => return None,
    };
    Some(CalendarPart {
        text,
        method_param,
        inline_text_calendar: text_calendar && !attachment,
        encoding_problem: part.is_encoding_problem,
    })
}

/// Bytes of a non-text part to text: the charset parameter when mail-parser
/// knows it, else UTF-8 (lossy).
fn decode_bytes(bytes: &[u8], charset: Option<String>) -> String {
    if let Some(decoder) = charset
        .as_deref()
        .and_then(|c| mail_parser::decoders::charsets::map::charset_decoder(c.as_bytes()))
    {
        return decoder(bytes);
    }
    String::from_utf8_lossy(bytes).into_owned()
}

/// The From address (bare `local@domain`), from the single From field.
pub(super) fn from_address(msg: &Message<'_>) -> Result<String, Refused> {
    let fields: Vec<_> = msg.header_values(HeaderName::From).collect();
    match fields.as_slice() {
        [] => Err(Refused::NoFrom),
        [one] => one
            .as_address()
            .and_then(first_address)
            .ok_or(Refused::NoFrom),
        _ => Err(Refused::Malformed("several From header fields".into())),
    }
}

fn first_address(a: &Address<'_>) -> Option<String> {
    addresses(a).into_iter().next()
}

/// The usable addresses of an address list or group list, in order.
fn addresses(a: &Address<'_>) -> Vec<String> {
    let list: Vec<&mail_parser::Addr<'_>> = match a {
        Address::List(l) => l.iter().collect(),
        Address::Group(g) => g.iter().flat_map(|g| g.addresses.iter()).collect(),
    };
    list.into_iter()
        .filter_map(|a| a.address.as_deref())
        .map(str::trim)
        .filter(|a| plausible_address(a))
        .map(str::to_string)
        .collect()
}

/// `local@domain` with both sides non-empty and no white space or brackets.
fn plausible_address(a: &str) -> bool {
    match a.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !a.contains(|c: char| c.is_whitespace() || c == '<' || c == '>')
        }
        None => false,
    }
}

/// Message-ID without angle brackets, or "sha256:<hex>" of the raw bytes.
pub(super) fn message_id(msg: &Message<'_>, raw: &[u8]) -> String {
    let id = msg
        .message_id()
        .map(|m| {
            m.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim()
        })
        .filter(|m| !m.is_empty());
    match id {
        Some(m) => m.to_string(),
        None => {
            let d = digest::digest(&digest::SHA256, raw);
            let mut hex = String::with_capacity(64);
            for b in d.as_ref() {
                hex.push_str(&format!("{b:02x}"));
            }
            format!("sha256:{hex}")
        }
    }
}

/// The top-level header fields as (name, raw value), topmost first.
pub(super) fn top_headers<'m>(msg: &'m Message<'_>) -> Vec<(&'m str, Cow<'m, str>)> {
    let Some(root) = msg.parts.first() else {
        return Vec::new();
    };
    root.headers
        .iter()
        .map(|h| {
            let start = h.offset_start as usize;
            let end = h.offset_end as usize;
            let value = msg
                .raw_message
                .get(start..end)
                .map(String::from_utf8_lossy)
                .unwrap_or(Cow::Borrowed(""));
            (h.name.as_str(), value)
        })
        .collect()
}

/// Recipient addresses where a reply token may be found, in the order they
/// are searched: envelope recipients, Delivered-To, To, Cc.
pub(super) fn recipients(msg: &Message<'_>, envelope: &[String]) -> Vec<String> {
    let mut out: Vec<String> = envelope.iter().map(|e| bare_address(e)).collect();
    for (name, value) in top_headers(msg) {
        if name.eq_ignore_ascii_case("Delivered-To") {
            out.push(bare_address(&value));
        }
    }
    for field in [HeaderName::To, HeaderName::Cc] {
        for v in msg.header_values(field) {
            if let Some(a) = v.as_address() {
                out.extend(addresses(a));
            }
        }
    }
    out
}

/// `<a@b>`, ` a@b `, `mailto:a@b` → `a@b`.
fn bare_address(s: &str) -> String {
    let s = s.trim();
    let s = match (s.find('<'), s.rfind('>')) {
        (Some(i), Some(j)) if i < j => &s[i + 1..j],
        _ => s,
    };
    let s = s.trim();
    match s.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("mailto:") => s[7..].trim().to_string(),
        _ => s.to_string(),
    }
}
