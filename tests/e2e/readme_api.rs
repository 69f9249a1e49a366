//! The README's "invite people from your application" commands, run
//! exactly as written (bash, the real `herald` CLI and curl) against a live
//! herald: the section cannot rot without this test failing.

use crate::util::*;

fn example() -> String {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("<!-- api-example:start -->")
        .expect("the README has the API example");
    let block = &readme[start..];
    let open = block.find("```sh\n").expect("a sh block") + 6;
    let close = block[open..].find("```").expect("the block ends") + open;
    block[open..close].to_string()
}

#[test]
fn the_readme_api_example_runs_as_written() {
    let s = Server::start();
    let work = tempfile::tempdir().unwrap();
    let script = work.path().join("example.sh");
    std::fs::write(&script, format!("set -euo pipefail\n{}", example())).unwrap();
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
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for want in [
        r#""summary":"Flat viewing""#,
        r#""partstat":"NEEDS-ACTION""#,
        r#""kind":"created""#,
        r#""status":"cancelled""#,
        "/feeds/hfd_",
    ] {
        assert!(
            stdout.contains(want),
            "{want} missing in:\n{stdout}\n{stderr}"
        );
    }
    assert!(!stdout.contains("/errors/"), "a problem document: {stdout}");
}
