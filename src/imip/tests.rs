//! Tests of the iMIP module: golden messages, the From/Reply-To rule, DKIM,
//! the SMTP client against a small in-process SMTP sink, the spool and the
//! back-off.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::TimeZone;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::*;

const TZ: &str = "BEGIN:VTIMEZONE\r\n\
TZID:Europe/Berlin\r\n\
BEGIN:STANDARD\r\n\
DTSTART:19701025T030000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
TZOFFSETFROM:+0200\r\n\
TZOFFSETTO:+0100\r\n\
TZNAME:CET\r\n\
END:STANDARD\r\n\
BEGIN:DAYLIGHT\r\n\
DTSTART:19700329T020000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
TZOFFSETFROM:+0100\r\n\
TZOFFSETTO:+0200\r\n\
TZNAME:CEST\r\n\
END:DAYLIGHT\r\n\
END:VTIMEZONE\r\n";

/// The test event; a REPLY carries only the replying attendee (RFC 5546 3.2.3).
fn ical(method: &str, sequence: u32, bob_partstat: &str) -> String {
    let all = ical_all(method, sequence, bob_partstat);
    if method != "REPLY" {
        return all;
    }
    let carol = "ATTENDEE;CN=\"Carol, Q.\";ROLE=OPT-PARTICIPANT;PARTSTAT=NEEDS-ACTION:mailt\r\n o:carol@example.net\r\n";
    assert!(all.contains(carol));
    all.replace(carol, "")
}

fn ical_all(method: &str, sequence: u32, bob_partstat: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Herald//Tests//EN\r\n\
METHOD:{method}\r\n\
{TZ}\
BEGIN:VEVENT\r\n\
UID:7f3c2a10-herald-test@example.org\r\n\
DTSTAMP:20250301T120000Z\r\n\
DTSTART;TZID=Europe/Berlin:20250310T100000\r\n\
DTEND;TZID=Europe/Berlin:20250310T113000\r\n\
SEQUENCE:{sequence}\r\n\
SUMMARY:Quarterly planning\\, Q2\r\n\
LOCATION:Room \"Spree\" <3rd floor> & video\r\n\
ORGANIZER;CN=Alice Example:mailto:alice@example.org\r\n\
ATTENDEE;CN=Bob Builder;ROLE=REQ-PARTICIPANT;PARTSTAT={bob_partstat};\r\n \
RSVP=TRUE:mailto:bob@example.com\r\n\
ATTENDEE;CN=\"Carol, Q.\";ROLE=OPT-PARTICIPANT;PARTSTAT=NEEDS-ACTION:mailt\r\n \
o:carol@example.net\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n"
    )
}

fn date() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

fn config() -> SmtpConfig {
    SmtpConfig {
        from: "herald@calendar.example.org".into(),
        ..SmtpConfig::default()
    }
}

fn build(
    method: &str,
    seq: u32,
    partstat: &str,
    sender: &str,
    to: &str,
    cfg: &SmtpConfig,
) -> String {
    let ical = ical(method, seq, partstat);
    let out = Outgoing {
        method,
        recipient: to,
        sender,
        ical: &ical,
        message_id: "herald-42.1740830400@calendar.example.org",
        date: date(),
        reminder: false,
    };
    String::from_utf8(build_message(&out, cfg).unwrap()).unwrap()
}

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/imip-out")
        .join(name);
    if std::env::var("HERALD_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (HERALD_BLESS=1 writes it)", path.display()));
    assert!(
        expected == actual,
        "{} differs from the built message (HERALD_BLESS=1 rewrites it):\n{actual}",
        path.display()
    );
}

#[test]
fn golden_request() {
    let m = build(
        "REQUEST",
        0,
        "NEEDS-ACTION",
        "mailto:alice@example.org",
        "mailto:bob@example.com",
        &config(),
    );
    golden("request.eml", &m);
}

#[test]
fn golden_cancel() {
    let m = build(
        "CANCEL",
        2,
        "NEEDS-ACTION",
        "mailto:alice@example.org",
        "mailto:bob@example.com",
        &config(),
    );
    golden("cancel.eml", &m);
}

#[test]
fn golden_reply() {
    let m = build(
        "REPLY",
        0,
        "ACCEPTED",
        "mailto:bob@example.com",
        "mailto:alice@example.org",
        &config(),
    );
    golden("reply.eml", &m);
}

/// The headers block of a message, unfolded.
fn headers(m: &str) -> Vec<String> {
    let head = m.split("\r\n\r\n").next().unwrap();
    head.replace("\r\n ", " ")
        .replace("\r\n\t", " ")
        .split("\r\n")
        .map(str::to_string)
        .collect()
}

fn header(m: &str, name: &str) -> Option<String> {
    headers(m).into_iter().find_map(|h| {
        let (n, v) = h.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

#[test]
fn from_is_sender_for_own_domains() {
    let cfg = SmtpConfig {
        sender_domains: vec!["EXAMPLE.org".into()],
        ..config()
    };
    let m = build(
        "REQUEST",
        0,
        "NEEDS-ACTION",
        "mailto:Alice@Example.ORG",
        "mailto:bob@example.com",
        &cfg,
    );
    assert_eq!(
        header(&m, "From").unwrap(),
        "\"Alice Example\" <Alice@Example.ORG>"
    );
    assert_eq!(header(&m, "Reply-To"), None);
    assert_eq!(
        header(&m, "To").unwrap(),
        "\"Bob Builder\" <bob@example.com>"
    );
}

#[test]
fn from_is_herald_for_other_domains() {
    let m = build(
        "REQUEST",
        0,
        "NEEDS-ACTION",
        "mailto:alice@example.org",
        "mailto:bob@example.com",
        &config(),
    );
    assert_eq!(
        header(&m, "From").unwrap(),
        "\"Alice Example via Herald\" <herald@calendar.example.org>"
    );
    assert_eq!(
        header(&m, "Reply-To").unwrap(),
        "\"Alice Example\" <alice@example.org>"
    );
    // No CN: the local part names the sender.
    let cfg = SmtpConfig {
        sender_domains: vec!["example.com".into()],
        ..config()
    };
    let m = build(
        "REQUEST",
        0,
        "NEEDS-ACTION",
        "mailto:dave@elsewhere.test",
        "mailto:bob@example.com",
        &cfg,
    );
    assert_eq!(
        header(&m, "From").unwrap(),
        "\"dave via Herald\" <herald@calendar.example.org>"
    );
    assert_eq!(header(&m, "Reply-To").unwrap(), "<dave@elsewhere.test>");
}

#[test]
fn structure_and_calendar_part() {
    let m = build(
        "REQUEST",
        1,
        "NEEDS-ACTION",
        "mailto:alice@example.org",
        "mailto:bob@example.com",
        &config(),
    );
    assert!(header(&m, "Subject").unwrap().starts_with(
        "Updated invitation: Quarterly planning, Q2 @ Mon 10 Mar 2025 10:00 - 11:30 (Europe/Berlin)"
    ));
    assert!(m.contains("Content-Type: text/calendar; method=REQUEST; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n"));
    assert!(m.contains("Content-Type: multipart/alternative;"));
    assert!(m.contains("Content-Disposition: attachment; filename=\"invite.ics\""));
    // The calendar data goes out unchanged (7bit, CRLF kept).
    assert!(m.contains(&ical("REQUEST", 1, "NEEDS-ACTION")));
    assert!(m.contains("09:00 - 10:30 UTC"));
    assert!(m.contains("&lt;3rd floor&gt; &amp; video"));
    // Same input, same bytes.
    let again = build(
        "REQUEST",
        1,
        "NEEDS-ACTION",
        "mailto:alice@example.org",
        "mailto:bob@example.com",
        &config(),
    );
    assert_eq!(m, again);
}

#[test]
fn non_ascii_calendar_keeps_crlf() {
    let ical =
        ical("REQUEST", 0, "NEEDS-ACTION").replace("Quarterly planning", "Planung für Müller");
    let out = Outgoing {
        method: "REQUEST",
        recipient: "mailto:bob@example.com",
        sender: "mailto:alice@example.org",
        ical: &ical,
        message_id: "x.1@h",
        date: date(),
        reminder: false,
    };
    let m = String::from_utf8(build_message(&out, &config()).unwrap()).unwrap();
    let cal = m.split("method=REQUEST; charset=UTF-8\r\n").nth(1).unwrap();
    let (cte, rest) = cal.split_once("\r\n\r\n").unwrap();
    assert!(
        cte.contains("quoted-printable") || cte.contains("base64"),
        "{cte}"
    );
    if cte.contains("quoted-printable") {
        // Hard line breaks stay CRLF; the text decodes back to the data.
        let body = rest.split("\r\n--").next().unwrap();
        let decoded = qp_decode(body);
        assert_eq!(decoded, ical);
    }
    assert!(header(&m, "Subject").unwrap().starts_with("=?utf-8?"));
    if std::env::var("HERALD_SHOW").is_ok() {
        println!("{m}");
    }
}

fn qp_decode(text: &str) -> String {
    let text = text.replace("=\r\n", "");
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn bad_inputs_are_errors() {
    let ical = ical("REQUEST", 0, "NEEDS-ACTION");
    let base = Outgoing {
        method: "REQUEST",
        recipient: "mailto:bob@example.com",
        sender: "mailto:alice@example.org",
        ical: &ical,
        message_id: "a.1@h",
        date: date(),
        reminder: false,
    };
    let cfg = config();
    for out in [
        Outgoing {
            recipient: "mailto:bob@example.com\r\nBcc: x@y",
            ..base
        },
        Outgoing {
            recipient: "urn:uuid:123",
            ..base
        },
        Outgoing {
            sender: "mailto:",
            ..base
        },
        Outgoing {
            message_id: "../etc/passwd",
            ..base
        },
        Outgoing {
            message_id: "a b",
            ..base
        },
        Outgoing {
            method: "CANCEL",
            ..base
        },
        Outgoing {
            method: "RE QUEST",
            ..base
        },
        Outgoing {
            ical: "garbage",
            ..base
        },
    ] {
        assert!(build_message(&out, &cfg).is_err());
    }
    let only_key = SmtpConfig {
        dkim_key: Some("/nonexistent".into()),
        ..config()
    };
    assert!(build_message(&base, &only_key).is_err());
    // Odd calendar data still builds.
    let odd = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:nonsense\r\nDURATION:P99999999999999999999W\r\nATTENDEE;CN=\"x:mailto:\r\nEND:VCALENDAR\r\n";
    assert!(build_message(&Outgoing { ical: odd, ..base }, &cfg).is_ok());
}

#[test]
fn all_day_and_utc_times() {
    let ical = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nSUMMARY:Offsite\r\nDTSTART;VALUE=DATE:20250310\r\nDTEND;VALUE=DATE:20250312\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let s = summary::read(ical);
    assert_eq!(
        s.when_long().unwrap(),
        "Monday, 10 March 2025 - Tuesday, 11 March 2025 (all day)"
    );
    let ical = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20250310T090000Z\r\nDURATION:PT45M\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(
        summary::read(ical).when_short().unwrap(),
        "Mon 10 Mar 2025 09:00 - 09:45 UTC"
    );
}

// ---- DKIM ----

#[test]
fn dkim_signs_with_ed25519() {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64ct::Base64::encode_string(pkcs8.as_ref())
    );
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("dkim.pem");
    std::fs::write(&key, pem).unwrap();
    let cfg = SmtpConfig {
        dkim_key: Some(key),
        dkim_selector: Some("herald".into()),
        sender_domains: vec!["example.org".into()],
        ..config()
    };
    let m = build(
        "REQUEST",
        0,
        "NEEDS-ACTION",
        "mailto:alice@example.org",
        "mailto:bob@example.com",
        &cfg,
    );
    let sig = header(&m, "DKIM-Signature").unwrap();
    assert!(
        sig.contains("a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=herald;"),
        "{sig}"
    );
    assert!(
        sig.contains("h=from:to:subject:date:message-id:mime-version:content-type;"),
        "{sig}"
    );
    // Via Herald: d= is the domain of `from`.
    let cfg = SmtpConfig {
        sender_domains: vec![],
        ..cfg
    };
    let m = build(
        "REQUEST",
        0,
        "NEEDS-ACTION",
        "mailto:alice@example.org",
        "mailto:bob@example.com",
        &cfg,
    );
    assert!(
        header(&m, "DKIM-Signature")
            .unwrap()
            .contains("d=calendar.example.org;")
    );
}

use base64ct::Encoding;

// ---- SMTP ----

#[derive(Default)]
struct Sink {
    connections: usize,
    /// (recipient, message) of accepted messages.
    messages: Vec<(String, String)>,
    commands: Vec<String>,
}

/// A tiny SMTP server: 550 for `nobody@…`, 451 for `busy@…`.
async fn sink() -> (u16, Arc<Mutex<Sink>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = Arc::new(Mutex::new(Sink::default()));
    let st = state.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            st.lock().unwrap().connections += 1;
            let st = st.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut r = BufReader::new(r);
                w.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut rcpt = String::new();
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_string();
                    st.lock().unwrap().commands.push(cmd.clone());
                    let upper = cmd.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        b"250 ok\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        if upper.contains("NOBODY@") {
                            b"550 5.1.1 no such user\r\n"
                        } else if upper.contains("BUSY@") {
                            b"451 4.3.0 try later\r\n"
                        } else {
                            rcpt = cmd[8..].trim().trim_matches(['<', '>']).to_string();
                            b"250 ok\r\n"
                        }
                    } else if upper == "DATA" {
                        w.write_all(b"354 go\r\n").await.unwrap();
                        let mut data = String::new();
                        loop {
                            line.clear();
                            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" {
                                break;
                            }
                            data.push_str(line.strip_prefix('.').unwrap_or(&line));
                        }
                        st.lock().unwrap().messages.push((rcpt.clone(), data));
                        b"250 queued\r\n"
                    } else if upper == "RSET" || upper == "NOOP" {
                        b"250 ok\r\n"
                    } else if upper == "QUIT" {
                        w.write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    } else {
                        b"502 unknown\r\n"
                    };
                    w.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, state)
}

fn smtp_config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security: "none".into(),
        helo: Some("herald.test".into()),
        timeout_seconds: 5,
        ..config()
    }
}

#[tokio::test]
async fn smtp_sends_and_reuses_the_connection() {
    let (port, state) = sink().await;
    let mut sender = SmtpSender::new(smtp_config(port));
    let msg = b"Subject: one\r\n\r\nline\r\n.starts with a dot\r\n";
    assert_eq!(
        sender.send("mailto:bob@example.com", msg).await,
        Delivery::Sent
    );
    assert_eq!(
        sender
            .send("carol@example.net", b"Subject: two\r\n\r\nx\r\n")
            .await,
        Delivery::Sent
    );
    match sender.send("mailto:nobody@example.com", msg).await {
        Delivery::Permanent(m) => assert!(m.contains("550"), "{m}"),
        other => panic!("{other:?}"),
    }
    match sender.send("mailto:busy@example.com", msg).await {
        Delivery::Transient(m) => assert!(m.contains("451"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        sender.send("mailto:bob@example.com", msg).await,
        Delivery::Sent
    );
    sender.close().await;
    let s = state.lock().unwrap();
    assert_eq!(s.connections, 1, "{:?}", s.commands);
    assert_eq!(s.messages.len(), 3);
    assert_eq!(s.messages[0].0, "bob@example.com");
    assert_eq!(
        s.messages[0].1,
        "Subject: one\r\n\r\nline\r\n.starts with a dot\r\n"
    );
    assert_eq!(s.messages[1].0, "carol@example.net");
    assert!(
        s.commands
            .iter()
            .any(|c| c == "MAIL FROM:<herald@calendar.example.org>")
    );
    assert!(s.commands.iter().any(|c| c == "EHLO herald.test"));
    assert_eq!(s.commands.last().map(String::as_str), Some("QUIT"));
}

#[tokio::test]
async fn smtp_reconnects_after_drop() {
    let (port, state) = sink().await;
    let mut sender = SmtpSender::new(smtp_config(port));
    assert_eq!(
        sender.send("bob@example.com", b"a\r\n").await,
        Delivery::Sent
    );
    // The kept connection is closed (the sink sees EOF and hangs up);
    // the next send notices and connects again.
    if let Some(smtp::Conn::Plain(c)) = sender.conn.as_mut() {
        c.stream.shutdown().await.unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(
        sender.send("bob@example.com", b"b\r\n").await,
        Delivery::Sent
    );
    assert_eq!(state.lock().unwrap().connections, 2);
    assert_eq!(state.lock().unwrap().messages.len(), 2);
}

#[tokio::test]
async fn smtp_transient_when_nothing_listens() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut sender = SmtpSender::new(smtp_config(port));
    assert!(matches!(
        sender.send("bob@example.com", b"x\r\n").await,
        Delivery::Transient(_)
    ));
    // STARTTLS against a server without it is transient too.
    let (port, _) = sink().await;
    let mut sender = SmtpSender::new(SmtpConfig {
        security: "starttls".into(),
        ..smtp_config(port)
    });
    assert!(matches!(
        sender.send("bob@example.com", b"x\r\n").await,
        Delivery::Transient(_)
    ));
    // Bad recipient: permanent, without connecting.
    let mut sender = SmtpSender::new(smtp_config(port));
    assert!(matches!(
        sender
            .send("mailto:bob@example.com>\r\nRCPT TO:<x@y", b"x")
            .await,
        Delivery::Permanent(_)
    ));
}

// ---- config, spool, back-off ----

#[test]
fn config_defaults_and_parsing() {
    let c: SmtpConfig = toml::from_str("").unwrap();
    assert_eq!(c, SmtpConfig::default());
    assert!(!c.is_configured());
    assert_eq!(
        (c.port, c.security.as_str(), c.max_attempts),
        (587, "starttls", 8)
    );
    let c: SmtpConfig = toml::from_str(
        "host = \"mail.example.org\"\nsecurity = \"TLS\"\nport = 465\npassword = \"s3cret\"",
    )
    .unwrap();
    assert!(c.is_configured());
    assert_eq!(c.security, "tls");
    assert_eq!(c.password().unwrap().as_deref(), Some("s3cret"));
    assert!(!format!("{c:?}").contains("s3cret"));
    assert!(toml::from_str::<SmtpConfig>("security = \"ssl\"").is_err());
    assert!(toml::from_str::<SmtpConfig>("hots = \"x\"").is_err());
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "from-file\n").unwrap();
    let c = SmtpConfig {
        password_file: Some(pw),
        ..SmtpConfig::default()
    };
    assert_eq!(c.password().unwrap().as_deref(), Some("from-file"));
}

#[test]
fn spool_is_atomic_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let spooldir = dir.path().join("spool");
    let p = spool(&spooldir, "herald-1.2@h", b"first").unwrap();
    assert_eq!(p, spooldir.join("herald-1.2@h.eml"));
    let p2 = spool(&spooldir, "herald-1.2@h", b"second").unwrap();
    assert_eq!(p, p2);
    let names: Vec<_> = std::fs::read_dir(&spooldir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["herald-1.2@h.eml".to_string()]);
    assert_eq!(std::fs::read(&p).unwrap(), b"second");
    assert!(spool(&spooldir, "../escape", b"x").is_err());
    assert!(spool(&spooldir, "", b"x").is_err());
}

#[test]
fn retry_delay_bounds() {
    let c = SmtpConfig::default();
    for _ in 0..50 {
        let d = retry_delay(&c, 1).as_secs_f64();
        assert!((15.0..30.0).contains(&d), "{d}");
        let d = retry_delay(&c, 3).as_secs_f64();
        assert!((60.0..120.0).contains(&d), "{d}");
        let d = retry_delay(&c, 100).as_secs_f64();
        assert!((1800.0..3600.0).contains(&d), "{d}");
        let d = retry_delay(&c, 0).as_secs_f64();
        assert!((15.0..30.0).contains(&d), "{d}");
        let huge = SmtpConfig {
            retry_base_seconds: u64::MAX,
            retry_max_seconds: u64::MAX,
            ..SmtpConfig::default()
        };
        assert!(retry_delay(&huge, u32::MAX) > std::time::Duration::from_secs(1 << 62));
    }
    let distinct: std::collections::HashSet<u128> =
        (0..20).map(|_| retry_delay(&c, 5).as_nanos()).collect();
    assert!(distinct.len() > 1, "jitter");
}
