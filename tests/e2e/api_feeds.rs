//! Organizer principals, API tokens and calendar feeds, end to end: the
//! real CLI (`herald organizer/token/feed`), bearer tokens on `/api/v1`,
//! `POST/GET/DELETE /api/v1/feeds`, and the secret `/feeds/{token}.ics`
//! URL with its ETag and 304; plus the OpenAPI document.

use crate::util::{CAL, Server, event};
use serde_json::Value;

fn last_line(s: &str) -> String {
    s.lines().last().unwrap_or_default().trim().to_string()
}

/// `herald organizer add NAME` (with a CalDAV password) and a token for it.
fn organizer_with_token(s: &Server, name: &str) -> String {
    let email = format!("{name}@example.com");
    let (ok, out, err) = s.cli(
        &[
            "organizer",
            "add",
            name,
            "--email",
            &email,
            "--password-stdin",
        ],
        "pw-organizer",
    );
    assert!(ok, "organizer add: {out} {err}");
    let (ok, out, err) = s.cli(&["token", "create", "--principal", name], "");
    assert!(ok, "token create: {out} {err}");
    last_line(&out)
}

fn api(s: &Server, method: &str, path: &str, token: Option<&str>, body: &str) -> crate::util::Resp {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(b) = &bearer {
        headers.push(("Authorization", b));
    }
    if !body.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    s.request(method, path, None, &headers, body.as_bytes())
}

fn json(r: &crate::util::Resp) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.body))
}

fn assert_problem(r: &crate::util::Resp, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let p = json(r);
    assert_eq!(p["status"], status);
    assert!(p["type"].as_str().unwrap().starts_with("/errors/"), "{p}");
    p
}

/// GET (or HEAD) a feed without credentials.
fn feed(s: &Server, method: &str, path: &str, inm: Option<&str>) -> crate::util::Resp {
    let headers: Vec<(&str, &str)> = inm.map(|e| ("If-None-Match", e)).into_iter().collect();
    s.request(method, path, None, &headers, b"")
}

/// The path part of a feed URL the API returned.
fn url_path(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap();
    format!("/{}", rest.split_once('/').unwrap().1)
}

#[test]
fn tokens_from_the_cli_authenticate_until_revoked_and_are_stored_hashed() {
    let mut s = Server::start();
    let token = organizer_with_token(&s, "shop");
    let secret = token.strip_prefix("hrld_").expect("hrld_ prefix");
    // >= 32 random bytes: 43 unpadded base64url characters.
    assert!(secret.len() >= 43, "{token}");
    assert!(
        secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    let other = {
        let (ok, out, _) = s.cli(&["token", "create", "--principal", "shop"], "");
        assert!(ok);
        last_line(&out)
    };
    assert_ne!(token, other);

    let r = api(&s, "GET", "/api/v1/principal", Some(&token), "");
    assert_eq!(r.status, 200, "{}", r.body);
    let me = json(&r);
    assert_eq!(me["name"], "shop");
    assert_eq!(me["organizer"], true);
    assert_eq!(me["emails"][0], "shop@example.com");
    let id = me["token_id"].as_str().unwrap().to_string();

    let (ok, list, _) = s.cli(&["token", "list"], "");
    assert!(ok);
    assert!(list.contains(&id) && list.contains("shop"), "{list}");
    assert!(
        !list.contains(secret) && !list.contains(&other[5..]),
        "{list}"
    );

    let (ok, out, err) = s.cli(&["token", "revoke", &id], "");
    assert!(ok, "{out} {err}");
    let r = api(&s, "GET", "/api/v1/principal", Some(&token), "");
    assert_problem(&r, 401);
    assert!(
        r.header("www-authenticate").unwrap().starts_with("Bearer"),
        "{:?}",
        r.headers
    );
    // The other token still works; an unknown one does not.
    assert_eq!(
        api(&s, "GET", "/api/v1/principal", Some(&other), "").status,
        200
    );
    let forged = format!("hrld_{}", "A".repeat(43));
    assert_problem(&api(&s, "GET", "/api/v1/principal", Some(&forged), ""), 401);
    let (ok, _, _) = s.cli(&["token", "revoke", &id], "");
    assert!(!ok, "revoking twice must fail");

    // A feed token made by the server itself is stored hashed too.
    let r = api(&s, "POST", "/api/v1/feeds", Some(&other), "{}");
    assert_eq!(r.status, 201, "{}", r.body);
    let feed_url = json(&r)["url"].as_str().unwrap().to_string();
    let feed_token = url_path(&feed_url)
        .trim_start_matches("/feeds/")
        .trim_end_matches(".ics")
        .to_string();
    assert!(feed_token.len() >= 43, "{feed_token}");
    s.stop(false);
    let mut found_db = false;
    for entry in std::fs::read_dir(s.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "redb") {
            found_db = true;
            let bytes = std::fs::read(&path).unwrap();
            for t in [&token, &other, &feed_token] {
                assert!(
                    !bytes.windows(t.len()).any(|w| w == t.as_bytes()),
                    "{t} found in {}",
                    path.display()
                );
            }
        }
    }
    assert!(found_db, "no .redb file in {}", s.data_dir().display());
}

#[test]
fn a_cli_feed_serves_the_calendar_with_etag_and_304_until_revoked() {
    let s = Server::start();
    for (uid, start) in [
        ("feed-a", "20260310T100000Z"),
        ("feed-b", "20260311T100000Z"),
    ] {
        let end = start.replace("T10", "T11");
        let r = s.put_ics(&format!("{CAL}{uid}.ics"), &event(uid, start, &end, ""));
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let (ok, out, err) = s.cli(
        &["feed", "create", "--user", "admin", "--calendar", "default"],
        "",
    );
    assert!(ok, "{out} {err}");
    let path = last_line(&out);
    assert!(
        path.starts_with("/feeds/hfd_") && path.ends_with(".ics"),
        "{path}"
    );

    let r = feed(&s, "GET", &path, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("text/calendar; charset=utf-8")
    );
    assert!(r.header("cache-control").unwrap().contains("private"));
    assert_eq!(r.body.matches("BEGIN:VCALENDAR").count(), 1, "{}", r.body);
    assert!(r.body.contains("UID:feed-a") && r.body.contains("UID:feed-b"));
    assert_eq!(r.body.matches("BEGIN:VEVENT").count(), 2);
    let etag = r.header("etag").unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong: {etag}"
    );

    let head = feed(&s, "HEAD", &path, None);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    assert!(head.body.is_empty());

    let r = feed(&s, "GET", &path, Some(&etag));
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(feed(&s, "GET", &path, Some("\"other\"")).status, 200);

    // A new member, then a changed and a removed one: a new ETag each time.
    let r = s.put_ics(
        &format!("{CAL}feed-c.ics"),
        &event("feed-c", "20260312T100000Z", "20260312T110000Z", ""),
    );
    assert_eq!(r.status, 201);
    let r = feed(&s, "GET", &path, Some(&etag));
    assert_eq!(r.status, 200);
    assert!(r.body.contains("UID:feed-c"));
    let etag2 = r.header("etag").unwrap().to_string();
    assert_ne!(etag, etag2);
    let r = s.put_ics(
        &format!("{CAL}feed-a.ics"),
        &event(
            "feed-a",
            "20260310T100000Z",
            "20260310T110000Z",
            "LOCATION:Moved\r\n",
        ),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = feed(&s, "GET", &path, Some(&etag2));
    assert_eq!(r.status, 200);
    assert!(r.body.contains("LOCATION:Moved"));
    let etag3 = r.header("etag").unwrap().to_string();
    assert_eq!(
        s.req("DELETE", &format!("{CAL}feed-b.ics"), &[], "").status,
        204
    );
    let r = feed(&s, "GET", &path, Some(&etag3));
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("UID:feed-b"));
    assert_ne!(r.header("etag").unwrap(), etag3);

    // Not writable, and a wrong or revoked token tells nothing.
    assert_eq!(feed(&s, "PUT", &path, None).status, 405);
    let wrong = format!("/feeds/hfd_{}.ics", "A".repeat(43));
    let r = feed(&s, "GET", &wrong, None);
    assert_eq!(r.status, 404);
    let (ok, list, _) = s.cli(&["feed", "list"], "");
    assert!(ok);
    let id = list.split_whitespace().next().unwrap().to_string();
    assert!(
        !list.contains(
            path.trim_start_matches("/feeds/hfd_")
                .trim_end_matches(".ics")
        )
    );
    let (ok, out, err) = s.cli(&["feed", "revoke", &id], "");
    assert!(ok, "{out} {err}");
    let gone = feed(&s, "GET", &path, None);
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.body,
        r#"not found
"#
    );
    assert_eq!(feed(&s, "GET", &path, Some(&etag)).status, 404);
}

#[test]
fn api_feeds_belong_to_their_principal() {
    let s = Server::start();
    let x = organizer_with_token(&s, "xshop");
    let y = organizer_with_token(&s, "yshop");
    // Events in X's calendar, over CalDAV with X's password.
    let r = s.request(
        "PUT",
        "/dav/calendars/xshop/default/one.ics",
        Some(("xshop", "pw-organizer")),
        &[("Content-Type", "text/calendar")],
        event("x-one", "20260310T100000Z", "20260310T110000Z", "").as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.body);

    // Unauthenticated: 401 problems, nothing made.
    assert_problem(&api(&s, "GET", "/api/v1/feeds", None, ""), 401);
    assert_problem(&api(&s, "POST", "/api/v1/feeds", None, "{}"), 401);
    assert_problem(&api(&s, "GET", "/api/v1/principal", None, ""), 401);
    assert_problem(&api(&s, "DELETE", "/api/v1/feeds/abc", None, ""), 401);

    // Bad bodies name the field and make nothing.
    let p = assert_problem(
        &api(
            &s,
            "POST",
            "/api/v1/feeds",
            Some(&x),
            r#"{"calendar":"nope"}"#,
        ),
        422,
    );
    assert_eq!(p["field"], "calendar");
    let p = assert_problem(
        &api(
            &s,
            "POST",
            "/api/v1/feeds",
            Some(&x),
            r#"{"calendar":"a/b"}"#,
        ),
        422,
    );
    assert_eq!(p["field"], "calendar");
    let p = assert_problem(
        &api(
            &s,
            "POST",
            "/api/v1/feeds",
            Some(&x),
            r#"{"calendar":"inbox"}"#,
        ),
        422,
    );
    assert_eq!(p["field"], "calendar");
    let r = api(
        &s,
        "POST",
        "/api/v1/feeds",
        Some(&x),
        r#"{"calender":"default"}"#,
    );
    assert!(r.status == 400 || r.status == 422, "{}", r.body);
    assert!(json(&r)["detail"].as_str().unwrap().contains("calender"));
    assert_problem(&api(&s, "POST", "/api/v1/feeds", Some(&x), "{"), 400);
    let r = s.request(
        "POST",
        "/api/v1/feeds",
        None,
        &[
            ("Authorization", &format!("Bearer {x}")),
            ("Content-Type", "text/plain"),
        ],
        b"{}",
    );
    assert_problem(&r, 415);
    let listed = json(&api(&s, "GET", "/api/v1/feeds", Some(&x), ""));
    assert_eq!(listed["feeds"].as_array().unwrap().len(), 0, "{listed}");

    // X makes a feed of its default calendar (no calendar named).
    let r = api(&s, "POST", "/api/v1/feeds", Some(&x), "{}");
    assert_eq!(r.status, 201, "{}", r.body);
    let made = json(&r);
    let id = made["id"].as_str().unwrap().to_string();
    assert_eq!(made["calendar"], "default");
    let url = made["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("http://{}/feeds/hfd_", s.addr)),
        "{url}"
    );
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/feeds/{id}").as_str())
    );
    let path = url_path(url);
    let r = feed(&s, "GET", &path, None);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("UID:x-one"), "{}", r.body);
    // Named explicitly, too.
    let r = api(
        &s,
        "POST",
        "/api/v1/feeds",
        Some(&x),
        r#"{"calendar":"default"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let second = json(&r)["id"].as_str().unwrap().to_string();

    // X lists both, without tokens; Y sees none of them.
    let r = api(&s, "GET", "/api/v1/feeds", Some(&x), "");
    assert_eq!(r.status, 200);
    let mut ids: Vec<String> = json(&r)["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let mut want = vec![id.clone(), second.clone()];
    want.sort();
    assert_eq!(ids, want);
    assert!(!r.body.contains("hfd_"), "{}", r.body);
    let r = api(&s, "GET", "/api/v1/feeds", Some(&y), "");
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)["feeds"].as_array().unwrap().len(), 0, "{}", r.body);
    assert_eq!(
        api(&s, "GET", &format!("/api/v1/feeds/{id}"), Some(&x), "").status,
        200
    );

    // Y cannot see or revoke X's feed: 404, and the feed still serves.
    assert_problem(
        &api(&s, "GET", &format!("/api/v1/feeds/{id}"), Some(&y), ""),
        404,
    );
    assert_problem(
        &api(&s, "DELETE", &format!("/api/v1/feeds/{id}"), Some(&y), ""),
        404,
    );
    assert_eq!(feed(&s, "GET", &path, None).status, 200);

    // X revokes it: the URL is gone, the other feed stays.
    let r = api(&s, "DELETE", &format!("/api/v1/feeds/{id}"), Some(&x), "");
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(feed(&s, "GET", &path, None).status, 404);
    assert_problem(
        &api(&s, "DELETE", &format!("/api/v1/feeds/{id}"), Some(&x), ""),
        404,
    );
    let r = api(&s, "GET", "/api/v1/feeds", Some(&x), "");
    assert_eq!(json(&r)["feeds"][0]["id"], second.as_str());
    assert_eq!(json(&r)["feeds"].as_array().unwrap().len(), 1);
}

#[test]
fn a_deleted_principal_takes_its_tokens_and_feeds_along() {
    let s = Server::start();
    let token = organizer_with_token(&s, "gone");
    let r = api(&s, "POST", "/api/v1/feeds", Some(&token), "{}");
    assert_eq!(r.status, 201, "{}", r.body);
    let path = url_path(json(&r)["url"].as_str().unwrap());
    assert_eq!(feed(&s, "GET", &path, None).status, 200);
    let (ok, out, err) = s.cli(&["user", "delete", "gone"], "");
    assert!(ok, "{out} {err}");
    // Even when the name is given to someone new.
    let (ok, out, err) = s.cli(
        &["organizer", "add", "gone", "--email", "new@example.com"],
        "",
    );
    assert!(ok, "{out} {err}");
    assert_problem(&api(&s, "GET", "/api/v1/principal", Some(&token), ""), 401);
    assert_eq!(feed(&s, "GET", &path, None).status, 404);
    let (_, tokens, _) = s.cli(&["token", "list"], "");
    let (_, feeds, _) = s.cli(&["feed", "list"], "");
    assert!(
        !tokens.contains("gone") && !feeds.contains("gone"),
        "{tokens} {feeds}"
    );
}

#[test]
fn the_openapi_document_lists_the_feed_paths() {
    let s = Server::start();
    let r = s.request("GET", "/api/v1/openapi.json", None, &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = json(&r);
    assert_eq!(doc["openapi"], "3.1.0");
    for p in ["/api/v1/feeds", "/api/v1/feeds/{id}", "/api/v1/principal"] {
        assert!(doc["paths"][p].is_object(), "{p} missing");
    }
    assert!(doc["paths"]["/api/v1/feeds"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/feeds/{id}"]["delete"].is_object());
    // A license object needs a name; none is better than an empty one.
    assert!(
        doc["info"]["license"].is_null() || doc["info"]["license"]["name"].as_str() != Some(""),
        "{}",
        doc["info"]
    );
    // The secret feed URL is not an API operation.
    assert!(
        !doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("/feeds"))
    );
}

#[test]
fn a_feed_larger_than_max_response_bytes_is_refused_with_507() {
    let s = Server::start_with_config("[limits]\nmax_response_bytes = 4000\n");
    let (ok, out, err) = s.cli(
        &["feed", "create", "--user", "admin", "--calendar", "default"],
        "",
    );
    assert!(ok, "{out} {err}");
    let path = last_line(&out);
    let pad = format!("DESCRIPTION:{}\r\n", "x".repeat(60));
    // Small enough at first, then over the limit.
    let r = s.put_ics(
        &format!("{CAL}big-0.ics"),
        &event("big-0", "20260310T100000Z", "20260310T110000Z", &pad),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(feed(&s, "GET", &path, None).status, 200);
    for n in 1..=40 {
        let uid = format!("big-{n}");
        let r = s.put_ics(
            &format!("{CAL}{uid}.ics"),
            &event(&uid, "20260310T100000Z", "20260310T110000Z", &pad),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = feed(&s, "GET", &path, None);
    assert_eq!(r.status, 507, "{}", r.body);
    assert!(r.body.contains("max_response_bytes"));
}
