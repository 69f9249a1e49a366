//! Scheduling on write the way real clients do it (issue 9, RFC 6638 /
//! RFC 5546): Apple Calendar answering with its own ATTENDEE parameters,
//! deleting an invitation, If-Schedule-Tag-Match after one's own edit, the
//! refusals that keep scheduling state sound, and the organizer declining
//! one occurrence.

use crate::smtp_sink::Sink;
use crate::util::*;

const BOB: Option<(&str, &str)> = Some(("bob", "bob-pass"));

fn meeting(uid: &str, extra_master: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Apple Inc.//macOS 14.0//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250310T100000Z\r\nDTEND:20250310T110000Z\r\nSUMMARY:Sync\r\n{extra_master}ORGANIZER;CN=Admin:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:admin@localhost\r\nATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// Undo iCalendar folding and quoted-printable soft breaks.
fn unfold(s: &str) -> String {
    s.replace("=\r\n", "")
        .replace("\r\n ", "")
        .replace("\r\n\t", "")
}

fn bob_line(ical: &str) -> String {
    unfold(ical)
        .lines()
        .find(|l| l.starts_with("ATTENDEE") && l.contains("bob@example.com"))
        .unwrap_or("")
        .to_string()
}

/// The admin organizes `uid`; bob's copy arrives; (bob's path, his copy).
fn invited(s: &Server, uid: &str, extra_master: &str) -> (String, String) {
    let r = s.put_ics(&format!("{CAL}{uid}.ics"), &meeting(uid, extra_master));
    assert_eq!(r.status, 201, "{}", r.body);
    let path = format!("/dav/calendars/bob/default/{uid}.ics");
    assert!(wait_until(10, || s
        .request("GET", &path, BOB, &[], b"")
        .status
        == 200));
    let copy = s.request("GET", &path, BOB, &[], b"").body;
    (path, unfold(&copy))
}

fn bob_put(s: &Server, path: &str, body: &str, headers: &[(&str, &str)]) -> Resp {
    let mut h = vec![("Content-Type", "text/calendar")];
    h.extend_from_slice(headers);
    s.request("PUT", path, BOB, &h, body.as_bytes())
}

/// Apple Calendar's answer: its own ATTENDEE line rewritten with EMAIL,
/// CUTYPE and X-CALENDARSERVER parameters around the new PARTSTAT.
fn apple_answer(copy: &str, partstat: &str) -> String {
    let own = bob_line(copy);
    assert!(!own.is_empty(), "{copy}");
    copy.replace(
        &own,
        &format!(
            "ATTENDEE;CN=Bob;CUTYPE=INDIVIDUAL;EMAIL=bob@example.com;PARTSTAT={partstat};ROLE=REQ-PARTICIPANT;X-CALENDARSERVER-DTSTAMP=20250102T090000Z:mailto:bob@example.com"
        ),
    )
}

#[test]
fn apple_attendee_accepts_with_its_own_parameters() {
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    let (path, copy) = invited(&s, "apple-1", "");
    let tag = s
        .request("GET", &path, BOB, &[], b"")
        .header("schedule-tag")
        .unwrap()
        .to_string();
    let r = bob_put(
        &s,
        &path,
        &apple_answer(&copy, "ACCEPTED"),
        &[("If-Schedule-Tag-Match", &tag)],
    );
    assert_eq!(r.status, 204, "{}", r.body);
    // Answering keeps the Schedule-Tag (RFC 6638 3.2.10), so a client
    // holding it can write again ...
    assert_eq!(r.header("schedule-tag"), Some(tag.as_str()));
    let answered = apple_answer(&copy, "ACCEPTED");
    let alarm = "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:soon\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT";
    let with_alarm = answered.replacen("END:VEVENT", alarm, 1);
    let r = bob_put(&s, &path, &with_alarm, &[("If-Schedule-Tag-Match", &tag)]);
    assert_eq!(r.status, 204, "{}", r.body);
    // ... but any other edit of the copy gives a new one ...
    let new_tag = r.header("schedule-tag").unwrap().to_string();
    assert_ne!(new_tag, tag);
    // ... so a client still holding the old one gets 412.
    let r = bob_put(
        &s,
        &path,
        &apple_answer(&copy, "TENTATIVE"),
        &[("If-Schedule-Tag-Match", &tag)],
    );
    assert_eq!(r.status, 412, "{}", r.body);
    // The organizer sees ACCEPTED, and none of Apple's parameters.
    let org = format!("{CAL}apple-1.ics");
    assert!(wait_until(10, || bob_line(
        &s.req("GET", &org, &[], "").body
    )
    .contains("PARTSTAT=ACCEPTED")));
    let line = bob_line(&s.req("GET", &org, &[], "").body);
    assert!(
        !line.contains("X-CALENDARSERVER") && !line.contains("EMAIL="),
        "{line}"
    );
    // The organizer's copy keeps its Schedule-Tag through the reply.
    let r = s.req("GET", &org, &[], "");
    assert!(r.header("schedule-tag").is_some());
    // Changing the time is still refused.
    let moved = apple_answer(&copy, "ACCEPTED").replace("T100000Z", "T120000Z");
    let r = bob_put(&s, &path, &moved, &[]);
    assert_eq!(r.status, 403);
    assert!(r.body.contains("allowed-attendee-scheduling-object-change"));
}

#[test]
fn external_organizer_gets_a_clean_reply_by_mail() {
    let sink = Sink::start(0, &[]);
    let s = Server::start_with_config(&format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"herald@example.org\"\n",
        sink.port
    ));
    s.add_user("bob", "bob@example.com", "bob-pass");
    // Bob's client files an invitation that came by mail from outside.
    let invitation = meeting("ext-apple", "").replace("admin@localhost", "carol@example.net");
    let path = "/dav/calendars/bob/default/ext-apple.ics";
    let r = bob_put(&s, path, &invitation, &[]);
    assert_eq!(r.status, 201, "{}", r.body);
    let copy = unfold(&s.request("GET", path, BOB, &[], b"").body);
    let r = bob_put(&s, path, &apple_answer(&copy, "ACCEPTED"), &[]);
    assert_eq!(r.status, 204, "{}", r.body);
    let got = sink.wait_for(1, 20);
    assert_eq!(got[0].rcpt, "carol@example.net");
    let data = unfold(&got[0].data);
    assert!(data.contains("METHOD:REPLY"), "{data}");
    let line = bob_line(&data);
    assert!(line.contains("PARTSTAT=ACCEPTED"), "{data}");
    assert!(
        !line.contains("X-CALENDARSERVER") && !line.contains("EMAIL=") && !line.contains("CUTYPE"),
        "{line}"
    );
}

#[test]
fn deleting_an_invitation_declines_it() {
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    let (quiet, _) = invited(&s, "del-quiet", "");
    let (path, _) = invited(&s, "del-1", "");
    // Schedule-Reply: F (RFC 6638 section 8.1): deleted without a word.
    let r = s.request("DELETE", &quiet, BOB, &[("Schedule-Reply", "F")], b"");
    assert_eq!(r.status, 204);
    let r = s.request("DELETE", &path, BOB, &[], b"");
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(wait_until(10, || bob_line(
        &s.req("GET", &format!("{CAL}del-1.ics"), &[], "").body
    )
    .contains("PARTSTAT=DECLINED")));
    let line = bob_line(&s.req("GET", &format!("{CAL}del-quiet.ics"), &[], "").body);
    assert!(line.contains("PARTSTAT=NEEDS-ACTION"), "{line}");
    // The organizer's inbox holds the REPLY.
    let r = s.req(
        "PROPFIND",
        "/dav/calendars/admin/inbox/",
        &[("Depth", "1")],
        "",
    );
    assert_eq!(hrefs(&r.body).len(), 2, "{}", r.body);
}

fn refused(r: &Resp, condition: &str) {
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains(condition), "{condition}: {}", r.body);
}

#[test]
fn what_would_corrupt_scheduling_state_is_refused() {
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    s.add_user("carol", "carol@example.com", "carol-pass");
    let carol = Some(("carol", "carol-pass"));
    let (path, copy) = invited(&s, "guard-1", "");
    let org = format!("{CAL}guard-1.ics");
    let org_copy = unfold(&s.req("GET", &org, &[], "").body);

    // A PUT that changes the UID of an existing resource (RFC 4791 5.3.2.1).
    let r = s.put_ics(&org, &org_copy.replace("UID:guard-1", "UID:guard-x"));
    refused(&r, "no-uid-conflict");
    // A MOVE over an object with another UID, likewise.
    let other = event("plain-1", "20250311T100000Z", "20250311T110000Z", "");
    assert_eq!(s.put_ics(&format!("{CAL}plain-1.ics"), &other).status, 201);
    let dest = format!("http://{}{org}", s.addr);
    let r = s.req(
        "MOVE",
        &format!("{CAL}plain-1.ics"),
        &[("Destination", &dest), ("Overwrite", "T")],
        "",
    );
    refused(&r, "no-uid-conflict");
    assert_eq!(
        s.req("GET", &format!("{CAL}plain-1.ics"), &[], "").status,
        200
    );

    // An override of an instance the series does not have.
    let series = "RRULE:FREQ=WEEKLY;COUNT=4\r\n";
    let stray = event("rec-1", "20250310T100000Z", "20250310T110000Z", series).replace(
        "END:VCALENDAR",
        "BEGIN:VEVENT\r\nUID:rec-1\r\nDTSTAMP:20250101T000000Z\r\nRECURRENCE-ID:20250312T100000Z\r\nDTSTART:20250312T120000Z\r\nDTEND:20250312T130000Z\r\nEND:VEVENT\r\nEND:VCALENDAR",
    );
    refused(
        &s.put_ics(&format!("{CAL}rec-1.ics"), &stray),
        "valid-calendar-object-resource",
    );
    let moved = stray.replace("RECURRENCE-ID:20250312", "RECURRENCE-ID:20250317");
    assert_eq!(s.put_ics(&format!("{CAL}rec-1.ics"), &moved).status, 201);

    // The organizer drops ORGANIZER but keeps the attendees.
    let orphan = org_copy
        .lines()
        .filter(|l| !l.starts_with("ORGANIZER"))
        .collect::<Vec<_>>()
        .join("\r\n");
    refused(
        &s.put_ics(&org, &orphan),
        "allowed-organizer-scheduling-object-change",
    );

    // Bob switches ORGANIZER, makes himself organizer, removes himself.
    let switched = copy.replace("mailto:admin@localhost", "mailto:dave@example.net");
    refused(
        &bob_put(&s, &path, &switched, &[]),
        "allowed-attendee-scheduling-object-change",
    );
    let mine = copy.replace(
        "ORGANIZER;CN=Admin:mailto:admin@localhost",
        "ORGANIZER:mailto:bob@example.com",
    );
    refused(
        &bob_put(&s, &path, &mine, &[]),
        "allowed-attendee-scheduling-object-change",
    );
    let gone = copy.replace(&format!("{}\r\n", bob_line(&copy)), "");
    assert_ne!(gone, copy);
    refused(
        &bob_put(&s, &path, &gone, &[]),
        "allowed-attendee-scheduling-object-change",
    );
    // A second copy of the meeting in another of bob's calendars.
    let r = s.request("MKCALENDAR", "/dav/calendars/bob/work/", BOB, &[], b"");
    assert_eq!(r.status, 201, "{}", r.body);
    refused(
        &bob_put(&s, "/dav/calendars/bob/work/dup.ics", &copy, &[]),
        "unique-scheduling-object-resource",
    );

    // Nor by COPY (MOVE to another calendar is how clients re-file it).
    let dest = format!("http://{}/dav/calendars/bob/work/dup.ics", s.addr);
    let r = s.request("COPY", &path, BOB, &[("Destination", &dest)], b"");
    refused(&r, "unique-scheduling-object-resource");

    // Party crash: carol is not invited and stores the meeting's UID ...
    let crash = "/dav/calendars/carol/default/crash.ics";
    let as_carol = |body: &str| {
        s.request(
            "PUT",
            crash,
            carol,
            &[("Content-Type", "text/calendar")],
            body.as_bytes(),
        )
    };
    let r = as_carol(&copy.replace("bob@example.com", "carol@example.com"));
    refused(&r, "unique-scheduling-object-resource");
    let r = as_carol(&copy);
    refused(&r, "unique-scheduling-object-resource");
    // ... or organizes a meeting with that UID for bob.
    let hijack = meeting("guard-1", "").replace("admin@localhost", "carol@example.com");
    refused(
        &as_carol(&hijack),
        "allowed-organizer-scheduling-object-change",
    );
    // Bob's copy and the organizer's are untouched.
    assert!(bob_line(&s.request("GET", &path, BOB, &[], b"").body).contains("NEEDS-ACTION"));
    assert!(unfold(&s.req("GET", &org, &[], "").body).contains("ORGANIZER;CN=Admin"));

    // Thunderbird removing every attendee (and ORGANIZER with them): a
    // private event again, and bob's copy is cancelled.
    let private = event("guard-1", "20250310T100000Z", "20250310T110000Z", "");
    let r = s.put_ics(&org, &private);
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(wait_until(10, || s
        .request("GET", &path, BOB, &[], b"")
        .body
        .contains("STATUS:CANCELLED")));
}

#[test]
fn organizer_declining_one_occurrence_tells_the_attendees() {
    let s = Server::start();
    s.add_user("bob", "bob@example.com", "bob-pass");
    let (path, _) = invited(&s, "weekly-1", "RRULE:FREQ=WEEKLY;COUNT=4\r\n");
    let org = format!("{CAL}weekly-1.ics");
    let stored = unfold(&s.req("GET", &org, &[], "").body);
    // Apple Calendar: the organizer declines 17 March, an override with
    // their own PARTSTAT=DECLINED.
    let ov = "BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20250102T000000Z\r\nRECURRENCE-ID:20250317T100000Z\r\nDTSTART:20250317T100000Z\r\nDTEND:20250317T110000Z\r\nSUMMARY:Sync\r\nORGANIZER;CN=Admin:mailto:admin@localhost\r\nATTENDEE;PARTSTAT=DECLINED:mailto:admin@localhost\r\nATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.com\r\nEND:VEVENT\r\n";
    let r = s.put_ics(
        &org,
        &stored.replace("END:VCALENDAR", &format!("{ov}END:VCALENDAR")),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(wait_until(10, || {
        let copy = unfold(&s.request("GET", &path, BOB, &[], b"").body);
        copy.contains("RECURRENCE-ID:20250317T100000Z")
            && copy.contains("PARTSTAT=DECLINED:mailto:admin@localhost")
    }));
}
