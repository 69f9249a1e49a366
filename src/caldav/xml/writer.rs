//! Response bodies: XML escaping, the DAV:multistatus builder (RFC 4918
//! 13, with the RFC 6578 sync-token) and DAV:error bodies for failed
//! preconditions (RFC 4918 16).

use std::borrow::Cow;

use super::names::{NS_APPLE, NS_CALDAV, NS_CALSERVER, NS_DAV, QName};

const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

/// Namespace declarations put on every root element this module writes, so
/// that caller-supplied fragments may use the D, C, CS and A prefixes.
const ROOT_DECLS: &str = concat!(
    " xmlns:D=\"DAV:\"",
    " xmlns:C=\"urn:ietf:params:xml:ns:caldav\"",
    " xmlns:CS=\"http://calendarserver.org/ns/\"",
    " xmlns:A=\"http://apple.com/ns/ical/\""
);

/// Escape text for element content / attribute values.
///
/// `&`, `<`, `>`, `"` and `'` become entity references; a carriage return
/// becomes `&#13;` so that CRLF line ends of iCalendar data survive XML
/// end-of-line normalization; characters XML 1.0 cannot carry at all (C0
/// controls other than tab/LF/CR, U+FFFE, U+FFFF) become U+FFFD.
pub fn escape(s: &str) -> Cow<'_, str> {
    if first_special(s.as_bytes(), 0).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    escape_into(&mut out, s);
    Cow::Owned(out)
}

/// The replacement of the special sequence starting at byte `i`, and its length.
fn replacement(b: &[u8], i: usize) -> Option<(&'static str, usize)> {
    Some(match b[i] {
        b'&' => ("&amp;", 1),
        b'<' => ("&lt;", 1),
        b'>' => ("&gt;", 1),
        b'"' => ("&quot;", 1),
        b'\'' => ("&apos;", 1),
        b'\r' => ("&#13;", 1),
        b'\t' | b'\n' => return None,
        0..=0x1F => ("\u{FFFD}", 1),
        // U+FFFE and U+FFFF (EF BF BE / EF BF BF) are not XML characters.
        0xEF if b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF)) => {
            ("\u{FFFD}", 3)
        }
        _ => return None,
    })
}

/// Bytes that may start a sequence needing escaping (see `replacement`).
const MAYBE_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = i != b'\t' as usize && i != b'\n' as usize;
        i += 1;
    }
    t[b'&' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\'' as usize] = true;
    t[0xEF] = true;
    t
};

/// Index of the first byte at or after `from` that needs escaping.
fn first_special(b: &[u8], from: usize) -> Option<usize> {
    (from..b.len()).find(|&i| MAYBE_SPECIAL[b[i] as usize] && replacement(b, i).is_some())
}

/// Append `s` escaped (as `escape` does) to `out`, copying unchanged runs whole.
pub fn escape_into(out: &mut String, s: &str) {
    let b = s.as_bytes();
    let mut start = 0;
    while let Some(i) = first_special(b, start) {
        let Some((rep, len)) = replacement(b, i) else {
            break;
        };
        // `i` is at an ASCII byte or the start of a 3-byte sequence: a char boundary.
        out.push_str(&s[start..i]);
        out.push_str(rep);
        start = i + len;
    }
    out.push_str(&s[start..]);
}

/// Length of `escape(s)`, without building it.
pub fn escaped_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut n = 0;
    let mut start = 0;
    while let Some(i) = first_special(b, start) {
        let Some((rep, len)) = replacement(b, i) else {
            break;
        };
        n += i - start + rep.len();
        start = i + len;
    }
    n + b.len() - start
}

/// The reason phrase used in DAV:status lines.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        207 => "Multi-Status",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        423 => "Locked",
        424 => "Failed Dependency",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        507 => "Insufficient Storage",
        _ => "Unknown",
    }
}

/// The text of a DAV:status element: `HTTP/1.1 200 OK`.
pub fn status_line(status: u16) -> String {
    format!("HTTP/1.1 {status} {}", reason_phrase(status))
}

/// One DAV:propstat: a status and the properties it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropStat {
    pub status: u16,
    pub props: Vec<Prop>,
}

/// One property inside a DAV:prop of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prop {
    /// Element with no content, e.g. in propname answers or 404 propstats.
    Empty(QName),
    /// Element with escaped text content.
    Text(QName, String),
    /// Element whose content is the given XML fragment (already well-formed,
    /// using the root's prefixes).
    Xml(QName, String),
    /// A complete self-contained property element (a dead property's
    /// `PropValue::xml`), written verbatim.
    Raw(String),
}

/// The prefix the root element binds to `ns`, if any.
fn known_prefix(ns: &str) -> Option<&'static str> {
    match ns {
        NS_DAV => Some("D"),
        NS_CALDAV => Some("C"),
        NS_CALSERVER => Some("CS"),
        NS_APPLE => Some("A"),
        _ => None,
    }
}

/// Writes the start tag of `name` (without the closing `>`), declaring its
/// namespace on the element itself when the root does not bind it. Returns
/// the qualified name to use in the end tag.
fn open_tag(name: &QName, out: &mut String) -> String {
    out.push('<');
    match known_prefix(&name.ns) {
        Some(p) => {
            let q = format!("{p}:{}", name.name);
            out.push_str(&q);
            q
        }
        None if name.ns.is_empty() => {
            out.push_str(&name.name);
            out.push_str(" xmlns=\"\"");
            name.name.clone()
        }
        None => {
            let q = format!("x0:{}", name.name);
            out.push_str(&q);
            out.push_str(" xmlns:x0=\"");
            out.push_str(&escape(&name.ns));
            out.push('"');
            q
        }
    }
}

fn write_prop(prop: &Prop, out: &mut String) {
    let (name, content) = match prop {
        Prop::Raw(xml) => {
            out.push_str(xml);
            return;
        }
        Prop::Empty(name) => (name, None),
        Prop::Text(name, text) => {
            let qname = open_tag(name, out);
            if text.is_empty() {
                out.push_str("/>");
            } else {
                out.push('>');
                escape_into(out, text);
                out.push_str("</");
                out.push_str(&qname);
                out.push('>');
            }
            return;
        }
        Prop::Xml(name, xml) => (name, Some(Cow::Borrowed(xml.as_str()))),
    };
    let qname = open_tag(name, out);
    match content {
        Some(c) if !c.is_empty() => {
            out.push('>');
            out.push_str(&c);
            out.push_str("</");
            out.push_str(&qname);
            out.push('>');
        }
        _ => out.push_str("/>"),
    }
}

/// Builds a DAV:multistatus document. The root declares `xmlns:D="DAV:"`,
/// `xmlns:C` (CalDAV), `xmlns:CS` (calendarserver) and `xmlns:A` (Apple iCal)
/// so values written by the caller can use those prefixes.
#[derive(Debug, Clone)]
pub struct Multistatus {
    buf: String,
    sync_token: Option<String>,
}

impl Default for Multistatus {
    fn default() -> Self {
        Self::new()
    }
}

impl Multistatus {
    /// Starts the document: XML declaration and the multistatus start tag.
    pub fn new() -> Self {
        let mut buf = String::with_capacity(1024);
        buf.push_str(XML_DECL);
        buf.push_str("<D:multistatus");
        buf.push_str(ROOT_DECLS);
        buf.push('>');
        Multistatus {
            buf,
            sync_token: None,
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> usize {
        self.buf.len()
    }

    fn href(&mut self, href: &str) {
        self.buf.push_str("<D:response><D:href>");
        escape_into(&mut self.buf, href);
        self.buf.push_str("</D:href>");
    }

    fn status(&mut self, status: u16) {
        self.buf.push_str("<D:status>");
        self.buf.push_str(&status_line(status));
        self.buf.push_str("</D:status>");
    }

    /// One DAV:response with propstats. `href` is already percent-encoded by
    /// the caller; it is escaped for XML here.
    pub fn response(&mut self, href: &str, propstats: &[PropStat]) {
        self.href(href);
        for ps in propstats {
            self.buf.push_str("<D:propstat><D:prop>");
            for p in &ps.props {
                write_prop(p, &mut self.buf);
            }
            self.buf.push_str("</D:prop>");
            self.status(ps.status);
            self.buf.push_str("</D:propstat>");
        }
        self.buf.push_str("</D:response>");
    }

    /// DAV:response with just a DAV:status (e.g. 404 tombstones in
    /// sync-collection, or multiget misses).
    pub fn response_status(&mut self, href: &str, status: u16) {
        self.href(href);
        self.status(status);
        self.buf.push_str("</D:response>");
    }

    /// The DAV:sync-token (RFC 6578). It is written after all responses when
    /// the document is finished, whenever this is called.
    pub fn sync_token(&mut self, token: &str) {
        self.sync_token = Some(token.to_string());
    }

    /// Closes the document and returns it.
    pub fn finish(mut self) -> String {
        if let Some(token) = self.sync_token.take() {
            self.buf.push_str("<D:sync-token>");
            self.buf.push_str(&escape(&token));
            self.buf.push_str("</D:sync-token>");
        }
        self.buf.push_str("</D:multistatus>\n");
        self.buf
    }
}

/// The body of an error response (RFC 4918 16): a DAV:error element holding
/// the precondition or postcondition element `condition`, which contains the
/// optional XML fragment `inner` (written with the D/C/CS/A prefixes).
pub fn error_body(condition: &QName, inner: Option<&str>) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(XML_DECL);
    out.push_str("<D:error");
    out.push_str(ROOT_DECLS);
    out.push('>');
    let prop = match inner {
        Some(xml) => Prop::Xml(condition.clone(), xml.to_string()),
        None => Prop::Empty(condition.clone()),
    };
    write_prop(&prop, &mut out);
    out.push_str("</D:error>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    use quick_xml::reader::NsReader;

    /// Parses a document back and lists (namespace, local name, text) of
    /// every element, checking well-formedness along the way.
    fn walk(doc: &str) -> Vec<(String, String, String)> {
        let mut r = NsReader::from_str(doc);
        let mut out = Vec::new();
        let mut stack: Vec<usize> = Vec::new();
        loop {
            let (res, ev) = r.read_resolved_event().unwrap();
            let ns = match res {
                ResolveResult::Bound(n) => n.0.to_string(),
                ResolveResult::Unbound => String::new(),
                ResolveResult::Unknown(p) => panic!("unknown prefix {p}"),
            };
            match ev {
                Event::Start(e) => {
                    stack.push(out.len());
                    out.push((ns, e.local_name().into_inner().to_string(), String::new()));
                }
                Event::Empty(e) => {
                    out.push((ns, e.local_name().into_inner().to_string(), String::new()))
                }
                Event::End(_) => {
                    stack.pop();
                }
                Event::Text(t) => {
                    if let Some(&i) = stack.last() {
                        out[i].2.push_str(&t.xml10_content());
                    }
                }
                Event::GeneralRef(g) => {
                    let s = match g.resolve_char_ref().unwrap() {
                        Some(c) => c.to_string(),
                        None => match &*g {
                            "amp" => "&".into(),
                            "lt" => "<".into(),
                            "gt" => ">".into(),
                            "quot" => "\"".into(),
                            "apos" => "'".into(),
                            other => panic!("entity {other}"),
                        },
                    };
                    if let Some(&i) = stack.last() {
                        out[i].2.push_str(&s);
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        assert!(stack.is_empty());
        out
    }

    #[test]
    fn escaped_len_matches() {
        for s in ["", "plain", "a&b<c>\"'\r\n", "\u{1}x\u{FFFE}y", "é€😀&"] {
            assert_eq!(escaped_len(s), escape(s).len(), "{s:?}");
        }
    }

    #[test]
    fn escape_text() {
        assert!(matches!(escape("plain"), Cow::Borrowed("plain")));
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(escape("x\r\ny"), "x&#13;\ny");
        assert_eq!(escape("bad\u{1}char\u{FFFF}"), "bad\u{FFFD}char\u{FFFD}");
        assert_eq!(escape("日本 \u{1F600}"), "日本 \u{1F600}");
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_line(200), "HTTP/1.1 200 OK");
        assert_eq!(status_line(404), "HTTP/1.1 404 Not Found");
        assert_eq!(status_line(424), "HTTP/1.1 424 Failed Dependency");
        assert_eq!(status_line(507), "HTTP/1.1 507 Insufficient Storage");
        assert_eq!(status_line(599), "HTTP/1.1 599 Unknown");
    }

    #[test]
    fn multistatus_round_trip() {
        let mut ms = Multistatus::new();
        ms.sync_token("http://example.com/sync/5?a&b");
        ms.response(
            "/cal/a%20b.ics?x&y",
            &[
                PropStat {
                    status: 200,
                    props: vec![
                        Prop::Text(QName::dav("getetag"), "\"abc\"".into()),
                        Prop::Text(
                            QName::caldav("calendar-data"),
                            "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".into(),
                        ),
                        Prop::Xml(
                            QName::dav("resourcetype"),
                            "<D:collection/><C:calendar/>".into(),
                        ),
                        Prop::Raw(r#"<x:color xmlns:x="urn:x" xml:lang="en">red</x:color>"#.into()),
                        Prop::Text(QName::new("urn:other", "thing"), "v".into()),
                        Prop::Text(QName::new("", "bare"), "w".into()),
                        Prop::Text(QName::new(NS_APPLE, "calendar-color"), "#FF0000".into()),
                    ],
                },
                PropStat {
                    status: 404,
                    props: vec![Prop::Empty(QName::new(NS_CALSERVER, "getctag"))],
                },
            ],
        );
        ms.response_status("/cal/gone.ics", 404);
        let doc = ms.finish();
        assert!(doc.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
        let els = walk(&doc);
        let find = |ns: &str, name: &str| {
            els.iter()
                .filter(|(n, l, _)| n == ns && l == name)
                .map(|(_, _, t)| t.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(els[0].0, NS_DAV);
        assert_eq!(els[0].1, "multistatus");
        assert_eq!(
            find(NS_DAV, "href"),
            vec!["/cal/a%20b.ics?x&y", "/cal/gone.ics"]
        );
        assert_eq!(
            find(NS_DAV, "status"),
            vec![
                "HTTP/1.1 200 OK",
                "HTTP/1.1 404 Not Found",
                "HTTP/1.1 404 Not Found"
            ]
        );
        assert_eq!(find(NS_DAV, "getetag"), vec!["\"abc\""]);
        assert_eq!(
            find(NS_CALDAV, "calendar-data"),
            vec!["BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"]
        );
        assert_eq!(find(NS_DAV, "collection").len(), 1);
        assert_eq!(find(NS_CALDAV, "calendar").len(), 1);
        assert_eq!(find("urn:x", "color"), vec!["red"]);
        assert_eq!(find("urn:other", "thing"), vec!["v"]);
        assert_eq!(find("", "bare"), vec!["w"]);
        assert_eq!(find(NS_APPLE, "calendar-color"), vec!["#FF0000"]);
        assert_eq!(find(NS_CALSERVER, "getctag").len(), 1);
        // The sync token comes last, after every response.
        let last = els.last().unwrap();
        assert_eq!((last.0.as_str(), last.1.as_str()), (NS_DAV, "sync-token"));
        assert_eq!(last.2, "http://example.com/sync/5?a&b");
    }

    #[test]
    fn empty_multistatus() {
        let doc = Multistatus::default().finish();
        let els = walk(&doc);
        assert_eq!(els.len(), 1);
    }

    #[test]
    fn error_bodies() {
        let body = error_body(
            &QName::caldav("no-uid-conflict"),
            Some("<D:href>/cal/other.ics</D:href>"),
        );
        let els = walk(&body);
        assert_eq!(els[0], (NS_DAV.into(), "error".into(), String::new()));
        assert_eq!(els[1].0, NS_CALDAV);
        assert_eq!(els[1].1, "no-uid-conflict");
        assert_eq!(
            els[2],
            (NS_DAV.into(), "href".into(), "/cal/other.ics".into())
        );
        assert!(
            body.contains("<C:no-uid-conflict><D:href>/cal/other.ics</D:href></C:no-uid-conflict>")
        );

        let body = error_body(&QName::dav("need-privileges"), None);
        assert!(body.contains("<D:need-privileges/>"));
        let body = error_body(&QName::new("urn:x", "odd"), None);
        let els = walk(&body);
        assert_eq!(els[1], ("urn:x".into(), "odd".into(), String::new()));
    }
}
