//! Reminders for people who have not answered (issue 11), with the test
//! clock: of two attendees, the one who answered is never reminded and the
//! other at most `max_reminders` times, each the REQUEST again with the
//! same SEQUENCE; nothing for a cancelled or past event; a kill between
//! "due" and "sent" neither loses nor doubles a reminder; the pending view.

use crate::api_cancel::{Api, start};
use crate::api_seats::{advance, create, event, json_of};
use crate::smtp_sink::{Sink, free_port};
use crate::util::Server;
use serde_json::{Value, json};

pub(crate) fn attendee<'a>(v: &'a Value, email: &str) -> &'a Value {
    v["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == email)
        .unwrap()
}

#[test]
fn reminders_keep_to_the_hourly_budget() {
    let api = crate::api_cancel::start_with("[limits]\ninvitations_per_hour = 2\n");
    crate::api_seats::to_start_of_hour(&api);
    let (id, _) = create(
        &api,
        json!({"summary": "Survey", "start": "2027-03-10T14:00:00", "time_zone": "Europe/Paris",
               "remind_after": "PT10M", "max_reminders": 1,
               "attendees": [{"email": "a@example.net"}, {"email": "b@example.net"}]}),
    );
    api.next(0, 2);
    // Due, but the two invitations spent the budget: postponed, not sent.
    advance(&api, "PT10M");
    api.next(2, 0);
    let v = event(&api, &id);
    for who in ["a@example.net", "b@example.net"] {
        assert_eq!(attendee(&v, who)["reminders_sent"], 0, "{v}");
        assert!(attendee(&v, who)["next_reminder_at"].is_string(), "{v}");
    }
    // Two hours on, the budget has room: each is reminded once.
    advance(&api, "PT2H");
    let sent = api.next(2, 2);
    let mut to: Vec<&str> = sent.iter().map(|m| m.rcpt.as_str()).collect();
    to.sort();
    assert_eq!(to, ["a@example.net", "b@example.net"]);
    assert!(sent.iter().all(|m| m.data.contains("Subject: Reminder:")));
    let v = event(&api, &id);
    assert_eq!(attendee(&v, "b@example.net")["reminders_sent"], 1, "{v}");
}

#[test]
fn only_who_has_not_answered_is_reminded_at_most_max_times() {
    let api = start();
    let (id, uid) = create(
        &api,
        json!({"summary": "Review", "start": "2027-03-10T14:00:00", "time_zone": "Europe/Paris",
               "remind_after": "PT1H", "max_reminders": 2,
               "attendees": [{"email": "a@example.net"}, {"email": "b@example.net"}]}),
    );
    api.next(0, 2);
    api.reply(&uid, "a@example.net", "ACCEPTED");
    let v = event(&api, &id);
    assert!(
        attendee(&v, "a@example.net")["next_reminder_at"].is_null(),
        "{v}"
    );
    assert!(
        attendee(&v, "b@example.net")["next_reminder_at"].is_string(),
        "{v}"
    );
    let r = api.call("GET", "/api/v1/attendees/pending?older_than=PT30M", "");
    assert_eq!(
        json_of(&r)["pending"].as_array().unwrap().len(),
        0,
        "{}",
        r.body
    );

    advance(&api, "PT1H");
    let first = api.next(2, 1);
    assert_eq!(first[0].rcpt, "b@example.net");
    let m = &first[0].data;
    assert!(
        m.contains("METHOD:REQUEST") && m.contains("SEQUENCE:0"),
        "{m}"
    );
    assert!(m.contains("Subject: Reminder:"), "{m}");
    let v = event(&api, &id);
    assert_eq!(attendee(&v, "b@example.net")["reminders_sent"], 1);
    assert_eq!(attendee(&v, "a@example.net")["reminders_sent"], 0);
    let r = api.call("GET", "/api/v1/attendees/pending?older_than=PT30M", "");
    let pending = json_of(&r)["pending"].clone();
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    assert_eq!(pending[0]["email"], "b@example.net");
    assert_eq!(pending[0]["event_id"], id.as_str());
    assert_eq!(pending[0]["reminders_sent"], 1);

    advance(&api, "PT1H");
    let second = api.next(3, 1);
    assert_eq!(second[0].rcpt, "b@example.net");
    let v = event(&api, &id);
    assert_eq!(attendee(&v, "b@example.net")["reminders_sent"], 2);
    assert!(attendee(&v, "b@example.net")["next_reminder_at"].is_null());
    let reminded: Vec<String> = crate::api_seats::steps(&api, &id)
        .into_iter()
        .filter(|(k, _)| k == "reminded")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(reminded.len(), 2, "{reminded:?}");
    assert!(
        reminded[1].contains("2 of 2") && reminded[1].contains("b@example.net"),
        "{reminded:?}"
    );
    advance(&api, "PT3H");
    api.next(4, 0);
    // A bad duration is a problem naming the field.
    let r = api.call("GET", "/api/v1/attendees/pending?older_than=3days", "");
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(json_of(&r)["field"], "older_than");
}

#[test]
fn nothing_is_sent_for_a_cancelled_or_past_event() {
    let api = start();
    let (id, _) = create(
        &api,
        json!({"summary": "Off", "start": "2027-03-10T14:00:00", "time_zone": "UTC",
               "remind_after": "PT1H", "attendees": [{"email": "x@example.net"}]}),
    );
    // Started on 2026-03-10, before today.
    let (past, _) = create(
        &api,
        json!({"summary": "Gone by", "start": "2026-03-10T14:00:00", "time_zone": "UTC",
               "remind_after": "PT1H", "attendees": [{"email": "y@example.net"}]}),
    );
    api.next(0, 2);
    let r = api.call(
        "POST",
        &format!("/api/v1/events/{id}/cancel"),
        r#"{"notify":"none"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    advance(&api, "PT2H");
    api.next(2, 0);
    let v = event(&api, &past);
    assert_eq!(attendee(&v, "y@example.net")["reminders_sent"], 0);
    // Switching reminders on later schedules them for the invitations made.
    let (later, _) = create(
        &api,
        json!({"summary": "Later", "start": "2027-03-10T14:00:00", "time_zone": "UTC",
               "attendees": [{"email": "z@example.net"}]}),
    );
    api.next(2, 1);
    let etag = api.call("GET", &format!("/api/v1/events/{later}"), "");
    let etag = etag.header("ETag").unwrap().to_string();
    let auth = format!("Bearer {}", api.token);
    let r = api.s.request(
        "PATCH",
        &format!("/api/v1/events/{later}"),
        None,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/merge-patch+json"),
            ("If-Match", &etag),
        ],
        br#"{"remind_after":"PT1H"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json_of(&r)["remind_after"], "PT1H");
    advance(&api, "PT1H");
    let reminded = api.next(3, 1);
    assert_eq!(reminded[0].rcpt, "z@example.net");
}

/// The API of a herald whose relay (at `port`) is down.
fn start_with_relay_down(port: u16) -> Api {
    let s = Server::start_with_config(&format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n"
    ));
    let (ok, out, err) = s.cli(
        &["organizer", "add", "shop", "--email", "shop@example.com"],
        "",
    );
    assert!(ok, "{out} {err}");
    let (ok, out, err) = s.cli(&["token", "create", "--principal", "shop"], "");
    assert!(ok, "{out} {err}");
    let token = out.lines().last().unwrap().trim().to_string();
    Api {
        s,
        sink: Sink::start(0, &[]),
        token,
    }
}

#[test]
fn a_kill_between_due_and_sent_neither_loses_nor_doubles_a_reminder() {
    let port = free_port();
    let mut api = start_with_relay_down(port);
    let (_, _) = create(
        &api,
        json!({"summary": "Kill", "start": "2027-03-10T14:00:00", "time_zone": "UTC",
               "remind_after": "PT1H", "attendees": [{"email": "b@example.net"}]}),
    );
    // Due now; killed at once, before or after the timer ran.
    advance(&api, "PT1H");
    api.s.stop(true);
    api.sink = Sink::start(port, &[]);
    api.s.restart();
    // Retries of the refused attempts fall due on the test clock.
    advance(&api, "PT30M");
    let got = api.next(0, 2);
    let reminders = got
        .iter()
        .filter(|m| m.data.contains("Subject: Reminder:"))
        .count();
    assert_eq!(reminders, 1, "{got:#?}");
    assert!(got.iter().all(|m| m.rcpt == "b@example.net"));
}
