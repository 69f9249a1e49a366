//! The body of a LOCK request (RFC 4918 section 14.11, DAV:lockinfo): the
//! scope, the type (only write exists) and the client's DAV:owner, kept as
//! standalone XML to return in DAV:lockdiscovery.

use super::names::{NS_DAV, XmlError};
use super::reader::{Scope, parse_document, standalone_xml};
use super::request::expect_root;

/// Longest DAV:owner kept (serialized XML); clients send a name or an href.
pub const MAX_OWNER_BYTES: usize = 4096;

/// A parsed DAV:lockinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    /// DAV:exclusive (true) or DAV:shared (false).
    pub exclusive: bool,
    /// The DAV:owner element as standalone XML, if sent.
    pub owner: Option<String>,
}

/// Parse a LOCK body. `Ok(None)` for an empty body (a refresh).
pub fn parse_lockinfo(body: &[u8]) -> Result<Option<LockInfo>, XmlError> {
    let Some(root) = parse_document(body)? else {
        return Ok(None);
    };
    expect_root(&root, NS_DAV, "lockinfo")?;
    let scope_el = root
        .child(NS_DAV, "lockscope")
        .ok_or_else(|| XmlError::Invalid("DAV:lockinfo needs a DAV:lockscope".into()))?;
    let exclusive = if scope_el.child(NS_DAV, "exclusive").is_some() {
        true
    } else if scope_el.child(NS_DAV, "shared").is_some() {
        false
    } else {
        return Err(XmlError::Invalid(
            "DAV:lockscope must be DAV:exclusive or DAV:shared".into(),
        ));
    };
    let type_el = root
        .child(NS_DAV, "locktype")
        .ok_or_else(|| XmlError::Invalid("DAV:lockinfo needs a DAV:locktype".into()))?;
    if type_el.child(NS_DAV, "write").is_none() {
        return Err(XmlError::Invalid("only DAV:write locks exist".into()));
    }
    let owner = match root.child(NS_DAV, "owner") {
        Some(o) => {
            let xml = standalone_xml(o, &Scope::default().enter(&root));
            if xml.len() > MAX_OWNER_BYTES {
                return Err(XmlError::Invalid(format!(
                    "DAV:owner exceeds {MAX_OWNER_BYTES} bytes"
                )));
            }
            Some(xml)
        }
        None => None,
    };
    Ok(Some(LockInfo { exclusive, owner }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_with_owner() {
        let body = br#"<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>
<D:locktype><D:write/></D:locktype><D:owner>litmus test suite</D:owner></D:lockinfo>"#;
        let info = parse_lockinfo(body).unwrap().unwrap();
        assert!(info.exclusive);
        let owner = info.owner.unwrap();
        assert!(owner.contains("litmus test suite"), "{owner}");
        assert!(owner.contains("DAV:"), "{owner}");
    }

    #[test]
    fn shared_refresh_and_bad() {
        let body = br#"<lockinfo xmlns="DAV:"><lockscope><shared/></lockscope><locktype><write/></locktype></lockinfo>"#;
        let info = parse_lockinfo(body).unwrap().unwrap();
        assert!(!info.exclusive);
        assert_eq!(info.owner, None);
        assert_eq!(parse_lockinfo(b"  ").unwrap(), None);
        assert!(
            parse_lockinfo(br#"<lockinfo xmlns="DAV:"><locktype><write/></locktype></lockinfo>"#)
                .is_err()
        );
        assert!(parse_lockinfo(br#"<propfind xmlns="DAV:"/>"#).is_err());
    }
}
