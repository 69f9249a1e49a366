//! Background jobs over the REST API (issue 10, "Bulk"): attendees above
//! `api.async_threshold` are added by a job (202 + Location); its progress
//! is visible while it runs; 10,000 attendees reach a real loopback SMTP
//! sink exactly once each, even when herald is killed in the middle of the
//! job and restarted. Another principal's job is a 404.

use crate::smtp_sink::{Received, Sink};
use crate::util::*;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

pub struct Api {
    pub s: Server,
    pub sink: Sink,
    pub token: String,
}

fn last_line(out: &str) -> String {
    out.lines().last().unwrap_or("").trim().to_string()
}

/// The API id of the object at `path` below the home.
pub fn id_of(path: &str) -> String {
    use base64ct::Encoding;
    base64ct::Base64UrlUnpadded::encode_string(path.as_bytes())
}

/// A server with an SMTP sink, and the organizer principal `shop` (token
/// and password) created by the CLI.
pub fn start(extra: &str) -> Api {
    let sink = Sink::start(0, &[]);
    let s = Server::start_with_config(&format!(
        "{extra}\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"herald@example.org\"\nretry_base_seconds = 1\nretry_max_seconds = 2\n",
        sink.port
    ));
    let token = organizer(&s, "shop");
    Api { s, sink, token }
}

/// Create organizer `name` (password `NAME-pass`) and a token for it.
pub fn organizer(s: &Server, name: &str) -> String {
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
        &format!("{name}-pass"),
    );
    assert!(ok, "{out} {err}");
    let (ok, out, err) = s.cli(&["token", "create", "--principal", name], "");
    assert!(ok, "{out} {err}");
    last_line(&out)
}

pub fn call(s: &Server, token: &str, method: &str, path: &str, body: &str) -> Resp {
    let auth = format!("Bearer {token}");
    s.request(
        method,
        path,
        None,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
}

impl Api {
    pub fn call(&self, method: &str, path: &str, body: &str) -> Resp {
        call(&self.s, &self.token, method, path, body)
    }

    /// PUT a meeting organized by shop (no attendees yet) over CalDAV; its API id.
    pub fn meeting(&self, uid: &str) -> String {
        let ics = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260310T130000Z\r\nDTEND:20260310T140000Z\r\nSUMMARY:Launch\r\nORGANIZER:mailto:shop@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let r = self.s.request(
            "PUT",
            &format!("/dav/calendars/shop/default/{uid}.ics"),
            Some(("shop", "shop-pass")),
            &[("Content-Type", "text/calendar")],
            ics.as_bytes(),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        id_of(&format!("default/{uid}.ics"))
    }
}

pub fn attendees_body(n: usize, prefix: &str) -> String {
    let list: Vec<String> = (0..n)
        .map(|i| format!("{{\"email\":\"{prefix}{i}@example.net\",\"name\":\"Guest {i}\"}}"))
        .collect();
    format!("{{\"attendees\":[{}]}}", list.join(","))
}

fn json(r: &Resp) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {} {}", r.status, r.body))
}

fn progress(job: &serde_json::Value) -> (u64, u64) {
    (
        job["progress"]["done"].as_u64().unwrap(),
        job["progress"]["total"].as_u64().unwrap(),
    )
}

fn message_id(m: &Received) -> String {
    m.data
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("message-id")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no Message-ID in {}", m.data))
}

/// Poll the job at `location` until it is finished; returns the last view.
fn wait_job(api: &Api, location: &str, secs: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = api.call("GET", location, "");
        assert_eq!(r.status, 200, "{}", r.body);
        let job = json(&r);
        let status = job["status"].as_str().unwrap().to_string();
        if status == "succeeded" || status == "failed" {
            return job;
        }
        assert!(Instant::now() < deadline, "job not finished: {job}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn small_job_and_authorization() {
    let api = start("[api]\nasync_threshold = 3");
    let id = api.meeting("small");
    let path = format!("/api/v1/events/{id}/attendees");
    // At the threshold: synchronous.
    let r = api.call("POST", &path, &attendees_body(3, "sync"));
    assert_eq!(r.status, 200, "{}", r.body);
    // Above it: a job. Two of the five are on the event already.
    let r = api.call("POST", &path, &attendees_body(5, "sync"));
    assert_eq!(r.status, 202, "{}", r.body);
    let location = r.header("Location").unwrap().to_string();
    assert!(location.starts_with("/api/v1/jobs/"), "{location}");
    let job = json(&r);
    assert_eq!(
        format!("/api/v1/jobs/{}", job["id"].as_str().unwrap()),
        location
    );
    assert_eq!(job["kind"], "add_attendees");
    assert_eq!(progress(&job).1, 5);
    assert!(
        job["status"] == "queued" || job["status"] == "running",
        "{job}"
    );
    let done = wait_job(&api, &location, 30);
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(progress(&done), (5, 5));
    assert_eq!(done["result"]["added"], 2, "{done}");
    assert_eq!(done["result"]["skipped_duplicates"], 3, "{done}");
    assert_eq!(done["result"]["event_id"], id.as_str());
    // 3 + 2 invitations, one each.
    let got = api.sink.wait_for(5, 20);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(api.sink.count(), 5, "{got:#?}");
    // Another principal's job is not there; nor is an unknown or malformed id.
    let other = organizer(&api.s, "rival");
    assert_eq!(call(&api.s, &other, "GET", &location, "").status, 404);
    assert_eq!(api.call("GET", "/api/v1/jobs/999999", "").status, 404);
    assert_eq!(api.call("GET", "/api/v1/jobs/x%2Fy", "").status, 404);
    // A bad address in a large list is refused at once, no job queued.
    let bad = attendees_body(5, "b").replace("b4@example.net", "not-an-address");
    let r = api.call("POST", &path, &bad);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(json(&r)["field"], "attendees[4].email");
    let next = location.rsplit('/').next().unwrap().parse::<u64>().unwrap() + 1;
    assert_eq!(
        api.call("GET", &format!("/api/v1/jobs/{next}"), "").status,
        404
    );
    // More than one call may add (api.max_attendees_per_call): refused at
    // once rather than failing half-way.
    let r = api.call("POST", &path, &attendees_body(10_001, "many"));
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(json(&r)["field"], "attendees");
    assert_eq!(
        api.call("GET", &format!("/api/v1/jobs/{next}"), "").status,
        404
    );
    // An unknown event: 404, no job either.
    let missing = format!("/api/v1/events/{}/attendees", id_of("default/none.ics"));
    assert_eq!(
        api.call("POST", &missing, &attendees_body(5, "c")).status,
        404
    );
    assert_eq!(
        api.call("GET", &format!("/api/v1/jobs/{next}"), "").status,
        404
    );
}

/// The documented outbox worst case: a crash repeats at most
/// `smtp.max_unrecorded` messages (default 1), with their Message-IDs.
const MAX_UNRECORDED: usize = 1;

#[test]
fn ten_thousand_attendees_survive_a_kill() {
    const N: usize = 10_000;
    let mut api = start(
        "[limits]\nmax_attendees_per_instance = 20000\ninvitations_per_hour = 100000\n[api]\nmax_body_bytes = 8388608",
    );
    let id = api.meeting("bulk");
    let r = api.call(
        "POST",
        &format!("/api/v1/events/{id}/attendees"),
        &attendees_body(N, "guest"),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let location = r.header("Location").unwrap().to_string();
    // Watch the progress until part of the job is done, then kill herald.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        let job = json(&api.call("GET", &location, ""));
        let (done, total) = progress(&job);
        assert_eq!(total, N as u64);
        seen.push(done);
        if done > 0 && done < total {
            break;
        }
        assert!(
            done < total,
            "the job finished before it was seen running: {seen:?}"
        );
        assert!(Instant::now() < deadline, "no progress: {job}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    api.s.kill_and_restart();
    let after = json(&api.call("GET", &location, ""));
    let (resumed_at, _) = progress(&after);
    assert!(resumed_at >= *seen.last().unwrap(), "{after}");
    eprintln!(
        "api_jobs: progress seen {:?}, killed, resumed at {resumed_at}",
        seen.iter().collect::<std::collections::BTreeSet<_>>()
    );
    let done = wait_job(&api, &location, 300);
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(progress(&done), (N as u64, N as u64));
    assert_eq!(done["result"]["added"], N as u64, "{done}");
    // Every guest gets their invitation, none a second one.
    api.sink.wait_for(N, 300);
    std::thread::sleep(Duration::from_secs(2));
    let all = api.sink.messages();
    let mut ids: HashMap<String, HashSet<String>> = HashMap::new();
    for m in &all {
        ids.entry(m.rcpt.clone()).or_default().insert(message_id(m));
    }
    assert_eq!(ids.len(), N, "distinct recipients");
    assert!(
        ids.keys().all(|r| r.starts_with("guest")),
        "unexpected recipients"
    );
    // One Message-ID per recipient: a repeated chunk would have queued a
    // second REQUEST with a new Message-ID.
    let twice: Vec<_> = ids.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "recipients with two invitations: {twice:?}"
    );
    let distinct: HashSet<String> = all.iter().map(message_id).collect();
    assert_eq!(distinct.len(), N, "distinct Message-IDs");
    eprintln!("api_jobs: {} messages for {N} guests", all.len());
    assert!(
        all.len() <= N + MAX_UNRECORDED,
        "{} messages for {N} guests",
        all.len()
    );
    // The event lists each guest once.
    let r = api.s.request(
        "GET",
        "/dav/calendars/shop/default/bulk.ics",
        Some(("shop", "shop-pass")),
        &[],
        b"",
    );
    let unfolded = r.body.replace("\r\n ", "");
    assert_eq!(unfolded.matches("\r\nATTENDEE").count(), N);
}
