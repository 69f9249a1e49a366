//! HTTPS with rustls: a self-signed certificate made by `openssl`, checked
//! with `curl` (both installed by .ci/run).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn serves_https_when_cert_and_key_are_configured() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl is required for this test (.ci/run installs it)");
    assert!(made.success());
    let cfg = dir.path().join("herald.toml");
    std::fs::write(
        &cfg,
        format!(
            "[tls]\ncert = {:?}\nkey = {:?}\n",
            cert.to_str().unwrap(),
            key.to_str().unwrap()
        ),
    )
    .unwrap();
    let mut child = Command::new(crate::util::bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            cfg.to_str().unwrap(),
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .env("HERALD_ADMIN_PASSWORD", "pw")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "server exited");
        if let Some(rest) = line.split("listening on https://").nth(1) {
            break rest.split('/').next().unwrap().to_string();
        }
    };
    let out = Command::new("curl")
        .args([
            "-sk",
            "-u",
            "admin:pw",
            "-X",
            "PROPFIND",
            "-H",
            "Depth: 0",
            "-w",
            "\n%{http_code}",
        ])
        .arg(format!("https://{addr}/dav/"))
        .output()
        .expect("curl is required for this test (.ci/run installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    let _ = child.kill();
    let _ = child.wait();
    assert!(text.ends_with("207"), "{text}");
    assert!(text.contains("current-user-principal") || text.contains("multistatus"));
}
