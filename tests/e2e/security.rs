//! Authentication, authorization between users, and hostile bodies.

use crate::util::*;

#[test]
fn authentication_required() {
    let s = Server::start();
    let r = s.request("PROPFIND", CAL, None, &[("Depth", "0")], b"");
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
    let r = s.request(
        "PROPFIND",
        CAL,
        Some(("admin", "wrong")),
        &[("Depth", "0")],
        b"",
    );
    assert_eq!(r.status, 401);
}

#[test]
fn users_see_only_their_own_data() {
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    s.put_ics(
        &format!("{CAL}secret.ics"),
        &event("secret", "20250105T100000Z", "20250105T110000Z", ""),
    );
    let bob = Some(("bob", "bob-pass"));
    for (m, p) in [
        ("GET", format!("{CAL}secret.ics")),
        ("PROPFIND", CAL.to_string()),
        ("DELETE", format!("{CAL}secret.ics")),
        ("PROPFIND", "/dav/principals/admin/".to_string()),
        ("REPORT", CAL.to_string()),
    ] {
        let r = s.request(m, &p, bob, &[("Depth", "1")], b"");
        assert!(r.status == 403 || r.status == 404, "{m} {p}: {}", r.status);
        assert!(!r.body.contains("secret.ics") && !r.body.contains("UID:secret"));
    }
    let r = s.request(
        "PROPFIND",
        "/dav/calendars/bob/",
        bob,
        &[("Depth", "1")],
        b"",
    );
    assert_eq!(r.status, 207);
    assert!(r.body.contains("/dav/calendars/bob/default/"));
    // A multiget naming admin's object from bob's calendar returns nothing of it.
    let body = format!(
        r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop><D:href>{CAL}secret.ics</D:href></C:calendar-multiget>"#
    );
    let r = s.request(
        "REPORT",
        "/dav/calendars/bob/default/",
        bob,
        &[],
        body.as_bytes(),
    );
    assert!(!r.body.contains("UID:secret"));
    // Copying into another user's home is refused.
    let dest = format!("http://{}/dav/calendars/admin/default/x.ics", s.addr);
    let r = s.request(
        "COPY",
        "/dav/calendars/bob/default/x.ics",
        bob,
        &[("Destination", &dest)],
        b"",
    );
    assert!(r.status == 403 || r.status == 404);
}

#[test]
fn hostile_bodies_get_4xx_and_server_stays_up() {
    let s = Server::start();
    let lol = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&lol2;</D:displayname></D:prop></D:propfind>"#;
    let deep = format!(
        "<D:propfind xmlns:D=\"DAV:\">{}{}</D:propfind>",
        "<a>".repeat(5000),
        "</a>".repeat(5000)
    );
    let bodies: Vec<(&str, String)> = vec![
        ("PROPFIND", lol.to_string()),
        ("PROPFIND", deep),
        ("PROPFIND", "<D:propfind xmlns:D=\"DAV:\"><D:prop>".into()),
        ("PROPFIND", "\u{0}\u{1}garbage".into()),
        ("REPORT", "<C:calendar-query xmlns:C=\"urn:ietf:params:xml:ns:caldav\"/>".into()),
        ("REPORT", "<x/>".into()),
        ("PROPPATCH", "<D:propertyupdate xmlns:D=\"DAV:\"></D:propertyupdate>".into()),
        ("REPORT", "<C:calendar-query xmlns:C=\"urn:ietf:params:xml:ns:caldav\" xmlns:D=\"DAV:\"><C:filter><C:comp-filter name=\"VCALENDAR\"><C:time-range start=\"yesterday\"/></C:comp-filter></C:filter></C:calendar-query>".into()),
    ];
    for (m, b) in &bodies {
        let r = s.req(m, CAL, &[("Depth", "0")], b);
        assert!(
            (400..500).contains(&r.status),
            "{m} {}: {} {}",
            &b[..b.len().min(40)],
            r.status,
            r.body
        );
    }
    let ics_bad = [
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:2025-13-45\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250101T000000Z\r\nRRULE:FREQ=SOMETIMES\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        "\u{feff}\u{0}",
    ];
    for b in ics_bad {
        let r = s.put_ics(&format!("{CAL}bad.ics"), b);
        assert!((400..500).contains(&r.status), "{b:?}: {}", r.status);
    }
    // Too large a body.
    let big = "x".repeat(11 * 1024 * 1024);
    let r = s.req("PUT", "/dav/calendars/admin/big.txt", &[], &big);
    assert_eq!(r.status, 413);
    // Paths that try to escape.
    assert_eq!(
        s.req("GET", "/dav/calendars/admin/../bob/", &[], "").status,
        400
    );
    // Still alive, nothing written.
    let r = s.req("PROPFIND", CAL, &[("Depth", "1")], "");
    assert_eq!(r.status, 207);
    assert_eq!(hrefs(&r.body).len(), 1);
}

/// Regression: a 401 answered over an unread body closed the connection,
/// and clients that reuse connections (python-caldav) failed their retry.
#[test]
fn connection_survives_a_refused_request_with_a_body() {
    use std::io::{BufRead, BufReader, Read, Write};
    let s = Server::start();
    let stream = std::net::TcpStream::connect(&s.addr).unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let body =
        r#"<D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>"#;
    let read_response = |r: &mut BufReader<std::net::TcpStream>| -> u16 {
        let mut status = String::new();
        r.read_line(&mut status).unwrap();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            if h == "\r\n" {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut b = vec![0; len];
        r.read_exact(&mut b).unwrap();
        status.split(' ').nth(1).unwrap().parse().unwrap()
    };
    let req = format!(
        "PROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nDepth: 0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    w.write_all(req.as_bytes()).unwrap();
    assert_eq!(read_response(&mut r), 401);
    // Basic admin:admin-secret
    let req = format!(
        "PROPFIND /dav/ HTTP/1.1\r\nHost: x\r\nDepth: 0\r\nAuthorization: Basic YWRtaW46YWRtaW4tc2VjcmV0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    w.write_all(req.as_bytes()).unwrap();
    assert_eq!(read_response(&mut r), 207);
}
