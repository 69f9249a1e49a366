//! Entry points for the `cargo fuzz` targets in `fuzz/` (see docs/FUZZING.md):
//! one function per target, each feeding untrusted bytes to a parser the
//! way the server does and throwing the result away. Not an API: hidden
//! from the docs, kept here so the targets need no other `pub` items.
//! A target fails on a panic, a hang or a huge allocation, never on an
//! `Err` (refusing bad input is the correct answer).

use crate::caldav::xml::{self, Report};
use crate::config;
use crate::ical::query::{CompFilter, Filter, TimeRange};
use crate::ical::{self, query::CalendarDataSpec};
use crate::imip::inbound::{self, TrustPolicy};
use crate::scheduling;
use chrono::{DateTime, TimeZone, Utc};
use std::str::FromStr;

/// A PUT body: UTF-8 check, validation and time index (`ical::parse_object`),
/// then what scheduling does with a valid object (ATTENDEEs, the
/// organizer's invitations), and the import split (`herald import`).
pub fn ical_object(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if ical::parse_object(text).is_ok() {
        for a in scheduling::attendees_of(text) {
            let _ = scheduling::normalize_address(&a);
        }
        // The organizer's own PUT: the invitations it would send.
        if let Some(org) = scheduling::organizer_of(text) {
            let status = |_: &str| "1.2".to_string();
            let _ = scheduling::organizer_put(None, text, &[org], &status);
        }
    }
    let _ = ical::split_by_uid(text);
}

/// A request body as PROPFIND, REPORT, PROPPATCH and MKCALENDAR/MKCOL read
/// it. A calendar-query's filter and calendar-data selection are then
/// evaluated against a fixed recurring object, as the report would.
pub fn xml_request(data: &[u8]) {
    let _ = xml::parse_propfind(data);
    let _ = xml::parse_propertyupdate(data);
    let _ = xml::parse_mkcol(data);
    let Ok(report) = xml::parse_report(data) else {
        return;
    };
    let (spec, filter, tz) = match &report {
        Report::CalendarQuery {
            props,
            filter,
            timezone_id,
            ..
        } => (
            props.calendar_data.as_ref(),
            Some(filter),
            timezone_id
                .as_deref()
                .and_then(|id| chrono_tz::Tz::from_str(id).ok()),
        ),
        Report::CalendarMultiget { props, .. } | Report::SyncCollection { props, .. } => {
            (props.calendar_data.as_ref(), None, None)
        }
        Report::FreeBusyQuery { range } => {
            if let (Some(s), Some(e)) = (range.start, range.end) {
                let _ = ical::free_busy([SAMPLE], s, e, &limits());
            }
            return;
        }
        _ => return,
    };
    if let Some(f) = filter {
        let _ = ical::matches(SAMPLE, f, tz);
    }
    if let Some(spec) = spec {
        let _ = ical::render(SAMPLE, spec, &limits());
    }
}

/// A mail as `herald ingest` and LMTP analyse it: MIME walk, choice and
/// normalisation of the iTIP part, From and trust, under a policy with
/// every optional check switched on.
pub fn imip_inbound(data: &[u8]) {
    let policy = TrustPolicy {
        from_only: false,
        trusted_authserv_ids: vec!["mx.example.org".into()],
        reply_token_local: Some("herald".into()),
        reply_token_domain: Some("example.org".into()),
    };
    let envelope = ["herald+abcdefgh@example.org".to_string()];
    let _ = inbound::analyze(data, &envelope, &policy);
}

/// A stored object (one that `parse_object` accepts) expanded as one REPORT
/// would: CALDAV:expand over a month or over 1900-2100, limit-recurrence-set,
/// a time-range comp-filter, or free-busy over the month. One of them per
/// input (chosen by its length, so mutations reach all five): each may walk
/// the library's whole budget of rule results, about a second under ASan.
pub fn rrule_expand(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if ical::parse_object(text).is_err() {
        return;
    }
    let month = range(utc(2024, 1, 1), utc(2024, 2, 1));
    let wide = range(utc(1900, 1, 1), utc(2100, 1, 1));
    match data.len() % 5 {
        n @ (0 | 1) => {
            let tr = if n == 0 { month } else { wide };
            let expand = CalendarDataSpec {
                expand: Some(tr),
                ..CalendarDataSpec::default()
            };
            let _ = ical::render(text, &expand, &limits());
        }
        2 => {
            let limit = CalendarDataSpec {
                limit_recurrence_set: Some(month),
                limit_freebusy_set: Some(month),
                ..CalendarDataSpec::default()
            };
            let _ = ical::render(text, &limit, &limits());
        }
        3 => {
            let filter = Filter {
                comp_filter: CompFilter {
                    name: "VCALENDAR".into(),
                    comp_filters: vec![CompFilter {
                        name: "VEVENT".into(),
                        time_range: Some(month),
                        ..CompFilter::default()
                    }],
                    ..CompFilter::default()
                },
            };
            let _ = ical::matches(text, &filter, Some(chrono_tz::Tz::Europe__Berlin));
        }
        _ => {
            if let (Some(start), Some(end)) = (month.start, month.end) {
                let _ = ical::free_busy([text], start, end, &limits());
            }
        }
    }
}

/// The server's default report bounds (`[limits]`).
fn limits() -> ical::Limits<'static> {
    ical::Limits::new(
        config::DEFAULT_MAX_INSTANCES_PER_OBJECT,
        config::DEFAULT_MAX_RESPONSE_BYTES,
    )
}

fn range(start: DateTime<Utc>, end: DateTime<Utc>) -> TimeRange {
    TimeRange {
        start: Some(start),
        end: Some(end),
    }
}

fn utc(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// The object the XML target's filters and selections are evaluated on:
/// a weekly event in a VTIMEZONE zone with an override, an EXDATE, an
/// alarm and attendees.
const SAMPLE: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Herald//fuzz//EN\r\n\
BEGIN:VTIMEZONE\r\n\
TZID:Europe/Berlin\r\n\
BEGIN:STANDARD\r\n\
DTSTART:19701025T030000\r\n\
TZOFFSETFROM:+0200\r\n\
TZOFFSETTO:+0100\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
END:STANDARD\r\n\
BEGIN:DAYLIGHT\r\n\
DTSTART:19700329T020000\r\n\
TZOFFSETFROM:+0100\r\n\
TZOFFSETTO:+0200\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
END:DAYLIGHT\r\n\
END:VTIMEZONE\r\n\
BEGIN:VEVENT\r\n\
UID:fuzz-sample\r\n\
DTSTAMP:20240101T000000Z\r\n\
DTSTART;TZID=Europe/Berlin:20240102T100000\r\n\
DTEND;TZID=Europe/Berlin:20240102T110000\r\n\
RRULE:FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20251231T000000Z\r\n\
EXDATE;TZID=Europe/Berlin:20240104T100000\r\n\
SUMMARY:Caf\u{e9} planning\r\n\
DESCRIPTION:Line one\\nline two\\, with comma\r\n\
ORGANIZER;CN=Alice:mailto:alice@example.org\r\n\
ATTENDEE;PARTSTAT=ACCEPTED;CN=Bob:mailto:bob@example.org\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION;ROLE=OPT-PARTICIPANT:mailto:carol@example.org\r\n\
CATEGORIES:work,planning\r\n\
BEGIN:VALARM\r\n\
ACTION:DISPLAY\r\n\
TRIGGER:-PT15M\r\n\
DESCRIPTION:Reminder\r\n\
END:VALARM\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:fuzz-sample\r\n\
DTSTAMP:20240101T000000Z\r\n\
RECURRENCE-ID;TZID=Europe/Berlin:20240109T100000\r\n\
DTSTART;TZID=Europe/Berlin:20240109T140000\r\n\
DTEND;TZID=Europe/Berlin:20240109T150000\r\n\
SUMMARY:Moved\r\n\
END:VEVENT\r\n\
BEGIN:VTODO\r\n\
UID:fuzz-todo\r\n\
DTSTAMP:20240101T000000Z\r\n\
DUE;VALUE=DATE:20240115\r\n\
END:VTODO\r\n\
BEGIN:VFREEBUSY\r\n\
UID:fuzz-fb\r\n\
DTSTAMP:20240101T000000Z\r\n\
FREEBUSY:20240103T090000Z/PT1H,20240104T090000Z/20240104T100000Z\r\n\
END:VFREEBUSY\r\n\
END:VCALENDAR\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_a_valid_calendar_and_targets_accept_seeds() {
        // The sample mixes component types on purpose (filters see all of
        // them), so it is not one object resource; it must still parse.
        assert!(ical::split_by_uid(SAMPLE).is_ok());
        ical_object(SAMPLE.as_bytes());
        rrule_expand(SAMPLE.as_bytes());
        xml_request(b"<?xml version=\"1.0\"?><C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><D:prop><C:calendar-data><C:expand start=\"20240101T000000Z\" end=\"20240201T000000Z\"/></C:calendar-data></D:prop><C:filter><C:comp-filter name=\"VCALENDAR\"/></C:filter></C:calendar-query>");
        imip_inbound(b"From: a@example.org\r\n\r\nhello");
    }

    /// Every corpus input (the seeds and the inputs that once failed) runs
    /// through its target in the ordinary test suite, without nightly.
    #[test]
    fn corpus_replays() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        type Target = fn(&[u8]);
        let targets: [(&str, Target); 4] = [
            ("ical_object", ical_object),
            ("xml_request", xml_request),
            ("imip_inbound", imip_inbound),
            ("rrule_expand", rrule_expand),
        ];
        for (name, run) in targets {
            let mut n = 0;
            for entry in std::fs::read_dir(root.join(name)).unwrap() {
                let data = std::fs::read(entry.unwrap().path()).unwrap();
                run(&data);
                n += 1;
            }
            assert!(n >= 10, "{name}: only {n} corpus files");
        }
    }
}
