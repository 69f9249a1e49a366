//! Namespace constants, the resolved element name type [`QName`] and the
//! error type [`XmlError`] shared by the request parsers and the writer.

use std::fmt;

/// The WebDAV namespace (RFC 4918).
pub const NS_DAV: &str = "DAV:";
/// The CalDAV namespace (RFC 4791).
pub const NS_CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// Apple's calendarserver extensions (getctag, calendar-proxy...).
pub const NS_CALSERVER: &str = "http://calendarserver.org/ns/";
/// Apple iCal extensions (calendar-color, calendar-order).
pub const NS_APPLE: &str = "http://apple.com/ns/ical/";

/// An element name: namespace URI ("" when none) and local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QName {
    pub ns: String,
    pub name: String,
}

impl QName {
    /// A name in namespace `ns` ("" for no namespace).
    pub fn new(ns: &str, name: &str) -> Self {
        QName {
            ns: ns.to_string(),
            name: name.to_string(),
        }
    }

    /// A name in the `DAV:` namespace.
    pub fn dav(name: &str) -> Self {
        Self::new(NS_DAV, name)
    }

    /// A name in the CalDAV namespace.
    pub fn caldav(name: &str) -> Self {
        Self::new(NS_CALDAV, name)
    }

    /// True when this is `name` in namespace `ns`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }
}

/// Clark notation: `{DAV:}displayname`, or just `foo` without a namespace.
impl fmt::Display for QName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ns.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{{{}}}{}", self.ns, self.name)
        }
    }
}

/// Why a request body was refused. Every variant maps to a 400 Bad Request
/// except [`XmlError::UnsupportedCollation`], which the caller answers with
/// the CALDAV:supported-collation precondition (403/409 per RFC 4791 7.5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    /// The body is not valid UTF-8 (or declares another encoding while using
    /// non-ASCII bytes).
    NotUtf8,
    /// The body is not well-formed XML (syntax, unknown prefix, unknown
    /// entity, mismatched tags, empty where a document is required...).
    Malformed(String),
    /// The body contains a document type declaration; DTDs are refused
    /// outright to rule out entity expansion attacks.
    DtdRefused,
    /// Elements are nested deeper than [`super::MAX_DEPTH`].
    TooDeep,
    /// The root element is not the one the method expects.
    UnexpectedRoot { expected: String, found: QName },
    /// Well-formed XML that does not follow the grammar of the request
    /// (missing filter, bad time-range, unknown sync-level...).
    Invalid(String),
    /// A CALDAV:text-match asked for a collation the server does not support.
    UnsupportedCollation(String),
    /// A CALDAV:filter that breaks RFC 4791 section 9.7 (CALDAV:valid-filter).
    InvalidFilter(String),
    /// A CALDAV:filter naming a component the server cannot query
    /// (CALDAV:supported-filter).
    UnsupportedFilter(String),
    /// CALDAV:calendar-data asking for a media type other than
    /// text/calendar 2.0 (CALDAV:supported-calendar-data).
    UnsupportedCalendarData(String),
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::NotUtf8 => write!(f, "request body is not UTF-8 encoded XML"),
            XmlError::Malformed(why) => write!(f, "request body is not well-formed XML: {why}"),
            XmlError::DtdRefused => write!(
                f,
                "request body contains a DOCTYPE declaration, which this server refuses"
            ),
            XmlError::TooDeep => write!(
                f,
                "request body nests elements deeper than {} levels",
                super::MAX_DEPTH
            ),
            XmlError::UnexpectedRoot { expected, found } => {
                write!(f, "expected root element {expected}, found {found}")
            }
            XmlError::Invalid(why) => write!(f, "invalid request body: {why}"),
            XmlError::UnsupportedCollation(c) => write!(f, "unsupported collation {c:?}"),
            XmlError::InvalidFilter(why) => write!(f, "invalid CALDAV:filter: {why}"),
            XmlError::UnsupportedFilter(why) => write!(f, "unsupported CALDAV:filter: {why}"),
            XmlError::UnsupportedCalendarData(why) => {
                write!(f, "unsupported CALDAV:calendar-data: {why}")
            }
        }
    }
}

impl std::error::Error for XmlError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qname_helpers() {
        let q = QName::dav("prop");
        assert!(q.is(NS_DAV, "prop"));
        assert!(!q.is(NS_CALDAV, "prop"));
        assert_eq!(QName::caldav("comp").ns, NS_CALDAV);
        assert_eq!(q.to_string(), "{DAV:}prop");
        assert_eq!(QName::new("", "foo").to_string(), "foo");
    }

    #[test]
    fn error_messages_are_helpful() {
        let e = XmlError::UnexpectedRoot {
            expected: "{DAV:}propfind".into(),
            found: QName::dav("prop"),
        };
        assert_eq!(
            e.to_string(),
            "expected root element {DAV:}propfind, found {DAV:}prop"
        );
        assert!(XmlError::TooDeep.to_string().contains("64"));
        assert!(XmlError::DtdRefused.to_string().contains("DOCTYPE"));
    }
}
