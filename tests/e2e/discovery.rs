//! Discovery (RFC 6764, 5397, 4791 section 6) and OPTIONS.

use crate::util::*;

#[test]
fn well_known_redirects_to_dav_root() {
    let s = Server::start();
    let r = s.request("GET", "/.well-known/caldav", None, &[], b"");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/dav/"));
}

#[test]
fn options_advertises_calendar_access() {
    let s = Server::start();
    let r = s.req("OPTIONS", CAL, &[], "");
    assert_eq!(r.status, 200);
    let dav = r.header("dav").unwrap();
    assert!(dav.contains("calendar-access") && dav.contains('1') && dav.contains('3'));
    assert!(r.header("allow").unwrap().contains("MKCALENDAR"));
}

#[test]
fn principal_discovery_chain() {
    let s = Server::start();
    let body = r#"<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>"#;
    let r = s.req("PROPFIND", "/dav/", &[("Depth", "0")], body);
    assert_eq!(r.status, 207);
    assert!(
        r.body
            .contains("<D:current-user-principal><D:href>/dav/principals/admin/</D:href>")
    );

    let body = r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><prop>
        <C:calendar-home-set/><C:calendar-user-address-set/><displayname/><principal-URL/>
        <resourcetype/></prop></propfind>"#;
    let r = s.req(
        "PROPFIND",
        "/dav/principals/admin/",
        &[("Depth", "0")],
        body,
    );
    assert_eq!(r.status, 207);
    assert!(
        r.body
            .contains("<C:calendar-home-set><D:href>/dav/calendars/admin/</D:href>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("mailto:admin@localhost"));
    assert!(r.body.contains("<D:principal/>"));

    let body = r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/"><prop>
        <resourcetype/><displayname/><C:supported-calendar-component-set/><CS:getctag/><sync-token/>
        <current-user-privilege-set/><supported-report-set/><C:max-resource-size/><C:supported-calendar-data/>
        <quota-available-bytes/><quota-used-bytes/><C:calendar-description/></prop></propfind>"#;
    let r = s.req("PROPFIND", "/dav/calendars/admin/", &[("Depth", "1")], body);
    assert_eq!(r.status, 207);
    assert!(
        r.body
            .contains("<D:href>/dav/calendars/admin/default/</D:href>")
    );
    assert!(r.body.contains("<C:calendar/>"));
    assert!(r.body.contains("<C:comp name=\"VEVENT\"/>"));
    assert!(r.body.contains("<C:calendar-query/>"));
    assert!(r.body.contains("<D:sync-collection/>"));
    assert!(r.body.contains("<D:write/>"));
    // calendar-description is not set: a 404 propstat, not an error.
    assert!(r.body.contains("HTTP/1.1 404 Not Found"));
}

#[test]
fn propfind_depth_infinity_refused() {
    let s = Server::start();
    let r = s.req("PROPFIND", CAL, &[("Depth", "infinity")], "");
    assert_eq!(r.status, 403);
    assert!(r.body.contains("propfind-finite-depth"));
}

#[test]
fn propname_and_allprop() {
    let s = Server::start();
    s.put_ics(
        &format!("{CAL}a.ics"),
        &event("a", "20250105T100000Z", "20250105T110000Z", ""),
    );
    let r = s.req(
        "PROPFIND",
        &format!("{CAL}a.ics"),
        &[("Depth", "0")],
        r#"<propfind xmlns="DAV:"><propname/></propfind>"#,
    );
    assert_eq!(r.status, 207);
    assert!(r.body.contains("<D:getetag/>"));
    let r = s.req("PROPFIND", &format!("{CAL}a.ics"), &[("Depth", "0")], "");
    assert!(r.body.contains("<D:getetag>"), "{}", r.body);
    assert!(r.body.contains("<D:getcontenttype>text/calendar"));
}
