//! Benchmark: iMIP replies ingested per second, over LMTP (concurrent
//! connections, as an MTA delivers) and through `herald ingest` (one
//! process per message, as a Postfix pipe runs it).
//! Run: `cargo bench --bench ingest [-- REPLIES]` (default 10,000).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const EVENTS: usize = 100;
const ATTENDEES: usize = 100;
const CONNECTIONS: usize = 8;

fn put(addr: &str, path: &str, body: &str) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic YWRtaW46YmVuY2g=\r\nContent-Type: text/calendar\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    line.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn event(e: usize) -> String {
    let mut body = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:ev-{e}\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250310T100000Z\r\nDTEND:20250310T110000Z\r\nSUMMARY:Event {e}\r\nORGANIZER:mailto:admin@localhost\r\n"
    );
    for a in 0..ATTENDEES {
        body.push_str(&format!(
            "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:g{a}@example.net\r\n"
        ));
    }
    body.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
    body
}

fn reply(i: usize, tag: &str) -> String {
    let (e, a) = (i % EVENTS, (i / EVENTS) % ATTENDEES);
    format!(
        "Authentication-Results: mx.bench.test; dmarc=pass header.from=example.net\r\nFrom: <g{a}@example.net>\r\nTo: admin@localhost\r\nMessage-ID: <{tag}-{i}@example.net>\r\nSubject: Accepted\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; charset=UTF-8; method=REPLY\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:ev-{e}\r\nDTSTAMP:20250102T{:02}{:02}{:02}Z\r\nSEQUENCE:0\r\nORGANIZER:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:g{a}@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        (i / 3600) % 24,
        (i / 60) % 60,
        i % 60
    )
}

fn read_reply(r: &mut BufReader<TcpStream>) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        all.push_str(&line);
        if line.len() < 4 || &line[3..4] != "-" {
            return all;
        }
    }
}

fn lmtp_worker(port: u16, ids: Vec<usize>) -> usize {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // As an MTA does: no Nagle delay between the message and its final ".".
    s.set_nodelay(true).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    read_reply(&mut r);
    w.write_all(b"LHLO bench\r\n").unwrap();
    read_reply(&mut r);
    let mut ok = 0;
    for i in ids {
        w.write_all(b"MAIL FROM:<bench@example.net>\r\nRCPT TO:<admin@localhost>\r\nDATA\r\n")
            .unwrap();
        read_reply(&mut r);
        read_reply(&mut r);
        read_reply(&mut r);
        w.write_all(reply(i, "l").as_bytes()).unwrap();
        w.write_all(b".\r\n").unwrap();
        let answer = read_reply(&mut r);
        if answer.starts_with("250") && answer.contains("processed: applied") {
            ok += 1;
        }
    }
    let _ = w.write_all(b"QUIT\r\n");
    ok
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("herald-ingest-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("herald.toml");
    std::fs::write(
        &cfg,
        // The setup queues EVENTS x ATTENDEES invitations from one user: more
        // than the default hourly budget, which this bench does not measure.
        "[imip]\nlmtp_listen = \"127.0.0.1:0\"\ntrusted_authserv_ids = [\"mx.bench.test\"]\n[limits]\ninvitations_per_hour = 1000000\n",
    )
    .unwrap();
    let data = dir.join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .env("HERALD_ADMIN_PASSWORD", "bench")
        .env("RUST_LOG", "herald=error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut addr, mut lmtp) = (String::new(), 0u16);
    let mut line = String::new();
    while addr.is_empty() {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "herald exited");
        if let Some(rest) = line.split("LMTP on ").nth(1) {
            lmtp = rest.trim().rsplit(':').next().unwrap().parse().unwrap();
        }
        if let Some(rest) = line.split("listening on http://").nth(1) {
            addr = rest.split('/').next().unwrap().to_string();
        }
    }
    for e in 0..EVENTS {
        assert_eq!(
            put(
                &addr,
                &format!("/dav/calendars/admin/default/ev-{e}.ics"),
                &event(e)
            ),
            201
        );
    }
    // Let the outbox spool the REQUESTs first so it does not compete.
    let spool = data.join("mail-out");
    let deadline = Instant::now() + Duration::from_secs(300);
    while std::fs::read_dir(&spool).map(|d| d.count()).unwrap_or(0) < EVENTS * ATTENDEES
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }

    let started = Instant::now();
    let handles: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let ids: Vec<usize> = (0..n).filter(|i| i % CONNECTIONS == c).collect();
            std::thread::spawn(move || lmtp_worker(lmtp, ids))
        })
        .collect();
    let ok: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let took = started.elapsed();
    println!("ingest: {EVENTS} events x {ATTENDEES} attendees, {n} replies");
    println!(
        "  LMTP, {CONNECTIONS} connections: {ok}/{n} applied in {:.2} s: {:.0} replies/s",
        took.as_secs_f64(),
        ok as f64 / took.as_secs_f64()
    );

    let m = (n / 10).max(1);
    let started = Instant::now();
    let mut codes_ok = 0;
    for i in 0..m {
        let mut p = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["ingest", "--data-dir"])
            .arg(&data)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        p.stdin
            .take()
            .unwrap()
            .write_all(reply(i + n, "p").as_bytes())
            .unwrap();
        if p.wait().unwrap().success() {
            codes_ok += 1;
        }
    }
    let took = started.elapsed();
    println!(
        "  herald ingest (one process per message, server running): {codes_ok}/{m} exit 0 in {:.2} s: {:.0} replies/s",
        took.as_secs_f64(),
        codes_ok as f64 / took.as_secs_f64()
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
