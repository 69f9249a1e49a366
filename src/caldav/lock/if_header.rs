//! The `If` request header (RFC 4918 section 10.4): parsed into lists of
//! conditions (state tokens and entity tags, each possibly negated), each
//! list applying to the Request-URI (No-tag-list) or to a tagged resource.

/// Most lists and conditions accepted in one `If` header.
const MAX_CONDITIONS: usize = 64;

/// One condition of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// A state token (a lock token, or DAV:no-lock which matches nothing).
    Token(String),
    /// An entity tag, as written between the brackets.
    ETag(String),
}

/// One list: every condition must hold (`bool` is true for `Not`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    /// The Resource-Tag (an absolute URI or path), None for a No-tag-list.
    pub tag: Option<String>,
    pub conds: Vec<(bool, Cond)>,
}

/// Parse an `If` header value; Err with a reason when malformed.
pub fn parse(v: &str) -> Result<Vec<List>, &'static str> {
    let mut lists = Vec::new();
    let mut tag: Option<String> = None;
    let mut tagged = None;
    let mut count = 0;
    let mut rest = v.trim_start();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('<') {
            let end = r.find('>').ok_or("unterminated resource tag")?;
            if tagged == Some(false) {
                return Err("tagged and untagged lists mixed");
            }
            tagged = Some(true);
            tag = Some(r[..end].to_string());
            rest = r[end + 1..].trim_start();
            if !rest.starts_with('(') {
                return Err("a resource tag must be followed by a list");
            }
        } else if let Some(r) = rest.strip_prefix('(') {
            if tagged.is_none() {
                tagged = Some(false);
            }
            let end = r.find(')').ok_or("unterminated list")?;
            let conds = parse_list(&r[..end])?;
            count += conds.len();
            if count > MAX_CONDITIONS {
                return Err("too many conditions");
            }
            lists.push(List {
                tag: tag.clone(),
                conds,
            });
            rest = r[end + 1..].trim_start();
        } else {
            return Err("expected '(' or '<'");
        }
    }
    if lists.is_empty() {
        return Err("no list");
    }
    Ok(lists)
}

fn parse_list(s: &str) -> Result<Vec<(bool, Cond)>, &'static str> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let mut not = false;
        if let Some(r) = rest
            .get(..3)
            .filter(|p| p.eq_ignore_ascii_case("not"))
            .and_then(|_| rest.get(3..))
        {
            not = true;
            rest = r.trim_start();
        }
        if let Some(r) = rest.strip_prefix('<') {
            let end = r.find('>').ok_or("unterminated state token")?;
            out.push((not, Cond::Token(r[..end].trim().to_string())));
            rest = r[end + 1..].trim_start();
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or("unterminated entity tag")?;
            out.push((not, Cond::ETag(r[..end].trim().to_string())));
            rest = r[end + 1..].trim_start();
        } else {
            return Err("expected a state token or an entity tag");
        }
    }
    if out.is_empty() {
        return Err("empty list");
    }
    Ok(out)
}

/// Every state token named in the header (negated or not): the lock
/// tokens the client submits (RFC 4918 section 10.4.1).
pub fn tokens(lists: &[List]) -> impl Iterator<Item = &str> {
    lists.iter().flat_map(|l| {
        l.conds.iter().filter_map(|(_, c)| match c {
            Cond::Token(t) => Some(t.as_str()),
            Cond::ETag(_) => None,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn litmus_forms() {
        let l = parse("(<urn:uuid:a> [\"e1\"]) (Not <DAV:no-lock> [\"e1\"])").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].tag, None);
        assert_eq!(
            l[0].conds,
            vec![
                (false, Cond::Token("urn:uuid:a".into())),
                (false, Cond::ETag("\"e1\"".into()))
            ]
        );
        assert_eq!(l[1].conds[0], (true, Cond::Token("DAV:no-lock".into())));
        let t = parse("<http://h/dav/calendars/u/c/> (<urn:uuid:b>)").unwrap();
        assert_eq!(t[0].tag.as_deref(), Some("http://h/dav/calendars/u/c/"));
        assert_eq!(tokens(&t).collect::<Vec<_>>(), vec!["urn:uuid:b"]);
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "<x>",
            "(",
            "()",
            "(x)",
            "(<a>) <b> (<c>)",
            "[\"e\"]",
            "(é<a>)",
            "(Noé)",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
