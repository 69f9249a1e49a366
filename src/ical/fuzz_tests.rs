//! Regression tests for what the fuzz targets found in the iCalendar layer
//! (docs/FUZZING.md): each input once panicked or ran away.

use super::parse_object;
use super::query::{CalendarDataSpec, TimeRange};
use chrono::{TimeZone, Utc};

fn event(rule: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:f\r\nDTSTAMP:20240101T000000Z\r\n\
         DTSTART:20240106T100000Z\r\nDTEND:20240106T110000Z\r\nRRULE:{rule}\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// rrule_expand: the rrule crate slices weekday names by bytes, so a
/// multi-byte character in BYDAY panicked (at PUT, in parse_object).
#[test]
fn non_ascii_rule_is_refused_not_a_panic() {
    for rule in [
        "FREQ=WEEKLY;BYDAY=MO\u{528}E,FR;UNTIL=20241231T040000Z",
        "FREQ=WEEKLY;BYDAY=\u{e9}",
        "FREQ=MONTHLY;BYDAY=1\u{1F600}",
    ] {
        let text = event(rule);
        let e = parse_object(&text).expect_err(rule);
        assert!(e.to_string().contains("RRULE"), "{rule}: {e}");
        // The REPORT paths refuse it the same way.
        let month = TimeRange {
            start: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single(),
            end: Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).single(),
        };
        let spec = CalendarDataSpec {
            expand: Some(month),
            ..CalendarDataSpec::default()
        };
        assert!(
            super::render(&text, &spec, &super::Limits::new(10_000, 1 << 20)).is_err(),
            "{rule}"
        );
    }
}
