//! `herald doctor`: checks a configuration and its surroundings and says,
//! line by line, what works and what will not (mail relay, reply trust,
//! TLS files, the database or running server, the outbox).

use super::request;
use crate::config::Config;
use crate::control::Request;
use std::time::Duration;

/// How long the SMTP relay gets to accept a TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

struct Report {
    errors: usize,
}

impl Report {
    fn ok(&self, what: &str) {
        println!("ok:    {what}");
    }
    fn warn(&self, what: &str) {
        println!("warn:  {what}");
    }
    fn error(&mut self, what: &str) {
        self.errors += 1;
        println!("error: {what}");
    }
}

/// Run every check; Err when one of them is an error (exit code 1).
pub async fn doctor(config: &Config) -> Result<(), String> {
    let mut r = Report { errors: 0 };
    r.ok(&format!(
        "configuration valid; listen {}",
        config.server.listen
    ));
    let dir = &config.server.data_dir;
    match request(config, Request::UserList).await {
        Ok(users) => r.ok(&format!(
            "database in {} readable; {} user(s)",
            dir.display(),
            users.lines().count()
        )),
        Err(e) => r.error(&format!("database in {}: {e}", dir.display())),
    }
    for (name, path) in [("tls.cert", &config.tls.cert), ("tls.key", &config.tls.key)] {
        if let Some(p) = path {
            match std::fs::metadata(p) {
                Ok(_) => r.ok(&format!("{name} {} readable", p.display())),
                Err(e) => r.error(&format!("{name} {}: {e}", p.display())),
            }
        }
    }
    let smtp = &config.smtp;
    if smtp.is_configured() {
        let addr = format!("{}:{}", smtp.host.trim(), smtp.port);
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&addr)).await {
            Ok(Ok(_)) => r.ok(&format!(
                "SMTP relay {addr} accepts connections ({})",
                smtp.security
            )),
            Ok(Err(e)) => r.error(&format!("SMTP relay {addr}: {e}")),
            Err(_) => r.error(&format!(
                "SMTP relay {addr}: no answer within {CONNECT_TIMEOUT:?}"
            )),
        }
        if let Err(e) = smtp.password() {
            r.error(&format!("smtp password: {e}"));
        }
    } else {
        r.warn(&format!(
            "no [smtp] host: invitations are written to {}, not sent",
            dir.join(crate::delivery::SPOOL_DIR).display()
        ));
    }
    let imip = &config.imip;
    if imip.sender_verification == "from-only" {
        r.warn("imip.sender_verification = \"from-only\": replies are trusted by their From alone; only safe behind an MTA that rejects DMARC failures");
    } else if imip.trusted_authserv_ids.is_empty() && !imip.reply_tokens {
        r.warn("replies by email are refused: set imip.trusted_authserv_ids to your MTA's authserv-id, or imip.reply_tokens with imip.reply_address");
    } else {
        r.ok("replies by email are checked (trusted Authentication-Results or reply tokens)");
    }
    match &imip.lmtp_listen {
        Some(addr) => r.ok(&format!("LMTP listener configured on {addr}")),
        None => r.ok("LMTP listener off; `herald ingest` receives mail from an MTA pipe"),
    }
    match request(config, Request::OutboxList).await {
        Ok(list) => {
            let pending = list.lines().filter(|l| l.contains("\tpending")).count();
            let failed = list.lines().filter(|l| l.contains("\tfailed")).count();
            if failed > 0 {
                r.warn(&format!(
                    "outbox: {pending} pending, {failed} failed (see `herald outbox list`)"
                ));
            } else {
                r.ok(&format!("outbox: {pending} pending, none failed"));
            }
        }
        Err(e) => r.error(&format!("outbox: {e}")),
    }
    if r.errors > 0 {
        Err(format!("{} problem(s) found", r.errors))
    } else {
        Ok(())
    }
}
