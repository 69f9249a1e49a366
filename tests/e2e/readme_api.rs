//! The README's "invite people from your application" commands, run
//! exactly as written (bash, the real `herald` CLI and curl) against a live
//! herald: the section cannot rot without this test failing.

use crate::util::*;

fn example() -> String {
    block("api-example")
}

/// The sh block after `<!-- NAME:start -->` in the README.
fn block(name: &str) -> String {
    let readme = include_str!("../../README.md");
    let start = readme
        .find(&format!("<!-- {name}:start -->"))
        .expect("the README has the example");
    let block = &readme[start..];
    let open = block.find("```sh\n").expect("a sh block") + 6;
    let close = block[open..].find("```").expect("the block ends") + open;
    block[open..close].to_string()
}

/// Run a README block with bash against a fresh server; its stdout.
fn run(script_text: &str) -> String {
    let s = Server::start();
    let work = tempfile::tempdir().unwrap();
    let script = work.path().join("example.sh");
    std::fs::write(&script, format!("set -euo pipefail\n{script_text}")).unwrap();
    let bin_dir = std::path::Path::new(bin()).parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("bash")
        .arg(&script)
        .current_dir(work.path())
        .env("PATH", path)
        .env("HERALD_URL", format!("http://{}", s.addr))
        .env("HERALD_DATA_DIR", s.data_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains("/errors/"), "a problem document: {stdout}");
    stdout
}

#[test]
fn the_readme_api_example_runs_as_written() {
    let stdout = run(&example());
    for want in [
        r#""summary":"Flat viewing""#,
        r#""partstat":"NEEDS-ACTION""#,
        r#""kind":"created""#,
        r#""status":"cancelled""#,
        "/feeds/hfd_",
    ] {
        assert!(stdout.contains(want), "{want} missing in:\n{stdout}");
    }
}

#[test]
fn the_readme_seats_example_runs_as_written() {
    let stdout = run(&block("seats-example"));
    for want in [
        r#""capacity":2"#,
        r#""state":"confirmed""#,
        r#""attendees":["cy@example.org","di@example.net"]"#,
        r#""added":["eve@example.com"]"#,
        r#""taken":2"#,
        r#""available":0"#,
        r#""remind_after":"P3D""#,
        r#""waiting":1"#,
        r#""pending":["#,
    ] {
        assert!(stdout.contains(want), "{want} missing in:\n{stdout}");
    }
}
