//! Tests of calendar-data rendering (RFC 4791 section 9.6).

use super::*;
use crate::ical::query::{CalendarDataSpec, CompSelect, TimeRange};
use crate::ical::timezone::parse_date_time;

/// Generous limits for the tests that are not about limits.
const L: Limits<'static> = Limits {
    max_instances: 5000,
    max_bytes: usize::MAX,
    cancelled: &NOT,
    timezone: None,
};
static NOT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn tr(a: &str, b: &str) -> TimeRange {
    let at = |s: &str| Some(parse_date_time(s).unwrap().0.and_utc());
    TimeRange {
        start: at(a),
        end: at(b),
    }
}

const TZ: &str = "BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\nBEGIN:STANDARD\r\nDTSTART:19701101T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";

fn recurring() -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nX-WR-TIMEZONE:America/New_York\r\n{TZ}\
BEGIN:VEVENT\r\nUID:r\r\nDTSTART;TZID=America/New_York:20240101T090000\r\nDTEND;TZID=America/New_York:20240101T100000\r\nRRULE:FREQ=DAILY;COUNT=5\r\nEXDATE;TZID=America/New_York:20240104T090000\r\nSUMMARY:Daily\r\nX-FOO:bar\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:r\r\nRECURRENCE-ID;TZID=America/New_York:20240102T090000\r\nDTSTART;TZID=America/New_York:20240102T150000\r\nDTEND;TZID=America/New_York:20240102T160000\r\nSUMMARY:Moved\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:r\r\nRECURRENCE-ID;TZID=America/New_York:20240105T090000\r\nDTSTART;TZID=America/New_York:20240105T090000\r\nDTEND;TZID=America/New_York:20240105T093000\r\nSUMMARY:Short\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n"
    )
}

#[test]
fn default_spec_returns_input_unchanged() {
    let text = "BEGIN:VCALENDAR\nVERSION:2.0\nX-ANY:1\nBEGIN:X-COMP\nEND:X-COMP\nEND:VCALENDAR\n";
    assert_eq!(
        render(text, &CalendarDataSpec::default(), &L).unwrap(),
        text
    );
}

#[test]
fn partial_selection() {
    let spec = CalendarDataSpec {
        comp: Some(CompSelect {
            name: "VCALENDAR".into(),
            all_props: false,
            props: vec![],
            all_comps: false,
            comps: vec![CompSelect {
                name: "VEVENT".into(),
                props: vec!["SUMMARY".into(), "UID".into()],
                ..Default::default()
            }],
        }),
        ..Default::default()
    };
    let out = render(&recurring(), &spec, &L).unwrap();
    let expected = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n\
BEGIN:VEVENT\r\nUID:r\r\nSUMMARY:Daily\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:r\r\nSUMMARY:Moved\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:r\r\nSUMMARY:Short\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(out, expected);
}

#[test]
fn expand_with_overrides() {
    // Instances (New York, EST = UTC-5): Jan 1 14:00Z, Jan 2 overridden to 20:00Z,
    // Jan 3 14:00Z, Jan 4 excluded, Jan 5 overridden (14:00Z-14:30Z).
    let spec = CalendarDataSpec {
        expand: Some(tr("20240102T000000Z", "20240106T000000Z")),
        ..Default::default()
    };
    let out = render(&recurring(), &spec, &L).unwrap();
    assert!(!out.contains("VTIMEZONE"));
    assert!(!out.contains("RRULE") && !out.contains("EXDATE") && !out.contains("TZID"));
    let events: Vec<&str> = out.split("BEGIN:VEVENT\r\n").skip(1).collect();
    assert_eq!(events.len(), 3);
    assert!(events[0].contains("SUMMARY:Moved\r\n"));
    assert!(events[0].contains("DTSTART:20240102T200000Z\r\n"));
    assert!(events[0].contains("DTEND:20240102T210000Z\r\n"));
    assert!(events[0].contains("RECURRENCE-ID:20240102T140000Z\r\n"));
    assert!(events[1].contains("SUMMARY:Daily\r\n"));
    assert!(events[1].contains("X-FOO:bar\r\n"));
    assert!(events[1].contains("DTSTART:20240103T140000Z\r\n"));
    assert!(events[1].contains("DTEND:20240103T150000Z\r\n"));
    assert!(events[1].contains("RECURRENCE-ID:20240103T140000Z\r\n"));
    assert!(events[2].contains("SUMMARY:Short\r\n"));
    assert!(events[2].contains("DTEND:20240105T143000Z\r\n"));
    assert!(out.contains("X-WR-TIMEZONE:America/New_York\r\n"));
}

#[test]
fn limit_recurrence_set_keeps_master_and_overrides_in_range() {
    let spec = CalendarDataSpec {
        limit_recurrence_set: Some(tr("20240105T000000Z", "20240106T000000Z")),
        ..Default::default()
    };
    let out = render(&recurring(), &spec, &L).unwrap();
    assert!(out.contains("SUMMARY:Daily"));
    assert!(out.contains("SUMMARY:Short"));
    assert!(!out.contains("SUMMARY:Moved"));
    assert!(out.contains("BEGIN:VTIMEZONE"));
}

#[test]
fn limit_freebusy_set_and_errors() {
    let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VFREEBUSY\r\nUID:f\r\nFREEBUSY;FBTYPE=BUSY:20240101T100000Z/PT1H,20240103T100000Z/PT1H\r\nFREEBUSY:20240201T100000Z/PT1H\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    let spec = CalendarDataSpec {
        limit_freebusy_set: Some(tr("20240102T000000Z", "20240104T000000Z")),
        ..Default::default()
    };
    let out = render(text, &spec, &L).unwrap();
    assert!(out.contains("FREEBUSY;FBTYPE=BUSY:20240103T100000Z/PT1H\r\n"));
    assert!(!out.contains("20240101T100000Z"));
    assert!(!out.contains("20240201T100000Z"));
    assert!(render("garbage", &spec, &L).is_err());
}

#[test]
fn expand_all_day_and_long_lines() {
    let long = "x".repeat(200);
    let text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20240101\r\nRRULE:FREQ=WEEKLY\r\nDESCRIPTION:{long}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let spec = CalendarDataSpec {
        expand: Some(tr("20240107T000000Z", "20240116T000000Z")),
        ..Default::default()
    };
    let out = render(&text, &spec, &L).unwrap();
    assert!(out.contains("DTSTART;VALUE=DATE:20240108\r\nRECURRENCE-ID;VALUE=DATE:20240108\r\n"));
    assert!(out.contains("DTSTART;VALUE=DATE:20240115\r\n"));
    assert_eq!(out.matches("BEGIN:VEVENT").count(), 2);
    assert!(out.split("\r\n").all(|l| l.len() <= 75));
}

fn daily(extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTART:20240101T090000Z\r\nDTEND:20240101T100000Z\r\nRRULE:FREQ=DAILY\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

#[test]
fn expand_refuses_more_instances_than_the_limit() {
    let spec = CalendarDataSpec {
        expand: Some(tr("20240101T000000Z", "20240111T000000Z")),
        ..Default::default()
    };
    let ten = Limits {
        max_instances: 10,
        ..L
    };
    let out = render(&daily(""), &spec, &ten).unwrap();
    assert_eq!(out.matches("BEGIN:VEVENT").count(), 10);
    let nine = Limits {
        max_instances: 9,
        ..L
    };
    assert_eq!(
        render(&daily(""), &spec, &nine),
        Err(OutputError::TooManyInstances(9))
    );
    // limit-recurrence-set counts the same way.
    let limited = CalendarDataSpec {
        limit_recurrence_set: spec.expand,
        ..Default::default()
    };
    assert!(render(&daily(""), &limited, &nine).is_err());
}

#[test]
fn expand_stops_at_the_byte_budget_before_building_it() {
    let big = format!("DESCRIPTION:{}\r\n", "x".repeat(10_000));
    let spec = CalendarDataSpec {
        expand: Some(tr("20240101T000000Z", "20240401T000000Z")),
        ..Default::default()
    };
    let small = Limits {
        max_bytes: 100_000,
        ..L
    };
    assert_eq!(
        render(&daily(&big), &spec, &small),
        Err(OutputError::TooLarge(100_000))
    );
    let roomy = Limits {
        max_bytes: 2_000_000,
        ..L
    };
    let out = render(&daily(&big), &spec, &roomy).unwrap();
    assert_eq!(out.matches("BEGIN:VEVENT").count(), 91);
    assert!(out.len() <= 2_000_000);
    // Stored data as is counts too.
    let plain = CalendarDataSpec::default();
    let tiny = Limits {
        max_bytes: 100,
        ..L
    };
    assert!(render(&daily(""), &plain, &tiny).is_err());
}

#[test]
fn expand_writes_instances_with_their_alarms_and_selection() {
    let alarms = "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n".repeat(3);
    let spec = CalendarDataSpec {
        expand: Some(tr("20240101T000000Z", "20240103T000000Z")),
        comp: Some(CompSelect {
            name: "VCALENDAR".into(),
            all_props: true,
            all_comps: false,
            comps: vec![CompSelect {
                name: "VEVENT".into(),
                props: vec!["DTSTART".into(), "UID".into()],
                all_comps: false,
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let out = render(&daily(&alarms), &spec, &L).unwrap();
    assert_eq!(out.matches("BEGIN:VEVENT").count(), 2);
    assert!(!out.contains("VALARM"));
    assert!(!out.contains("DTEND"));
    assert!(out.contains("DTSTART:20240102T090000Z"));
    let whole = CalendarDataSpec {
        expand: spec.expand,
        ..Default::default()
    };
    let out = render(&daily(&alarms), &whole, &L).unwrap();
    assert_eq!(out.matches("BEGIN:VALARM").count(), 6);
    assert!(out.contains("RECURRENCE-ID:20240102T090000Z"));
    assert!(!out.contains("RRULE"));
}

#[test]
fn cancelled_render_stops() {
    let flag = std::sync::atomic::AtomicBool::new(true);
    let spec = CalendarDataSpec {
        expand: Some(tr("20240101T000000Z", "20240103T000000Z")),
        ..Default::default()
    };
    let gone = Limits {
        cancelled: &flag,
        ..L
    };
    assert_eq!(
        render(&daily(""), &spec, &gone),
        Err(OutputError::Cancelled)
    );
}

#[test]
fn expand_reads_floating_times_in_the_calendars_zone() {
    let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:f\r\nDTSTART:20240110T090000\r\nDTEND:20240110T100000\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:f\r\nRECURRENCE-ID:20240111T090000\r\nDTSTART:20240111T110000\r\nDTEND:20240111T120000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let berlin = Limits {
        timezone: "Europe/Berlin".parse().ok(),
        ..L
    };
    // 09:00 Berlin is 08:00Z in January: the window [07:30Z, 08:30Z) of
    // 10 January holds the first instance, in UTC it would not.
    let spec = CalendarDataSpec {
        expand: Some(tr("20240110T073000Z", "20240110T083000Z")),
        ..Default::default()
    };
    let out = render(text, &spec, &berlin).unwrap();
    assert!(
        out.contains("DTSTART:20240110T080000Z\r\nDTEND:20240110T090000Z\r\n"),
        "{out}"
    );
    assert!(!render(text, &spec, &L).unwrap().contains("BEGIN:VEVENT"));
    // The override's RECURRENCE-ID is read in the zone too.
    let spec = CalendarDataSpec {
        expand: Some(tr("20240111T000000Z", "20240112T000000Z")),
        ..Default::default()
    };
    let out = render(text, &spec, &berlin).unwrap();
    assert_eq!(out.matches("BEGIN:VEVENT").count(), 1, "{out}");
    assert!(out.contains("RECURRENCE-ID:20240111T080000Z\r\n"));
    assert!(out.contains("DTSTART:20240111T100000Z\r\n"));
    // All-day instances keep their own date whatever the zone's offset.
    let day = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20240101\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let spec = CalendarDataSpec {
        expand: Some(tr("20240101T120000Z", "20240102T120000Z")),
        ..Default::default()
    };
    let out = render(day, &spec, &berlin).unwrap();
    assert!(out.contains("DTSTART;VALUE=DATE:20240102\r\n"), "{out}");
    assert!(out.contains("DTEND;VALUE=DATE:20240103\r\n") || !out.contains("DTEND"));
}

#[test]
fn expand_applies_this_and_future() {
    let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:f\r\nDTSTART:20240101T100000Z\r\nDTEND:20240101T110000Z\r\nRRULE:FREQ=DAILY;COUNT=4\r\nSUMMARY:old\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:f\r\nRECURRENCE-ID;RANGE=THISANDFUTURE:20240102T100000Z\r\nDTSTART:20240102T120000Z\r\nDTEND:20240102T123000Z\r\nSUMMARY:new\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let spec = CalendarDataSpec {
        expand: Some(tr("20240101T000000Z", "20240110T000000Z")),
        ..Default::default()
    };
    let out = render(text, &spec, &L).unwrap();
    let events: Vec<&str> = out.split("BEGIN:VEVENT\r\n").skip(1).collect();
    assert_eq!(events.len(), 4, "{out}");
    assert!(events[0].contains("SUMMARY:old") && events[0].contains("DTSTART:20240101T100000Z"));
    for (e, day) in events[1..].iter().zip(["02", "03", "04"]) {
        assert!(e.contains("SUMMARY:new"), "{e}");
        assert!(
            e.contains(&format!("DTSTART:202401{day}T120000Z\r\n")),
            "{e}"
        );
        assert!(e.contains(&format!("DTEND:202401{day}T123000Z\r\n")), "{e}");
        assert!(
            e.contains(&format!("RECURRENCE-ID:202401{day}T100000Z\r\n")),
            "{e}"
        );
        assert!(!e.contains("THISANDFUTURE"));
    }
}
