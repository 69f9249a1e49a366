//! The readable part of an iMIP message: a small, forgiving reader of the
//! iCalendar text (RFC 5545 content lines, only what the summary needs) and
//! the text/plain and text/html renderings of what, when, where and who.
//!
//! Nothing here can fail: missing or odd data just leaves a line out.

use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// One content line: name (upper case), parameters, value (still escaped).
struct Line {
    name: String,
    params: Vec<(String, String)>,
    value: String,
}

impl Line {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A calendar user named in ORGANIZER or ATTENDEE.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Person {
    /// Bare address (no `mailto:`), empty when the URI is not a mailto.
    pub email: String,
    pub cn: Option<String>,
    pub partstat: Option<String>,
}

impl Person {
    /// "CN <address>", or the address alone.
    pub fn display(&self) -> String {
        match (&self.cn, self.email.is_empty()) {
            (Some(cn), false) => format!("{cn} <{}>", self.email),
            (Some(cn), true) => cn.clone(),
            (None, _) => self.email.clone(),
        }
    }
    /// CN, or the address.
    pub fn short(&self) -> String {
        self.cn.clone().unwrap_or_else(|| self.email.clone())
    }
}

/// A DATE or DATE-TIME value with its zone.
#[derive(Debug, Clone, PartialEq)]
enum When {
    Date(NaiveDate),
    /// Local time; `zone` is the TZID, "UTC" for a `Z` value, None when floating.
    Time(NaiveDateTime, Option<String>),
}

/// What the summary shows of the first event (or to-do) of the object.
#[derive(Debug, Clone, Default)]
pub(crate) struct Summary {
    pub method: Option<String>,
    pub title: Option<String>,
    pub location: Option<String>,
    pub sequence: u32,
    pub organizer: Option<Person>,
    pub attendees: Vec<Person>,
    start: Option<When>,
    end: Option<When>,
    pub recurring: bool,
}

/// Reads the parts of `ical` the summary needs; never fails.
pub(crate) fn read(ical: &str) -> Summary {
    let mut sum = Summary::default();
    let mut depth_in_main = None::<usize>;
    let mut stack: Vec<String> = Vec::new();
    let mut done = false;
    let mut duration = None::<String>;
    for raw in unfold(ical) {
        let Some(line) = parse_line(&raw) else {
            continue;
        };
        match line.name.as_str() {
            "BEGIN" => {
                let comp = line.value.to_ascii_uppercase();
                stack.push(comp.clone());
                if !done && depth_in_main.is_none() && (comp == "VEVENT" || comp == "VTODO") {
                    depth_in_main = Some(stack.len());
                }
                continue;
            }
            "END" => {
                if depth_in_main == Some(stack.len()) {
                    depth_in_main = None;
                    done = true;
                }
                stack.pop();
                continue;
            }
            _ => {}
        }
        if stack.len() == 1 && line.name == "METHOD" {
            sum.method = Some(line.value.trim().to_ascii_uppercase());
        }
        if depth_in_main != Some(stack.len()) {
            continue;
        }
        match line.name.as_str() {
            "SUMMARY" => sum.title = Some(unescape(&line.value)),
            "LOCATION" => sum.location = Some(unescape(&line.value)),
            "SEQUENCE" => sum.sequence = line.value.trim().parse().unwrap_or(0),
            "ORGANIZER" => sum.organizer = Some(person(&line)),
            "ATTENDEE" => sum.attendees.push(person(&line)),
            "DTSTART" => sum.start = when(&line),
            "DTEND" | "DUE" => sum.end = when(&line),
            "DURATION" => duration = Some(line.value.clone()),
            "RRULE" | "RDATE" => sum.recurring = true,
            _ => {}
        }
    }
    if sum.end.is_none()
        && let (Some(start), Some(d)) = (&sum.start, duration)
    {
        sum.end = add_duration(start, &d);
    }
    sum
}

/// Content lines with folding removed (CRLF or LF followed by space/tab).
fn unfold(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for piece in text.split('\n') {
        let piece = piece.strip_suffix('\r').unwrap_or(piece);
        if let Some(rest) = piece.strip_prefix([' ', '\t']) {
            if let Some(last) = lines.last_mut() {
                last.push_str(rest);
            }
        } else if !piece.is_empty() {
            lines.push(piece.to_string());
        }
    }
    lines
}

/// Splits `NAME;P=V;P="V":value`, honouring quoted parameter values.
fn parse_line(raw: &str) -> Option<Line> {
    let mut name_end = None;
    let mut value_start = None;
    let mut in_quotes = false;
    for (i, c) in raw.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ';' if !in_quotes && name_end.is_none() => name_end = Some(i),
            ':' if !in_quotes => {
                value_start = Some(i);
                break;
            }
            _ => {}
        }
    }
    let colon = value_start?;
    let name_end = name_end.unwrap_or(colon);
    let name = raw.get(..name_end)?.trim().to_ascii_uppercase();
    let value = raw.get(colon + 1..)?.to_string();
    let mut params = Vec::new();
    if name_end < colon {
        let text = raw.get(name_end + 1..colon)?;
        let mut cur = String::new();
        let mut quoted = false;
        let mut parts = Vec::new();
        for c in text.chars() {
            match c {
                '"' => quoted = !quoted,
                ';' if !quoted => parts.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            }
        }
        parts.push(cur);
        for p in parts {
            if let Some((n, v)) = p.split_once('=') {
                params.push((n.trim().to_ascii_uppercase(), v.to_string()));
            }
        }
    }
    Some(Line {
        name,
        params,
        value,
    })
}

/// RFC 5545 TEXT unescaping; control characters become spaces.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    clean(&out)
}

/// One line of text: control characters (line breaks too) become spaces.
pub(crate) fn clean(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn person(line: &Line) -> Person {
    let email = super::bare_address(&line.value)
        .map(str::to_string)
        .unwrap_or_default();
    let cn = line.param("CN").map(clean).filter(|c| !c.is_empty());
    let partstat = line
        .param("PARTSTAT")
        .map(|p| p.trim().to_ascii_uppercase());
    Person {
        email,
        cn,
        partstat,
    }
}

fn when(line: &Line) -> Option<When> {
    let v = line.value.trim();
    let is_date = line
        .param("VALUE")
        .is_some_and(|p| p.eq_ignore_ascii_case("DATE"))
        || v.len() == 8;
    if is_date {
        return NaiveDate::parse_from_str(v.get(..8)?, "%Y%m%d")
            .ok()
            .map(When::Date);
    }
    let (local, utc) = match v.strip_suffix(['Z', 'z']) {
        Some(l) => (l, true),
        None => (v, false),
    };
    let t = NaiveDateTime::parse_from_str(local, "%Y%m%dT%H%M%S").ok()?;
    let zone = if utc {
        Some("UTC".to_string())
    } else {
        line.param("TZID").map(|z| clean(z.trim_start_matches('/')))
    };
    Some(When::Time(t, zone))
}

/// DTSTART + DURATION (weeks, days, hours, minutes, seconds).
fn add_duration(start: &When, text: &str) -> Option<When> {
    let t = text.trim().trim_start_matches('+');
    if t.starts_with('-') {
        return None;
    }
    let t = t.strip_prefix('P')?;
    let mut secs: i64 = 0;
    let mut num: i64 = 0;
    for c in t.chars() {
        match c {
            '0'..='9' => {
                num = num
                    .checked_mul(10)?
                    .checked_add(i64::from(c as u8 - b'0'))?
            }
            'T' => {}
            'W' => secs = secs.checked_add(num.checked_mul(7 * 86400)?)?,
            'D' => secs = secs.checked_add(num.checked_mul(86400)?)?,
            'H' => secs = secs.checked_add(num.checked_mul(3600)?)?,
            'M' => secs = secs.checked_add(num.checked_mul(60)?)?,
            'S' => secs = secs.checked_add(num)?,
            _ => return None,
        }
        if c.is_ascii_alphabetic() {
            num = 0;
        }
    }
    let delta = chrono::TimeDelta::try_seconds(secs)?;
    match start {
        When::Date(d) => d
            .checked_add_signed(chrono::TimeDelta::try_days(secs / 86400)?)
            .map(When::Date),
        When::Time(t, z) => t
            .checked_add_signed(delta)
            .map(|t| When::Time(t, z.clone())),
    }
}

/// The IANA zone of a TZID, when it is one.
fn zone(tzid: &str) -> Option<Tz> {
    tzid.parse::<Tz>().ok()
}

/// The start as UTC, when it can be known.
fn utc_of(t: &NaiveDateTime, z: &Option<String>) -> Option<chrono::DateTime<Utc>> {
    match z.as_deref() {
        Some("UTC") => Some(Utc.from_utc_datetime(t)),
        Some(name) => zone(name)?
            .from_local_datetime(t)
            .earliest()
            .map(|d| d.with_timezone(&Utc)),
        None => None,
    }
}

impl Summary {
    /// The long form of the time: "Monday, 10 March 2025, 10:00 - 11:00
    /// (Europe/Berlin; 09:00 - 10:00 UTC)".
    pub fn when_long(&self) -> Option<String> {
        self.when_text(true)
    }

    /// The short form used in the subject: "Mon 10 Mar 2025 10:00 - 11:00 (Europe/Berlin)".
    pub fn when_short(&self) -> Option<String> {
        self.when_text(false)
    }

    fn when_text(&self, long: bool) -> Option<String> {
        let (dfmt, tfmt, sep) = if long {
            ("%A, %-d %B %Y", "%H:%M", ", ")
        } else {
            ("%a %-d %b %Y", "%H:%M", " ")
        };
        match (self.start.as_ref()?, self.end.as_ref()) {
            (When::Date(s), end) => {
                // DTEND of an all-day event is exclusive.
                let last = match end {
                    Some(When::Date(e)) if *e > *s => e.pred_opt().unwrap_or(*e),
                    _ => *s,
                };
                if last == *s {
                    Some(format!("{} (all day)", s.format(dfmt)))
                } else {
                    Some(format!(
                        "{} - {} (all day)",
                        s.format(dfmt),
                        last.format(dfmt)
                    ))
                }
            }
            (When::Time(s, zs), end) => {
                let end = match end {
                    Some(When::Time(e, ze)) if ze == zs => Some(*e),
                    Some(When::Time(e, ze)) => {
                        // Different zones: show the end in the start's zone when both are known.
                        let u = utc_of(e, ze);
                        match (u, zs.as_deref().and_then(zone), zs.as_deref()) {
                            (Some(u), _, Some("UTC")) => Some(u.naive_utc()),
                            (Some(u), Some(tz), _) => Some(u.with_timezone(&tz).naive_local()),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                let range = |a: &NaiveDateTime, b: Option<NaiveDateTime>| match b {
                    Some(b) if b.date() == a.date() => format!(
                        "{}{sep}{} - {}",
                        a.format(dfmt),
                        a.format(tfmt),
                        b.format(tfmt)
                    ),
                    Some(b) => format!(
                        "{}{sep}{} - {}{sep}{}",
                        a.format(dfmt),
                        a.format(tfmt),
                        b.format(dfmt),
                        b.format(tfmt)
                    ),
                    None => format!("{}{sep}{}", a.format(dfmt), a.format(tfmt)),
                };
                let local = range(s, end);
                let mut text = match zs.as_deref() {
                    Some("UTC") => format!("{local} UTC"),
                    Some(z) => format!("{local} ({z})"),
                    None => local,
                };
                if long
                    && zs.as_deref() != Some("UTC")
                    && let Some(us) = utc_of(s, zs)
                {
                    let ue = end.and_then(|e| utc_of(&e, zs)).map(|u| u.naive_utc());
                    text = format!("{text}\n{} UTC", range(&us.naive_utc(), ue));
                }
                Some(text)
            }
        }
    }
}

/// What happened, per method: the subject prefix and the opening sentence.
pub(crate) struct Wording {
    pub subject: String,
    pub opening: String,
    /// Whether to tell the reader how to answer.
    pub answer_hint: bool,
}

/// The subject and opening sentence for `method` sent by `sender`.
pub(crate) fn wording(method: &str, sum: &Summary, sender: &Person) -> Wording {
    let title = sum.title.clone().map(|t| clean(&t)).unwrap_or_default();
    let title = if title.is_empty() {
        "(no title)".to_string()
    } else {
        title
    };
    let with_when = |prefix: &str| match sum.when_short() {
        Some(w) => format!("{prefix}: {title} @ {w}"),
        None => format!("{prefix}: {title}"),
    };
    let who = sender.short();
    match method {
        "REQUEST" if sum.sequence > 0 => Wording {
            subject: with_when("Updated invitation"),
            opening: format!("{who} has updated this event."),
            answer_hint: true,
        },
        "REQUEST" => Wording {
            subject: with_when("Invitation"),
            opening: format!("{who} has invited you to this event."),
            answer_hint: true,
        },
        "ADD" => Wording {
            subject: with_when("New occurrence"),
            opening: format!("{who} has added an occurrence to this event."),
            answer_hint: true,
        },
        "CANCEL" => Wording {
            subject: with_when("Cancelled"),
            opening: format!("{who} has cancelled this event."),
            answer_hint: false,
        },
        "REPLY" => {
            let state = sum
                .attendees
                .iter()
                .find(|a| a.email.eq_ignore_ascii_case(&sender.email))
                .and_then(|a| a.partstat.clone())
                .unwrap_or_default();
            let (prefix, verb) = match state.as_str() {
                "ACCEPTED" => ("Accepted", "accepted"),
                "DECLINED" => ("Declined", "declined"),
                "TENTATIVE" => ("Tentatively accepted", "tentatively accepted"),
                "DELEGATED" => ("Delegated", "delegated"),
                _ => ("Reply", "replied to"),
            };
            Wording {
                subject: format!("{prefix}: {title}"),
                opening: format!("{who} has {verb} this invitation."),
                answer_hint: false,
            }
        }
        "COUNTER" => Wording {
            subject: format!("New time proposed: {title}"),
            opening: format!("{who} proposes a change to this event."),
            answer_hint: false,
        },
        "DECLINECOUNTER" => Wording {
            subject: format!("Proposal declined: {title}"),
            opening: format!("{who} has declined your proposed change."),
            answer_hint: false,
        },
        "REFRESH" => Wording {
            subject: format!("Update requested: {title}"),
            opening: format!("{who} asks for the latest version of this event."),
            answer_hint: false,
        },
        _ => Wording {
            subject: with_when("Event"),
            opening: format!("{who} has sent you this event."),
            answer_hint: false,
        },
    }
}

const ANSWER_HINT: &str = "To answer, use the Accept / Decline buttons of your mail program,\r\n\
                           or reply to this invitation.";

/// Rows of the summary table: (label, value lines).
fn rows(sum: &Summary) -> Vec<(&'static str, Vec<String>)> {
    let mut rows = Vec::new();
    if let Some(t) = &sum.title {
        rows.push(("What", vec![clean(t)]));
    }
    if let Some(w) = sum.when_long() {
        let mut lines: Vec<String> = w.split('\n').map(str::to_string).collect();
        if sum.recurring {
            lines.push("(repeating event)".to_string());
        }
        rows.push(("When", lines));
    }
    if let Some(l) = sum.location.as_ref().filter(|l| !l.is_empty()) {
        rows.push(("Where", vec![clean(l)]));
    }
    if let Some(o) = &sum.organizer {
        rows.push(("Organizer", vec![o.display()]));
    }
    if !sum.attendees.is_empty() {
        let lines = sum
            .attendees
            .iter()
            .map(|a| match a.partstat.as_deref().and_then(partstat_text) {
                Some(s) => format!("{} ({s})", a.display()),
                None => a.display(),
            })
            .collect();
        rows.push(("Attendees", lines));
    }
    rows
}

fn partstat_text(p: &str) -> Option<&'static str> {
    match p {
        "ACCEPTED" => Some("accepted"),
        "DECLINED" => Some("declined"),
        "TENTATIVE" => Some("tentative"),
        "DELEGATED" => Some("delegated"),
        _ => None,
    }
}

/// The text/plain body (CRLF line ends).
pub(crate) fn text_body(sum: &Summary, w: &Wording, footer: &str) -> String {
    let mut out = format!("{}\r\n\r\n", w.opening);
    for (label, lines) in rows(sum) {
        for (i, line) in lines.iter().enumerate() {
            let head = if i == 0 {
                format!("{label}:")
            } else {
                String::new()
            };
            out.push_str(&format!("{head:<11}{line}\r\n"));
        }
    }
    if w.answer_hint {
        out.push_str("\r\n");
        out.push_str(ANSWER_HINT);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(footer);
    out.push_str("\r\n");
    out
}

/// The text/html body: the same content, escaped.
pub(crate) fn html_body(sum: &Summary, w: &Wording, footer: &str) -> String {
    let mut out =
        String::from("<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\"></head><body>\r\n");
    out.push_str(&format!("<p>{}</p>\r\n<table>\r\n", escape(&w.opening)));
    for (label, lines) in rows(sum) {
        let cell = lines.iter().map(|l| escape(l)).collect::<Vec<_>>();
        out.push_str(&format!(
            "<tr><th align=\"left\" valign=\"top\">{label}</th>\r\n<td>{}</td></tr>\r\n",
            cell.join("<br>\r\n")
        ));
    }
    out.push_str("</table>\r\n");
    if w.answer_hint {
        out.push_str(&format!("<p>{}</p>\r\n", escape(ANSWER_HINT)));
    }
    out.push_str(&format!(
        "<p style=\"color:#666\">{}</p>\r\n</body></html>\r\n",
        escape(footer)
    ));
    out
}

/// HTML escaping of text content (CR/LF kept as they are).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
