//! The `herald` commands, with and without a running server.

use crate::util::*;

#[test]
fn user_commands_while_serving() {
    let s = Server::start();
    s.add_user("carol", "Carol@Example.com", "pw1");
    let (ok, out, _) = s.cli(&["user", "list"], "");
    assert!(ok);
    assert!(out.contains("carol\tcarol@example.com"), "{out}");
    let r = s.request(
        "PROPFIND",
        "/dav/calendars/carol/",
        Some(("carol", "pw1")),
        &[("Depth", "0")],
        b"",
    );
    assert_eq!(r.status, 207);
    let (ok, _, _) = s.cli(&["user", "passwd", "carol"], "pw2\n");
    assert!(ok);
    let r = s.request(
        "PROPFIND",
        "/dav/calendars/carol/",
        Some(("carol", "pw1")),
        &[("Depth", "0")],
        b"",
    );
    assert_eq!(r.status, 401);
    let r = s.request(
        "PROPFIND",
        "/dav/calendars/carol/",
        Some(("carol", "pw2")),
        &[("Depth", "0")],
        b"",
    );
    assert_eq!(r.status, 207);
    let (ok, _, err) = s.cli(
        &[
            "user",
            "add",
            "carol",
            "--email",
            "c2@example.com",
            "--password-stdin",
        ],
        "x",
    );
    assert!(!ok && err.contains("exists"), "{err}");
    let (ok, _, _) = s.cli(&["user", "delete", "carol"], "");
    assert!(ok);
    let r = s.request(
        "PROPFIND",
        "/dav/calendars/carol/",
        Some(("carol", "pw2")),
        &[("Depth", "0")],
        b"",
    );
    assert_eq!(r.status, 401);
}

#[test]
fn import_and_export_with_and_without_server() {
    let mut s = Server::start();
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n\
BEGIN:VEVENT\r\nUID:i1\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250106T100000Z\r\nSUMMARY:One\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:i2\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250107T100000Z\r\nRRULE:FREQ=DAILY;COUNT=2\r\nSUMMARY:Two\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:i2\r\nDTSTAMP:20250101T000000Z\r\nRECURRENCE-ID:20250108T100000Z\r\nDTSTART:20250108T120000Z\r\nSUMMARY:Two moved\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";
    let file = s.dir.path().join("in.ics");
    std::fs::write(&file, ics).unwrap();
    let f = file.to_str().unwrap();
    let (ok, out, err) = s.cli(
        &["import", "--user", "admin", "--calendar", "default", f],
        "",
    );
    assert!(ok, "{out} {err}");
    assert!(out.contains("imported 2"), "{out}");
    let r = s.req("GET", &format!("{CAL}i2.ics"), &[], "");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Two moved"));
    // Offline: the commands open the database themselves.
    s.stop(false);
    let (ok, out, err) = s.cli(&["export", "--user", "admin", "--calendar", "default"], "");
    assert!(ok, "{err}");
    assert_eq!(out.matches("BEGIN:VCALENDAR").count(), 1);
    assert_eq!(out.matches("BEGIN:VEVENT").count(), 3);
    let (ok, out, _) = s.cli(&["user", "list"], "");
    assert!(ok && out.contains("admin"));
}

#[test]
fn unknown_config_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("herald.toml");
    std::fs::write(&cfg, "[server]\nlisten = \"127.0.0.1:0\"\nlistne = 1\n").unwrap();
    let out = std::process::Command::new(bin())
        .args(["serve", "--config", cfg.to_str().unwrap(), "--data-dir"])
        .arg(dir.path().join("d"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("listne"));
}

#[test]
fn doctor_reports_relay_and_trust() {
    let sink = crate::smtp_sink::Sink::start(0, &[]);
    let s = Server::start_with_config(&format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n[imip]\ntrusted_authserv_ids = [\"mx.test\"]\n",
        sink.port
    ));
    let cfg = s.dir.path().join("herald.toml");
    let (ok, out, err) = s.cli(&["doctor", "--config", cfg.to_str().unwrap()], "");
    assert!(ok, "{out} {err}");
    assert!(
        out.contains("SMTP relay 127.0.0.1:") && out.contains("accepts connections"),
        "{out}"
    );
    assert!(out.contains("replies by email are checked"), "{out}");
    // A relay that is down is an error.
    let dead = crate::smtp_sink::free_port();
    std::fs::write(
        &cfg,
        format!("[smtp]\nhost = \"127.0.0.1\"\nport = {dead}\nsecurity = \"none\"\n"),
    )
    .unwrap();
    let (ok, out, _) = s.cli(&["doctor", "--config", cfg.to_str().unwrap()], "");
    assert!(!ok);
    assert!(out.contains("error: SMTP relay"), "{out}");
    assert!(out.contains("replies by email are refused"), "{out}");
}
