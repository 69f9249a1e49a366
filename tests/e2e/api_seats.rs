//! Seats over the REST API (issue 11): real HTTP, a real SMTP sink, replies
//! through a real `herald ingest`, time moved with `herald test-clock`.
//! Racing adds and holds never oversell; a hold is confirmed or released,
//! never both; an unconfirmed hold comes back by itself (also across a
//! restart) and the freed seat goes to the waiting list in order; a decline
//! frees a seat for the first person waiting.

use crate::api_cancel::{Api, start};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn json_of(r: &crate::util::Resp) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

/// Create an event over the API; (id, uid).
/// Without an `end`, the event ends at 23:59 of its start day.
pub(crate) fn create(api: &Api, mut body: Value) -> (String, String) {
    if body["end"].is_null()
        && let Some(day) = body["start"].as_str().and_then(|s| s.split('T').next())
    {
        body["end"] = json!(format!("{day}T23:59:00"));
    }
    let r = api.call("POST", "/api/v1/events", &body.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    let v = json_of(&r);
    (
        v["id"].as_str().unwrap().to_string(),
        v["uid"].as_str().unwrap().to_string(),
    )
}

pub(crate) fn event(api: &Api, id: &str) -> Value {
    let r = api.call("GET", &format!("/api/v1/events/{id}"), "");
    assert_eq!(r.status, 200, "{}", r.body);
    json_of(&r)
}

/// The kinds and details of the event's history, in order.
pub(crate) fn steps(api: &Api, id: &str) -> Vec<(String, String)> {
    let r = api.call("GET", &format!("/api/v1/events/{id}/history"), "");
    assert_eq!(r.status, 200, "{}", r.body);
    json_of(&r)["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            (text("kind"), text("detail"))
        })
        .collect()
}

/// Move the server's test clock (at offset 0) a few seconds past the next
/// full hour, so that the invitation budget's sliding hour (which weighs
/// the hour before by how much of it is left) does not shift under a test.
pub(crate) fn to_start_of_hour(api: &Api) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    advance(api, &format!("PT{}S", 3600 - now % 3600 + 5));
}

pub(crate) fn advance(api: &Api, duration: &str) {
    let (ok, out, err) = api.s.cli(&["test-clock", "advance", duration], "");
    assert!(ok, "{out} {err}");
}

fn guests(prefix: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"email": format!("{prefix}{i}@example.net")}))
        .collect()
}

fn emails(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

/// Run `n` calls at once; their (status, body).
fn race(
    api: &Arc<Api>,
    n: usize,
    call: impl Fn(&Api, usize) -> crate::util::Resp + Send + Sync + 'static,
) -> Vec<(u16, String)> {
    let call = Arc::new(call);
    let barrier = Arc::new(std::sync::Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (api, call, barrier) = (api.clone(), call.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let r = call(&api, i);
                (r.status, r.body)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn problem_type(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_string))
        .unwrap_or_default()
}

#[test]
fn fifty_racing_adds_for_the_last_ten_seats() {
    let api = Arc::new(start());
    let (id, _) = create(
        &api,
        json!({"summary": "Workshop", "start": "2027-03-10T14:00:00", "end": "2027-03-10T16:00:00",
               "time_zone": "Europe/Paris", "capacity": 12, "attendees": guests("first", 2)}),
    );
    let v = event(&api, &id);
    assert_eq!(
        (
            v["capacity"].as_u64(),
            v["taken"].as_u64(),
            v["available"].as_u64()
        ),
        (Some(12), Some(2), Some(10))
    );
    let url = format!("/api/v1/events/{id}/attendees");
    let answers = race(&api, 50, move |api, i| {
        let body = json!({"attendees": [{"email": format!("racer{i}@example.net")}]});
        api.call("POST", &url, &body.to_string())
    });
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    let full: Vec<_> = answers.iter().filter(|(s, _)| *s == 409).collect();
    assert_eq!(ok, 10, "{answers:#?}");
    assert_eq!(full.len(), 40, "{answers:#?}");
    for (_, body) in &full {
        assert_eq!(problem_type(body), "/errors/capacity-exceeded", "{body}");
        assert_eq!(json_of_str(body)["available"], 0, "{body}");
    }
    let v = event(&api, &id);
    assert_eq!(v["attendees"].as_array().unwrap().len(), 12);
    assert_eq!(
        (v["taken"].as_u64(), v["available"].as_u64()),
        (Some(12), Some(0))
    );
    // Exactly the 12 guests were invited, once each.
    api.next(0, 12);
}

/// Put `emails` on the waiting list of event `id` (200 expected).
fn join_waitlist(api: &Api, id: &str, emails: &[&str]) {
    let people: Vec<Value> = emails.iter().map(|e| json!({"email": e})).collect();
    let r = api.call(
        "POST",
        &format!("/api/v1/events/{id}/waitlist"),
        &json!({ "attendees": people }).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

fn json_of_str(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

#[test]
fn fifty_racing_holds_for_ten_free_seats_and_a_batch_beyond_capacity() {
    let api = Arc::new(start());
    let (id, _) = create(
        &api,
        json!({"summary": "Gig", "start": "2027-03-10T20:00:00", "time_zone": "Europe/Berlin", "capacity": 10}),
    );
    let url = format!("/api/v1/events/{id}/holds");
    let answers = race(&api, 50, move |api, _| {
        api.call("POST", &url, r#"{"seats":1,"ttl":"PT10M"}"#)
    });
    let held = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(held, 10, "{answers:#?}");
    assert!(
        answers
            .iter()
            .filter(|(s, _)| *s != 201)
            .all(|(s, b)| *s == 409 && problem_type(b) == "/errors/capacity-exceeded"),
        "{answers:#?}"
    );
    let v = event(&api, &id);
    assert_eq!(
        (v["held"].as_u64(), v["available"].as_u64()),
        (Some(10), Some(0))
    );
    // A batch that does not fit adds none of its attendees.
    let r = api.call(
        "POST",
        &format!("/api/v1/events/{id}/attendees"),
        &json!({"attendees": guests("batch", 3)}).to_string(),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(json_of(&r)["available"], 0);
    assert!(event(&api, &id)["attendees"].as_array().unwrap().is_empty());
    // Holds without a capacity, zero seats, bad ttl: problems naming the field.
    for (body, field) in [
        (r#"{"seats":0,"ttl":"PT1M"}"#, "seats"),
        (r#"{"seats":1,"ttl":"10 minutes"}"#, "ttl"),
        (r#"{"seats":1,"ttl":"PT0S"}"#, "ttl"),
    ] {
        let r = api.call("POST", &format!("/api/v1/events/{id}/holds"), body);
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        assert_eq!(json_of(&r)["field"], field, "{}", r.body);
    }
    assert_eq!(event(&api, &id)["held"], 10);
}

#[test]
fn confirm_racing_expiry_is_confirmed_or_released_never_both() {
    let api = Arc::new(start());
    let (id, _) = create(
        &api,
        json!({"summary": "Race", "start": "2027-05-01T10:00:00", "time_zone": "UTC", "capacity": 20}),
    );
    let holds: Vec<String> = (0..20)
        .map(|_| {
            let r = api.call(
                "POST",
                &format!("/api/v1/events/{id}/holds"),
                r#"{"seats":1,"ttl":"PT30S"}"#,
            );
            assert_eq!(r.status, 201, "{}", r.body);
            json_of(&r)["id"].as_str().unwrap().to_string()
        })
        .collect();
    let confirmer = {
        let (api, holds) = (api.clone(), holds.clone());
        std::thread::spawn(move || {
            holds
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let body = json!({"attendees": [{"email": format!("buyer{i}@example.net")}]});
                    api.call("PUT", &format!("/api/v1/holds/{h}"), &body.to_string())
                        .status
                })
                .collect::<Vec<u16>>()
        })
    };
    std::thread::sleep(Duration::from_millis(30));
    advance(&api, "PT31S");
    let statuses = confirmer.join().unwrap();
    let mut confirmed = 0;
    for (h, status) in holds.iter().zip(&statuses) {
        let r = api.call("GET", &format!("/api/v1/holds/{h}"), "");
        let state = json_of(&r)["state"].as_str().unwrap().to_string();
        match (*status, state.as_str()) {
            (200, "confirmed") => confirmed += 1,
            (410, "expired") => {}
            other => panic!("hold {h}: {other:?}"),
        }
    }
    let v = event(&api, &id);
    assert_eq!(v["held"], 0, "{v}");
    assert_eq!(v["taken"], confirmed, "{v}");
    assert_eq!(v["attendees"].as_array().unwrap().len(), confirmed as usize);
    assert_eq!(v["available"], 20 - confirmed);
    // Confirming a confirmed hold again answers the same and invites nobody twice.
    if let Some(i) = statuses.iter().position(|s| *s == 200) {
        let body = json!({"attendees": [{"email": format!("buyer{i}@example.net")}]});
        let r = api.call(
            "PUT",
            &format!("/api/v1/holds/{}", holds[i]),
            &body.to_string(),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    api.next(0, confirmed as usize);
}

#[test]
fn an_expired_hold_goes_to_the_waiting_list_in_order_across_restarts() {
    let mut api = start();
    let (id, _) = create(
        &api,
        json!({"summary": "Tour", "start": "2027-06-01T10:00:00", "time_zone": "UTC",
               "capacity": 2, "waitlist": "invite"}),
    );
    let hold = |api: &Api, ttl: &str| {
        let r = api.call(
            "POST",
            &format!("/api/v1/events/{id}/holds"),
            &json!({"seats": 1, "ttl": ttl}).to_string(),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        json_of(&r)["id"].as_str().unwrap().to_string()
    };
    let long = hold(&api, "PT10M");
    let short = hold(&api, "PT2S");
    let r = api.call(
        "POST",
        &format!("/api/v1/events/{id}/waitlist"),
        &json!({"attendees": [{"email": "w1@example.net", "name": "First"}, {"email": "w2@example.net"}, {"email": "w1@example.net"}]}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let w = json_of(&r);
    assert_eq!(w["added"], json!(["w1@example.net", "w2@example.net"]));
    assert_eq!(w["waiting"][0]["position"], 1);
    // The short hold falls due while herald is down: released at start.
    api.s.stop(false);
    std::thread::sleep(Duration::from_millis(3200));
    api.s.restart();
    let first = api.next(0, 1);
    assert_eq!(first[0].rcpt, "w1@example.net");
    assert!(first[0].data.contains("METHOD:REQUEST"));
    let r = api.call("GET", &format!("/api/v1/holds/{short}"), "");
    assert_eq!(json_of(&r)["state"], "expired");
    // The long one is pending across a restart, then expires on the test clock.
    api.s.kill_and_restart();
    advance(&api, "PT11M");
    let second = api.next(1, 1);
    assert_eq!(second[0].rcpt, "w2@example.net");
    let r = api.call(
        "PUT",
        &format!("/api/v1/holds/{long}"),
        r#"{"attendees":[{"email":"late@example.net"}]}"#,
    );
    assert_eq!(r.status, 410, "{}", r.body);
    assert_eq!(problem_type(&r.body), "/errors/gone");
    let v = event(&api, &id);
    assert_eq!(emails(&v), ["w1@example.net", "w2@example.net"]);
    assert_eq!(
        (v["held"].as_u64(), v["waiting"].as_u64()),
        (Some(0), Some(0))
    );
    // What the timers did is in the event's history, in order.
    let timed: Vec<(String, String)> = steps(&api, &id)
        .into_iter()
        .filter(|(k, _)| k == "hold-expired" || k == "promoted")
        .collect();
    let kinds: Vec<&str> = timed.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        ["hold-expired", "promoted", "hold-expired", "promoted"],
        "{timed:?}"
    );
    assert!(timed[1].1.contains("w1@example.net"), "{timed:?}");
    assert!(timed[3].1.contains("w2@example.net"), "{timed:?}");
}

#[test]
fn a_decline_frees_a_seat_for_the_first_person_waiting() {
    let api = start();
    let (id, uid) = create(
        &api,
        json!({"summary": "Dinner", "start": "2027-03-10T19:00:00", "time_zone": "Europe/London",
               "capacity": 2, "waitlist": "invite", "attendees": [{"email": "a@example.net"}, {"email": "b@example.net"}]}),
    );
    api.next(0, 2);
    let r = api.call(
        "POST",
        &format!("/api/v1/events/{id}/attendees"),
        r#"{"attendees":[{"email":"c@example.net"}]}"#,
    );
    assert_eq!(r.status, 409, "{}", r.body);
    join_waitlist(&api, &id, &["w1@example.net", "w2@example.net"]);
    api.reply(&uid, "a@example.net", "DECLINED");
    let invited = api.next(2, 1);
    assert_eq!(invited[0].rcpt, "w1@example.net");
    let v = event(&api, &id);
    assert_eq!(
        (
            v["taken"].as_u64(),
            v["available"].as_u64(),
            v["waiting"].as_u64()
        ),
        (Some(2), Some(0), Some(1))
    );
}

#[test]
fn an_offer_is_a_hold_for_the_person_waiting() {
    let api = start();
    let (id, _) = create(
        &api,
        json!({"summary": "Class", "start": "2027-04-01T09:00:00", "time_zone": "UTC",
               "capacity": 1, "waitlist": "offer", "waitlist_offer_ttl": "PT5M",
               "attendees": [{"email": "a@example.net"}]}),
    );
    api.next(0, 1);
    join_waitlist(&api, &id, &["w1@example.net"]);
    let r = api.call(
        "DELETE",
        &format!("/api/v1/events/{id}/attendees/a@example.net"),
        "",
    );
    assert!(r.status < 300, "{}", r.body);
    api.next(1, 1); // a's CANCEL
    let mut offer = Value::Null;
    assert!(crate::util::wait_until(10, || {
        let r = api.call("GET", &format!("/api/v1/events/{id}/waitlist"), "");
        offer = json_of(&r)["offers"][0].clone();
        !offer.is_null()
    }));
    assert_eq!(offer["email"], "w1@example.net");
    assert_eq!(event(&api, &id)["held"], 1);
    assert!(
        steps(&api, &id)
            .iter()
            .any(|(k, d)| k == "offered" && d.contains("w1@example.net")),
        "{:?}",
        steps(&api, &id)
    );
    let r = api.call(
        "PUT",
        &format!("/api/v1/holds/{}", offer["hold_id"].as_str().unwrap()),
        "{}",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let invited = api.next(2, 1);
    assert_eq!(invited[0].rcpt, "w1@example.net");
    let v = event(&api, &id);
    assert_eq!(emails(&v), ["w1@example.net"]);
    assert_eq!(
        (v["taken"].as_u64(), v["held"].as_u64()),
        (Some(1), Some(0))
    );
}

#[test]
fn no_door_oversells_a_role_change_or_a_caldav_put() {
    let api = start();
    let (id, _) = create(
        &api,
        json!({"summary": "Tasting", "start": "2027-03-10T19:00:00", "time_zone": "Europe/London",
               "capacity": 2, "attendees": [{"email": "a@example.net"},
               {"email": "obs1@example.net", "role": "non-participant"},
               {"email": "obs2@example.net", "role": "non-participant"}]}),
    );
    let v = event(&api, &id);
    assert_eq!(
        (v["taken"].as_u64(), v["available"].as_u64()),
        (Some(1), Some(1))
    );
    let patch = |who: &str| {
        api.call(
            "PATCH",
            &format!("/api/v1/events/{id}/attendees/{who}"),
            r#"{"role":"required"}"#,
        )
    };
    // The last seat goes to the first observer made a participant...
    let r = patch("obs1@example.net");
    assert_eq!(r.status, 200, "{}", r.body);
    // ...and the second is refused, changing nothing.
    let r = patch("obs2@example.net");
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        problem_type(&r.body),
        "/errors/capacity-exceeded",
        "{}",
        r.body
    );
    assert_eq!(json_of_str(&r.body)["available"], 0, "{}", r.body);
    let v = event(&api, &id);
    assert_eq!(
        (v["taken"].as_u64(), v["available"].as_u64()),
        (Some(2), Some(0))
    );
    let obs2 = crate::api_reminders::attendee(&v, "obs2@example.net");
    assert_eq!(obs2["role"], "non-participant");

    // The organizer's own CalDAV client cannot add a third guest either.
    use base64ct::Encoding;
    let path = String::from_utf8(base64ct::Base64UrlUnpadded::decode_vec(&id).unwrap()).unwrap();
    let name = path.strip_prefix("default/").unwrap();
    let stored = api.stored(name);
    let more = stored.replacen(
        "END:VEVENT",
        "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:crasher@example.net\r\nEND:VEVENT",
        1,
    );
    let r = api.s.request(
        "PUT",
        &format!("/dav/calendars/shop/{path}"),
        Some(("shop", "shop-pass")),
        &[("Content-Type", "text/calendar")],
        more.replace('\n', "\r\n")
            .replace("\r\r\n", "\r\n")
            .as_bytes(),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let v = event(&api, &id);
    assert_eq!(v["attendees"].as_array().unwrap().len(), 3);
    assert_eq!(
        (v["taken"].as_u64(), v["available"].as_u64()),
        (Some(2), Some(0))
    );
}

#[test]
fn a_waiting_list_invitation_keeps_to_the_hourly_budget() {
    let api = crate::api_cancel::start_with("[limits]\ninvitations_per_hour = 2\n");
    to_start_of_hour(&api);
    let (id, uid) = create(
        &api,
        json!({"summary": "Supper club", "start": "2027-03-10T19:00:00", "time_zone": "Europe/London",
               "capacity": 2, "waitlist": "invite", "attendees": [{"email": "a@example.net"}, {"email": "b@example.net"}]}),
    );
    api.next(0, 2);
    join_waitlist(&api, &id, &["w1@example.net"]);
    api.reply(&uid, "a@example.net", "DECLINED");
    // The budget is spent: the seat waits, and so does w1.
    api.next(2, 0);
    let v = event(&api, &id);
    assert_eq!(
        (v["available"].as_u64(), v["waiting"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    // Once the hour has passed, the promotion runs again.
    advance(&api, "PT2H");
    let invited = api.next(2, 1);
    assert_eq!(invited[0].rcpt, "w1@example.net");
    let v = event(&api, &id);
    assert_eq!(
        (v["available"].as_u64(), v["waiting"].as_u64()),
        (Some(0), Some(0)),
        "{v}"
    );
}
