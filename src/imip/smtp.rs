//! The SMTP client: one transaction per recipient over a connection that is
//! kept open between messages and opened again when it dropped.

use std::time::Duration;

use mail_send::smtp::AssertReply;
use mail_send::smtp::message::Parameters;
use mail_send::{Credentials, SmtpClient, SmtpClientBuilder};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::{SmtpConfig, bare_address};

/// Result of one SMTP delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Sent,
    /// 4xx, connection refused, timeout, TLS failure: try again later.
    Transient(String),
    /// 5xx for this recipient (e.g. 550 no such user): do not retry.
    Permanent(String),
}

pub(super) enum Conn {
    Plain(SmtpClient<TcpStream>),
    Tls(Box<SmtpClient<TlsStream<TcpStream>>>),
}

/// An SMTP client that keeps its connection open between messages.
pub struct SmtpSender {
    config: SmtpConfig,
    builder: Option<SmtpClientBuilder<String>>,
    pub(super) conn: Option<Conn>,
}

/// How a failed step ends the attempt, and whether the connection is still usable.
struct Failure {
    delivery: Delivery,
    keep: bool,
}

fn failure(step: &str, err: mail_send::Error) -> Failure {
    match err {
        mail_send::Error::UnexpectedReply(r) => {
            let text = format!("{step}: {} {}", r.code, r.message.trim());
            // 421: the server closes the connection.
            let keep = r.code != 421;
            let delivery = if (500..600).contains(&r.code) {
                Delivery::Permanent(text)
            } else {
                Delivery::Transient(text)
            };
            Failure { delivery, keep }
        }
        other => Failure {
            delivery: Delivery::Transient(format!("{step}: {other}")),
            keep: false,
        },
    }
}

/// MAIL FROM, RCPT TO and DATA up to the server's 354: everything of a
/// transaction before the message is handed over. After a refusal the
/// transaction is reset so the connection can carry the next one.
async fn open_transaction<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<T>,
    from: &str,
    to: &str,
) -> Result<(), Failure> {
    let params = Parameters::default();
    let result: Result<(), Failure> = async {
        client
            .mail_from(from, &params)
            .await
            .map_err(|e| failure("MAIL FROM", e))?;
        client
            .rcpt_to(to, &params)
            .await
            .map_err(|e| failure("RCPT TO", e))?;
        client
            .cmd(b"DATA\r\n")
            .await
            .and_then(|r| r.assert_code(354))
            .map_err(|e| failure("DATA", e))?;
        Ok(())
    }
    .await;
    match result {
        Err(mut f) if f.keep => {
            f.keep = client.rset().await.is_ok();
            Err(f)
        }
        other => other,
    }
}

/// `message` as DATA carries it (RFC 5321 section 4.5.2): a line that
/// begins with "." gets another one, and the message ends with CRLF, so
/// that only the final "." CRLF is left to send.
fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    let mut line_start = true;
    for &b in message {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The message after the server's 354, without the final ".": the server
/// can deliver nothing until that arrives.
async fn write_body<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<T>,
    message: &[u8],
    timeout: Duration,
) -> Result<(), Failure> {
    let body = dot_stuffed(message);
    tokio::time::timeout(timeout, client.stream.write_all(&body))
        .await
        .map_err(|_| mail_send::Error::Timeout)
        .and_then(|r| r.map_err(mail_send::Error::Io))
        .map_err(|e| failure("DATA", e))
}

/// The final "." (the point after which the server may deliver the
/// message), then the server's answer.
async fn hand_over<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<T>,
    timeout: Duration,
) -> Result<(), Failure> {
    let answer = tokio::time::timeout(timeout, async {
        client.stream.write_all(b".\r\n").await?;
        client.stream.flush().await?;
        client.read().await
    })
    .await
    .map_err(|_| mail_send::Error::Timeout)
    .and_then(|r| r)
    .and_then(|r| r.into_positive_completion());
    answer.map(|_| ()).map_err(|e| failure("DATA", e))
}

impl SmtpSender {
    pub fn new(config: SmtpConfig) -> Self {
        SmtpSender {
            config,
            builder: None,
            conn: None,
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.config.timeout_seconds.clamp(1, 86_400))
    }

    /// The connection settings, made once (the TLS set-up loads the
    /// system's root certificates).
    fn builder(&mut self) -> Result<&SmtpClientBuilder<String>, String> {
        if self.builder.is_none() {
            // rustls needs a process-wide provider; this build only has ring.
            let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
            let c = &self.config;
            let host = c.host.trim().to_string();
            let b = if c.security.eq_ignore_ascii_case("none") {
                // No TLS will be spoken: do not depend on the system's root
                // certificates (a minimal machine may have none).
                SmtpClientBuilder::new_with_tls_connector(host, c.port, unused_tls_connector()?)
            } else {
                SmtpClientBuilder::new(host, c.port).map_err(|e| format!("TLS set-up: {e}"))?
            };
            let mut b = b
                .implicit_tls(c.security.eq_ignore_ascii_case("tls"))
                .timeout(self.timeout());
            if let Some(helo) = c.helo.as_ref().filter(|h| !h.trim().is_empty()) {
                b = b.helo_host(helo.trim());
            }
            if let Some(user) = &c.username {
                let secret = c.password().map_err(|e| e.to_string())?.unwrap_or_default();
                b = b.credentials(Credentials::new(user.clone(), secret));
            }
            self.builder = Some(b);
        }
        self.builder
            .as_ref()
            .ok_or_else(|| "no SMTP settings".to_string())
    }

    async fn connect(&mut self) -> Result<Conn, String> {
        let plain = self.config.security.eq_ignore_ascii_case("none");
        let timeout = self.timeout();
        let host = format!("{}:{}", self.config.host.trim(), self.config.port);
        let builder = self.builder()?;
        let result = if plain {
            tokio::time::timeout(timeout, builder.connect_plain())
                .await
                .map(|r| r.map(Conn::Plain))
        } else {
            tokio::time::timeout(timeout, builder.connect())
                .await
                .map(|r| r.map(|c| Conn::Tls(Box::new(c))))
        };
        match result {
            Ok(Ok(conn)) => {
                // SMTP is a dialogue of small writes: without this, Nagle's
                // algorithm and delayed ACKs add ~40 ms to every command.
                let tcp = match &conn {
                    Conn::Plain(c) => &c.stream,
                    Conn::Tls(c) => c.stream.get_ref().0,
                };
                let _ = tcp.set_nodelay(true);
                Ok(conn)
            }
            Ok(Err(e)) => Err(format!("connecting to {host}: {e}")),
            Err(_) => Err(format!("connecting to {host}: timed out")),
        }
    }

    /// Is the kept connection still alive? (RSET also clears any state.)
    async fn alive(conn: &mut Conn) -> bool {
        match conn {
            Conn::Plain(c) => c.rset().await.is_ok(),
            Conn::Tls(c) => c.rset().await.is_ok(),
        }
    }

    /// Ends the kept connection politely (QUIT), e.g. when the outbox is empty.
    pub async fn close(&mut self) {
        match self.conn.take() {
            Some(Conn::Plain(c)) => drop(c.quit().await),
            Some(Conn::Tls(c)) => drop((*c).quit().await),
            None => {}
        }
    }

    /// One delivery attempt of `message` to `recipient` ("mailto:x@y" or "x@y").
    pub async fn send(&mut self, recipient: &str, message: &[u8]) -> Delivery {
        match self.open(recipient, message).await {
            Ok(()) => self.hand_over().await,
            Err(d) => d,
        }
    }

    /// First half of a delivery attempt: connect if needed, then MAIL FROM,
    /// RCPT TO, DATA and the message without its final ".". The server then
    /// waits for that ".", given by `hand_over`; until then nothing can have
    /// been delivered.
    pub async fn open(&mut self, recipient: &str, message: &[u8]) -> Result<(), Delivery> {
        if !self.config.is_configured() {
            return Err(Delivery::Transient("no SMTP host configured".into()));
        }
        let Some(to) = bare_address(recipient) else {
            return Err(Delivery::Permanent(format!(
                "not a mail address: {recipient:?}"
            )));
        };
        let Some(from) = bare_address(&self.config.from).map(str::to_string) else {
            return Err(Delivery::Transient(format!(
                "bad [smtp] from: {:?}",
                self.config.from
            )));
        };
        let mut kept = self.conn.take();
        if let Some(c) = kept.as_mut()
            && !Self::alive(c).await
        {
            kept = None;
        }
        let mut conn = match kept {
            Some(c) => c,
            None => self.connect().await.map_err(Delivery::Transient)?,
        };
        let timeout = self.timeout();
        let result = match &mut conn {
            Conn::Plain(c) => match open_transaction(c, &from, to).await {
                Ok(()) => write_body(c, message, timeout).await,
                Err(f) => Err(f),
            },
            Conn::Tls(c) => match open_transaction(c, &from, to).await {
                Ok(()) => write_body(c, message, timeout).await,
                Err(f) => Err(f),
            },
        };
        self.settle(conn, result)
    }

    /// Second half: the final ".". `Sent` means the server took
    /// responsibility for the message (its 250 after that ".").
    pub async fn hand_over(&mut self) -> Delivery {
        let Some(mut conn) = self.conn.take() else {
            return Delivery::Transient("DATA: no open transaction".into());
        };
        let timeout = self.timeout();
        let result = match &mut conn {
            Conn::Plain(c) => hand_over(c, timeout).await,
            Conn::Tls(c) => hand_over(c, timeout).await,
        };
        match self.settle(conn, result) {
            Ok(()) => Delivery::Sent,
            Err(d) => d,
        }
    }

    /// Keep the connection when it can carry another command.
    fn settle(&mut self, conn: Conn, result: Result<(), Failure>) -> Result<(), Delivery> {
        match result {
            Ok(()) => {
                self.conn = Some(conn);
                Ok(())
            }
            Err(f) => {
                if f.keep {
                    self.conn = Some(conn);
                }
                Err(f.delivery)
            }
        }
    }
}

/// A TLS connector that is never used (security = "none"): no roots.
fn unused_tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    use tokio_rustls::rustls;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        config,
    )))
}

#[cfg(test)]
mod tests {
    use super::dot_stuffed;

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_ends_with_crlf() {
        assert_eq!(
            dot_stuffed(b".a\r\nb.\r\n..c\r\n"),
            b"..a\r\nb.\r\n...c\r\n"
        );
        assert_eq!(dot_stuffed(b"x\r\n.\r\ny"), b"x\r\n..\r\ny\r\n");
        assert_eq!(dot_stuffed(b""), b"\r\n");
        assert_eq!(dot_stuffed(b"a\r\n"), b"a\r\n");
    }
}
