//! The RFC 6047 message for one iTIP message and one recipient:
//!
//! ```text
//! multipart/mixed
//! ├── multipart/alternative
//! │   ├── text/plain        readable summary
//! │   ├── text/html         the same, escaped
//! │   └── text/calendar; method=...; charset=UTF-8   the iTIP data
//! └── application/ics; name="invite.ics" (attachment, the same data)
//! ```
//!
//! Output is deterministic: the MIME boundaries derive from the message id.

use std::borrow::Cow;

use mail_builder::MessageBuilder;
use mail_builder::headers::HeaderType;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::mime::{BodyPart, MimePart};

use super::summary::{self, Person};
use super::{ImipError, SmtpConfig, bare_address, dkim, domain_of};

/// What to send: one iTIP message to one recipient.
pub struct Outgoing<'a> {
    /// "REQUEST" | "CANCEL" | "REPLY" | ...
    pub method: &'a str,
    /// "mailto:bob@example.com" (normalised)
    pub recipient: &'a str,
    /// "mailto:alice@example.org": ORGANIZER (REQUEST/CANCEL) or ATTENDEE (REPLY)
    pub sender: &'a str,
    /// Complete VCALENDAR with METHOD, CRLF line ends.
    pub ical: &'a str,
    /// Without angle brackets, stable per outbox entry.
    pub message_id: &'a str,
    pub date: chrono::DateTime<chrono::Utc>,
    /// A reminder (the REQUEST again, unchanged): the subject and the
    /// opening line say so.
    pub reminder: bool,
}

/// Builds the message (see the module comment), DKIM-signed when the
/// configuration has a key and selector. The calendar data is never changed.
pub fn build_message(out: &Outgoing<'_>, config: &SmtpConfig) -> Result<Vec<u8>, ImipError> {
    let method = out.method.trim().to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
        return Err(ImipError::Build(format!(
            "bad iTIP method {:?}",
            out.method
        )));
    }
    check_message_id(out.message_id)?;
    let recipient = bare_address(out.recipient)
        .ok_or_else(|| ImipError::Build(format!("bad recipient {:?}", out.recipient)))?;
    let sender = bare_address(out.sender)
        .ok_or_else(|| ImipError::Build(format!("bad sender {:?}", out.sender)))?;
    let via = bare_address(&config.from)
        .ok_or_else(|| ImipError::Config(format!("bad from address {:?}", config.from)))?;
    if !out.ical.trim_start().starts_with("BEGIN:VCALENDAR") {
        return Err(ImipError::Build(
            "the calendar data is not a VCALENDAR".into(),
        ));
    }

    let sum = summary::read(out.ical);
    if let Some(m) = &sum.method
        && *m != method
    {
        return Err(ImipError::Build(format!(
            "METHOD:{m} in the calendar data but method {method} requested"
        )));
    }
    let sender_p = find_person(&sum, sender);
    let recipient_p = find_person(&sum, recipient);

    // DMARC: only send as the sender's own address when Herald may send for
    // that domain; otherwise "Name via Herald" <from> with Reply-To.
    let direct = config
        .sender_domains
        .iter()
        .any(|d| d.trim().eq_ignore_ascii_case(domain_of(sender)));
    let sender_addr = Address::new_address(sender_p.cn.clone(), sender.to_string());
    let (from, reply_to, from_domain) = if direct {
        (sender_addr, None, domain_of(sender))
    } else {
        let local = sender.rsplit_once('@').map_or(sender, |(l, _)| l);
        let name = sender_p.cn.clone().unwrap_or_else(|| local.to_string());
        (
            Address::new_address(Some(format!("{name} via Herald")), via.to_string()),
            Some(sender_addr),
            domain_of(via),
        )
    };

    let mut words = summary::wording(&method, &sum, &sender_p);
    if out.reminder {
        words.subject = format!("Reminder: {}", words.subject);
        words.opening = format!(
            "Reminder: you have not answered this invitation yet. {}",
            words.opening
        );
    }
    let footer = if direct {
        format!("Sent by Herald for {sender}.")
    } else {
        format!("Sent by Herald on behalf of {sender}.")
    };
    let text = summary::text_body(&sum, &words, &footer);
    let html = summary::html_body(&sum, &words, &footer);

    let tag = boundary_tag(out.message_id);
    // Written as RFC 6047 shows it (parameters unquoted); a text body, so
    // mail-builder picks 7bit, quoted-printable or base64 and keeps CRLF.
    let calendar = MimePart {
        headers: vec![(
            "Content-Type".into(),
            Raw::new(format!("text/calendar; method={method}; charset=UTF-8")).into(),
        )],
        contents: BodyPart::Text(out.ical.into()),
    };
    let alternative = MimePart::new(
        ContentType::new("multipart/alternative").attribute("boundary", format!("=_alt_{tag}")),
        vec![
            MimePart::new(
                ContentType::new("text/plain").attribute("charset", "utf-8"),
                text,
            ),
            MimePart::new(
                ContentType::new("text/html").attribute("charset", "utf-8"),
                html,
            ),
            calendar,
        ],
    );
    let attachment = MimePart::new(
        ContentType::new("application/ics").attribute("name", "invite.ics"),
        out.ical.as_bytes(),
    )
    .attachment("invite.ics");
    let root = MimePart::new(
        ContentType::new("multipart/mixed").attribute("boundary", format!("=_mix_{tag}")),
        vec![alternative, attachment],
    );

    let mut builder = MessageBuilder::new().from(from).to(Address::new_address(
        recipient_p.cn.clone(),
        recipient.to_string(),
    ));
    if let Some(r) = reply_to {
        builder = builder.reply_to(r);
    }
    let message = builder
        .header("Subject", subject(words.subject))
        .date(Date::new(out.date.timestamp()))
        .message_id(MessageId::new(out.message_id))
        .header("MIME-Version", Text::new("1.0"))
        .body(root)
        .write_to_vec()
        .map_err(|e| ImipError::Build(format!("writing the message: {e}")))?;

    match config.dkim()? {
        Some((key, selector)) => {
            let key = dkim::DkimKey::load(key)?;
            key.sign(&message, from_domain, selector, out.date.timestamp())
        }
        None => Ok(message),
    }
}

/// Plain ASCII subjects are folded as they are; others become encoded words.
fn subject(text: String) -> HeaderType<'static> {
    if text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        Raw::new(Cow::Owned(text)).into()
    } else {
        Text::new(Cow::Owned(text)).into()
    }
}

/// The person of the calendar data with this address (CN, PARTSTAT), or
/// just the address.
fn find_person(sum: &summary::Summary, addr: &str) -> Person {
    sum.organizer
        .iter()
        .chain(sum.attendees.iter())
        .filter(|p| p.email.eq_ignore_ascii_case(addr))
        .find(|p| p.cn.is_some())
        .cloned()
        .unwrap_or_else(|| Person {
            email: addr.to_string(),
            ..Person::default()
        })
}

/// Message ids go into a header and a file name: a printable ASCII token
/// without white space, angle brackets or path separators.
pub(crate) fn check_message_id(id: &str) -> Result<(), ImipError> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>/\\\"()[],;:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ImipError::Build(format!("bad message id {id:?}")))
    }
}

/// 24 hex digits of SHA-256(message id): stable, and never found in the
/// body by accident.
fn boundary_tag(message_id: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, message_id.as_bytes());
    digest
        .as_ref()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}
