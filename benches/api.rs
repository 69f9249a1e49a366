//! Benchmark of the REST API (issue 10): `POST /api/v1/events` with N
//! attendees (default 10,000; the answer time), the N invitations reaching a
//! loopback SMTP sink (messages/s from the POST on), and `GET
//! /api/v1/events/{id}` of a two-attendee event at concurrency 16 over
//! keep-alive connections (requests/s). Run: `cargo bench --bench api [-- N]`
//! (`HERALD_BENCH_SMTP="max_unrecorded = 8"` adds `[smtp]` keys).
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "support/mod.rs"]
mod support;

use support::{call, cli, connect, id_of};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let count = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(Mutex::new(None));
    let port = support::sink(count.clone(), last.clone());
    let (mut child, addr, dir) =
        support::start_herald(port, "[limits]\ninvitations_per_hour = 1000000\n");
    cli(
        &dir,
        &["organizer", "add", "shop", "--email", "shop@example.com"],
    );
    let token = cli(&dir, &["token", "create", "--principal", "shop"])
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string();
    let mut conn = connect(&addr);
    let event = |uid: &str, k: usize| {
        let attendees: Vec<String> = (0..k)
            .map(|i| format!(r#"{{"email":"guest{i}@example.net","name":"Guest {i}"}}"#))
            .collect();
        format!(
            r#"{{"summary":"All hands","uid":"{uid}","start":"2027-03-10T14:00:00","end":"2027-03-10T15:00:00","time_zone":"Europe/Berlin","attendees":[{}]}}"#,
            attendees.join(",")
        )
    };
    // Warm up, and the small event the GET benchmark reads.
    let (status, small) = call(
        &mut conn,
        &addr,
        &token,
        "POST",
        "/api/v1/events",
        &event("small", 2),
    );
    assert_eq!(status, 201, "{small}");
    let small_id = id_of(&small);
    while count.load(Ordering::SeqCst) < 2 {
        std::thread::sleep(Duration::from_millis(5));
    }
    count.store(0, Ordering::SeqCst);

    let body = event("big", n);
    let started = Instant::now();
    let (status, answer) = call(&mut conn, &addr, &token, "POST", "/api/v1/events", &body);
    let took = started.elapsed();
    assert_eq!(status, 201, "{answer}");
    let deadline = Instant::now() + Duration::from_secs(300);
    while count.load(Ordering::SeqCst) < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let delivered = count.load(Ordering::SeqCst);
    let end = last
        .lock()
        .ok()
        .and_then(|t| *t)
        .unwrap_or_else(Instant::now);
    let total = end.duration_since(started);

    // GET at concurrency 16 for 10 s.
    let path = format!("/api/v1/events/{small_id}");
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (addr, token, path, stop, done) = (
                addr.clone(),
                token.clone(),
                path.clone(),
                stop.clone(),
                done.clone(),
            );
            std::thread::spawn(move || {
                let mut c = connect(&addr);
                while !stop.load(Ordering::Relaxed) {
                    let (s, b) = call(&mut c, &addr, &token, "GET", &path, "");
                    assert!(s == 200 && b.contains("\"uid\":\"small\""), "{s} {b}");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let secs = 10.0;
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let gets = done.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64();

    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    println!("api: attendees={n}");
    println!(
        "  POST /api/v1/events answered in {:.1} ms",
        took.as_secs_f64() * 1000.0
    );
    println!(
        "  delivered {delivered}/{n} to the SMTP sink in {:.2} s after the POST began: {:.0} messages/s",
        total.as_secs_f64(),
        delivered as f64 / total.as_secs_f64()
    );
    println!("  GET /api/v1/events/{{id}} at concurrency 16: {gets:.0} requests/s");
}
