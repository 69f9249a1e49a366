//! The schedule inbox and calendar scheduling properties as clients use
//! them (issue 9, points 3, 4 and 8): DAVx5 and Evolution poll the inbox
//! with sync-collection and calendar-query; Apple Calendar reads and sets
//! schedule-default-calendar-URL on the inbox (RFC 6638 section 9.2) and
//! schedule-calendar-transp on calendars (section 9.1).

use crate::util::*;

const BOB: Option<(&str, &str)> = Some(("bob", "bob-pass"));
const BOB_INBOX: &str = "/dav/calendars/bob/inbox/";

fn invite(uid: &str, start: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:{start}\r\nDTEND:{start}\r\nSUMMARY:Meeting {uid}\r\nORGANIZER;CN=Admin:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// Admin invites bob; wait until bob has the event in `calendar`.
fn invite_bob(s: &Server, uid: &str, calendar: &str) {
    let r = s.put_ics(&format!("{CAL}{uid}.ics"), &invite(uid, "20250310T100000Z"));
    assert_eq!(r.status, 201, "{}", r.body);
    let copy = format!("/dav/calendars/bob/{calendar}{uid}.ics");
    assert!(
        wait_until(10, || s.request("GET", &copy, BOB, &[], b"").status == 200),
        "{uid} did not arrive in {calendar}"
    );
}

fn bob(s: &Server, method: &str, path: &str, depth: &str, body: &str) -> Resp {
    let ct = ("Content-Type", "application/xml; charset=utf-8");
    s.request(method, path, BOB, &[("Depth", depth), ct], body.as_bytes())
}

fn sync(token: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/><D:getcontenttype/></D:prop></D:sync-collection>"#
    )
}

fn token_of(body: &str) -> String {
    body.split("<D:sync-token>")
        .nth(1)
        .and_then(|s| s.split("</D:sync-token>").next())
        .expect("a sync-token")
        .to_string()
}

#[test]
fn inbox_answers_sync_collection_and_calendar_query() {
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    // DAVx5 checks the inbox's reports before polling it.
    let r = bob(
        &s,
        "PROPFIND",
        BOB_INBOX,
        "0",
        r#"<D:propfind xmlns:D="DAV:"><D:prop><D:supported-report-set/></D:prop></D:propfind>"#,
    );
    assert!(r.body.contains("calendar-query"), "{}", r.body);
    assert!(r.body.contains("sync-collection"), "{}", r.body);

    invite_bob(&s, "inbox-1", "default/");
    let r = bob(&s, "REPORT", BOB_INBOX, "1", &sync(""));
    assert_eq!(r.status, 207, "{}", r.body);
    let first: Vec<String> = hrefs(&r.body)
        .into_iter()
        .filter(|h| h.ends_with(".ics"))
        .collect();
    assert_eq!(first.len(), 1, "{}", r.body);
    assert!(r.body.contains("method=REQUEST"), "{}", r.body);
    let token = token_of(&r.body);

    // Evolution: calendar-query for VEVENTs in a time range, with data.
    let query = |comp: &str, range: &str| {
        format!(
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="{comp}">{range}</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
        )
    };
    let r = bob(&s, "REPORT", BOB_INBOX, "1", &query("VEVENT", ""));
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(hrefs(&r.body), first, "{}", r.body);
    assert!(r.body.contains("METHOD:REQUEST"), "{}", r.body);
    let inside = r#"<C:time-range start="20250310T000000Z" end="20250311T000000Z"/>"#;
    let r = bob(&s, "REPORT", BOB_INBOX, "1", &query("VEVENT", inside));
    assert_eq!(hrefs(&r.body), first, "{}", r.body);
    let outside = r#"<C:time-range start="20260101T000000Z" end="20260102T000000Z"/>"#;
    let r = bob(&s, "REPORT", BOB_INBOX, "1", &query("VEVENT", outside));
    assert_eq!(r.status, 207);
    assert!(hrefs(&r.body).is_empty(), "{}", r.body);
    let r = bob(&s, "REPORT", BOB_INBOX, "1", &query("VTODO", ""));
    assert!(hrefs(&r.body).is_empty(), "{}", r.body);

    // A second invitation: the next sync lists only it; a processed
    // (deleted) message comes back as 404.
    invite_bob(&s, "inbox-2", "default/");
    let r = bob(&s, "REPORT", BOB_INBOX, "1", &sync(&token));
    assert_eq!(r.status, 207, "{}", r.body);
    let second = hrefs(&r.body);
    assert_eq!(second.len(), 1, "{}", r.body);
    assert_ne!(second, first);
    let token = token_of(&r.body);
    assert_eq!(s.request("DELETE", &first[0], BOB, &[], b"").status, 204);
    let r = bob(&s, "REPORT", BOB_INBOX, "1", &sync(&token));
    assert_eq!(hrefs(&r.body), first, "{}", r.body);
    assert!(r.body.contains("404"), "{}", r.body);
    // A token of another collection is refused, as on calendars.
    let cal_token =
        token_of(&bob(&s, "REPORT", "/dav/calendars/bob/default/", "1", &sync("")).body);
    let r = bob(&s, "REPORT", BOB_INBOX, "1", &sync(&cal_token));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("valid-sync-token"), "{}", r.body);
}

const DEFAULT_URL: &str = r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:schedule-default-calendar-URL/></D:prop></D:propfind>"#;

fn set_default(s: &Server, href: &str) -> Resp {
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><A:propertyupdate xmlns:A="DAV:"><A:set><A:prop><B:schedule-default-calendar-URL xmlns:B="urn:ietf:params:xml:ns:caldav"><A:href>{href}</A:href></B:schedule-default-calendar-URL></A:prop></A:set></A:propertyupdate>"#
    );
    bob(s, "PROPPATCH", BOB_INBOX, "0", &body)
}

fn default_of(s: &Server) -> String {
    let r = bob(s, "PROPFIND", BOB_INBOX, "0", DEFAULT_URL);
    assert_eq!(r.status, 207, "{}", r.body);
    let after = r
        .body
        .split("schedule-default-calendar-URL>")
        .nth(1)
        .unwrap_or("");
    hrefs(after).first().cloned().unwrap_or_default()
}

#[test]
fn schedule_default_calendar_url_is_read_set_and_survives_deletion() {
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    assert_eq!(default_of(&s), "/dav/calendars/bob/default/");
    let mk = |path: &str, comps: &str| {
        let body = format!(
            r#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:supported-calendar-component-set>{comps}</C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"#
        );
        let r = bob(&s, "MKCALENDAR", path, "0", &body);
        assert_eq!(r.status, 201, "{}", r.body);
    };
    mk("/dav/calendars/bob/work/", r#"<C:comp name="VEVENT"/>"#);
    mk("/dav/calendars/bob/tasks/", r#"<C:comp name="VTODO"/>"#);

    // Apple Calendar moves the default to "work".
    let r = set_default(&s, "/dav/calendars/bob/work/");
    assert_eq!(r.status, 207, "{}", r.body);
    assert!(r.body.contains("200"), "{}", r.body);
    assert_eq!(default_of(&s), "/dav/calendars/bob/work/");
    invite_bob(&s, "to-work", "work/");

    // Refused, with the precondition, and nothing changes: a calendar
    // without VEVENT, someone else's calendar, a non-calendar, nothing.
    for bad in [
        "/dav/calendars/bob/tasks/",
        "/dav/calendars/admin/default/",
        "/dav/calendars/bob/outbox/",
        "/dav/calendars/bob/nothing/",
    ] {
        let r = set_default(&s, bad);
        assert_eq!(r.status, 403, "{bad}: {}", r.body);
        assert!(
            r.body.contains("valid-schedule-default-calendar-URL"),
            "{}",
            r.body
        );
        assert_eq!(default_of(&s), "/dav/calendars/bob/work/");
    }

    // The default is deleted: the next invitation still lands, in default/.
    assert_eq!(
        s.request("DELETE", "/dav/calendars/bob/work/", BOB, &[], b"")
            .status,
        204
    );
    assert_eq!(default_of(&s), "/dav/calendars/bob/default/");
    invite_bob(&s, "after-delete", "default/");
    // Without default/ either, another calendar taking VEVENTs is used.
    assert_eq!(
        s.request("DELETE", "/dav/calendars/bob/default/", BOB, &[], b"")
            .status,
        204
    );
    mk("/dav/calendars/bob/home/", r#"<C:comp name="VEVENT"/>"#);
    assert_eq!(default_of(&s), "/dav/calendars/bob/home/");
    invite_bob(&s, "to-home", "home/");
}

#[test]
fn mailed_invitation_goes_to_the_default_calendar() {
    let s = Server::start_with_config(
        "[imip]\nlmtp_listen = \"127.0.0.1:0\"\ntrusted_authserv_ids = [\"mx.herald.test\"]\nauto_add_invitations = true\n",
    );
    let body = r#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#;
    let r = s.req("MKCALENDAR", "/dav/calendars/admin/invites/", &[], body);
    assert_eq!(r.status, 201, "{}", r.body);
    let set = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:schedule-default-calendar-URL><D:href>/dav/calendars/admin/invites/</D:href></C:schedule-default-calendar-URL></D:prop></D:set></D:propertyupdate>"#;
    let r = s.req("PROPPATCH", "/dav/calendars/admin/inbox/", &[], set);
    assert_eq!(r.status, 207, "{}", r.body);
    let mail = |id: &str, seq: u32| {
        format!(
            "Authentication-Results: mx.herald.test; dmarc=pass header.from=partner.example\r\nFrom: <frank@partner.example>\r\nTo: admin@localhost\r\nMessage-ID: <{id}>\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; method=REQUEST; charset=UTF-8\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:mailed-1\r\nDTSTAMP:20250103T000000Z\r\nSEQUENCE:{seq}\r\nDTSTART:20250412T100000Z\r\nDTEND:20250412T110000Z\r\nSUMMARY:Seq {seq}\r\nORGANIZER:mailto:frank@partner.example\r\nATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:admin@localhost\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    };
    let cfg = s.dir.path().join("herald.toml");
    let ingest = |m: &str| {
        let (ok, out, err) = s.cli(&["ingest", "--config", cfg.to_str().unwrap()], m);
        assert!(ok, "{out} {err}");
    };
    ingest(&mail("m1@partner.example", 1));
    let there = "/dav/calendars/admin/invites/mailed-1.ics";
    let r = s.req("GET", there, &[], "");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        s.req("GET", &format!("{CAL}mailed-1.ics"), &[], "").status,
        404
    );
    // An update goes to the calendar holding the event.
    ingest(&mail("m2@partner.example", 2));
    assert!(s.req("GET", there, &[], "").body.contains("Seq 2"));
    assert_eq!(
        s.req("GET", &format!("{CAL}mailed-1.ics"), &[], "").status,
        404
    );
}

const TRANSP: &str = r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:schedule-calendar-transp/></D:prop></D:propfind>"#;

fn set_transp(s: &Server, path: &str, value: &str) -> Resp {
    let body = format!(
        r#"<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:schedule-calendar-transp>{value}</C:schedule-calendar-transp></D:prop></D:set></D:propertyupdate>"#
    );
    bob(s, "PROPPATCH", path, "0", &body)
}

/// Admin asks the outbox for bob's free-busy on 2025-03-10.
fn bobs_busy(s: &Server) -> String {
    let fb = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:fb-1\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250310T000000Z\r\nDTEND:20250311T000000Z\r\nORGANIZER:mailto:admin@localhost\r\nATTENDEE:mailto:bob@example.com\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    let r = s.req(
        "POST",
        "/dav/calendars/admin/outbox/",
        &[("Content-Type", "text/calendar")],
        fb,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("2.0;Success"), "{}", r.body);
    r.body
}

#[test]
fn schedule_calendar_transp_is_kept_and_honoured_by_free_busy() {
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    // Default: opaque.
    let r = bob(&s, "PROPFIND", "/dav/calendars/bob/default/", "0", TRANSP);
    assert!(r.body.contains("<C:opaque/>"), "{}", r.body);
    // Apple Calendar creates a "holidays" calendar as transparent.
    let mk = r#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>Holidays</D:displayname><C:schedule-calendar-transp><C:transparent/></C:schedule-calendar-transp></D:prop></D:set></C:mkcalendar>"#;
    let holidays = "/dav/calendars/bob/holidays/";
    assert_eq!(bob(&s, "MKCALENDAR", holidays, "0", mk).status, 201);
    let r = bob(&s, "PROPFIND", holidays, "0", TRANSP);
    assert!(r.body.contains("<C:transparent/>"), "{}", r.body);
    // Extended MKCOL (RFC 5689) too.
    let mkcol = r#"<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:resourcetype><D:collection/><C:calendar/></D:resourcetype><C:schedule-calendar-transp><C:transparent/></C:schedule-calendar-transp></D:prop></D:set></D:mkcol>"#;
    let other = "/dav/calendars/bob/other/";
    assert_eq!(bob(&s, "MKCOL", other, "0", mkcol).status, 201);
    let r = bob(&s, "PROPFIND", other, "0", TRANSP);
    assert!(r.body.contains("<C:transparent/>"), "{}", r.body);

    let busy = event("busy-1", "20250310T090000Z", "20250310T100000Z", "");
    let r = s.request(
        "PUT",
        &format!("{holidays}busy.ics"),
        BOB,
        &[("Content-Type", "text/calendar")],
        busy.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // Transparent: bob is free.
    assert!(!bobs_busy(&s).contains("20250310T090000Z/20250310T100000Z"));

    // A bad value is refused and changes nothing.
    let r = set_transp(&s, holidays, "<C:sometimes/>");
    assert_eq!(r.status, 207);
    assert!(r.body.contains("403"), "{}", r.body);
    let r = bob(&s, "PROPFIND", holidays, "0", TRANSP);
    assert!(r.body.contains("<C:transparent/>"), "{}", r.body);

    // Opaque again: the event makes bob busy.
    let r = set_transp(&s, holidays, "<C:opaque/>");
    assert_eq!(r.status, 207);
    assert!(r.body.contains("200"), "{}", r.body);
    let r = bob(&s, "PROPFIND", holidays, "0", TRANSP);
    assert!(r.body.contains("<C:opaque/>"), "{}", r.body);
    assert!(bobs_busy(&s).contains("20250310T090000Z/20250310T100000Z"));
}

/// What iOS sends on the calendar home: sync-level infinite, Depth infinity.
fn home_sync(s: &Server, token: &str, level: &str, depth: &str, limit: &str) -> Resp {
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><A:sync-collection xmlns:A="DAV:"><A:sync-token>{token}</A:sync-token><A:sync-level>{level}</A:sync-level>{limit}<A:prop><A:getetag/><A:resourcetype/><A:displayname/></A:prop></A:sync-collection>"#
    );
    bob(s, "REPORT", "/dav/calendars/bob/", depth, &body)
}

/// (href, status) of each DAV:response: 200 when it has properties.
fn entries(body: &str) -> Vec<(String, u16)> {
    body.split("<D:response>")
        .skip(1)
        .map(|r| {
            let href = hrefs(r)[0].clone();
            let status = if r.contains("<D:propstat>") {
                200
            } else if r.contains(" 404 ") {
                404
            } else if r.contains(" 507 ") {
                507
            } else {
                0
            };
            (href, status)
        })
        .collect()
}

fn sorted(mut v: Vec<(String, u16)>) -> Vec<(String, u16)> {
    v.sort();
    v
}

#[test]
fn home_sync_collection_at_infinite_depth() {
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    let home = "/dav/calendars/bob/";
    let put = |path: &str, uid: &str| {
        let ics = event(uid, "20250310T090000Z", "20250310T100000Z", "");
        let r = s.request(
            "PUT",
            &format!("{home}{path}"),
            BOB,
            &[("Content-Type", "text/calendar")],
            ics.as_bytes(),
        );
        assert!(r.status == 201 || r.status == 204, "{}", r.body);
    };
    put("default/ev1.ics", "ev1");
    let r = home_sync(&s, "", "infinite", "infinity", "");
    assert_eq!(r.status, 207, "{}", r.body);
    let initial = sorted(entries(&r.body));
    let ok = |p: &str| (format!("{home}{p}"), 200);
    let gone = |p: &str| (format!("{home}{p}"), 404);
    assert_eq!(
        initial,
        vec![
            ok("default/"),
            ok("default/ev1.ics"),
            ok("inbox/"),
            ok("outbox/")
        ],
        "{}",
        r.body
    );
    let t1 = token_of(&r.body);
    // Depth 1 keeps to the home's own members.
    let r = home_sync(&s, "", "1", "1", "");
    assert_eq!(
        sorted(entries(&r.body)),
        vec![ok("default/"), ok("inbox/"), ok("outbox/")],
        "{}",
        r.body
    );
    // The tree token is not a token of the home alone.
    let r = home_sync(&s, &t1, "1", "1", "");
    assert_eq!(r.status, 403, "{}", r.body);

    // Changes inside calendars, a new calendar, a property change, a removal.
    put("default/ev2.ics", "ev2");
    let mk = r#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#;
    assert_eq!(
        bob(&s, "MKCALENDAR", &format!("{home}work/"), "0", mk).status,
        201
    );
    put("work/w1.ics", "w1");
    let rename = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>Personal</D:displayname></D:prop></D:set></D:propertyupdate>"#;
    let r = bob(&s, "PROPPATCH", &format!("{home}default/"), "0", rename);
    assert_eq!(r.status, 207, "{}", r.body);
    let r = s.request("DELETE", &format!("{home}default/ev1.ics"), BOB, &[], b"");
    assert_eq!(r.status, 204);
    // "infinity" is taken for "infinite".
    let r = home_sync(&s, &t1, "infinity", "infinity", "");
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(
        sorted(entries(&r.body)),
        vec![
            ok("default/"),
            gone("default/ev1.ics"),
            ok("default/ev2.ics"),
            ok("work/"),
            ok("work/w1.ics"),
        ],
        "{}",
        r.body
    );
    assert!(r.body.contains("Personal"), "{}", r.body);
    let t2 = token_of(&r.body);
    // Nothing new: nothing reported.
    let r = home_sync(&s, &t2, "infinite", "infinity", "");
    assert!(entries(&r.body).is_empty(), "{}", r.body);
    // A deleted calendar is a 404.
    let r = s.request("DELETE", &format!("{home}work/"), BOB, &[], b"");
    assert_eq!(r.status, 204);
    let r = home_sync(&s, &t2, "infinite", "infinity", "");
    assert_eq!(entries(&r.body), vec![gone("work")], "{}", r.body);

    // DAV:limit: the list is cut with a 507 and the rest follows.
    let mut all = Vec::new();
    let mut token = String::new();
    let limit = "<A:limit><A:nresults>2</A:nresults></A:limit>";
    for _ in 0..10 {
        let r = home_sync(&s, &token, "infinite", "infinity", limit);
        assert_eq!(r.status, 207, "{}", r.body);
        let got = entries(&r.body);
        let cut = got.iter().any(|(_, st)| *st == 507);
        // A later page may report the tombstone of the deleted calendar;
        // a 404 for something the client never saw removes nothing.
        all.extend(
            got.into_iter()
                .filter(|(h, st)| *st != 507 && !(*st == 404 && h.ends_with("/work"))),
        );
        token = token_of(&r.body);
        if !cut {
            break;
        }
    }
    assert_eq!(
        sorted(all),
        vec![
            ok("default/"),
            ok("default/ev2.ics"),
            ok("inbox/"),
            ok("outbox/")
        ]
    );
    let r = home_sync(
        &s,
        "http://herald.invalid/sync/999-1;5-2",
        "infinite",
        "infinity",
        "",
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("valid-sync-token"), "{}", r.body);
}
