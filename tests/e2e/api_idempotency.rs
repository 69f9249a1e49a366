//! Idempotency-Key over real HTTP (issue 10): concurrent requests with one
//! key run once (the others get the replayed answer or 409 in-use); the
//! same key with another body or on another path is 422; a malformed key
//! is refused naming the header; keys are per principal, survive a
//! restart, and expire after `api.idempotency_ttl`.

use crate::api_jobs::{Api, attendees_body, call, organizer, start};
use std::time::Duration;

fn keyed(api: &Api, key: &str, method: &str, path: &str, body: &str) -> crate::util::Resp {
    keyed_as(api, &api.token, key, method, path, body)
}

fn keyed_as(
    api: &Api,
    token: &str,
    key: &str,
    method: &str,
    path: &str,
    body: &str,
) -> crate::util::Resp {
    let auth = format!("Bearer {token}");
    api.s.request(
        method,
        path,
        None,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
            ("Idempotency-Key", key),
        ],
        body.as_bytes(),
    )
}

fn problem_type(r: &crate::util::Resp) -> String {
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    v["type"].as_str().unwrap_or_default().to_string()
}

#[test]
fn fifty_concurrent_requests_run_once() {
    let api = start("");
    let id = api.meeting("idem");
    let path = format!("/api/v1/events/{id}/attendees");
    let body = attendees_body(1, "once");
    let api = std::sync::Arc::new(api);
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let (api, path, body) = (api.clone(), path.clone(), body.clone());
            std::thread::spawn(move || keyed(&api, "order-4711", "POST", &path, &body))
        })
        .collect();
    let answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let ok: Vec<_> = answers.iter().filter(|r| r.status == 200).collect();
    let in_use = answers.iter().filter(|r| r.status == 409).count();
    assert_eq!(
        ok.len() + in_use,
        50,
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    eprintln!(
        "api_idempotency: {} replayed 200, {in_use} in use (409)",
        ok.len()
    );
    assert!(!ok.is_empty());
    for r in answers.iter().filter(|r| r.status == 409) {
        assert_eq!(
            problem_type(r),
            "/errors/idempotency-key-in-use",
            "{}",
            r.body
        );
    }
    // Every 200 is the first answer: the attendee added once (a second run
    // would have answered "skipped_duplicates"), the same ETag.
    for r in &ok {
        assert_eq!(r.body, ok[0].body);
        assert_eq!(r.header("ETag"), ok[0].header("ETag"));
        assert!(
            r.header("Content-Type")
                .unwrap()
                .starts_with("application/json")
        );
    }
    let first: serde_json::Value = serde_json::from_str(&ok[0].body).unwrap();
    assert_eq!(
        first["added"],
        serde_json::json!(["once0@example.net"]),
        "{first}"
    );
    // One invitation went out.
    api.sink.wait_for(1, 20);
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(api.sink.count(), 1);
    // Later: the same request replays, marked as such.
    let r = keyed(&api, "order-4711", "POST", &path, &body);
    assert_eq!((r.status, r.body.as_str()), (200, ok[0].body.as_str()));
    assert_eq!(r.header("Idempotent-Replayed"), Some("true"));
    // The same key with another body, or on another path: 422, nothing done.
    let other = attendees_body(1, "other");
    let r = keyed(&api, "order-4711", "POST", &path, &other);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(problem_type(&r), "/errors/idempotency-key-reused");
    let cancel = format!("/api/v1/events/{id}/cancel");
    let r = keyed(&api, "order-4711", "POST", &cancel, &body);
    assert_eq!(r.status, 422, "{}", r.body);
    // Without a key, the other body runs: the event has two attendees.
    let r = call(&api.s, &api.token, "POST", &path, &other);
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["event"]["attendees"].as_array().unwrap().len(), 2, "{v}");
}

#[test]
fn malformed_keys_are_refused() {
    let api = start("");
    let id = api.meeting("bad-keys");
    let path = format!("/api/v1/events/{id}/attendees");
    let long = "k".repeat(256);
    for key in ["", "two words", long.as_str()] {
        let r = keyed(&api, key, "POST", &path, &attendees_body(1, "x"));
        assert_eq!(r.status, 422, "{key:?}: {}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["field"], "Idempotency-Key", "{v}");
    }
    // Nothing was done.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(api.sink.count(), 0);
    // The draft's quoted form is the same key as the bare one.
    let body = attendees_body(1, "q");
    let a = keyed(&api, "\"k-1\"", "POST", &path, &body);
    let b = keyed(&api, "k-1", "POST", &path, &body);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!((b.status, &b.body), (200, &a.body));
    assert_eq!(b.header("Idempotent-Replayed"), Some("true"));
}

#[test]
fn keys_are_per_principal_survive_restarts_and_expire() {
    let mut api = start("[api]\nidempotency_ttl = \"3s\"");
    let id = api.meeting("scoped");
    let path = format!("/api/v1/events/{id}/attendees");
    let body = attendees_body(1, "a");
    let first = keyed(&api, "k", "POST", &path, &body);
    assert_eq!(first.status, 200, "{}", first.body);
    // Another principal's same key is its own: their request runs (and
    // finds no such event of theirs).
    let rival = organizer(&api.s, "rival");
    let r = keyed_as(&api, &rival, "k", "POST", &path, &body);
    assert_eq!(r.status, 404, "{}", r.body);
    // A 4xx answer is kept for its key too.
    let again = keyed_as(&api, &rival, "k", "POST", &path, &body);
    assert_eq!(
        (again.status, again.header("Idempotent-Replayed")),
        (404, Some("true"))
    );
    // The answer survives a crash.
    api.s.kill_and_restart();
    let r = keyed(&api, "k", "POST", &path, &body);
    assert_eq!((r.status, r.body.as_str()), (200, first.body.as_str()));
    // After the TTL the key is free for another request.
    std::thread::sleep(Duration::from_secs(4));
    let r = keyed(&api, "k", "POST", &path, &attendees_body(1, "b"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("Idempotent-Replayed").is_none());
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["added"], serde_json::json!(["b0@example.net"]), "{v}");
}

#[test]
fn fifty_concurrent_event_creations_with_one_key_make_one_event() {
    let api = start("");
    let body = r#"{"summary":"Once","start":"2026-06-01T10:00:00","end":"2026-06-01T11:00:00","time_zone":"UTC","attendees":[{"email":"guest@example.net"}]}"#;
    let api = std::sync::Arc::new(api);
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let api = api.clone();
            std::thread::spawn(move || keyed(&api, "create-1", "POST", "/api/v1/events", body))
        })
        .collect();
    let answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let created: Vec<_> = answers.iter().filter(|r| r.status == 201).collect();
    let in_use = answers.iter().filter(|r| r.status == 409).count();
    assert_eq!(
        created.len() + in_use,
        50,
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(!created.is_empty());
    for r in &created {
        assert_eq!(r.body, created[0].body, "every 201 is the first answer");
        assert_eq!(r.header("Location"), created[0].header("Location"));
    }
    let list: serde_json::Value =
        serde_json::from_str(&api.call("GET", "/api/v1/events", "").body).unwrap();
    assert_eq!(list["events"].as_array().unwrap().len(), 1, "{list}");
    api.sink.wait_for(1, 20);
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(api.sink.count(), 1, "one invitation");
}

#[test]
fn a_key_on_a_method_the_route_lacks_is_still_405() {
    let api = start("");
    let body = r#"{"summary":"x"}"#;
    for _ in 0..2 {
        let r = keyed(&api, "k-405", "PATCH", "/api/v1/events", body);
        assert_eq!(r.status, 405, "{}", r.body);
    }
    let r = keyed(&api, "k-405", "PATCH", "/api/v1/feeds", "{}");
    assert_eq!(r.status, 405, "{}", r.body);
}
