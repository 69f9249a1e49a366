//! Shared by the benchmarks: a loopback SMTP sink that counts messages,
//! and a release `herald serve` on an ephemeral port with its own data
//! directory.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub fn sink(count: Arc<AtomicUsize>, last: Arc<Mutex<Option<Instant>>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (count, last) = (count.clone(), last.clone());
            std::thread::spawn(move || serve(stream, count, last));
        }
    });
    port
}

fn serve(stream: TcpStream, count: Arc<AtomicUsize>, last: Arc<Mutex<Option<Instant>>>) {
    let Ok(mut w) = stream.try_clone() else {
        return;
    };
    let mut r = BufReader::new(stream);
    let _ = w.write_all(b"220 sink\r\n");
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let u = line.to_ascii_uppercase();
        let reply: &[u8] = if u.starts_with("EHLO") {
            b"250-sink\r\n250 8BITMIME\r\n"
        } else if u.starts_with("DATA") {
            let _ = w.write_all(b"354 go\r\n");
            let mut l = String::new();
            loop {
                l.clear();
                if r.read_line(&mut l).unwrap_or(0) == 0 {
                    return;
                }
                if l == ".\r\n" {
                    break;
                }
            }
            count.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut t) = last.lock() {
                *t = Some(Instant::now());
            }
            b"250 ok\r\n"
        } else if u.starts_with("QUIT") {
            let _ = w.write_all(b"221 bye\r\n");
            return;
        } else {
            b"250 ok\r\n"
        };
        if w.write_all(reply).is_err() {
            return;
        }
    }
}

/// Start herald delivering to the sink on `smtp_port`, with `extra` TOML
/// appended to its configuration; (process, address, directory).
pub fn start_herald(smtp_port: u16, extra: &str) -> (Child, String, PathBuf) {
    let dir = std::env::temp_dir().join(format!("herald-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("herald.toml");
    // More `[smtp]` keys for an experiment, e.g. "max_unrecorded = 8".
    let smtp = std::env::var("HERALD_BENCH_SMTP").unwrap_or_default();
    std::fs::write(
        &cfg,
        format!("[smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nsecurity = \"none\"\nfrom = \"herald@example.org\"\n{smtp}\n{extra}"),
    )
    .expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("HERALD_ADMIN_PASSWORD", "bench")
        .env("RUST_LOG", "herald=error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start herald");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    let addr = loop {
        line.clear();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("herald exited");
        }
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split('/').next().unwrap_or_default().to_string();
        }
    };
    (child, addr, dir)
}

/// One request on a kept-alive connection; (status, body).
pub fn call(
    conn: &mut BufReader<TcpStream>,
    addr: &str,
    token: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let s = conn.get_mut();
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body.as_bytes()).expect("write");
    let mut line = String::new();
    conn.read_line(&mut line).expect("status line");
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut len = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line).expect("header");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut buf = vec![0u8; len];
    conn.read_exact(&mut buf).expect("body");
    (status, String::from_utf8_lossy(&buf).into_owned())
}

pub fn connect(addr: &str) -> BufReader<TcpStream> {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).ok();
    BufReader::new(s)
}

pub fn cli(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .output()
        .expect("herald cli");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn id_of(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).expect("json");
    v["id"].as_str().expect("id").to_string()
}
