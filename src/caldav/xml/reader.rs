//! The hardened XML front end: turns a request body into a small owned
//! element tree (namespaces resolved through quick-xml's `NsReader`), refusing
//! DTDs, undefined entities, non-UTF-8 input and excessive nesting. Also owns
//! re-serializing one element so it stands alone (dead property storage).

use std::collections::BTreeSet;

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{PrefixDeclaration, ResolveResult};
use quick_xml::reader::NsReader;

use super::names::{QName, XmlError};
use super::writer::escape;

/// Maximum element nesting accepted in a request body. Real WebDAV/CalDAV
/// bodies stay under about 10 levels (a calendar-query filter is the deepest);
/// anything beyond 64 is refused with [`XmlError::TooDeep`].
pub const MAX_DEPTH: usize = 64;

/// The namespace bound to the reserved `xml` prefix.
const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";

/// One attribute that is not a namespace declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attr {
    /// The name as written (`xml:lang`, `name`).
    pub raw: String,
    /// Resolved namespace ("" for unprefixed attributes).
    pub ns: String,
    /// Local name.
    pub name: String,
    /// Value with entity references resolved and whitespace normalized.
    pub value: String,
}

/// Content of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Element(Element),
    /// Character data (text and CDATA), references resolved.
    Text(String),
}

/// An element with its namespace-resolved name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub name: QName,
    /// The name as written, prefix included (`D:prop`).
    pub raw: String,
    /// Namespace declarations made on this element: (prefix, URI), the
    /// prefix being "" for a default namespace declaration.
    pub decls: Vec<(String, String)>,
    pub attrs: Vec<Attr>,
    pub children: Vec<Node>,
}

impl Element {
    /// True when this element is `name` in namespace `ns`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.name.is(ns, name)
    }

    /// Child elements, in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element with this name.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, name))
    }

    /// All child elements with this name.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.is(ns, name))
    }

    /// All character data of this element and its descendants, concatenated.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.collect_text(&mut out);
        out
    }

    fn collect_text(&self, out: &mut String) {
        for n in &self.children {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => e.collect_text(out),
            }
        }
    }

    /// The value of an attribute in no namespace.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_empty() && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// The value of `xml:lang` on this element itself.
    fn lang(&self) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns == NS_XML && a.name == "lang")
            .map(|a| a.value.as_str())
    }
}

/// Parses a request body into its root element. `Ok(None)` for an empty or
/// whitespace-only body.
pub(crate) fn parse_document(body: &[u8]) -> Result<Option<Element>, XmlError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|_| XmlError::NotUtf8)?;
    // quick-xml passes any character through; XML 1.0 allows only `Char`
    // (section 2.2): NUL and most C0 controls make the document malformed.
    if let Some(c) = text.chars().find(|c| !is_xml_char(*c)) {
        return Err(XmlError::Malformed(format!(
            "character U+{:04X} is not allowed in XML",
            u32::from(c)
        )));
    }
    if text.trim().is_empty() {
        return Ok(None);
    }
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| XmlError::Malformed(e.to_string()))?;
        let ns = match resolved {
            ResolveResult::Unbound => String::new(),
            ResolveResult::Bound(ns) => ns.0.to_string(),
            ResolveResult::Unknown(p) => {
                return Err(XmlError::Malformed(format!(
                    "unknown namespace prefix '{p}'"
                )));
            }
        };
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(content_after_root());
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let el = build_element(&reader, &start, ns)?;
                stack.push(el);
            }
            Event::Empty(start) => {
                if root.is_some() {
                    return Err(content_after_root());
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let el = build_element(&reader, &start, ns)?;
                attach(&mut stack, &mut root, el);
            }
            Event::End(_) => {
                // quick-xml checks that end tags match their start tags.
                let el = stack.pop().ok_or_else(|| {
                    XmlError::Malformed("closing tag without an opening tag".into())
                })?;
                attach(&mut stack, &mut root, el);
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::GeneralRef(r) => {
                let resolved: String = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) if is_xml_char(c) => c.to_string(),
                        _ => {
                            return Err(XmlError::Malformed(format!(
                                "invalid character reference &{};",
                                &*r
                            )));
                        }
                    }
                } else {
                    match &*r {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        other => {
                            return Err(XmlError::Malformed(format!("undefined entity &{other};")));
                        }
                    }
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => return Err(XmlError::DtdRefused),
            Event::Decl(decl) => {
                if let Some(Ok(enc)) = decl.encoding() {
                    let enc = enc.to_ascii_lowercase();
                    let utf8_like = matches!(enc.as_str(), "utf-8" | "utf8" | "us-ascii" | "ascii");
                    if !utf8_like && !text.is_ascii() {
                        return Err(XmlError::NotUtf8);
                    }
                }
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(XmlError::Malformed(format!(
            "document ends before <{}> is closed",
            open.raw
        )));
    }
    match root {
        Some(r) => Ok(Some(r)),
        None => Err(XmlError::Malformed("no root element".into())),
    }
}

fn content_after_root() -> XmlError {
    XmlError::Malformed("content after the root element".into())
}

/// XML 1.0 `Char` production.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(el)),
        None => *root = Some(el),
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(parent) => {
            if let Some(Node::Text(prev)) = parent.children.last_mut() {
                prev.push_str(text);
            } else if !text.is_empty() {
                parent.children.push(Node::Text(text.to_string()));
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError::Malformed(
            "character data outside the root element".into(),
        )),
    }
}

fn build_element(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    ns: String,
) -> Result<Element, XmlError> {
    let raw = start.name().0.to_string();
    let local = start.local_name().into_inner().to_string();
    let mut decls = Vec::new();
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| XmlError::Malformed(e.to_string()))?;
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| XmlError::Malformed(e.to_string()))?
            .into_owned();
        match attr.key.as_namespace_binding() {
            Some(PrefixDeclaration::Default) => decls.push((String::new(), value)),
            Some(PrefixDeclaration::Named(p)) => decls.push((p.to_string(), value)),
            None => {
                let (res, local) = reader.resolver().resolve_attribute(attr.key);
                let ns = match res {
                    ResolveResult::Unbound => String::new(),
                    ResolveResult::Bound(ns) => ns.0.to_string(),
                    ResolveResult::Unknown(p) => {
                        return Err(XmlError::Malformed(format!(
                            "unknown namespace prefix '{p}' on attribute"
                        )));
                    }
                };
                attrs.push(Attr {
                    raw: attr.key.0.to_string(),
                    ns,
                    name: local.into_inner().to_string(),
                    value,
                });
            }
        }
    }
    Ok(Element {
        name: QName { ns, name: local },
        raw,
        decls,
        attrs,
        children: Vec::new(),
    })
}

/// What is in scope at some point of the tree: namespace bindings made by
/// ancestors and the inherited `xml:lang`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    bindings: Vec<(String, String)>,
    lang: Option<String>,
}

impl Scope {
    /// The scope seen by the children of `el`.
    pub fn enter(&self, el: &Element) -> Scope {
        let mut next = self.clone();
        next.bindings.extend(el.decls.iter().cloned());
        if let Some(l) = el.lang() {
            next.lang = Some(l.to_string());
        }
        next
    }

    fn lookup(&self, prefix: &str) -> Option<&str> {
        self.bindings
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, uri)| uri.as_str())
    }
}

/// Serializes `el` (found in `outer`, the scope of its parent) so that it
/// stands alone: namespace prefixes used by it or its descendants but
/// declared by ancestors are declared on it, and an inherited `xml:lang` is
/// copied onto it.
pub(crate) fn standalone_xml(el: &Element, outer: &Scope) -> String {
    let mut used = BTreeSet::new();
    collect_prefixes(el, &mut used);
    let mut extra = Vec::new();
    for prefix in used {
        if el.decls.iter().any(|(p, _)| *p == prefix) {
            continue;
        }
        match outer.lookup(prefix) {
            Some(uri) => extra.push((prefix.to_string(), uri.to_string())),
            // No default namespace in scope: say so explicitly, so the
            // element keeps meaning "no namespace" wherever it is pasted.
            None if prefix.is_empty() => extra.push((String::new(), String::new())),
            // Declared further down the tree; nothing to add here.
            None => {}
        }
    }
    let lang = match el.lang() {
        Some(_) => None,
        None => outer.lang.as_deref(),
    };
    let mut out = String::new();
    write_element(el, &extra, lang, &mut out);
    out
}

fn collect_prefixes<'a>(el: &'a Element, used: &mut BTreeSet<&'a str>) {
    used.insert(prefix_of(&el.raw));
    for a in &el.attrs {
        let p = prefix_of(&a.raw);
        if !p.is_empty() && p != "xml" {
            used.insert(p);
        }
    }
    for child in el.elements() {
        collect_prefixes(child, used);
    }
}

fn prefix_of(raw: &str) -> &str {
    raw.split_once(':').map_or("", |(p, _)| p)
}

fn write_decl(prefix: &str, uri: &str, out: &mut String) {
    if prefix.is_empty() {
        out.push_str(" xmlns=\"");
    } else {
        out.push_str(" xmlns:");
        out.push_str(prefix);
        out.push_str("=\"");
    }
    out.push_str(&escape(uri));
    out.push('"');
}

fn write_element(el: &Element, extra: &[(String, String)], lang: Option<&str>, out: &mut String) {
    out.push('<');
    out.push_str(&el.raw);
    for (p, uri) in extra.iter().chain(el.decls.iter()) {
        write_decl(p, uri, out);
    }
    for a in &el.attrs {
        out.push(' ');
        out.push_str(&a.raw);
        out.push_str("=\"");
        out.push_str(&escape(&a.value));
        out.push('"');
    }
    if let Some(l) = lang {
        out.push_str(" xml:lang=\"");
        out.push_str(&escape(l));
        out.push('"');
    }
    if el.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for n in &el.children {
        match n {
            Node::Text(t) => out.push_str(&escape(t)),
            Node::Element(child) => write_element(child, &[], None, out),
        }
    }
    out.push_str("</");
    out.push_str(&el.raw);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caldav::xml::{NS_CALDAV, NS_DAV};

    fn root(s: &str) -> Element {
        parse_document(s.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn characters_outside_xml_char_are_refused() {
        for bad in [
            &b"<D:propfind xmlns:D=\"DAV:\">\0<D:allprop/></D:propfind>"[..],
            b"<D:propfind xmlns:D=\"DAV:\"><D:prop><D:x>a\x01b</D:x></D:prop></D:propfind>",
            b"<D:propfind xmlns:D=\"DAV:\" a=\"\0\"><D:allprop/></D:propfind>",
        ] {
            assert!(
                matches!(parse_document(bad), Err(XmlError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(parse_document(b"<a>\t\r\n</a>").is_ok());
    }

    #[test]
    fn empty_bodies() {
        assert_eq!(parse_document(b"").unwrap(), None);
        assert_eq!(parse_document(b" \r\n\t ").unwrap(), None);
    }

    #[test]
    fn resolves_prefixes_and_default_namespaces() {
        let r = root(
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <propfind xmlns="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
              <prop><c:calendar-data/><x xmlns=""/></prop></propfind>"#,
        );
        assert!(r.is(NS_DAV, "propfind"));
        let prop = r.child(NS_DAV, "prop").unwrap();
        let names: Vec<_> = prop.elements().map(|e| e.name.clone()).collect();
        assert_eq!(
            names,
            vec![QName::caldav("calendar-data"), QName::new("", "x")]
        );
        assert_eq!(NS_CALDAV, names[0].ns);
    }

    #[test]
    fn text_references_and_cdata() {
        let r = root("<a>x&amp;&lt;&#x1F600;&#65;<![CDATA[<b>]]></a>");
        assert_eq!(r.text(), "x&<\u{1F600}A<b>");
        // Adjacent character data merges into one node.
        assert_eq!(r.children.len(), 1);
    }

    #[test]
    fn refuses_doctype() {
        let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&lol3;</D:displayname></D:prop></D:propfind>"#;
        assert_eq!(parse_document(bomb.as_bytes()), Err(XmlError::DtdRefused));
        assert_eq!(
            parse_document(b"<a><!DOCTYPE a></a>").unwrap_err(),
            XmlError::DtdRefused
        );
    }

    #[test]
    fn refuses_undefined_entities() {
        assert!(matches!(
            parse_document(b"<a>&foo;</a>"),
            Err(XmlError::Malformed(m)) if m.contains("foo")
        ));
        assert!(matches!(
            parse_document(b"<a b=\"&foo;\"/>"),
            Err(XmlError::Malformed(_))
        ));
        assert!(matches!(
            parse_document(b"<a>&#0;</a>"),
            Err(XmlError::Malformed(_))
        ));
        assert!(matches!(
            parse_document(b"<a>&#xD800;</a>"),
            Err(XmlError::Malformed(_))
        ));
    }

    #[test]
    fn refuses_deep_nesting() {
        let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(parse_document(ok.as_bytes()).is_ok());
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(parse_document(deep.as_bytes()), Err(XmlError::TooDeep));
        let deep_empty = format!(
            "{}<b/>{}",
            "<a>".repeat(MAX_DEPTH),
            "</a>".repeat(MAX_DEPTH)
        );
        assert_eq!(
            parse_document(deep_empty.as_bytes()),
            Err(XmlError::TooDeep)
        );
        // A huge body of nesting is refused early, without building it.
        let huge = "<a>".repeat(100_000);
        assert_eq!(parse_document(huge.as_bytes()), Err(XmlError::TooDeep));
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "<a><b></a>",
            "<a>",
            "<a></a><b/>",
            "text<a/>",
            "<a/>text",
            "<a><y:b/></a>",
            "<a y:c=\"1\"/>",
            "<a b=\"1\" b=\"2\"/>",
            "<?xml version=\"1.0\"?>",
            "</a>",
            "<a",
        ] {
            assert!(
                matches!(parse_document(bad.as_bytes()), Err(XmlError::Malformed(_))),
                "{bad} accepted: {:?}",
                parse_document(bad.as_bytes())
            );
        }
    }

    #[test]
    fn refuses_non_utf8() {
        assert_eq!(parse_document(b"<a>\xff</a>"), Err(XmlError::NotUtf8));
        assert_eq!(
            parse_document("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>é</a>".as_bytes()),
            Err(XmlError::NotUtf8)
        );
        // A declared legacy encoding is harmless when the body is ASCII.
        assert!(parse_document(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>").is_ok());
        // A UTF-8 byte order mark is skipped.
        assert!(parse_document(b"\xEF\xBB\xBF<a/>").is_ok());
    }

    #[test]
    fn standalone_declares_inherited_namespaces_and_lang() {
        let r = root(
            r#"<D:prop xmlns:D="DAV:" xmlns:x="urn:x" xmlns:y="urn:y" xml:lang="fr"><x:p a="1&amp;2"><y:q x:k="v">t&lt;</y:q><z:r xmlns:z="urn:z"/></x:p></D:prop>"#,
        );
        let scope = Scope::default().enter(&r);
        let p = r.elements().next().unwrap();
        let xml = standalone_xml(p, &scope);
        assert_eq!(
            xml,
            r#"<x:p xmlns:x="urn:x" xmlns:y="urn:y" a="1&amp;2" xml:lang="fr"><y:q x:k="v">t&lt;</y:q><z:r xmlns:z="urn:z"/></x:p>"#
        );
        // And it parses back to the same names.
        let again = root(&xml);
        assert_eq!(again.name, QName::new("urn:x", "p"));
        assert_eq!(
            again.elements().next().unwrap().name,
            QName::new("urn:y", "q")
        );
    }

    #[test]
    fn standalone_no_namespace_and_default_namespace() {
        let r = root(
            r#"<prop xmlns="DAV:"><foo xmlns="">bar</foo><displayname>n</displayname></prop>"#,
        );
        let scope = Scope::default().enter(&r);
        let mut it = r.elements();
        assert_eq!(
            standalone_xml(it.next().unwrap(), &scope),
            r#"<foo xmlns="">bar</foo>"#
        );
        assert_eq!(
            standalone_xml(it.next().unwrap(), &scope),
            r#"<displayname xmlns="DAV:">n</displayname>"#
        );
        let r = root(r#"<D:prop xmlns:D="DAV:"><foo>bar</foo></D:prop>"#);
        let scope = Scope::default().enter(&r);
        assert_eq!(
            standalone_xml(r.elements().next().unwrap(), &scope),
            r#"<foo xmlns="">bar</foo>"#
        );
    }
}
