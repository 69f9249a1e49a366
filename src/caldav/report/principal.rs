//! The principal search reports of RFC 3744 section 9: which properties
//! can be searched, and a search over the principals of this server by
//! display name, user name or calendar user address.

use super::DavResult;
use crate::caldav::propfind::propstats;
use crate::caldav::props::Res;
use crate::caldav::xml::{Multistatus, NS_CALDAV, NS_DAV, PropFind, QName};
use crate::caldav::{Ctx, Resp, xml_response};
use hyper::StatusCode;

pub fn search_property_set() -> Resp {
    let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
<D:principal-search-property-set xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">\
<D:principal-search-property><D:prop><D:displayname/></D:prop>\
<D:description xml:lang=\"en\">Display name</D:description></D:principal-search-property>\
<D:principal-search-property><D:prop><C:calendar-user-address-set/></D:prop>\
<D:description xml:lang=\"en\">Calendar user address</D:description></D:principal-search-property>\
</D:principal-search-property-set>";
    xml_response(StatusCode::OK, body.to_string())
}

pub fn search(
    ctx: &Ctx<'_>,
    matches: &[(Vec<QName>, String)],
    props: &[QName],
    test_any: bool,
) -> DavResult<Resp> {
    let principals = ctx.app.store.principals()?;
    let mut ms = Multistatus::new();
    // An empty DAV:prop asks for nothing, but python-caldav (3.x) sends its
    // wanted properties outside DAV:prop and then needs these to list
    // principals; answering the usual directory properties serves it.
    let request = if props.is_empty() {
        PropFind::Prop(vec![
            QName::dav("displayname"),
            QName::caldav("calendar-home-set"),
            QName::caldav("calendar-user-address-set"),
        ])
    } else {
        PropFind::Prop(props.to_vec())
    };
    for p in &principals {
        let test = |(names, text): &(Vec<QName>, String)| {
            let needle = text.to_lowercase();
            names.iter().any(|n| {
                if n.is(NS_DAV, "displayname") {
                    p.displayname
                        .as_deref()
                        .unwrap_or(&p.name)
                        .to_lowercase()
                        .contains(&needle)
                        || p.name.to_lowercase().contains(&needle)
                } else if n.is(NS_CALDAV, "calendar-user-address-set") {
                    p.emails.iter().any(|e| e.to_lowercase().contains(&needle))
                } else {
                    false
                }
            })
        };
        let hit = if test_any {
            matches.iter().any(test)
        } else {
            matches.iter().all(test)
        };
        // No DAV:property-search at all lists every principal.
        if hit || matches.is_empty() {
            let res = Res::Principal(p);
            ms.response(&res.href(), &propstats(ctx, &res, &request, |_| None));
        }
    }
    Ok(xml_response(StatusCode::MULTI_STATUS, ms.finish()))
}
