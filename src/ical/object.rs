//! Validation of one calendar object resource as stored by PUT (RFC 4791
//! section 4.1, RFC 5545 section 3.6) and computation of its [`TimeIndex`].

use super::model::{Comp, parse};
use super::recurrence::expand;
use super::timezone::{Zones, parse_duration, prop_time, prop_times};
use super::{ComponentKind, IcalError, ObjectInfo, TimeIndex};

/// Index expansion stops at 2100-01-01T00:00:00Z.
const INDEX_END: i64 = 4_102_444_800;
/// And after this many instances.
const INDEX_CAP: usize = 1000;

const DATE_PROPS: &[&str] = &[
    "DTSTART",
    "DTEND",
    "DUE",
    "RECURRENCE-ID",
    "COMPLETED",
    "CREATED",
    "DTSTAMP",
    "LAST-MODIFIED",
];

/// Parse the single VCALENDAR of `text`.
pub(crate) fn single_calendar(text: &str) -> Result<Comp<'_>, IcalError> {
    let mut top = parse(text)?;
    if top.len() != 1 {
        let line = top.get(1).map_or(0, |c| c.lineno);
        return Err(IcalError::invalid(line, "expected exactly one VCALENDAR"));
    }
    let cal = top.remove(0);
    if cal.name != "VCALENDAR" {
        return Err(IcalError::invalid(cal.lineno, "expected BEGIN:VCALENDAR"));
    }
    Ok(cal)
}

/// Check value syntax of the properties of `c` (and sub-components).
fn check_values(c: &Comp<'_>, zones: &Zones) -> Result<(), IcalError> {
    for p in &c.props {
        let wrap = |m: String| IcalError::invalid(p.lineno, m);
        if let Some(id) = p.param("TZID")
            && zones.resolve(id).is_none()
        {
            return Err(wrap(format!("{} refers to unknown TZID {id:?}", p.name)));
        }
        match p.name.as_str() {
            n if DATE_PROPS.contains(&n) => {
                prop_time(p, zones).map_err(wrap)?;
            }
            "RDATE" | "EXDATE" => {
                prop_times(p, zones).map_err(wrap)?;
            }
            "DURATION" if c.name != "VALARM" => {
                parse_duration(&p.value)
                    .ok_or_else(|| wrap("DURATION has an invalid value".into()))?;
            }
            _ => {}
        }
    }
    for sub in &c.comps {
        check_values(sub, zones)?;
    }
    Ok(())
}

/// Component-level rules of RFC 5545 section 3.6.
fn check_component(c: &Comp<'_>, kind: ComponentKind) -> Result<(), IcalError> {
    let line = c.lineno;
    let count = |n: &str| c.props_named(n).count();
    for once in [
        "UID",
        "DTSTART",
        "DTEND",
        "DUE",
        "DURATION",
        "RECURRENCE-ID",
    ] {
        if count(once) > 1 {
            return Err(IcalError::invalid(
                line,
                format!("{} has more than one {once}", kind.as_str()),
            ));
        }
    }
    let has = |n: &str| c.prop(n).is_some();
    match kind {
        ComponentKind::Event => {
            if !has("DTSTART") {
                return Err(IcalError::invalid(line, "VEVENT has no DTSTART"));
            }
            if has("DTEND") && has("DURATION") {
                return Err(IcalError::invalid(
                    line,
                    "VEVENT has both DTEND and DURATION",
                ));
            }
        }
        ComponentKind::Todo => {
            if has("DUE") && has("DURATION") {
                return Err(IcalError::invalid(line, "VTODO has both DUE and DURATION"));
            }
            if has("DURATION") && !has("DTSTART") {
                return Err(IcalError::invalid(
                    line,
                    "VTODO has DURATION but no DTSTART",
                ));
            }
        }
        ComponentKind::Journal | ComponentKind::FreeBusy => {}
    }
    // RFC 5545 asks for DTSTART, but task clients (Thunderbird, tasks.org,
    // DAVx5) write recurring VTODOs with DUE only: those recur from DUE.
    let anchored = has("DTSTART") || (kind == ComponentKind::Todo && has("DUE"));
    if has("RRULE") && !anchored {
        return Err(IcalError::invalid(line, "RRULE requires DTSTART"));
    }
    Ok(())
}

/// Bodies up to this size without a recurrence rule are cheap to parse.
const CHEAP_BYTES: usize = 16 * 1024;

/// Whether [`parse_object`] may cost more than a thread hand-off (tens of
/// microseconds): a body over 16 KiB, or one with an RRULE to expand.
pub fn parse_may_be_costly(text: &str) -> bool {
    text.len() > CHEAP_BYTES
        || text.split('\n').any(|l| {
            l.trim_start()
                .get(..5)
                .is_some_and(|n| n.eq_ignore_ascii_case("RRULE"))
        })
}

/// Validate one calendar object resource and index its instances.
pub fn parse_object(text: &str) -> Result<ObjectInfo, IcalError> {
    let cal = single_calendar(text)?;
    if let Some(m) = cal.prop("METHOD") {
        return Err(IcalError::MethodPresent { line: m.lineno });
    }
    match cal.prop("VERSION") {
        Some(v) if v.value.trim() == "2.0" => {}
        Some(v) => return Err(IcalError::invalid(v.lineno, "VERSION must be 2.0")),
        None => return Err(IcalError::invalid(cal.lineno, "VCALENDAR has no VERSION")),
    }
    let zones = Zones::from_calendar(&cal);
    let mut kind: Option<ComponentKind> = None;
    let mut uid: Option<String> = None;
    let mut members: Vec<&Comp<'_>> = Vec::new();
    let mut masters = 0;
    for c in &cal.comps {
        if c.name == "VTIMEZONE" {
            if c.prop("TZID").is_none() {
                return Err(IcalError::invalid(c.lineno, "VTIMEZONE has no TZID"));
            }
            continue;
        }
        let Some(k) = ComponentKind::from_name(&c.name) else {
            if c.name.starts_with("X-") {
                continue;
            }
            return Err(IcalError::UnsupportedComponent {
                line: c.lineno,
                message: format!("component {} is not supported", c.name),
            });
        };
        if kind.is_some_and(|prev| prev != k) {
            return Err(IcalError::invalid(
                c.lineno,
                "all components must be of the same type",
            ));
        }
        kind = Some(k);
        let this_uid = c
            .text("UID")
            .ok_or_else(|| IcalError::invalid(c.lineno, format!("{} has no UID", c.name)))?;
        match &uid {
            Some(u) if *u != this_uid => {
                return Err(IcalError::invalid(
                    c.lineno,
                    "all components must have the same UID",
                ));
            }
            _ => uid = Some(this_uid),
        }
        check_component(c, k)?;
        if c.prop("RECURRENCE-ID").is_none() {
            masters += 1;
            if masters > 1 {
                return Err(IcalError::invalid(
                    c.lineno,
                    "more than one component without RECURRENCE-ID",
                ));
            }
        }
        members.push(c);
    }
    let (Some(kind), Some(uid)) = (kind, uid) else {
        return Err(IcalError::UnsupportedComponent {
            line: cal.lineno,
            message: "no VEVENT, VTODO, VJOURNAL or VFREEBUSY component".into(),
        });
    };
    check_values(&cal, &zones)?;
    let index = build_index(&members, &zones)?;
    if members.len() > 1 {
        super::instances::check_override_ids(&members, &zones)?;
    }
    Ok(ObjectInfo { uid, kind, index })
}

fn build_index(members: &[&Comp<'_>], zones: &Zones) -> Result<TimeIndex, IcalError> {
    let line = members
        .iter()
        .find_map(|c| c.prop("RRULE").map(|p| p.lineno))
        .unwrap_or(0);
    let exp = expand(members, zones, None, i64::MIN, INDEX_END, INDEX_CAP)
        .map_err(|m| IcalError::invalid(line, m))?;
    let mut spans: Vec<(i64, i64)> = exp.items.iter().map(|i| (i.start, i.end)).collect();
    spans.sort_unstable();
    Ok(TimeIndex {
        spans,
        more_after: exp.more_after,
        exact: !exp.floating,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(body: &str) -> String {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n{body}END:VCALENDAR\r\n")
    }

    const EV: &str = "BEGIN:VEVENT\r\nUID:e1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240105T100000Z\r\nDTEND:20240105T110000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\n";

    #[test]
    fn parses_event_todo_journal() {
        let info = parse_object(&cal(EV)).unwrap();
        assert_eq!(info.uid, "e1");
        assert_eq!(info.kind, ComponentKind::Event);
        assert_eq!(info.index.spans, vec![(1_704_448_800, 1_704_452_400)]);
        assert!(info.index.exact);
        let todo = parse_object(&cal(
            "BEGIN:VTODO\r\nUID:t1\r\nDUE;VALUE=DATE:20240110\r\nEND:VTODO\r\n",
        ))
        .unwrap();
        assert_eq!(todo.kind, ComponentKind::Todo);
        assert!(!todo.index.exact);
        let j = parse_object(&cal(
            "BEGIN:VJOURNAL\r\nUID:j1\r\nDTSTART;VALUE=DATE:20240110\r\nEND:VJOURNAL\r\n",
        ))
        .unwrap();
        assert_eq!(j.kind, ComponentKind::Journal);
        assert_eq!(j.index.spans, vec![(1_704_844_800, 1_704_931_200)]);
        // Lower-case names and LF line endings.
        let lf = cal(EV).replace("\r\n", "\n").replace("SUMMARY", "summary");
        assert!(parse_object(&lf).is_ok());
    }

    #[test]
    fn refusals() {
        let no_uid = cal("BEGIN:VEVENT\r\nDTSTART:20240105T100000Z\r\nEND:VEVENT\r\n");
        assert!(
            parse_object(&no_uid)
                .unwrap_err()
                .to_string()
                .contains("no UID")
        );
        let two = cal(&format!("{EV}{}", EV.replace("UID:e1", "UID:e2")));
        assert!(parse_object(&two).is_err());
        let mixed = cal(&format!("{EV}BEGIN:VTODO\r\nUID:e1\r\nEND:VTODO\r\n"));
        assert!(parse_object(&mixed).is_err());
        let method = cal(EV).replace("VERSION:2.0\r\n", "VERSION:2.0\r\nMETHOD:REQUEST\r\n");
        assert!(parse_object(&method).unwrap_err().is_method_present());
        let no_version = cal(EV).replace("VERSION:2.0\r\n", "");
        assert!(parse_object(&no_version).is_err());
        assert!(parse_object("hello world").is_err());
        let unterminated = cal(EV).replace("END:VEVENT\r\n", "");
        assert!(parse_object(&unterminated).is_err());
        let bad = cal(&EV.replace("20240105T100000Z", "2024-01-05"));
        let e = parse_object(&bad).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 7: DTSTART has an invalid date-time value"
        );
        let both = cal(&EV.replace("SUMMARY:x", "DURATION:PT1H"));
        assert!(parse_object(&both).is_err());
        let two_masters = cal(&format!("{EV}{EV}"));
        assert!(parse_object(&two_masters).is_err());
        let only_tz = cal("BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nEND:VTIMEZONE\r\n");
        assert!(
            parse_object(&only_tz)
                .unwrap_err()
                .is_unsupported_component()
        );
        let avail = cal("BEGIN:VAVAILABILITY\r\nUID:a\r\nEND:VAVAILABILITY\r\n");
        assert!(parse_object(&avail).unwrap_err().is_unsupported_component());
        let tz = cal(&EV
            .replace("DTSTART:", "DTSTART;TZID=Mars/Olympus:")
            .replace("0Z\r\nDTEND", "0\r\nDTEND"));
        assert!(parse_object(&tz).unwrap_err().to_string().contains("TZID"));
        let rule = cal(&EV.replace("SUMMARY:x", "RRULE:FREQ=WEEKLY;BYMONTHDAY=3"));
        assert!(
            parse_object(&rule)
                .unwrap_err()
                .to_string()
                .contains("RRULE")
        );
        let no_start = cal("BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n");
        assert!(parse_object(&no_start).is_err());
    }

    #[test]
    fn cost_estimate() {
        assert!(!parse_may_be_costly(&cal(EV)));
        assert!(parse_may_be_costly(&cal(
            &EV.replace("SUMMARY:x", "rrule:FREQ=DAILY")
        )));
        let big = EV.replace("SUMMARY:x", &format!("SUMMARY:{}", "x".repeat(20_000)));
        assert!(parse_may_be_costly(&cal(&big)));
    }

    #[test]
    fn infinite_rule_sets_more_after() {
        let text = cal(&EV.replace("SUMMARY:x", "RRULE:FREQ=DAILY"));
        let info = parse_object(&text).unwrap();
        assert_eq!(info.index.spans.len(), 1000);
        // Instance 1001 starts 1000 days after 2024-01-05: 2026-10-01.
        assert_eq!(info.index.more_after, Some(1_704_448_800 + 1000 * 86_400));
        // A query in 2030 reaches past more_after.
        assert!(
            info.index
                .may_overlap(Some(1_893_456_000), Some(1_893_542_400))
        );
    }

    #[test]
    fn vendor_and_vtimezone_tzids() {
        let body = EV
            .replace(
                "DTSTART:20240105T100000Z",
                "DTSTART;TZID=/mozilla.org/20050126_1/Europe/Berlin:20240105T110000",
            )
            .replace(
                "DTEND:20240105T110000Z",
                "DTEND;TZID=Custom:20240105T120000",
            );
        let vtz = "BEGIN:VTIMEZONE\r\nTZID:Custom\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";
        let info = parse_object(&cal(&format!("{vtz}{body}"))).unwrap();
        assert_eq!(info.index.spans, vec![(1_704_448_800, 1_704_452_400)]);
    }
}

#[cfg(test)]
mod robustness {
    use super::*;

    fn with(dtstart: &str, extra: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART{dtstart}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    }

    #[test]
    fn odd_rules_never_panic() {
        let rules = [
            "FREQ=YEARLY;INTERVAL=65535",
            "FREQ=MONTHLY;INTERVAL=65535",
            "FREQ=SECONDLY;INTERVAL=65535",
            "FREQ=YEARLY;INTERVAL=99999999",
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
            "FREQ=MINUTELY;BYHOUR=25",
            "FREQ=DAILY;INTERVAL=0",
            "FREQ=DAILY;COUNT=4294967295",
            "FREQ=DAILY;COUNT=-1",
            "FREQ=WEEKLY;UNTIL=garbage",
            "FREQ=DAILY;UNTIL=20240101",
            "FREQ=HOURLY;BYSETPOS=1",
            "FREQ=MONTHLY;BYDAY=5FR",
            "FREQ=YEARLY;BYWEEKNO=53;BYDAY=MO",
            "",
            ";;;",
            "FREQ=DAILY;X-FOO=1",
        ];
        let starts = [
            ":00010101T000000Z",
            ":99991231T235959Z",
            ";TZID=America/New_York:20240310T023000",
            ";VALUE=DATE:99991231",
            ":20240101T000000",
        ];
        for rule in rules {
            for start in starts {
                let text = with(start, &format!("RRULE:{rule}\r\nDURATION:P99999999W\r\n"));
                let _ = parse_object(&text);
                let f = crate::ical::query::Filter::default();
                let _ = crate::ical::matches(&text, &f, None);
            }
        }
        for bad in [
            "BEGIN:VCALENDAR\r\nEND:VEVENT\r\n",
            "BEGIN:\r\n",
            "BEGIN:VCALENDAR\r\nX;A=\"unterminated:1\r\nEND:VCALENDAR\r\n",
            "\u{feff}BEGIN:VCALENDAR\r\n é:é\r\nEND:VCALENDAR\r\n",
            " continuation first\r\n",
        ] {
            assert!(parse_object(bad).is_err());
        }
        let huge = with(
            ":20240101T000000Z",
            "DTEND:99991231T000000Z\r\nRDATE;VALUE=PERIOD:20240101T000000Z/P99999999W\r\n",
        );
        assert!(parse_object(&huge).is_ok());
    }
}
