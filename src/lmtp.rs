//! The LMTP listener (RFC 2033): lets any MTA hand mail to herald. One
//! message per transaction, one reply per accepted recipient after DATA
//! (the same outcome for each: the message is processed once), size limit
//! enforced while reading. Off unless `imip.lmtp_listen` is set.
//! Connections count under the server's cap (`crate::conn`); a command line
//! must arrive within `limits.idle_timeout_seconds` and a whole DATA within
//! `limits.body_timeout_seconds`, or the session is closed with 421.

use crate::config::{ImipConfig, LimitsConfig};
use crate::conn::Limiter;
use crate::engine::{self, Outcome};
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Longest command line accepted (RFC 5321 section 4.5.3.1.4 says 512; be lenient).
const MAX_LINE: usize = 4096;
/// Most recipients per transaction.
const MAX_RECIPIENTS: usize = 100;

/// The session bounds: deadlines and the shared connection cap.
#[derive(Clone)]
pub struct Limits {
    /// Longest wait for one command line.
    pub idle: Duration,
    /// Longest time for a whole DATA.
    pub data: Duration,
    pub limiter: Arc<Limiter>,
}

impl Limits {
    pub fn from_config(l: &LimitsConfig, limiter: Arc<Limiter>) -> Limits {
        Limits {
            idle: Duration::from_secs(l.idle_timeout_seconds),
            data: Duration::from_secs(l.body_timeout_seconds),
            limiter,
        }
    }
}

/// Accept LMTP connections until the task is dropped.
pub async fn serve(listener: TcpListener, store: Store, config: Arc<ImipConfig>, limits: Limits) {
    loop {
        let (mut stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("lmtp accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(admission) = limits.limiter.admit().await else {
            tokio::spawn(async move {
                let reply = b"421 4.3.2 too many connections, try again later\r\n";
                let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(reply)).await;
            });
            continue;
        };
        let (store, config, limits) = (store.clone(), config.clone(), limits.clone());
        tokio::spawn(async move {
            // An LMTP session is never evicted for a newcomer; its own
            // deadlines bound it.
            let _busy = admission.conn.begin(false);
            if let Err(e) = session(stream, &store, &config, &limits).await {
                tracing::debug!("lmtp {peer}: {e}");
            }
            drop(admission);
        });
    }
}

fn timed_out(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{what} timed out"))
}

/// Read one line (CRLF or LF), at most `max` bytes; None at end of stream.
async fn read_line(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    max: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = (&mut *r)
        .take(max as u64 + 2)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if !line.ends_with(b"\n") && line.len() > max {
        return Err(std::io::Error::other("line too long"));
    }
    while line.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

async fn session(
    stream: TcpStream,
    store: &Store,
    config: &ImipConfig,
    limits: &Limits,
) -> std::io::Result<()> {
    // Replies are small writes in a dialogue; Nagle + delayed ACK would add
    // 40 ms to each.
    let _ = stream.set_nodelay(true);
    let (rd, mut w) = stream.into_split();
    let mut r = BufReader::new(rd);
    w.write_all(b"220 herald LMTP ready\r\n").await?;
    let mut from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    loop {
        let line = match tokio::time::timeout(limits.idle, read_line(&mut r, MAX_LINE)).await {
            Ok(line) => line?,
            Err(_) => {
                w.write_all(b"421 4.4.2 idle too long, closing\r\n").await?;
                return Err(timed_out("waiting for a command"));
            }
        };
        let Some(line) = line else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(&line).to_string();
        let upper = text.to_ascii_uppercase();
        let reply = if upper.starts_with("LHLO") {
            format!(
                "250-herald\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE {}",
                config.max_message_bytes
            )
        } else if upper.starts_with("MAIL FROM:") {
            let size = upper
                .split_whitespace()
                .find_map(|p| p.strip_prefix("SIZE="))
                .and_then(|v| v.parse::<usize>().ok());
            if size.is_some_and(|s| s > config.max_message_bytes) {
                "552 5.3.4 message too big".to_string()
            } else {
                from = Some(text[10..].trim().to_string());
                rcpts.clear();
                "250 2.1.0 ok".to_string()
            }
        } else if upper.starts_with("RCPT TO:") {
            if from.is_none() {
                "503 5.5.1 MAIL first".to_string()
            } else if rcpts.len() >= MAX_RECIPIENTS {
                "452 4.5.3 too many recipients".to_string()
            } else {
                let addr = text[8..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_matches(|c| c == '<' || c == '>')
                    .to_string();
                rcpts.push(addr);
                "250 2.1.5 ok".to_string()
            }
        } else if upper == "DATA" {
            if rcpts.is_empty() {
                "503 5.5.1 RCPT first".to_string()
            } else {
                w.write_all(b"354 send the message, end with <CRLF>.<CRLF>\r\n")
                    .await?;
                let data = read_data(&mut r, config.max_message_bytes);
                let (message, too_big) = match tokio::time::timeout(limits.data, data).await {
                    Ok(read) => read?,
                    Err(_) => {
                        w.write_all(b"421 4.4.2 DATA took too long, closing\r\n")
                            .await?;
                        return Err(timed_out("DATA"));
                    }
                };
                let outcome = if too_big {
                    Outcome::DataError(format!(
                        "message larger than {} bytes",
                        config.max_message_bytes
                    ))
                } else {
                    engine::apply_mail(store, config, &message, &rcpts).await
                };
                let line = reply_line(&outcome);
                let mut out = String::new();
                for _ in &rcpts {
                    out.push_str(&line);
                    out.push_str("\r\n");
                }
                w.write_all(out.as_bytes()).await?;
                from = None;
                rcpts.clear();
                continue;
            }
        } else if upper == "RSET" {
            from = None;
            rcpts.clear();
            "250 2.0.0 ok".to_string()
        } else if upper == "NOOP" {
            "250 2.0.0 ok".to_string()
        } else if upper.starts_with("VRFY") {
            "252 2.1.5 cannot verify".to_string()
        } else if upper == "QUIT" {
            w.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            "500 5.5.2 command not recognised".to_string()
        };
        w.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
}

/// Read DATA up to the lone "."; undo dot-stuffing; stop keeping bytes past
/// `max` (but read to the end so the session stays in step).
async fn read_data(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    max: usize,
) -> std::io::Result<(Vec<u8>, bool)> {
    let mut message = Vec::new();
    let mut too_big = false;
    loop {
        let mut line = Vec::new();
        let n = (&mut *r).take(1 << 20).read_until(b'\n', &mut line).await?;
        if n == 0 {
            return Err(std::io::Error::other("connection closed during DATA"));
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok((message, too_big));
        }
        let body = if line.starts_with(b"..") {
            &line[1..]
        } else {
            &line[..]
        };
        if message.len() + body.len() > max {
            too_big = true;
        } else if !too_big {
            message.extend_from_slice(body);
        }
    }
}

/// The LMTP reply line for one recipient (RFC 2033 section 4.2).
fn reply_line(outcome: &Outcome) -> String {
    match outcome {
        Outcome::DataError(why) => format!("554 5.6.0 {}", engine::one_line(why)),
        Outcome::TempFail(why) => format!("451 4.3.0 {}", engine::one_line(why)),
        other => format!("250 2.0.0 {}", engine::one_line(&other.to_string())),
    }
}
