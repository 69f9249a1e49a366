//! Benchmark: one event inviting N external attendees (default 1,000).
//! Measures how long the organizer's PUT takes (messages are only queued
//! inside the request) and how fast the outbox worker delivers all N to a
//! local SMTP sink. Run: `cargo bench --bench invitations [-- N]`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn put(addr: &str, path: &str, body: &str) -> (u16, Duration) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic YWRtaW46YmVuY2g=\r\nContent-Type: text/calendar\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body.as_bytes()).expect("write");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, started.elapsed())
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let count = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(Mutex::new(None));
    let port = support::sink(count.clone(), last.clone());
    let (mut child, addr, dir) = support::start_herald(port, "");
    // Warm up (auth cache, first write).
    let warm = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:b\r\nBEGIN:VEVENT\r\nUID:warm\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    put(&addr, "/dav/calendars/admin/default/warm.ics", warm);

    let mut body = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:bench-1000\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250310T100000Z\r\nDTEND:20250310T110000Z\r\nSUMMARY:All hands\r\nLOCATION:Main hall\r\nORGANIZER;CN=Admin:mailto:admin@localhost\r\n",
    );
    for i in 0..n {
        body.push_str(&format!(
            "ATTENDEE;CN=Guest {i};PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:guest{i}@example.net\r\n"
        ));
    }
    body.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
    let started = Instant::now();
    let (status, took) = put(&addr, "/dav/calendars/admin/default/bench.ics", &body);
    assert_eq!(status, 201, "PUT failed");
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
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    println!("invitations: attendees={n}");
    println!("  PUT answered in {:.1} ms", took.as_secs_f64() * 1000.0);
    println!(
        "  delivered {delivered}/{n} to the SMTP sink in {:.2} s after the PUT began: {:.0} messages/s",
        total.as_secs_f64(),
        delivered as f64 / total.as_secs_f64()
    );
}
