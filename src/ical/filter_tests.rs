//! Tests of calendar-query filter evaluation (RFC 4791 sections 9.7 and 9.9).

use super::*;
use crate::ical::query::{
    Collation, CompFilter, Filter, ParamFilter, PropFilter, TextMatch, TimeRange,
};
use crate::ical::timezone::parse_date_time;
use chrono::{DateTime, Utc};

fn at(s: &str) -> DateTime<Utc> {
    parse_date_time(s).unwrap().0.and_utc()
}

fn tr(a: &str, b: &str) -> Option<TimeRange> {
    Some(TimeRange {
        start: Some(at(a)),
        end: Some(at(b)),
    })
}

fn cal(body: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{body}END:VCALENDAR\r\n")
}

fn filter(inner: CompFilter) -> Filter {
    Filter {
        comp_filter: CompFilter {
            name: "VCALENDAR".into(),
            comp_filters: vec![inner],
            ..Default::default()
        },
    }
}

fn in_range(kind: &str, range: Option<TimeRange>) -> Filter {
    filter(CompFilter {
        name: kind.into(),
        time_range: range,
        ..Default::default()
    })
}

fn ev_range(text: &str, a: &str, b: &str) -> bool {
    matches(text, &in_range("VEVENT", tr(a, b)), None)
}

const WEEKLY: &str = "BEGIN:VEVENT\r\nUID:w\r\nDTSTART:20240101T100000Z\r\nDTEND:20240101T110000Z\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Weekly\r\nEND:VEVENT\r\n";

#[test]
fn weekly_with_override_moving_instances() {
    // Instances: Jan 1, 8, 15, 22 at 10:00Z. The override moves Jan 8 to Jan 10 14:00Z.
    let moved = "BEGIN:VEVENT\r\nUID:w\r\nRECURRENCE-ID:20240108T100000Z\r\nDTSTART:20240110T140000Z\r\nDTEND:20240110T150000Z\r\nSUMMARY:Moved\r\nEND:VEVENT\r\n";
    let plain = cal(WEEKLY);
    let text = cal(&format!("{WEEKLY}{moved}"));
    assert!(ev_range(&plain, "20240108T000000Z", "20240109T000000Z"));
    // Moved out of Jan 8.
    assert!(!ev_range(&text, "20240108T000000Z", "20240109T000000Z"));
    // Moved into Jan 10.
    assert!(!ev_range(&plain, "20240110T000000Z", "20240111T000000Z"));
    assert!(ev_range(&text, "20240110T000000Z", "20240111T000000Z"));
    // COUNT=4 ends on Jan 22.
    assert!(ev_range(&plain, "20240122T103000Z", "20240122T103001Z"));
    assert!(!ev_range(&plain, "20240129T000000Z", "20240130T000000Z"));
    // A prop-filter applies to the component whose instance is in range.
    let f = filter(CompFilter {
        name: "VEVENT".into(),
        time_range: tr("20240110T000000Z", "20240111T000000Z"),
        prop_filters: vec![PropFilter {
            name: "SUMMARY".into(),
            text_match: Some(TextMatch {
                text: "weekly".into(),
                collation: Collation::AsciiCasemap,
                negate: false,
            }),
            ..Default::default()
        }],
        ..Default::default()
    });
    assert!(!matches(&text, &f, None));
}

#[test]
fn exdate_and_rdate() {
    let text = cal(
        "BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20240101T100000Z\r\nRRULE:FREQ=DAILY;UNTIL=20240105T100000Z\r\nEXDATE:20240103T100000Z\r\nRDATE:20240201T100000Z\r\nEND:VEVENT\r\n",
    );
    assert!(ev_range(&text, "20240102T100000Z", "20240102T100001Z"));
    assert!(!ev_range(&text, "20240103T000000Z", "20240104T000000Z"));
    assert!(!ev_range(&text, "20240106T000000Z", "20240201T000000Z"));
    assert!(ev_range(&text, "20240201T000000Z", "20240202T000000Z"));
}

#[test]
fn new_york_dst_and_all_day() {
    let text = cal(
        "BEGIN:VEVENT\r\nUID:ny\r\nDTSTART;TZID=America/New_York:20240308T090000\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=4\r\nEND:VEVENT\r\n",
    );
    // Mar 9 09:00 EST = 14:00Z; Mar 11 09:00 EDT = 13:00Z.
    assert!(ev_range(&text, "20240309T140000Z", "20240309T140100Z"));
    assert!(!ev_range(&text, "20240311T140000Z", "20240311T150000Z"));
    assert!(ev_range(&text, "20240311T130000Z", "20240311T133000Z"));
    // All day: DTSTART date, no DTEND: one day.
    let day = cal("BEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20240105\r\nEND:VEVENT\r\n");
    assert!(ev_range(&day, "20240105T230000Z", "20240106T000000Z"));
    assert!(!ev_range(&day, "20240106T000000Z", "20240107T000000Z"));
    let two = cal(
        "BEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20240105\r\nDTEND;VALUE=DATE:20240107\r\nEND:VEVENT\r\n",
    );
    assert!(ev_range(&two, "20240106T120000Z", "20240106T130000Z"));
    assert!(!ev_range(&two, "20240107T000000Z", "20240108T000000Z"));
}

#[test]
fn floating_uses_default_tz() {
    let text = cal(
        "BEGIN:VEVENT\r\nUID:f\r\nDTSTART:20240105T090000\r\nDTEND:20240105T100000\r\nEND:VEVENT\r\n",
    );
    let f = in_range("VEVENT", tr("20240105T090000Z", "20240105T100000Z"));
    assert!(matches(&text, &f, None));
    // 09:00 in Berlin is 08:00Z; in New York 14:00Z.
    assert!(!matches(&text, &f, Some(Tz::Europe__Berlin)));
    assert!(!matches(&text, &f, Some(Tz::America__New_York)));
    let berlin = in_range("VEVENT", tr("20240105T083000Z", "20240105T084500Z"));
    assert!(matches(&text, &berlin, Some(Tz::Europe__Berlin)));
    assert!(!matches(&text, &berlin, None));
    let ny = in_range("VEVENT", tr("20240105T140000Z", "20240105T150000Z"));
    assert!(matches(&text, &ny, Some(Tz::America__New_York)));
}

#[test]
fn text_match_collations_and_negate() {
    let text = cal(
        "BEGIN:VEVENT\r\nUID:t\r\nDTSTART:20240101T100000Z\r\nSUMMARY:Team Meeting\\, weekly\r\nEND:VEVENT\r\n",
    );
    let prop = |t: &str, collation, negate| {
        filter(CompFilter {
            name: "VEVENT".into(),
            prop_filters: vec![PropFilter {
                name: "SUMMARY".into(),
                text_match: Some(TextMatch {
                    text: t.into(),
                    collation,
                    negate,
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
    };
    assert!(matches(
        &text,
        &prop("meeting, WEEK", Collation::AsciiCasemap, false),
        None
    ));
    assert!(!matches(
        &text,
        &prop("meeting", Collation::Octet, false),
        None
    ));
    assert!(matches(
        &text,
        &prop("Meeting", Collation::Octet, false),
        None
    ));
    assert!(!matches(
        &text,
        &prop("meeting", Collation::AsciiCasemap, true),
        None
    ));
    assert!(matches(
        &text,
        &prop("lunch", Collation::AsciiCasemap, true),
        None
    ));
    assert!(matches(
        &text,
        &prop("TEAM", Collation::UnicodeCasemap, false),
        None
    ));
    assert!(!matches(
        "garbage",
        &prop("x", Collation::Octet, true),
        None
    ));
}

#[test]
fn param_filter_and_is_not_defined() {
    let text = cal(
        "BEGIN:VEVENT\r\nUID:p\r\nDTSTART:20240101T100000Z\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:a@x\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:b@x\r\nEND:VEVENT\r\n",
    );
    let pf = |value: &str, not_defined: bool| {
        filter(CompFilter {
            name: "VEVENT".into(),
            prop_filters: vec![PropFilter {
                name: "ATTENDEE".into(),
                param_filters: vec![ParamFilter {
                    name: "PARTSTAT".into(),
                    is_not_defined: not_defined,
                    text_match: (!value.is_empty()).then(|| TextMatch {
                        text: value.into(),
                        collation: Collation::AsciiCasemap,
                        negate: false,
                    }),
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
    };
    assert!(matches(&text, &pf("accepted", false), None));
    assert!(!matches(&text, &pf("declined", false), None));
    assert!(!matches(&text, &pf("", true), None));
    let undefined = |name: &str| {
        filter(CompFilter {
            name: "VEVENT".into(),
            prop_filters: vec![PropFilter {
                name: name.into(),
                is_not_defined: true,
                ..Default::default()
            }],
            ..Default::default()
        })
    };
    assert!(matches(&text, &undefined("LOCATION"), None));
    assert!(!matches(&text, &undefined("ATTENDEE"), None));
    let no_todo = filter(CompFilter {
        name: "VTODO".into(),
        is_not_defined: true,
        ..Default::default()
    });
    assert!(matches(&text, &no_todo, None));
    // Property time-range.
    let stamp = filter(CompFilter {
        name: "VEVENT".into(),
        prop_filters: vec![PropFilter {
            name: "DTSTART".into(),
            time_range: tr("20240101T000000Z", "20240102T000000Z"),
            ..Default::default()
        }],
        ..Default::default()
    });
    assert!(matches(&text, &stamp, None));
}

#[test]
fn vtodo_time_ranges() {
    let todo = |props: &str| cal(&format!("BEGIN:VTODO\r\nUID:t\r\n{props}END:VTODO\r\n"));
    let q = |text: &str, a: &str, b: &str| matches(text, &in_range("VTODO", tr(a, b)), None);
    let start_due = todo("DTSTART:20240101T100000Z\r\nDUE:20240103T100000Z\r\n");
    assert!(q(&start_due, "20240102T000000Z", "20240102T010000Z"));
    assert!(!q(&start_due, "20240104T000000Z", "20240105T000000Z"));
    let due_only = todo("DUE:20240103T100000Z\r\n");
    assert!(q(&due_only, "20240103T000000Z", "20240104T000000Z"));
    assert!(!q(&due_only, "20240101T000000Z", "20240102T000000Z"));
    let start_dur = todo("DTSTART:20240101T100000Z\r\nDURATION:P1D\r\n");
    assert!(q(&start_dur, "20240102T000000Z", "20240102T010000Z"));
    let done = todo("CREATED:20240101T000000Z\r\nCOMPLETED:20240110T000000Z\r\n");
    assert!(q(&done, "20240105T000000Z", "20240106T000000Z"));
    assert!(!q(&done, "20240111T000000Z", "20240112T000000Z"));
    let created = todo("CREATED:20240101T000000Z\r\n");
    assert!(q(&created, "20300101T000000Z", "20300102T000000Z"));
    assert!(!q(&created, "20231201T000000Z", "20231202T000000Z"));
    let bare = todo("");
    assert!(q(&bare, "19990101T000000Z", "19990102T000000Z"));
}

#[test]
fn infinite_rule_in_2030_and_open_ranges() {
    let text = cal(
        "BEGIN:VEVENT\r\nUID:i\r\nDTSTART:20240101T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;BYDAY=MO\r\nEND:VEVENT\r\n",
    );
    // 2030-01-07 is a Monday.
    assert!(ev_range(&text, "20300107T000000Z", "20300108T000000Z"));
    assert!(!ev_range(&text, "20300108T000000Z", "20300113T000000Z"));
    let open = in_range(
        "VEVENT",
        Some(TimeRange {
            start: Some(at("20350101T000000Z")),
            end: None,
        }),
    );
    assert!(matches(&text, &open, None));
    let info = crate::ical::parse_object(&text).unwrap();
    assert!(info.index.more_after.is_some());
    assert!(info.index.may_overlap(
        Some(at("20300107T000000Z").timestamp()),
        Some(at("20300108T000000Z").timestamp())
    ));
}

#[test]
fn alarm_trigger_range() {
    let text = cal(
        "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T100000Z\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n",
    );
    let f = |a: &str, b: &str| {
        filter(CompFilter {
            name: "VEVENT".into(),
            comp_filters: vec![CompFilter {
                name: "VALARM".into(),
                time_range: tr(a, b),
                ..Default::default()
            }],
            ..Default::default()
        })
    };
    assert!(matches(
        &text,
        &f("20240101T094000Z", "20240101T095000Z"),
        None
    ));
    assert!(!matches(
        &text,
        &f("20240101T095000Z", "20240101T100000Z"),
        None
    ));
}

fn alarm_filter(a: &str, b: &str) -> Filter {
    filter(CompFilter {
        name: "VEVENT".into(),
        comp_filters: vec![CompFilter {
            name: "VALARM".into(),
            time_range: tr(a, b),
            ..Default::default()
        }],
        ..Default::default()
    })
}

#[test]
fn alarms_of_every_instance_and_repeats() {
    // Daily at 10:00Z for 5 days, alarm 15 minutes before.
    let daily = cal(
        "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T100000Z\r\nDTEND:20240101T110000Z\r\nRRULE:FREQ=DAILY;COUNT=5\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n",
    );
    let q = |t: &str, a: &str, b: &str| matches(t, &alarm_filter(a, b), None);
    assert!(q(&daily, "20240104T094000Z", "20240104T095000Z"));
    assert!(!q(&daily, "20240104T095000Z", "20240104T100000Z"));
    assert!(!q(&daily, "20240106T094000Z", "20240106T095000Z"));
    // An override with its own alarm: the master's alarm of that day is gone.
    let moved = cal(
        "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T100000Z\r\nDTEND:20240101T110000Z\r\nRRULE:FREQ=DAILY;COUNT=5\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:a\r\nRECURRENCE-ID:20240103T100000Z\r\nDTSTART:20240103T160000Z\r\nDTEND:20240103T170000Z\r\nEND:VEVENT\r\n",
    );
    assert!(!q(&moved, "20240103T094000Z", "20240103T095000Z"));
    assert!(q(&moved, "20240102T094000Z", "20240102T095000Z"));
    // RELATED=END, REPEAT 3 every 5 minutes: 11:00, 11:05, 11:10, 11:15.
    let repeat = cal(
        "BEGIN:VEVENT\r\nUID:r\r\nDTSTART:20240101T100000Z\r\nDTEND:20240101T110000Z\r\nBEGIN:VALARM\r\nACTION:AUDIO\r\nTRIGGER;RELATED=END:PT0S\r\nREPEAT:3\r\nDURATION:PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\n",
    );
    assert!(q(&repeat, "20240101T111400Z", "20240101T111600Z"));
    assert!(q(&repeat, "20240101T110500Z", "20240101T110501Z"));
    assert!(!q(&repeat, "20240101T110100Z", "20240101T110400Z"));
    assert!(!q(&repeat, "20240101T111600Z", "20240101T120000Z"));
    // An absolute trigger fires once, repeats included.
    let abs = cal(
        "BEGIN:VEVENT\r\nUID:b\r\nDTSTART:20240101T100000Z\r\nRRULE:FREQ=DAILY\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER;VALUE=DATE-TIME:20240101T080000Z\r\nREPEAT:1\r\nDURATION:PT1H\r\nEND:VALARM\r\nEND:VEVENT\r\n",
    );
    assert!(q(&abs, "20240101T085959Z", "20240101T090001Z"));
    assert!(!q(&abs, "20240102T070000Z", "20240102T100000Z"));
}

#[test]
fn this_and_future_moves_later_instances() {
    // Weekly Mondays 10:00Z x6; from Jan 15 on, 14:00Z for two hours.
    let text = cal(
        "BEGIN:VEVENT\r\nUID:f\r\nDTSTART:20240101T100000Z\r\nDTEND:20240101T110000Z\r\nRRULE:FREQ=WEEKLY;COUNT=6\r\nSUMMARY:old\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:f\r\nRECURRENCE-ID;RANGE=THISANDFUTURE:20240115T100000Z\r\nDTSTART:20240115T140000Z\r\nDTEND:20240115T160000Z\r\nSUMMARY:new\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:f\r\nRECURRENCE-ID:20240205T100000Z\r\nDTSTART:20240205T080000Z\r\nDTEND:20240205T090000Z\r\nEND:VEVENT\r\n",
    );
    assert!(ev_range(&text, "20240108T100000Z", "20240108T103000Z"));
    assert!(!ev_range(&text, "20240122T100000Z", "20240122T110000Z"));
    assert!(ev_range(&text, "20240122T153000Z", "20240122T154000Z"));
    assert!(ev_range(&text, "20240129T140000Z", "20240129T141000Z"));
    // A later single override still wins for its own instance.
    assert!(!ev_range(&text, "20240205T140000Z", "20240205T160000Z"));
    assert!(ev_range(&text, "20240205T080000Z", "20240205T083000Z"));
    // The properties of the override apply to the instances it covers.
    let summary_new = filter(CompFilter {
        name: "VEVENT".into(),
        time_range: tr("20240129T000000Z", "20240130T000000Z"),
        prop_filters: vec![PropFilter {
            name: "SUMMARY".into(),
            text_match: Some(TextMatch {
                text: "new".into(),
                collation: Collation::AsciiCasemap,
                negate: false,
            }),
            ..Default::default()
        }],
        ..Default::default()
    });
    assert!(matches(&text, &summary_new, None));
    // And the index written at PUT agrees.
    let idx = crate::ical::parse_object(&text).unwrap().index;
    let secs = |s: &str| at(s).timestamp();
    assert!(
        idx.spans
            .contains(&(secs("20240122T140000Z"), secs("20240122T160000Z")))
    );
    assert!(!idx.may_overlap(
        Some(secs("20240122T100000Z")),
        Some(secs("20240122T110000Z"))
    ));
}

#[test]
fn recurring_todo_without_dtstart_recurs_from_due() {
    let text = cal(
        "BEGIN:VTODO\r\nUID:t\r\nDTSTAMP:20240101T000000Z\r\nDUE:20240105T170000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:Bins\r\nEND:VTODO\r\n",
    );
    let info = crate::ical::parse_object(&text).expect("accepted");
    assert_eq!(info.index.spans.len(), 3);
    let q = |a: &str, b: &str| matches(&text, &in_range("VTODO", tr(a, b)), None);
    // RFC 4791 section 9.9, DUE only: start < DUE and end >= DUE.
    assert!(q("20240112T000000Z", "20240112T170000Z"));
    assert!(!q("20240112T170000Z", "20240113T000000Z"));
    assert!(q("20240119T160000Z", "20240119T180000Z"));
    assert!(!q("20240126T000000Z", "20240127T000000Z"));
    let secs = |s: &str| at(s).timestamp();
    assert!(info.index.may_overlap(
        Some(secs("20240112T000000Z")),
        Some(secs("20240112T170000Z"))
    ));
    // RRULE with neither DTSTART nor DUE stays refused.
    let bare = cal(
        "BEGIN:VTODO\r\nUID:u\r\nDTSTAMP:20240101T000000Z\r\nRRULE:FREQ=DAILY\r\nEND:VTODO\r\n",
    );
    assert!(crate::ical::parse_object(&bare).is_err());
    // COMPLETED only: start <= COMPLETED <= end.
    let done = cal("BEGIN:VTODO\r\nUID:c\r\nCOMPLETED:20240110T000000Z\r\nEND:VTODO\r\n");
    let qd = |a: &str, b: &str| matches(&done, &in_range("VTODO", tr(a, b)), None);
    assert!(qd("20240109T000000Z", "20240110T000000Z"));
    assert!(qd("20240110T000000Z", "20240111T000000Z"));
    assert!(!qd("20240110T000001Z", "20240111T000000Z"));
}

#[test]
fn all_day_events_in_the_calendars_zone() {
    // 5 January all day, asked about in Auckland (UTC+13 in January):
    // the day runs 4 January 11:00Z to 5 January 11:00Z.
    let text = cal(
        "BEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20240105\r\nDTEND;VALUE=DATE:20240106\r\nEND:VEVENT\r\n",
    );
    let tz: Tz = "Pacific/Auckland".parse().unwrap();
    let q = |a: &str, b: &str, z| matches(&text, &in_range("VEVENT", tr(a, b)), z);
    assert!(q("20240104T120000Z", "20240104T130000Z", Some(tz)));
    assert!(!q("20240104T120000Z", "20240104T130000Z", None));
    assert!(!q("20240105T120000Z", "20240105T130000Z", Some(tz)));
    assert!(q("20240105T120000Z", "20240105T130000Z", None));
    // The index (built in UTC) is a superset of every zone's answer.
    let idx = crate::ical::parse_object(&text).unwrap().index;
    assert!(!idx.exact);
    assert!(idx.may_overlap(
        Some(at("20240104T120000Z").timestamp()),
        Some(at("20240104T130000Z").timestamp())
    ));
}
