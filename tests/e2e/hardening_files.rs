//! Issue 8, defects 8 and 9 (quota): what herald writes to disk is its
//! owner's alone whatever the umask, and every byte a client can store,
//! dead properties included, counts in the quota.

use crate::util::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

fn wait_for_eml(dir: &Path) -> std::path::PathBuf {
    for _ in 0..100 {
        if let Some(e) = std::fs::read_dir(dir).ok().and_then(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "eml"))
        }) {
            return e;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no .eml in {}", dir.display());
}

const INVITE: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:perm-1\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250310T100000Z\r\nDTEND:20250310T110000Z\r\nSUMMARY:Private\r\nORGANIZER:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:admin@localhost\r\nATTENDEE;RSVP=TRUE:mailto:someone@example.net\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

#[test]
fn data_directory_is_owner_only_under_umask_022() {
    // The umask every child inherits; 022 is what the defect was seen with.
    // SAFETY: umask only swaps the process's file mode mask.
    unsafe { libc::umask(0o022) };
    let mut s = Server::start_with_config(
        "[imip]\nreply_tokens = true\nreply_address = \"calendar@example.org\"\n",
    );
    let data = s.data_dir();
    assert_eq!(s.put_ics(&format!("{CAL}perm.ics"), INVITE).status, 201);
    let eml = wait_for_eml(&data.join("mail-out"));
    assert_eq!(mode(&data), 0o700, "data directory");
    assert_eq!(mode(&data.join("herald.redb")), 0o600, "database");
    assert_eq!(mode(&data.join("reply-token.key")), 0o600, "token key");
    assert_eq!(mode(&data.join("control.sock")), 0o600, "control socket");
    assert_eq!(mode(&data.join("mail-out")), 0o700, "spool");
    assert_eq!(mode(&eml), 0o600, "spooled message");

    // A data directory left loose by an older version is tightened at start.
    s.stop(false);
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = data.join("herald.redb");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    s.restart();
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&db), 0o600);
}

fn proppatch_body(value: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><D:propertyupdate xmlns:D=\"DAV:\" xmlns:X=\"urn:x-test\"><D:set><D:prop><X:blob>{value}</X:blob></D:prop></D:set></D:propertyupdate>"
    )
}

fn quota_used(s: &Server) -> u64 {
    let r = s.req(
        "PROPFIND",
        CAL,
        &[("Depth", "0")],
        "<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:prop><D:quota-used-bytes/></D:prop></D:propfind>",
    );
    let v = r.body.split("quota-used-bytes>").nth(1).unwrap();
    v.split('<').next().unwrap().trim().parse().unwrap()
}

#[test]
fn dead_properties_count_in_the_quota() {
    let s = Server::start_with_config("[limits]\nquota_bytes = 200000\n");
    let big = "x".repeat(60_000);
    let mut refused = 0;
    for i in 0..3 {
        // Different names, so each adds 60 kB.
        let r = s.req(
            "PROPPATCH",
            CAL,
            &[("Content-Type", "application/xml")],
            &proppatch_body(&big).replace("blob", &format!("blob{i}")),
        );
        assert_eq!(r.status, 207, "{}", r.body);
    }
    assert!(quota_used(&s) >= 180_000, "used {}", quota_used(&s));
    for i in 0..10 {
        let r = s.req(
            "PROPPATCH",
            CAL,
            &[("Content-Type", "application/xml")],
            &proppatch_body(&big).replace("blob", &format!("more{i}")),
        );
        if r.status == 507 {
            assert!(r.body.contains("quota-not-exceeded"), "{}", r.body);
            refused += 1;
        }
    }
    assert_eq!(refused, 10, "every PROPPATCH past the quota is refused");
    let used = quota_used(&s);
    assert!(used <= 200_000, "used {used} is past the quota");
    // A calendar object no longer fits either, and removing properties frees space.
    let ev = event("q-1", "20250101T100000Z", "20250101T110000Z", "");
    let remove = "<?xml version=\"1.0\"?><D:propertyupdate xmlns:D=\"DAV:\" xmlns:X=\"urn:x-test\"><D:remove><D:prop><X:blob0/></D:prop></D:remove></D:propertyupdate>";
    assert_eq!(
        s.req(
            "PROPPATCH",
            CAL,
            &[("Content-Type", "application/xml")],
            remove
        )
        .status,
        207
    );
    assert!(quota_used(&s) < used, "removal frees quota");
    assert_eq!(s.put_ics(&format!("{CAL}q.ics"), &ev).status, 201);
}

#[test]
fn copy_counts_in_the_quota() {
    let s = Server::start_with_config("[limits]\nquota_bytes = 120000\n");
    let desc = "D".repeat(50_000);
    let ev = event(
        "c-1",
        "20250101T100000Z",
        "20250101T110000Z",
        &format!("DESCRIPTION:{desc}\r\n"),
    );
    assert_eq!(s.put_ics(&format!("{CAL}c.ics"), &ev).status, 201);
    assert_eq!(
        s.req("MKCALENDAR", "/dav/calendars/admin/other/", &[], "")
            .status,
        201
    );
    let dest = format!("http://{}/dav/calendars/admin/other/c.ics", s.addr);
    assert_eq!(
        s.req(
            "COPY",
            &format!("{CAL}c.ics"),
            &[("Destination", &dest)],
            ""
        )
        .status,
        201
    );
    let dest2 = format!("http://{}/dav/calendars/admin/other/c2.ics", s.addr);
    let r = s.req(
        "COPY",
        &format!("{CAL}c.ics"),
        &[("Destination", &dest2)],
        "",
    );
    assert_eq!(r.status, 507, "third copy passes the quota: {}", r.body);
}

#[test]
fn replacing_an_object_near_the_quota_counts_only_the_difference() {
    let s = Server::start_with_config("[limits]\nquota_bytes = 120000\n");
    let desc = "D".repeat(50_000);
    let ev = |uid: &str| {
        event(
            uid,
            "20250101T100000Z",
            "20250101T110000Z",
            &format!("DESCRIPTION:{desc}\r\n"),
        )
    };
    assert_eq!(s.put_ics(&format!("{CAL}r1.ics"), &ev("r-1")).status, 201);
    assert_eq!(s.put_ics(&format!("{CAL}r2.ics"), &ev("r-2")).status, 201);
    // Same size again: no new bytes, so it fits.
    assert_eq!(s.put_ics(&format!("{CAL}r1.ics"), &ev("r-1")).status, 204);
    let r = s.put_ics(&format!("{CAL}r3.ics"), &ev("r-3"));
    assert_eq!(r.status, 507, "{}", r.body);
    assert!(r.body.contains("quota-not-exceeded"), "{}", r.body);
}
