//! Issue 8, defects 2, 3 and 5 and the backwards `<C:expand>` of 9: report
//! output bounded in instances and bytes (507 with
//! DAV:number-of-matches-within-limits), RRULEs with absurd periods refused
//! at PUT, heavy work off the async workers (a GET stays prompt), free-busy
//! recipients counted once, and work that stops when its client leaves.

use crate::util::*;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn cal(body: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n")
}

/// A daily event from 2000 carrying `extra` lines.
fn daily(uid: &str, extra: &str) -> String {
    cal(&format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20000101T090000Z\r\nDTEND:20000101T100000Z\r\nRRULE:FREQ=DAILY\r\nSUMMARY:{uid}\r\n{extra}END:VEVENT\r\n"
    ))
}

/// A folded DESCRIPTION of about `bytes` bytes.
fn description(bytes: usize) -> String {
    let mut out = String::from("DESCRIPTION:");
    let mut n = 0;
    while n < bytes {
        out.push_str(&"x".repeat(73));
        out.push_str("\r\n ");
        n += 76;
    }
    out.push_str("end\r\n");
    out
}

fn alarms(n: usize) -> String {
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder for the meeting\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n"
        .repeat(n)
}

fn expand_query(start: &str, end: &str) -> String {
    format!(
        r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:getetag/><C:calendar-data><C:expand start="{start}" end="{end}"/></C:calendar-data></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"#
    )
}

fn report(s: &Server, body: &str) -> Resp {
    s.req(
        "REPORT",
        CAL,
        &[("Depth", "1"), ("Content-Type", "application/xml")],
        body,
    )
}

/// Peak resident memory of a process, in MiB (VmHWM of /proc/PID/status).
fn peak_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024
}

/// CPU time (user + system) a process has used, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = stat.rsplit_once(')').unwrap().1;
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat; `after` starts at field 3.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn assert_limit(r: &Resp) {
    assert_eq!(r.status, 507, "{}", &r.body[..r.body.len().min(300)]);
    assert!(
        r.body.contains("number-of-matches-within-limits"),
        "{}",
        r.body
    );
}

#[test]
fn expand_of_a_big_daily_event_over_200_years_is_refused_with_little_memory() {
    let s = Server::start();
    // ~1 MB of DESCRIPTION, just under max-resource-size.
    let big = daily("big", &description(1_000_000));
    assert!(big.len() > 1_000_000 && big.len() < 1_048_576);
    assert_eq!(s.put_ics(&format!("{CAL}big.ics"), &big).status, 201);
    // 200 years of a daily event: more instances than max_instances_per_object.
    let r = report(&s, &expand_query("19000101T000000Z", "21000101T000000Z"));
    assert_limit(&r);
    // Within the instance limit but ~365 MB of output: refused by bytes.
    let r = report(&s, &expand_query("20240101T000000Z", "20250101T000000Z"));
    assert_limit(&r);
    // Still up, and never near the size of the answer it refused.
    assert_eq!(s.req("GET", &format!("{CAL}big.ics"), &[], "").status, 200);
    let peak = peak_mib(s.pid());
    assert!(peak < 256, "VmHWM {peak} MiB");
    // A small range still expands.
    let r = report(&s, &expand_query("20240101T000000Z", "20240104T000000Z"));
    assert_eq!(r.status, 207);
    assert_eq!(r.body.matches("BEGIN:VEVENT").count(), 3);
}

#[test]
fn many_alarms_times_many_instances_stay_bounded() {
    let s = Server::start();
    // 300 VALARMs: ~30 KB per instance; 5,000 instances would be ~150 MB.
    let ev = daily("alarms", &alarms(300));
    assert_eq!(s.put_ics(&format!("{CAL}alarms.ics"), &ev).status, 201);
    let r = report(&s, &expand_query("20100101T000000Z", "20231001T000000Z"));
    assert_limit(&r);
    let peak = peak_mib(s.pid());
    assert!(peak < 256, "VmHWM {peak} MiB");
    let r = report(&s, &expand_query("20240101T000000Z", "20240103T000000Z"));
    assert_eq!(r.status, 207);
    assert_eq!(r.body.matches("BEGIN:VALARM").count(), 600);
}

#[test]
fn response_limits_are_configurable_and_cover_plain_reports_get_and_propfind() {
    let s = Server::start_with_config(
        "[limits]\nmax_response_bytes = 200000\nmax_instances_per_object = 5\n",
    );
    let ev = daily("d", "");
    assert_eq!(s.put_ics(&format!("{CAL}d.ics"), &ev).status, 201);
    // Five instances pass, six do not.
    let r = report(&s, &expand_query("20240101T000000Z", "20240106T000000Z"));
    assert_eq!(r.status, 207, "{}", r.body);
    assert_limit(&report(
        &s,
        &expand_query("20240101T000000Z", "20240107T000000Z"),
    ));
    for i in 0..4 {
        let body = daily(&format!("b{i}"), &description(60_000));
        assert_eq!(s.put_ics(&format!("{CAL}b{i}.ics"), &body).status, 201);
    }
    // Stored data as is: a multiget of everything, and the calendar as one document.
    let hrefs: String = (0..4)
        .map(|i| format!("<D:href>{CAL}b{i}.ics</D:href>"))
        .collect();
    let multiget = format!(
        r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop>{hrefs}</C:calendar-multiget>"#
    );
    assert_limit(&report(&s, &multiget));
    assert_limit(&s.req("GET", CAL, &[], ""));
    let propfind = r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop></D:propfind>"#;
    assert_limit(&s.req("PROPFIND", CAL, &[("Depth", "1")], propfind));
    // One object is fine.
    let one = multiget.replace(&format!("<D:href>{CAL}b1.ics</D:href>"), "");
    let one = one.replace(&format!("<D:href>{CAL}b2.ics</D:href>"), "");
    let one = one.replace(&format!("<D:href>{CAL}b3.ics</D:href>"), "");
    assert_eq!(report(&s, &one).status, 207);
}

#[test]
fn expand_ending_before_it_starts_is_refused() {
    let s = Server::start();
    let ev = daily("d", "");
    assert_eq!(s.put_ics(&format!("{CAL}d.ics"), &ev).status, 201);
    let body = r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><C:calendar-data><C:expand start="20250101T000000Z" end="20240101T000000Z"/></C:calendar-data></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>"#;
    let r = report(&s, body);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("valid-filter"), "{}", r.body);
    let backwards_filter = expand_query("20250101T000000Z", "20240101T000000Z");
    assert_eq!(report(&s, &backwards_filter).status, 403);
}

/// FREQ=YEARLY with every month, month day, hour, minute and second: 32
/// million candidates a year.
fn explosive_rule() -> String {
    let list = |n: u32, from: u32| {
        (from..from + n)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "RRULE:FREQ=YEARLY;BYMONTH={};BYMONTHDAY={};BYHOUR={};BYMINUTE={};BYSECOND={}\r\n",
        list(12, 1),
        list(31, 1),
        list(24, 0),
        list(60, 0),
        list(60, 0)
    )
}

#[test]
fn rrule_with_an_absurd_candidate_set_is_refused_at_put_quickly() {
    let s = Server::start();
    let ev = cal(&format!(
        "BEGIN:VEVENT\r\nUID:boom\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250101T000000Z\r\n{}END:VEVENT\r\n",
        explosive_rule()
    ));
    let t = Instant::now();
    let r = s.put_ics(&format!("{CAL}boom.ics"), &ev);
    let took = t.elapsed();
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("valid-calendar-data"), "{}", r.body);
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(s.req("GET", &format!("{CAL}boom.ics"), &[], "").status, 404);
    let peak = peak_mib(s.pid());
    assert!(peak < 64, "VmHWM {peak} MiB");
    // An ordinary busy rule still goes in.
    let ok = cal(
        "BEGIN:VEVENT\r\nUID:ok\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250101T090000Z\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9,13\r\nEND:VEVENT\r\n",
    );
    assert_eq!(s.put_ics(&format!("{CAL}ok.ics"), &ok).status, 201);
}

#[test]
fn a_get_answers_promptly_while_heavy_reports_run() {
    let s = Server::start();
    // Each report expands ~730 instances of a 30 KB object (~25 MB of
    // output, inside the default limits): seconds of CPU each.
    let ev = daily("alarms", &alarms(300));
    assert_eq!(s.put_ics(&format!("{CAL}alarms.ics"), &ev).status, 201);
    let small = cal(
        "BEGIN:VEVENT\r\nUID:small\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250101T090000Z\r\nEND:VEVENT\r\n",
    );
    assert_eq!(s.put_ics(&format!("{CAL}small.ics"), &small).status, 201);
    let heavy = expand_query("20180101T000000Z", "20200101T000000Z");
    let addr = s.addr.clone();
    let started = Instant::now();
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let (addr, heavy) = (addr.clone(), heavy.clone());
            std::thread::spawn(move || {
                raw_request(
                    &addr,
                    "REPORT",
                    CAL,
                    Some(("admin", ADMIN_PASSWORD)),
                    &[("Depth", "1"), ("Content-Type", "application/xml")],
                    heavy.as_bytes(),
                )
                .status
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let r = s.req("GET", &format!("{CAL}small.ics"), &[], "");
    let get = t.elapsed();
    assert_eq!(r.status, 200);
    let statuses: Vec<u16> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let all = started.elapsed();
    assert!(statuses.iter().all(|&st| st == 207), "{statuses:?}");
    // The reports take seconds (before the fix the GET waited ~10 s for
    // them); the GET does not wait for them.
    assert!(
        get < Duration::from_millis(1000) && get * 4 < all,
        "GET took {get:?} (reports {all:?})"
    );
}

#[test]
fn free_busy_recipients_are_counted_once_and_bounded() {
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    let bob = Some(("bob", "bob-pass"));
    let busy = cal(
        "BEGIN:VEVENT\r\nUID:b\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250310T090000Z\r\nDTEND:20250310T100000Z\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n",
    );
    let r = s.request(
        "PUT",
        "/dav/calendars/bob/default/b.ics",
        bob,
        &[("Content-Type", "text/calendar")],
        busy.as_bytes(),
    );
    assert_eq!(r.status, 201);
    let post = |start: &str, end: &str, attendees: &str| {
        let fb = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:fb-1\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\nORGANIZER:mailto:admin@localhost\r\n{attendees}END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
        );
        s.req(
            "POST",
            "/dav/calendars/admin/outbox/",
            &[("Content-Type", "text/calendar")],
            &fb,
        )
    };
    // bob a hundred times, in two spellings: one answer.
    let mut many = "ATTENDEE:mailto:bob@example.com\r\n".repeat(50);
    many.push_str(&"ATTENDEE:MAILTO:Bob@Example.com\r\n".repeat(50));
    let t = Instant::now();
    let r = post("20250310T000000Z", "20250317T000000Z", &many);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body.matches("<C:response>").count(), 1, "{}", r.body);
    assert_eq!(r.body.matches("FREEBUSY:").count(), 7);
    // 200 years of a daily event: refused for that recipient, at once.
    let r = post("19000101T000000Z", "21000101T000000Z", &many);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body.matches("<C:response>").count(), 1);
    assert!(r.body.contains("5.1;"), "{}", r.body);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // Distinct recipients past the cap are answered without work.
    let strangers: String = (0..150)
        .map(|i| format!("ATTENDEE:mailto:u{i}@example.net\r\n"))
        .collect();
    let r = post("20250310T000000Z", "20250317T000000Z", &strangers);
    assert_eq!(r.body.matches("<C:response>").count(), 150);
    assert_eq!(r.body.matches("3.7;").count(), 100);
    assert_eq!(r.body.matches("5.1;").count(), 50);
}

#[test]
fn work_stops_when_the_client_goes_away() {
    let s = Server::start_with_config("[limits]\nmax_response_bytes = 1073741824\n");
    let ev = daily("alarms", &alarms(300));
    assert_eq!(s.put_ics(&format!("{CAL}alarms.ics"), &ev).status, 201);
    // ~9,000 instances of 30 KB: far more work than the test waits for.
    let heavy = expand_query("20000101T000000Z", "20240901T000000Z");
    let pid = s.pid();
    for _ in 0..2 {
        let mut c = TcpStream::connect(&s.addr).unwrap();
        let head = format!(
            "REPORT {CAL} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46YWRtaW4tc2VjcmV0\r\nDepth: 1\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n",
            heavy.len()
        );
        c.write_all(head.as_bytes()).unwrap();
        c.write_all(heavy.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        drop(c);
    }
    std::thread::sleep(Duration::from_millis(700));
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(pid) - before;
    // Two abandoned reports would keep both cores busy (~400 ticks).
    assert!(used < 40, "{used} ticks of CPU after the clients left");
    assert_eq!(s.req("GET", CAL, &[], "").status, 200);
}
