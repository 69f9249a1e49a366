//! Test harness: starts the real `herald` binary on an ephemeral port with a
//! fresh data directory, and speaks raw HTTP/1.1 to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_PASSWORD: &str = "admin-secret";

pub struct Server {
    child: Option<Child>,
    pub addr: String,
    /// The LMTP port, when the config enables the listener.
    pub lmtp_port: Option<u16>,
    pub dir: tempfile::TempDir,
    config: Option<PathBuf>,
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_herald")
}

impl Server {
    pub fn start() -> Server {
        Server::start_with_config("")
    }

    /// Start with this herald.toml text (empty: no file).
    pub fn start_with_config(toml: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let config = (!toml.is_empty()).then(|| {
            let p = dir.path().join("herald.toml");
            std::fs::write(&p, toml).unwrap();
            p
        });
        let mut s = Server {
            child: None,
            addr: String::new(),
            lmtp_port: None,
            dir,
            config,
        };
        s.spawn();
        s
    }

    /// The process id of the running server.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(Child::id)
            .expect("server not running")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(bin());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(self.data_dir());
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        let mut child = cmd
            .env("HERALD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("HERALD_TEST_CLOCK", "1")
            .env("RUST_LOG", "herald=warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut line = String::new();
        loop {
            line.clear();
            assert!(Instant::now() < deadline, "server did not start");
            if reader.read_line(&mut line).unwrap() == 0 {
                panic!("server exited before listening");
            }
            if let Some(rest) = line.split("LMTP on ").nth(1) {
                self.lmtp_port = rest.trim().rsplit(':').next().and_then(|p| p.parse().ok());
            }
            if let Some(rest) = line.split("listening on http://").nth(1) {
                self.addr = rest.split('/').next().unwrap().to_string();
                break;
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = reader.read_to_string(&mut sink);
        });
        self.child = Some(child);
    }

    /// Stop with SIGTERM (graceful) and start again on the same data.
    pub fn restart(&mut self) {
        self.stop(false);
        self.spawn();
    }

    /// Stop the server: SIGTERM when `kill` is false, SIGKILL otherwise.
    pub fn stop(&mut self, kill: bool) {
        if let Some(mut child) = self.child.take() {
            let sig = if kill { "-KILL" } else { "-TERM" };
            let _ = Command::new("kill")
                .arg(sig)
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    pub fn kill_and_restart(&mut self) {
        self.stop(true);
        self.spawn();
    }

    /// Run `herald ARGS --data-dir DIR` with `stdin`; (exit ok, stdout, stderr).
    pub fn cli(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        run_cli(&self.data_dir(), args, stdin)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        auth: Option<(&str, &str)>,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        raw_request(&self.addr, method, path, auth, headers, body)
    }

    /// A request as admin.
    pub fn req(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        self.request(
            method,
            path,
            Some(("admin", ADMIN_PASSWORD)),
            headers,
            body.as_bytes(),
        )
    }

    pub fn put_ics(&self, path: &str, ics: &str) -> Resp {
        self.req("PUT", path, &[("Content-Type", "text/calendar")], ics)
    }

    pub fn add_user(&self, name: &str, email: &str, password: &str) {
        let (ok, out, err) = self.cli(
            &["user", "add", name, "--email", email, "--password-stdin"],
            password,
        );
        assert!(ok, "user add failed: {out} {err}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop(true);
    }
}

pub fn run_cli(data_dir: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(bin())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn basic(user: &str, pass: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{pass}");
    let bytes = input.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

pub fn raw_request(
    addr: &str,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some((u, p)) = auth {
        req.push_str(&format!("Authorization: {}\r\n", basic(u, p)));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    // The server may answer (413) and close before reading a large body.
    let _ = s.write_all(req.as_bytes()).and_then(|_| s.write_all(body));
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> Resp {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + size]);
        b = &b[nl + 2 + size + 2..];
    }
    out
}

/// The hrefs of a multistatus answer, in order, with their first status.
pub fn hrefs(body: &str) -> Vec<String> {
    body.split("<D:href>")
        .skip(1)
        .map(|s| s.split("</D:href>").next().unwrap().to_string())
        .collect()
}

/// A VEVENT calendar object.
pub fn event(uid: &str, start: &str, end: &str, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:Event {uid}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

pub const CAL: &str = "/dav/calendars/admin/default/";

/// Poll `f` every 50 ms until it holds or `secs` pass.
pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
