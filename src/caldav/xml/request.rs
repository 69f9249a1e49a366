//! Bodies of the property methods: PROPFIND (RFC 4918 9.1), PROPPATCH
//! (RFC 4918 9.2), MKCALENDAR (RFC 4791 5.3.1) and extended MKCOL (RFC 5689).

use super::names::{NS_CALDAV, NS_DAV, QName, XmlError};
use super::reader::{Element, Scope, parse_document, standalone_xml};

/// What a PROPFIND (or the property part of a REPORT) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropFind {
    /// DAV:allprop, with the extra properties named in DAV:include.
    AllProp { include: Vec<QName> },
    /// DAV:propname: names only.
    PropName,
    /// DAV:prop: these properties, in request order.
    Prop(Vec<QName>),
}

/// A property value from PROPPATCH/MKCALENDAR/MKCOL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropValue {
    /// The whole property element serialized so it stands alone: every
    /// namespace prefix it or its descendants use is declared on the element
    /// itself, text escaped, an `xml:lang` in scope preserved. Stored as a
    /// dead property and returned verbatim inside DAV:prop.
    pub xml: String,
    /// Concatenated text content (unescaped), for live properties such as
    /// displayname.
    pub text: String,
    /// Child element names, e.g. for DAV:resourcetype.
    pub children: Vec<QName>,
    /// `name` attributes of CALDAV:comp children
    /// (supported-calendar-component-set), upper-cased.
    pub comp_names: Vec<String>,
}

/// One instruction of a PROPPATCH (or of the set part of MKCALENDAR/MKCOL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropPatchOp {
    Set(QName, PropValue),
    Remove(QName),
}

/// Refuses a root element other than `ns`:`name`.
pub(crate) fn expect_root(root: &Element, ns: &str, name: &str) -> Result<(), XmlError> {
    if root.is(ns, name) {
        Ok(())
    } else {
        Err(XmlError::UnexpectedRoot {
            expected: QName::new(ns, name).to_string(),
            found: root.name.clone(),
        })
    }
}

/// Reads the names of the children of a DAV:prop (or DAV:include).
pub(crate) fn prop_names(prop: &Element) -> Vec<QName> {
    prop.elements().map(|e| e.name.clone()).collect()
}

/// Reads DAV:allprop / DAV:propname / DAV:prop among the children of `el`
/// (a propfind or a report). The first of the three wins; `None` when none
/// is present.
pub(crate) fn propfind_of(el: &Element) -> Option<PropFind> {
    for child in el.elements() {
        if child.name.ns != NS_DAV {
            continue;
        }
        match child.name.name.as_str() {
            "allprop" => {
                let include = el
                    .child(NS_DAV, "include")
                    .map(prop_names)
                    .unwrap_or_default();
                return Some(PropFind::AllProp { include });
            }
            "propname" => return Some(PropFind::PropName),
            "prop" => return Some(PropFind::Prop(prop_names(child))),
            _ => {}
        }
    }
    None
}

/// Parses a PROPFIND body. An empty (or whitespace-only) body means allprop
/// (RFC 4918 9.1).
pub fn parse_propfind(body: &[u8]) -> Result<PropFind, XmlError> {
    let Some(root) = parse_document(body)? else {
        return Ok(PropFind::AllProp {
            include: Vec::new(),
        });
    };
    expect_root(&root, NS_DAV, "propfind")?;
    propfind_of(&root).ok_or_else(|| {
        XmlError::Invalid("DAV:propfind needs DAV:prop, DAV:allprop or DAV:propname".into())
    })
}

fn prop_value(el: &Element, scope: &Scope) -> PropValue {
    PropValue {
        xml: standalone_xml(el, scope),
        text: el.text(),
        children: prop_names(el),
        comp_names: el
            .children_named(NS_CALDAV, "comp")
            .filter_map(|c| c.attr("name"))
            .map(|n| n.trim().to_ascii_uppercase())
            .collect(),
    }
}

/// Appends the operations of one DAV:set or DAV:remove (`action`).
fn push_ops(
    action: &Element,
    scope: &Scope,
    set: bool,
    ops: &mut Vec<PropPatchOp>,
) -> Result<(), XmlError> {
    let scope = scope.enter(action);
    let mut found = false;
    for prop in action.children_named(NS_DAV, "prop") {
        found = true;
        let scope = scope.enter(prop);
        for p in prop.elements() {
            ops.push(if set {
                PropPatchOp::Set(p.name.clone(), prop_value(p, &scope))
            } else {
                PropPatchOp::Remove(p.name.clone())
            });
        }
    }
    if found {
        Ok(())
    } else {
        Err(XmlError::Invalid(format!(
            "DAV:{} without DAV:prop",
            action.name.name
        )))
    }
}

/// DAV:propertyupdate with set/remove in document order (RFC 4918 9.2).
pub fn parse_propertyupdate(body: &[u8]) -> Result<Vec<PropPatchOp>, XmlError> {
    let root = parse_document(body)?
        .ok_or_else(|| XmlError::Malformed("PROPPATCH needs a request body".into()))?;
    expect_root(&root, NS_DAV, "propertyupdate")?;
    let scope = Scope::default().enter(&root);
    let mut ops = Vec::new();
    let mut actions = 0;
    for action in root.elements() {
        if action.is(NS_DAV, "set") {
            push_ops(action, &scope, true, &mut ops)?;
        } else if action.is(NS_DAV, "remove") {
            push_ops(action, &scope, false, &mut ops)?;
        } else {
            continue;
        }
        actions += 1;
    }
    if actions == 0 {
        return Err(XmlError::Invalid(
            "DAV:propertyupdate needs at least one DAV:set or DAV:remove".into(),
        ));
    }
    Ok(ops)
}

/// CALDAV:mkcalendar (RFC 4791 5.3.1) or DAV:mkcol (RFC 5689) body: the
/// `set` props, in document order. Returns the root name too so the caller
/// can check which one it got. An empty body gives an empty root name
/// (`QName::new("", "")`) and no operations.
pub fn parse_mkcol(body: &[u8]) -> Result<(QName, Vec<PropPatchOp>), XmlError> {
    let Some(root) = parse_document(body)? else {
        return Ok((QName::new("", ""), Vec::new()));
    };
    if !root.is(NS_CALDAV, "mkcalendar") && !root.is(NS_DAV, "mkcol") {
        return Err(XmlError::UnexpectedRoot {
            expected: format!("{} or {}", QName::caldav("mkcalendar"), QName::dav("mkcol")),
            found: root.name.clone(),
        });
    }
    let scope = Scope::default().enter(&root);
    let mut ops = Vec::new();
    for set in root.children_named(NS_DAV, "set") {
        push_ops(set, &scope, true, &mut ops)?;
    }
    Ok((root.name.clone(), ops))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caldav::xml::NS_APPLE;

    fn set(op: &PropPatchOp) -> (&QName, &PropValue) {
        match op {
            PropPatchOp::Set(n, v) => (n, v),
            PropPatchOp::Remove(n) => panic!("expected set, got remove {n}"),
        }
    }

    #[test]
    fn propfind_empty_is_allprop() {
        let empty = PropFind::AllProp {
            include: Vec::new(),
        };
        assert_eq!(parse_propfind(b"").unwrap(), empty);
        assert_eq!(parse_propfind(b"  \n").unwrap(), empty);
    }

    #[test]
    fn propfind_allprop_with_include() {
        let body = br#"<?xml version="1.0" encoding="utf-8" ?>
            <D:propfind xmlns:D="DAV:">
              <D:allprop/>
              <D:include><D:supported-live-property-set/><D:supported-report-set/></D:include>
            </D:propfind>"#;
        assert_eq!(
            parse_propfind(body).unwrap(),
            PropFind::AllProp {
                include: vec![
                    QName::dav("supported-live-property-set"),
                    QName::dav("supported-report-set")
                ]
            }
        );
    }

    #[test]
    fn propfind_propname() {
        let body = br#"<propfind xmlns="DAV:"><propname/></propfind>"#;
        assert_eq!(parse_propfind(body).unwrap(), PropFind::PropName);
    }

    #[test]
    fn propfind_prop_mixed_prefixes() {
        let body = br#"<?xml version="1.0"?>
            <A:propfind xmlns:A="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav">
              <A:prop xmlns="http://calendarserver.org/ns/">
                <A:displayname/>
                <getctag/>
                <cal:calendar-home-set/>
                <x:calendar-color xmlns:x="http://apple.com/ns/ical/"/>
                <none xmlns=""/>
                <!-- comment -->
              </A:prop>
            </A:propfind>"#;
        assert_eq!(
            parse_propfind(body).unwrap(),
            PropFind::Prop(vec![
                QName::dav("displayname"),
                QName::new("http://calendarserver.org/ns/", "getctag"),
                QName::caldav("calendar-home-set"),
                QName::new(NS_APPLE, "calendar-color"),
                QName::new("", "none"),
            ])
        );
    }

    #[test]
    fn propfind_refusals() {
        assert!(matches!(
            parse_propfind(br#"<D:propertyupdate xmlns:D="DAV:"/>"#),
            Err(XmlError::UnexpectedRoot { found, .. }) if found == QName::dav("propertyupdate")
        ));
        // Same local name, wrong namespace.
        assert!(matches!(
            parse_propfind(br#"<propfind><prop/></propfind>"#),
            Err(XmlError::UnexpectedRoot { .. })
        ));
        assert!(matches!(
            parse_propfind(br#"<D:propfind xmlns:D="DAV:"><D:other/></D:propfind>"#),
            Err(XmlError::Invalid(_))
        ));
        assert!(matches!(
            parse_propfind(br#"<D:propfind xmlns:D="DAV:"><D:prop>"#),
            Err(XmlError::Malformed(_))
        ));
    }

    #[test]
    fn proppatch_order_foreign_namespaces_and_lang() {
        let body = r#"<?xml version="1.0" encoding="utf-8" ?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://ns.example.com/standards/z39.50/">
  <D:set>
    <D:prop xml:lang="en">
      <Z:Authors>
        <Z:Author>Jim Whitehead</Z:Author>
        <Z:Author>Roy &amp; Fielding</Z:Author>
      </Z:Authors>
      <D:displayname>Ünïcødé 日本語 𝄞 😀</D:displayname>
    </D:prop>
  </D:set>
  <D:remove><D:prop><Z:Copyright-Owner/></D:prop></D:remove>
  <D:set><D:prop><foo xmlns="">bar</foo></D:prop></D:set>
</D:propertyupdate>"#;
        let ops = parse_propertyupdate(body.as_bytes()).unwrap();
        assert_eq!(ops.len(), 4);

        let z = "http://ns.example.com/standards/z39.50/";
        let (name, v) = set(&ops[0]);
        assert_eq!(name, &QName::new(z, "Authors"));
        assert_eq!(
            v.children,
            vec![QName::new(z, "Author"), QName::new(z, "Author")]
        );
        assert!(
            v.xml
                .contains(r#"xmlns:Z="http://ns.example.com/standards/z39.50/""#)
        );
        assert!(v.xml.contains(r#"xml:lang="en""#));
        assert!(v.xml.contains("Roy &amp; Fielding"));
        assert!(v.text.contains("Roy & Fielding"));
        // The stored value parses on its own and means the same thing.
        let again = parse_document(v.xml.as_bytes()).unwrap().unwrap();
        assert_eq!(again.name, QName::new(z, "Authors"));
        assert_eq!(prop_names(&again), v.children);
        assert_eq!(again.text(), v.text);

        let (name, v) = set(&ops[1]);
        assert_eq!(name, &QName::dav("displayname"));
        assert_eq!(v.text, "Ünïcødé 日本語 𝄞 😀");
        let again = parse_document(v.xml.as_bytes()).unwrap().unwrap();
        assert_eq!(again.text(), "Ünïcødé 日本語 𝄞 😀");

        assert_eq!(
            ops[2],
            PropPatchOp::Remove(QName::new(z, "Copyright-Owner"))
        );

        let (name, v) = set(&ops[3]);
        assert_eq!(name, &QName::new("", "foo"));
        assert_eq!(v.text, "bar");
        assert_eq!(v.xml, r#"<foo xmlns="">bar</foo>"#);
    }

    #[test]
    fn proppatch_refusals() {
        assert!(matches!(
            parse_propertyupdate(b""),
            Err(XmlError::Malformed(_))
        ));
        assert!(matches!(
            parse_propertyupdate(br#"<D:propertyupdate xmlns:D="DAV:"/>"#),
            Err(XmlError::Invalid(_))
        ));
        assert!(matches!(
            parse_propertyupdate(
                br#"<D:propertyupdate xmlns:D="DAV:"><D:set/></D:propertyupdate>"#
            ),
            Err(XmlError::Invalid(_))
        ));
        assert!(matches!(
            parse_propertyupdate(br#"<D:propfind xmlns:D="DAV:"/>"#),
            Err(XmlError::UnexpectedRoot { .. })
        ));
    }

    #[test]
    fn mkcalendar_body() {
        let body = br#"<?xml version="1.0" encoding="utf-8" ?>
   <C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
     <D:set>
       <D:prop>
         <D:displayname>Lisa's Events</D:displayname>
         <C:calendar-description xml:lang="en">Calendar restricted to events.</C:calendar-description>
         <C:supported-calendar-component-set>
           <C:comp name="VEVENT"/>
           <C:comp name="vtodo"/>
         </C:supported-calendar-component-set>
         <C:calendar-timezone><![CDATA[BEGIN:VCALENDAR
PRODID:-//Example Corp.//CalDAV Client//EN
VERSION:2.0
BEGIN:VTIMEZONE
TZID:US-Eastern
END:VTIMEZONE
END:VCALENDAR
]]></C:calendar-timezone>
       </D:prop>
     </D:set>
   </C:mkcalendar>"#;
        let (root, ops) = parse_mkcol(body).unwrap();
        assert_eq!(root, QName::caldav("mkcalendar"));
        assert_eq!(ops.len(), 4);
        let (n, v) = set(&ops[0]);
        assert_eq!(n, &QName::dav("displayname"));
        assert_eq!(v.text, "Lisa's Events");
        let (n, v) = set(&ops[1]);
        assert_eq!(n, &QName::caldav("calendar-description"));
        assert!(v.xml.contains(r#"xml:lang="en""#));
        let (n, v) = set(&ops[2]);
        assert_eq!(n, &QName::caldav("supported-calendar-component-set"));
        assert_eq!(v.comp_names, vec!["VEVENT", "VTODO"]);
        assert_eq!(
            v.children,
            vec![QName::caldav("comp"), QName::caldav("comp")]
        );
        let (n, v) = set(&ops[3]);
        assert_eq!(n, &QName::caldav("calendar-timezone"));
        assert!(v.text.starts_with("BEGIN:VCALENDAR\nPRODID"));
        assert!(v.text.contains("TZID:US-Eastern"));
    }

    #[test]
    fn extended_mkcol_body() {
        let body = br#"<?xml version="1.0" encoding="utf-8" ?>
<D:mkcol xmlns:D="DAV:" xmlns:E="urn:ietf:params:xml:ns:caldav">
  <D:set>
    <D:prop>
      <D:resourcetype><D:collection/><E:calendar/></D:resourcetype>
      <D:displayname>Work</D:displayname>
    </D:prop>
  </D:set>
</D:mkcol>"#;
        let (root, ops) = parse_mkcol(body).unwrap();
        assert_eq!(root, QName::dav("mkcol"));
        let (n, v) = set(&ops[0]);
        assert_eq!(n, &QName::dav("resourcetype"));
        assert_eq!(
            v.children,
            vec![QName::dav("collection"), QName::caldav("calendar")]
        );
        let (n, v) = set(&ops[1]);
        assert_eq!(n, &QName::dav("displayname"));
        assert_eq!(v.text, "Work");
    }

    #[test]
    fn mkcol_empty_and_refusals() {
        assert_eq!(parse_mkcol(b"").unwrap(), (QName::new("", ""), Vec::new()));
        assert!(matches!(
            parse_mkcol(br#"<D:propfind xmlns:D="DAV:"/>"#),
            Err(XmlError::UnexpectedRoot { .. })
        ));
        assert!(matches!(
            parse_mkcol(br#"<D:mkcol xmlns:D="DAV:"><D:set/></D:mkcol>"#),
            Err(XmlError::Invalid(_))
        ));
    }
}
