//! The URL space: which resource a request path names, and how to write
//! hrefs back (each segment percent-encoded).
//!
//! ```text
//! /.well-known/caldav        -> 301 to /dav/ (RFC 6764)
//! /, /dav/                   DAV root (current-user-principal lives here)
//! /dav/principals/           principal collection
//! /dav/principals/NAME/      a principal
//! /dav/calendars/            calendar homes
//! /dav/calendars/NAME/PATH   the home of NAME and everything below it
//! ```

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

pub const DAV_ROOT: &str = "/dav/";
pub const PRINCIPALS: &str = "/dav/principals/";
pub const CALENDARS: &str = "/dav/calendars/";

/// Characters kept as they are inside one path segment (RFC 3986 pchar
/// minus the few that confuse clients).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    WellKnown,
    Root,
    PrincipalsRoot,
    Principal(String),
    CalendarsRoot,
    /// A node in a home: user and path below the home (collections end with
    /// '/' when the request URL did; see `Store` lookups for the other form).
    Node {
        user: String,
        path: String,
    },
}

/// Why a path was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum PathError {
    NotFound,
    Invalid(&'static str),
}

/// Decode and split a request path into segments.
fn segments(path: &str) -> Result<(Vec<String>, bool), PathError> {
    let trailing = path.ends_with('/');
    let mut out = Vec::new();
    for raw in path.split('/') {
        if raw.is_empty() {
            continue;
        }
        let seg = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| PathError::Invalid("the path is not valid UTF-8"))?;
        if seg == "." || seg == ".." {
            return Err(PathError::Invalid("dot segments are not allowed"));
        }
        if seg.contains('/') || seg.contains('\0') {
            return Err(PathError::Invalid(
                "an encoded '/' or NUL in a path segment",
            ));
        }
        out.push(seg.into_owned());
    }
    Ok((out, trailing))
}

impl Target {
    pub fn parse(path: &str) -> Result<Target, PathError> {
        if path == "/.well-known/caldav" || path == "/.well-known/caldav/" {
            return Ok(Target::WellKnown);
        }
        let (segs, trailing) = segments(path)?;
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        Ok(match segs.as_slice() {
            [] | ["dav"] => Target::Root,
            ["dav", "principals"] => Target::PrincipalsRoot,
            ["dav", "principals", user] => Target::Principal(user.to_string()),
            ["dav", "calendars"] => Target::CalendarsRoot,
            ["dav", "calendars", user, rest @ ..] => {
                let mut p = rest.join("/");
                if !rest.is_empty() && trailing {
                    p.push('/');
                }
                Target::Node {
                    user: user.to_string(),
                    path: p,
                }
            }
            _ => return Err(PathError::NotFound),
        })
    }

    /// The user whose data this target is, if any.
    pub fn owner(&self) -> Option<&str> {
        match self {
            Target::Principal(u) | Target::Node { user: u, .. } => Some(u),
            _ => None,
        }
    }
}

pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Percent-encode a relative path segment by segment, keeping '/'.
pub fn encode_path(p: &str) -> String {
    p.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

pub fn principal_href(user: &str) -> String {
    format!("{PRINCIPALS}{}/", encode_segment(user))
}

pub fn home_href(user: &str) -> String {
    format!("{CALENDARS}{}/", encode_segment(user))
}

/// Href of a node: the home href plus the encoded path.
pub fn node_href(user: &str, path: &str) -> String {
    format!("{}{}", home_href(user), encode_path(path))
}

/// Turn an href from a request body (absolute URL or absolute path) into a
/// target; hrefs to other hosts are treated like paths on this one.
pub fn href_target(href: &str) -> Result<Target, PathError> {
    let href = href.trim();
    let path = match href.find("://") {
        Some(i) => {
            let after = &href[i + 3..];
            match after.find('/') {
                Some(j) => &after[j..],
                None => "/",
            }
        }
        None => href,
    };
    Target::parse(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_targets() {
        assert_eq!(Target::parse("/"), Ok(Target::Root));
        assert_eq!(Target::parse("/dav/"), Ok(Target::Root));
        assert_eq!(
            Target::parse("/dav/principals/bob/"),
            Ok(Target::Principal("bob".into()))
        );
        assert_eq!(
            Target::parse("/dav/calendars/bob/cal/x%20y.ics"),
            Ok(Target::Node {
                user: "bob".into(),
                path: "cal/x y.ics".into()
            })
        );
        assert_eq!(
            Target::parse("/dav/calendars/bob/cal/"),
            Ok(Target::Node {
                user: "bob".into(),
                path: "cal/".into()
            })
        );
        assert_eq!(
            Target::parse("/dav/calendars/bob"),
            Ok(Target::Node {
                user: "bob".into(),
                path: String::new()
            })
        );
        assert!(Target::parse("/dav/calendars/bob/../alice/").is_err());
        assert!(Target::parse("/dav/calendars/bob/a%2Fb").is_err());
        assert_eq!(Target::parse("/nope"), Err(PathError::NotFound));
    }

    #[test]
    fn hrefs() {
        assert_eq!(
            node_href("bob", "cal/x y.ics"),
            "/dav/calendars/bob/cal/x%20y.ics"
        );
        assert_eq!(
            href_target("http://h:1/dav/calendars/bob/cal/a.ics"),
            Ok(Target::Node {
                user: "bob".into(),
                path: "cal/a.ics".into()
            })
        );
    }
}
