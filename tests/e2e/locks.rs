//! WebDAV locking (RFC 4918 class 2) as litmus, macOS Finder and davfs2 use
//! it, and DAV:getcontenttype of non-calendar resources.

use crate::util::*;

const DIR: &str = "/dav/calendars/admin/files/";

const EXCLUSIVE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>http://www.apple.com/webdav_fs/</D:href></D:owner></D:lockinfo>"#;

const SHARED: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<lockinfo xmlns="DAV:"><lockscope><shared/></lockscope><locktype><write/></locktype><owner>davfs2</owner></lockinfo>"#;

fn setup() -> Server {
    let s = Server::start();
    assert_eq!(s.req("MKCOL", DIR, &[], "").status, 201);
    s
}

fn put(s: &Server, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut h = vec![("Content-Type", "text/plain")];
    h.extend_from_slice(headers);
    s.req("PUT", path, &h, "hello").status
}

/// LOCK and return the token from the Lock-Token header (without <>).
fn lock(s: &Server, path: &str, body: &str, depth: &str, timeout: &str) -> (u16, String, String) {
    let r = s.req(
        "LOCK",
        path,
        &[
            ("Content-Type", "application/xml"),
            ("Depth", depth),
            ("Timeout", timeout),
        ],
        body,
    );
    let token = r
        .header("lock-token")
        .map(|t| t.trim_matches(|c| c == '<' || c == '>').to_string())
        .unwrap_or_default();
    (r.status, token, r.body)
}

#[test]
fn options_advertise_class_2() {
    let s = Server::start();
    let r = s.req("OPTIONS", DIR, &[], "");
    let dav = r.header("dav").unwrap();
    assert!(dav.starts_with("1, 2, "), "{dav}");
    let allow = r.header("allow").unwrap();
    assert!(
        allow.contains("LOCK") && allow.contains("UNLOCK"),
        "{allow}"
    );
}

#[test]
fn exclusive_lock_protects_writes_until_unlock() {
    let s = setup();
    let file = format!("{DIR}doc.txt");
    let other = format!("{DIR}other.txt");
    assert_eq!(put(&s, &file, &[]), 201);
    assert_eq!(put(&s, &other, &[]), 201);
    // Finder: exclusive, Depth 0, Timeout Second-3600.
    let (st, token, body) = lock(&s, &file, EXCLUSIVE, "0", "Second-3600");
    assert_eq!(st, 200, "{body}");
    assert!(token.starts_with("urn:uuid:"), "{token}");
    assert!(
        body.contains("<D:exclusive/>") && body.contains(&token),
        "{body}"
    );
    assert!(body.contains("http://www.apple.com/webdav_fs/"), "{body}");
    assert!(body.contains("<D:timeout>Second-3"), "{body}");

    // Without the token every write is refused with 423 naming the lock root.
    let r = s.req("PUT", &file, &[("Content-Type", "text/plain")], "x");
    assert_eq!(r.status, 423);
    assert!(r.body.contains("lock-token-submitted") && r.body.contains("/files/doc.txt"));
    assert_eq!(s.req("DELETE", &file, &[], "").status, 423);
    let moved = format!("{DIR}moved.txt");
    let dest = format!("http://{}{moved}", s.addr);
    assert_eq!(
        s.req("MOVE", &file, &[("Destination", &dest)], "").status,
        423
    );
    let onto = format!("http://{}{file}", s.addr);
    assert_eq!(
        s.req("COPY", &other, &[("Destination", &onto)], "").status,
        423
    );
    let pp = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:a xmlns:x="urn:x">1</x:a></D:prop></D:set></D:propertyupdate>"#;
    assert_eq!(s.req("PROPPATCH", &file, &[], pp).status, 423);
    // A second lock conflicts, shared or exclusive.
    assert_eq!(lock(&s, &file, SHARED, "0", "Second-60").0, 423);
    // Unrelated resources are untouched.
    assert_eq!(put(&s, &other, &[]), 204);
    assert_eq!(s.req("GET", &file, &[], "").body, "hello");

    // With the token (untagged as davfs2 sends it, tagged as neon does).
    let untagged = format!("(<{token}>)");
    assert_eq!(put(&s, &file, &[("If", &untagged)]), 204);
    let tagged = format!("<http://{}{file}> (<{token}>)", s.addr);
    assert_eq!(
        s.req("PROPPATCH", &file, &[("If", &tagged)], pp).status,
        207
    );
    // Lock discovery.
    let r = s.req(
        "PROPFIND",
        &file,
        &[("Depth", "0")],
        r#"<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/><D:supportedlock/></D:prop></D:propfind>"#,
    );
    assert_eq!(r.status, 207);
    assert!(
        r.body.contains(&token) && r.body.contains("<D:lockentry>"),
        "{}",
        r.body
    );
    // Locks do not follow a COPY.
    let copy = format!("http://{}{DIR}copy.txt", s.addr);
    assert_eq!(
        s.req("COPY", &file, &[("Destination", &copy)], "").status,
        201
    );
    assert_eq!(put(&s, &format!("{DIR}copy.txt"), &[]), 204);

    // UNLOCK: a token that names no lock gets 409, the right one 204.
    let r = s.req(
        "UNLOCK",
        &file,
        &[(
            "Lock-Token",
            "<urn:uuid:00000000-0000-4000-8000-000000000000>",
        )],
        "",
    );
    assert_eq!(r.status, 409);
    assert!(r.body.contains("lock-token-matches-request-uri"));
    let lt = format!("<{token}>");
    assert_eq!(
        s.req("UNLOCK", &other, &[("Lock-Token", &lt)], "").status,
        409
    );
    assert_eq!(
        s.req("UNLOCK", &file, &[("Lock-Token", &lt)], "").status,
        204
    );
    assert_eq!(put(&s, &file, &[]), 204);
    assert_eq!(s.req("DELETE", &file, &[], "").status, 204);
}

#[test]
fn if_header_conditions_without_locks() {
    let s = setup();
    let file = format!("{DIR}c.txt");
    assert_eq!(put(&s, &file, &[]), 201);
    let etag = s
        .req("HEAD", &file, &[], "")
        .header("etag")
        .unwrap()
        .to_string();
    // litmus fail_cond_put_unlocked / fail_cond_put / cond_put_with_not forms.
    assert_eq!(put(&s, &file, &[("If", "(<DAV:no-lock>)")]), 412);
    let no_lock = format!("(<DAV:no-lock> [{etag}])");
    assert_eq!(put(&s, &file, &[("If", &no_lock)]), 412);
    assert_eq!(put(&s, &file, &[("If", "(Not <DAV:no-lock>)")]), 204);
    let etag = s
        .req("HEAD", &file, &[], "")
        .header("etag")
        .unwrap()
        .to_string();
    assert_eq!(put(&s, &file, &[("If", &format!("([{etag}])"))]), 204);
    assert_eq!(put(&s, &file, &[("If", &format!("([{etag}])"))]), 412);
    assert_eq!(put(&s, &file, &[("If", "(<unterminated")]), 400);
    assert_eq!(s.req("GET", &file, &[], "").status, 200);
}

#[test]
fn shared_locks_and_refresh() {
    let s = setup();
    let file = format!("{DIR}s.txt");
    assert_eq!(put(&s, &file, &[]), 201);
    let (st, t1, _) = lock(&s, &file, SHARED, "0", "Second-100");
    assert_eq!(st, 200);
    let (st, t2, body) = lock(&s, &file, SHARED, "0", "Second-100");
    assert_eq!(st, 200, "{body}");
    assert_ne!(t1, t2);
    assert_eq!(lock(&s, &file, EXCLUSIVE, "0", "Second-100").0, 423);
    // One shared token is not enough while the other lock stands.
    assert_eq!(put(&s, &file, &[("If", &format!("(<{t1}>)"))]), 423);
    assert_eq!(
        put(&s, &file, &[("If", &format!("(<{t1}>) (<{t2}>)"))]),
        204
    );
    // Refresh: no body, the token in If, a new Timeout (Infinite is capped).
    let r = s.req(
        "LOCK",
        &file,
        &[("If", &format!("(<{t1}>)")), ("Timeout", "Infinite")],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains(&t1) && r.body.contains("Second-3600"),
        "{}",
        r.body
    );
    // A refresh with a token that is not a lock here fails.
    let r = s.req("LOCK", &file, &[("If", "(<urn:uuid:nope>)")], "");
    assert_eq!(r.status, 412);
    assert_eq!(
        s.req("UNLOCK", &file, &[("Lock-Token", &format!("<{t2}>"))], "")
            .status,
        204
    );
    assert_eq!(put(&s, &file, &[("If", &format!("(<{t1}>)"))]), 204);
}

#[test]
fn depth_infinity_collection_lock_and_unmapped_url() {
    let s = setup();
    let (st, token, body) = lock(&s, DIR, EXCLUSIVE, "infinity", "Second-600");
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("<D:depth>infinity</D:depth>"), "{body}");
    let member = format!("{DIR}new.txt");
    // A new member, a new sub-collection: 423 naming the collection.
    let r = s.req("PUT", &member, &[("Content-Type", "text/plain")], "x");
    assert_eq!(r.status, 423);
    assert!(r.body.contains("/dav/calendars/admin/files/"), "{}", r.body);
    assert_eq!(s.req("MKCOL", &format!("{DIR}sub/"), &[], "").status, 423);
    assert_eq!(s.req("DELETE", DIR, &[], "").status, 423);
    // The collection's token, tagged with the collection (neon) or not.
    let tagged = format!("<http://{}{DIR}> (<{token}>)", s.addr);
    assert_eq!(put(&s, &member, &[("If", &tagged)]), 201);
    // Indirect refresh through a member.
    let r = s.req("LOCK", &member, &[("If", &format!("(<{token}>)"))], "");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body
            .contains("<D:lockroot><D:href>/dav/calendars/admin/files/</D:href>")
    );
    assert_eq!(
        s.req(
            "UNLOCK",
            &member,
            &[("Lock-Token", &format!("<{token}>"))],
            ""
        )
        .status,
        204
    );

    // LOCK on an unmapped URL creates an empty resource (section 7.3).
    let fresh = format!("{DIR}fresh.txt");
    let (st, t, _) = lock(&s, &fresh, EXCLUSIVE, "0", "Second-60");
    assert_eq!(st, 201);
    let r = s.req("GET", &fresh, &[], "");
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    assert_eq!(put(&s, &fresh, &[]), 423);
    assert_eq!(put(&s, &fresh, &[("If", &format!("(<{t}>)"))]), 204);
    // DELETE with the token removes the lock with the resource.
    assert_eq!(
        s.req("DELETE", &fresh, &[("If", &format!("(<{t}>)"))], "")
            .status,
        204
    );
    assert_eq!(put(&s, &fresh, &[]), 201);
}

#[test]
fn locks_expire() {
    let s = setup();
    let file = format!("{DIR}e.txt");
    assert_eq!(put(&s, &file, &[]), 201);
    let (st, _, body) = lock(&s, &file, EXCLUSIVE, "0", "Second-1");
    assert_eq!(st, 200);
    assert!(body.contains("Second-1<"), "{body}");
    assert_eq!(put(&s, &file, &[]), 423);
    assert!(wait_until(5, || put(&s, &file, &[]) == 204));
}

#[test]
fn another_user_cannot_use_or_remove_a_lock() {
    let s = setup();
    s.add_user("bob", "bob@example.com", "bob-pass");
    let file = format!("{DIR}mine.txt");
    assert_eq!(put(&s, &file, &[]), 201);
    let (_, token, _) = lock(&s, &file, EXCLUSIVE, "0", "Second-600");
    let bob = Some(("bob", "bob-pass"));
    let lt = format!("<{token}>");
    let r = s.request("UNLOCK", &file, bob, &[("Lock-Token", &lt)], b"");
    assert_eq!(r.status, 403);
    let iff = format!("(<{token}>)");
    let r = s.request("PUT", &file, bob, &[("If", &iff)], b"stolen");
    assert_eq!(r.status, 403);
    // In bob's own home admin's token names no lock: the If header fails.
    let own = "/dav/calendars/bob/x.txt";
    let r = s.request("PUT", own, bob, &[("If", &iff)], b"x");
    assert_eq!(r.status, 412);
    assert_eq!(s.req("GET", &file, &[], "").body, "hello");
    assert_eq!(put(&s, &file, &[]), 423);
}

#[test]
fn getcontenttype_is_what_was_stored() {
    let s = setup();
    let file = format!("{DIR}notes.txt");
    let r = s.req(
        "PUT",
        &file,
        &[("Content-Type", "text/plain; charset=utf-8")],
        "notes",
    );
    assert_eq!(r.status, 201);
    let r = s.req("GET", &file, &[], "");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let r = s.req(
        "PROPFIND",
        &file,
        &[("Depth", "0")],
        r#"<D:propfind xmlns:D="DAV:"><D:prop><D:getcontenttype/></D:prop></D:propfind>"#,
    );
    assert!(
        r.body
            .contains("<D:getcontenttype>text/plain; charset=utf-8</D:getcontenttype>"),
        "{}",
        r.body
    );
    // Calendar objects stay text/calendar.
    let ics = format!("{CAL}a.ics");
    assert_eq!(
        s.put_ics(
            &ics,
            &event("a", "20250105T100000Z", "20250105T110000Z", "")
        )
        .status,
        201
    );
    let r = s.req("GET", &ics, &[], "");
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/calendar")
    );
    // Not a media type, or too long: 400 and nothing stored.
    let bad = format!("{DIR}bad.txt");
    let long = format!("text/{}", "x".repeat(300));
    for ct in ["plain", long.as_str()] {
        let r = s.req("PUT", &bad, &[("Content-Type", ct)], "x");
        assert_eq!(r.status, 400, "{ct}");
    }
    assert_eq!(s.req("GET", &bad, &[], "").status, 404);
}
