//! A small SMTP server for tests: accepts mail on loopback, records each
//! message with its recipient, counts connections, answers 550 for
//! recipients it is told to refuse, and can be slowed down (a delay between
//! taking a message and its 250, like a relay that checks before it answers).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Received {
    pub rcpt: String,
    pub data: String,
}

#[derive(Default)]
struct State {
    messages: Vec<Received>,
    connections: usize,
    refuse: Vec<String>,
    delay: Duration,
}

pub struct Sink {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl Sink {
    /// Listen on `port` (0 for any free one).
    pub fn start(port: u16, refuse: &[&str]) -> Sink {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            refuse: refuse.iter().map(|s| s.to_lowercase()).collect(),
            ..State::default()
        }));
        let st = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                st.lock().unwrap().connections += 1;
                let st = st.clone();
                std::thread::spawn(move || serve(stream, st));
            }
        });
        Sink { port, state }
    }

    pub fn messages(&self) -> Vec<Received> {
        self.state.lock().unwrap().messages.clone()
    }

    /// How many messages arrived (each recipient counts).
    pub fn count(&self) -> usize {
        self.state.lock().unwrap().messages.len()
    }

    /// Wait this long after each message before answering 250.
    pub fn set_delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    /// Wait until at least `n` messages arrived (or panic after `secs`).
    pub fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} messages arrived",
                m.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A port nothing listens on right now (for "the relay is down").
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(stream: TcpStream, st: Arc<Mutex<State>>) {
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let _ = w.write_all(b"220 sink ESMTP\r\n");
    let mut rcpts: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let upper = line.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            "250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n".into()
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            "250 ok\r\n".into()
        } else if upper.starts_with("MAIL FROM") {
            rcpts.clear();
            "250 ok\r\n".into()
        } else if upper.starts_with("RCPT TO") {
            let addr = line[8..]
                .trim()
                .trim_start_matches(':')
                .trim()
                .trim_matches(|c| c == '<' || c == '>')
                .to_lowercase();
            if st.lock().unwrap().refuse.contains(&addr) {
                "550 5.1.1 no such user\r\n".into()
            } else {
                rcpts.push(addr);
                "250 ok\r\n".into()
            }
        } else if upper.starts_with("DATA") {
            let _ = w.write_all(b"354 go ahead\r\n");
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).unwrap_or(0) == 0 {
                    return;
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(
                    l.strip_prefix('.')
                        .filter(|_| l.starts_with(".."))
                        .unwrap_or(&l),
                );
            }
            let delay = {
                let mut s = st.lock().unwrap();
                for rcpt in &rcpts {
                    s.messages.push(Received {
                        rcpt: rcpt.clone(),
                        data: data.clone(),
                    });
                }
                s.delay
            };
            std::thread::sleep(delay);
            "250 queued\r\n".into()
        } else if upper.starts_with("RSET") {
            rcpts.clear();
            "250 ok\r\n".into()
        } else if upper.starts_with("QUIT") {
            let _ = w.write_all(b"221 bye\r\n");
            return;
        } else {
            "502 not implemented\r\n".into()
        };
        if w.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}
