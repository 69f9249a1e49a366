//! Benchmark of seats and timers (issue 11), on a release herald with a
//! loopback SMTP sink:
//!
//! 1. Holds created and confirmed on ONE event with capacity N (default
//!    2,000) from 16 keep-alive connections: each worker holds 1 seat and
//!    confirms it for a new guest, until the event is full (pairs/s). Then
//!    the exact-count invariant: taken = N, held = 0, available = 0, N
//!    attendees, N invitations at the sink, and one more hold refused.
//! 2. 100,000 pending timers (holds of 1 seat with a one-day ttl on a
//!    second event), created at concurrency 16: the server's RSS before
//!    and after (VmRSS), then, with herald stopped, the next-due lookup
//!    (`Store::timer_next_due`) on that database, timed 1,000 times.
//!
//! Run: `cargo bench --bench holds [-- N [TIMERS]]`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{call, cli, connect, id_of};

const CONCURRENCY: usize = 16;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).expect("json")
}

/// Run `work(connection, i)` for i in 0..n over 16 connections.
fn parallel(
    addr: &str,
    n: usize,
    work: impl Fn(&mut std::io::BufReader<std::net::TcpStream>, usize) + Send + Sync + 'static,
) -> Duration {
    let next = Arc::new(AtomicUsize::new(0));
    let work = Arc::new(work);
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (next, work, addr) = (next.clone(), work.clone(), addr.to_string());
            std::thread::spawn(move || {
                let mut c = connect(&addr);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    work(&mut c, i);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    started.elapsed()
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<usize>().ok());
    let n = args.next().unwrap_or(2_000);
    let timers = args.next().unwrap_or(100_000);
    let count = Arc::new(AtomicUsize::new(0));
    let port = support::sink(count.clone(), Arc::new(Mutex::new(None)));
    let (mut child, addr, dir) = support::start_herald(
        port,
        "[limits]\ninvitations_per_hour = 10000000\nmax_attendees_per_instance = 1000000\n",
    );
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
    let event = |summary: &str, capacity: usize| {
        format!(
            r#"{{"summary":"{summary}","start":"2027-03-10T19:00:00","end":"2027-03-10T23:00:00","time_zone":"Europe/Berlin","capacity":{capacity}}}"#
        )
    };
    let (status, body) = call(
        &mut conn,
        &addr,
        &token,
        "POST",
        "/api/v1/events",
        &event("Concert", n),
    );
    assert_eq!(status, 201, "{body}");
    let id = id_of(&body);

    // 1. Hold and confirm until full.
    let (a, t, eid) = (addr.clone(), token.clone(), id.clone());
    // Time spent in each kind of call, in microseconds.
    let spent = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let spent2 = spent.clone();
    let took = parallel(&addr, n, move |c, i| {
        let start = Instant::now();
        let (s, b) = call(
            c,
            &a,
            &t,
            "POST",
            &format!("/api/v1/events/{eid}/holds"),
            r#"{"seats":1,"ttl":"PT10M"}"#,
        );
        assert_eq!(s, 201, "{b}");
        let held = Instant::now();
        let hold = json(&b)["id"].as_str().unwrap().to_string();
        let guest = format!(r#"{{"attendees":[{{"email":"buyer{i}@example.net"}}]}}"#);
        let (s, b) = call(c, &a, &t, "PUT", &format!("/api/v1/holds/{hold}"), &guest);
        assert_eq!(s, 200, "{b}");
        let us = |d: Duration| d.as_micros() as usize;
        spent2[0].fetch_add(us(held - start), Ordering::Relaxed);
        spent2[1].fetch_add(us(held.elapsed()), Ordering::Relaxed);
    });
    let mean_ms = |k: usize| spent[k].load(Ordering::Relaxed) as f64 / n as f64 / 1000.0;
    let rate = n as f64 / took.as_secs_f64();
    let (s, b) = call(
        &mut conn,
        &addr,
        &token,
        "GET",
        &format!("/api/v1/events/{id}"),
        "",
    );
    assert_eq!(s, 200);
    let v = json(&b);
    let attendees = v["attendees"].as_array().unwrap().len();
    assert_eq!(
        (
            v["taken"].as_u64(),
            v["held"].as_u64(),
            v["available"].as_u64(),
            attendees
        ),
        (Some(n as u64), Some(0), Some(0), n),
        "the exact-count invariant"
    );
    let (s, b) = call(
        &mut conn,
        &addr,
        &token,
        "POST",
        &format!("/api/v1/events/{id}/holds"),
        r#"{"seats":1,"ttl":"PT1M"}"#,
    );
    assert_eq!(s, 409, "a hold beyond capacity: {b}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while count.load(Ordering::SeqCst) < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let delivered = count.load(Ordering::SeqCst);
    assert_eq!(delivered, n, "one invitation per confirmed seat");
    println!("holds: capacity={n}, concurrency {CONCURRENCY}");
    println!(
        "  {n} holds created and confirmed in {:.2} s: {rate:.0} pairs/s; invariant held (taken {n}, held 0, available 0, {delivered} invitations)",
        took.as_secs_f64()
    );
    println!(
        "  mean latency: hold {:.2} ms, confirm {:.2} ms",
        mean_ms(0),
        mean_ms(1)
    );

    // 2. Pending timers.
    let (status, body) = call(
        &mut conn,
        &addr,
        &token,
        "POST",
        "/api/v1/events",
        &event("Festival", timers),
    );
    assert_eq!(status, 201, "{body}");
    let fid = id_of(&body);
    std::thread::sleep(Duration::from_secs(2));
    let pid = child.id();
    let before = rss_kib(pid);
    let (a, t) = (addr.clone(), token.clone());
    let took = parallel(&addr, timers, move |c, _| {
        let (s, b) = call(
            c,
            &a,
            &t,
            "POST",
            &format!("/api/v1/events/{fid}/holds"),
            r#"{"seats":1,"ttl":"P1D"}"#,
        );
        assert_eq!(s, 201, "{b}");
    });
    std::thread::sleep(Duration::from_secs(2));
    let after = rss_kib(pid);
    let _ = child.kill();
    let _ = child.wait();
    let store = herald::store::Store::open(&dir.join("data")).expect("open the store");
    let pending = store.timer_count().expect("count");
    assert!(pending >= timers as u64, "{pending} timers pending");
    let mut worst = Duration::ZERO;
    let started = Instant::now();
    for _ in 0..1000 {
        let t0 = Instant::now();
        let due = store.timer_next_due().expect("next due");
        assert!(due.is_some());
        worst = worst.max(t0.elapsed());
    }
    let mean = started.elapsed() / 1000;
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "  {timers} holds (timers) created in {:.2} s ({:.0}/s); {pending} timers pending",
        took.as_secs_f64(),
        timers as f64 / took.as_secs_f64()
    );
    println!(
        "  RSS {:.1} MiB before, {:.1} MiB after: {:+.1} MiB",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after as f64 - before as f64) / 1024.0
    );
    println!(
        "  next-due lookup over {pending} timers: mean {:.1} us, worst {:.1} us (1,000 lookups)",
        mean.as_secs_f64() * 1e6,
        worst.as_secs_f64() * 1e6
    );
}
