//! PUT/GET/DELETE, preconditions, MKCALENDAR, PROPPATCH, COPY/MOVE, restarts.

use crate::util::*;

fn ev(uid: &str) -> String {
    event(uid, "20250105T100000Z", "20250105T110000Z", "")
}

#[test]
fn put_get_update_delete() {
    let s = Server::start();
    let path = format!("{CAL}one.ics");
    let r = s.put_ics(&path, &ev("one"));
    assert_eq!(r.status, 201);
    let etag1 = r.header("etag").unwrap().to_string();
    let r = s.req("GET", &path, &[], "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, ev("one"));
    assert_eq!(r.header("etag"), Some(etag1.as_str()));
    let r = s.req("HEAD", &path, &[], "");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());

    let updated = ev("one").replace("SUMMARY:Event one", "SUMMARY:Changed");
    let r = s.req(
        "PUT",
        &path,
        &[("Content-Type", "text/calendar"), ("If-Match", &etag1)],
        &updated,
    );
    assert_eq!(r.status, 204);
    let etag2 = r.header("etag").unwrap().to_string();
    assert_ne!(etag1, etag2);
    // A stale If-Match fails and changes nothing.
    let r = s.req(
        "PUT",
        &path,
        &[("Content-Type", "text/calendar"), ("If-Match", &etag1)],
        &ev("one"),
    );
    assert_eq!(r.status, 412);
    assert!(
        s.req("GET", &path, &[], "")
            .body
            .contains("SUMMARY:Changed")
    );
    // If-None-Match: * on an existing resource fails.
    let r = s.req(
        "PUT",
        &path,
        &[("Content-Type", "text/calendar"), ("If-None-Match", "*")],
        &ev("one"),
    );
    assert_eq!(r.status, 412);

    let r = s.req("DELETE", &path, &[("If-Match", "\"nope\"")], "");
    assert_eq!(r.status, 412);
    let r = s.req("DELETE", &path, &[], "");
    assert_eq!(r.status, 204);
    assert_eq!(s.req("GET", &path, &[], "").status, 404);
    assert_eq!(s.req("DELETE", &path, &[], "").status, 404);
}

#[test]
fn calendar_preconditions() {
    let s = Server::start();
    assert_eq!(s.put_ics(&format!("{CAL}a.ics"), &ev("same")).status, 201);
    let r = s.put_ics(&format!("{CAL}b.ics"), &ev("same"));
    assert_eq!(r.status, 403);
    assert!(
        r.body
            .contains("<C:no-uid-conflict><D:href>/dav/calendars/admin/default/a.ics</D:href>")
    );

    let r = s.put_ics(&format!("{CAL}bad.ics"), "this is not icalendar");
    assert_eq!(r.status, 403);
    assert!(r.body.contains("valid-calendar-data"), "{}", r.body);

    let r = s.req(
        "PUT",
        &format!("{CAL}c.txt"),
        &[("Content-Type", "text/plain")],
        "hello",
    );
    assert_eq!(r.status, 403);
    assert!(r.body.contains("supported-calendar-data"));

    let two_uids = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:a1\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250101T000000Z\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:a2\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let r = s.put_ics(&format!("{CAL}two.ics"), two_uids);
    assert_eq!(r.status, 403);

    // A calendar that accepts only VTODO refuses a VEVENT.
    let mk = r#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
        <D:displayname>Tasks</D:displayname>
        <C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>
        </D:prop></D:set></C:mkcalendar>"#;
    assert_eq!(
        s.req("MKCALENDAR", "/dav/calendars/admin/tasks/", &[], mk)
            .status,
        201
    );
    let r = s.put_ics("/dav/calendars/admin/tasks/e.ics", &ev("e"));
    assert_eq!(r.status, 403);
    assert!(r.body.contains("supported-calendar-component"));
    // Nothing was written by the refused requests.
    let r = s.req("PROPFIND", CAL, &[("Depth", "1")], "");
    assert_eq!(hrefs(&r.body).len(), 2, "{}", r.body);
}

#[test]
fn mkcalendar_and_proppatch() {
    let s = Server::start();
    let mk = r#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:A="http://apple.com/ns/ical/"><D:set><D:prop>
        <D:displayname>Work</D:displayname><C:calendar-description>Job</C:calendar-description>
        <A:calendar-color>#FF0000FF</A:calendar-color></D:prop></D:set></C:mkcalendar>"#;
    assert_eq!(
        s.req("MKCALENDAR", "/dav/calendars/admin/work/", &[], mk)
            .status,
        201
    );
    assert_eq!(
        s.req("MKCALENDAR", "/dav/calendars/admin/work/", &[], mk)
            .status,
        405
    );
    assert_eq!(
        s.req("MKCALENDAR", "/dav/calendars/admin/work/inner/", &[], "")
            .status,
        403
    );
    assert_eq!(
        s.req("MKCALENDAR", "/dav/calendars/admin/nope/x/", &[], "")
            .status,
        409
    );

    let patch = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:X="urn:x"><D:set><D:prop>
        <D:displayname>Work 2</D:displayname><X:custom><X:a>1</X:a></X:custom></D:prop></D:set>
        <D:remove><D:prop><C:calendar-description/></D:prop></D:remove></D:propertyupdate>"#;
    let r = s.req("PROPPATCH", "/dav/calendars/admin/work/", &[], patch);
    assert_eq!(r.status, 207);
    assert!(!r.body.contains("403"));
    let q = r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:X="urn:x"><D:prop>
        <D:displayname/><X:custom/><C:calendar-description/></D:prop></D:propfind>"#;
    let r = s.req(
        "PROPFIND",
        "/dav/calendars/admin/work/",
        &[("Depth", "0")],
        q,
    );
    assert!(r.body.contains("<D:displayname>Work 2</D:displayname>"));
    assert!(r.body.contains("urn:x"));
    assert!(r.body.contains("1</X:a>") || r.body.contains("1</x0:a>") || r.body.contains(">1<"));
    assert!(r.body.contains("404"));

    // A protected property makes the whole PROPPATCH fail (403 + 424).
    let patch = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getetag>x</D:getetag>
        <D:displayname>Never</D:displayname></D:prop></D:set></D:propertyupdate>"#;
    let r = s.req("PROPPATCH", "/dav/calendars/admin/work/", &[], patch);
    assert!(
        r.body.contains("403") && r.body.contains("424"),
        "{}",
        r.body
    );
    let r = s.req(
        "PROPFIND",
        "/dav/calendars/admin/work/",
        &[("Depth", "0")],
        q,
    );
    assert!(r.body.contains("Work 2"));

    assert_eq!(
        s.req("DELETE", "/dav/calendars/admin/work/", &[], "")
            .status,
        204
    );
    assert_eq!(
        s.req(
            "PROPFIND",
            "/dav/calendars/admin/work/",
            &[("Depth", "0")],
            ""
        )
        .status,
        404
    );
}

#[test]
fn copy_and_move_between_calendars() {
    let s = Server::start();
    assert_eq!(
        s.req("MKCALENDAR", "/dav/calendars/admin/other/", &[], "")
            .status,
        201
    );
    s.put_ics(&format!("{CAL}m.ics"), &ev("m"));
    let dest = format!("http://{}/dav/calendars/admin/other/m.ics", s.addr);
    let r = s.req(
        "COPY",
        &format!("{CAL}m.ics"),
        &[("Destination", &dest)],
        "",
    );
    assert_eq!(r.status, 201);
    let r = s.req(
        "COPY",
        &format!("{CAL}m.ics"),
        &[("Destination", &dest), ("Overwrite", "F")],
        "",
    );
    assert_eq!(r.status, 412);
    let dest2 = format!("http://{}/dav/calendars/admin/other/m2.ics", s.addr);
    // Same UID twice in one calendar is refused.
    let r = s.req(
        "COPY",
        &format!("{CAL}m.ics"),
        &[("Destination", &dest2)],
        "",
    );
    assert_eq!(r.status, 403);
    let r = s.req(
        "MOVE",
        "/dav/calendars/admin/other/m.ics",
        &[("Destination", &dest2)],
        "",
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        s.req("GET", "/dav/calendars/admin/other/m.ics", &[], "")
            .status,
        404
    );
    assert_eq!(
        s.req("GET", "/dav/calendars/admin/other/m2.ics", &[], "")
            .status,
        200
    );
    assert_eq!(s.req("GET", &format!("{CAL}m.ics"), &[], "").status, 200);
}

#[test]
fn plain_collections_hold_anything() {
    let s = Server::start();
    assert_eq!(
        s.req("MKCOL", "/dav/calendars/admin/files/", &[], "")
            .status,
        201
    );
    assert_eq!(
        s.req("MKCOL", "/dav/calendars/admin/files/", &[], "")
            .status,
        405
    );
    assert_eq!(
        s.req("MKCOL", "/dav/calendars/admin/no/such/", &[], "")
            .status,
        409
    );
    assert_eq!(
        s.req("MKCOL", "/dav/calendars/admin/files/x/", &[], "junk body")
            .status,
        415
    );
    let r = s.req(
        "PUT",
        "/dav/calendars/admin/files/a.txt",
        &[("Content-Type", "text/plain")],
        "hi",
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        s.req("GET", "/dav/calendars/admin/files/a.txt", &[], "")
            .body,
        "hi"
    );
    assert_eq!(
        s.req("MKCOL", "/dav/calendars/admin/files/sub/", &[], "")
            .status,
        201
    );
    let dest = format!("http://{}/dav/calendars/admin/copy/", s.addr);
    assert_eq!(
        s.req(
            "COPY",
            "/dav/calendars/admin/files/",
            &[("Destination", &dest)],
            ""
        )
        .status,
        201
    );
    assert_eq!(
        s.req("GET", "/dav/calendars/admin/copy/a.txt", &[], "")
            .body,
        "hi"
    );
    assert_eq!(
        s.req("DELETE", "/dav/calendars/admin/files/", &[], "")
            .status,
        204
    );
    assert_eq!(
        s.req("GET", "/dav/calendars/admin/files/a.txt", &[], "")
            .status,
        404
    );
}

#[test]
fn get_on_calendar_is_one_icalendar() {
    let s = Server::start();
    s.put_ics(&format!("{CAL}a.ics"), &ev("a"));
    s.put_ics(&format!("{CAL}b.ics"), &ev("b"));
    let r = s.req("GET", CAL, &[], "");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/calendar")
    );
    assert_eq!(r.body.matches("BEGIN:VCALENDAR").count(), 1);
    assert_eq!(r.body.matches("BEGIN:VEVENT").count(), 2);
}

#[test]
fn data_survives_restart_and_kill() {
    let mut s = Server::start();
    s.put_ics(&format!("{CAL}keep.ics"), &ev("keep"));
    s.restart();
    assert_eq!(s.req("GET", &format!("{CAL}keep.ics"), &[], "").status, 200);
    s.put_ics(&format!("{CAL}acked.ics"), &ev("acked"));
    s.kill_and_restart();
    assert_eq!(
        s.req("GET", &format!("{CAL}acked.ics"), &[], "").status,
        200
    );
    assert_eq!(s.req("GET", &format!("{CAL}keep.ics"), &[], "").status, 200);
}
