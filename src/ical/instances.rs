//! An override must name an instance of its master (RFC 5545 section
//! 3.8.4.4: RECURRENCE-ID identifies an instance of the recurrence set), or
//! the object is not a valid calendar object resource (RFC 4791 section
//! 4.1; CALDAV:valid-calendar-object-resource on PUT).
//!
//! Cheap and lenient on purpose: checked only for a master with DTSTART and
//! RRULE/RDATE plus overrides, by one expansion over the span of the
//! overrides' RECURRENCE-IDs (capped); an EXDATE'd instance may keep its
//! override, an override past the end of a capped expansion is tolerated,
//! and a RECURRENCE-ID whose value type (DATE, floating, absolute) differs
//! from DTSTART's is not judged.

use super::IcalError;
use super::model::Comp;
use super::recurrence::expand;
use super::timezone::{Zones, prop_time, prop_times};
use std::collections::HashSet;

/// Instances looked at, at most, to find the overrides' RECURRENCE-IDs.
const CHECK_CAP: usize = 2000;

fn kind(t: &super::timezone::Time) -> u8 {
    if t.is_date() {
        0
    } else if t.is_floating() {
        1
    } else {
        2
    }
}

/// Err when an override's RECURRENCE-ID is not an instance of the master.
pub(crate) fn check_override_ids(members: &[&Comp<'_>], zones: &Zones) -> Result<(), IcalError> {
    let Some(master) = members
        .iter()
        .find(|c| c.prop("RECURRENCE-ID").is_none())
        .copied()
    else {
        return Ok(());
    };
    let recurs = master.prop("RRULE").is_some() || master.prop("RDATE").is_some();
    let Some(start) = master.prop("DTSTART").filter(|_| recurs) else {
        return Ok(());
    };
    let Ok(dt0) = prop_time(start, zones) else {
        return Ok(());
    };
    let mut rids = Vec::new();
    for c in members {
        let Some(p) = c.prop("RECURRENCE-ID") else {
            continue;
        };
        match prop_time(p, zones) {
            Ok(t) if kind(&t) == kind(&dt0) => rids.push((t.utc(None), p.lineno)),
            _ => {}
        }
    }
    let (Some(lo), Some(hi)) = (
        rids.iter().map(|r| r.0).min(),
        rids.iter().map(|r| r.0).max(),
    ) else {
        return Ok(());
    };
    let mut known: HashSet<i64> = HashSet::new();
    for p in master.props_named("EXDATE") {
        if let Ok(ts) = prop_times(p, zones) {
            known.extend(ts.into_iter().map(|(t, _)| t.utc(None)));
        }
    }
    // Only the master: its instances, none of them replaced by an override.
    let exp = expand(&[master], zones, None, lo, hi, CHECK_CAP)
        .map_err(|m| IcalError::invalid(start.lineno, m))?;
    known.extend(exp.items.iter().filter_map(|i| i.rid));
    let last = exp.more_after.unwrap_or(i64::MAX);
    match rids.iter().find(|(r, _)| !known.contains(r) && *r < last) {
        Some((_, line)) => Err(IcalError::NoSuchInstance {
            line: *line,
            message: "RECURRENCE-ID does not name an instance of the recurring component".into(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use crate::ical::parse_object;

    fn cal(rule: &str, overrides: &[&str]) -> String {
        let mut s = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:r\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;TZID=Europe/Paris:20240108T100000\r\nDURATION:PT1H\r\n{rule}END:VEVENT\r\n"
        );
        for rid in overrides {
            s.push_str(&format!(
                "BEGIN:VEVENT\r\nUID:r\r\nDTSTAMP:20240101T000000Z\r\n{rid}\r\nDTSTART:20240301T100000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\n"
            ));
        }
        s.push_str("END:VCALENDAR\r\n");
        s
    }

    #[test]
    fn overrides_must_name_instances() {
        let weekly = "RRULE:FREQ=WEEKLY;COUNT=10\r\nRDATE;TZID=Europe/Paris:20240110T150000\r\nEXDATE;TZID=Europe/Paris:20240122T100000\r\n";
        for ok in [
            "RECURRENCE-ID;TZID=Europe/Paris:20240115T100000",
            // The same instance in UTC (as Google writes it).
            "RECURRENCE-ID:20240115T090000Z",
            // An RDATE instance, an EXDATE'd one, the first one.
            "RECURRENCE-ID;TZID=Europe/Paris:20240110T150000",
            "RECURRENCE-ID;TZID=Europe/Paris:20240122T100000",
            "RECURRENCE-ID;TZID=Europe/Paris;RANGE=THISANDFUTURE:20240108T100000",
            // Another value type is not judged.
            "RECURRENCE-ID;VALUE=DATE:20240116",
        ] {
            assert!(parse_object(&cal(weekly, &[ok])).is_ok(), "{ok}");
        }
        for bad in [
            "RECURRENCE-ID;TZID=Europe/Paris:20240115T110000",
            "RECURRENCE-ID;TZID=Europe/Paris:20250115T100000",
        ] {
            let e = parse_object(&cal(weekly, &[bad])).unwrap_err();
            assert!(e.is_no_such_instance(), "{bad}: {e}");
        }
        // Past a capped expansion: tolerated (every minute for ever).
        let minutely = "RRULE:FREQ=MINUTELY\r\n";
        let far = "RECURRENCE-ID;TZID=Europe/Paris:20240108T100000";
        let later = "RECURRENCE-ID:20990101T000030Z";
        assert!(parse_object(&cal(minutely, &[far, later])).is_ok());
        // No recurrence: nothing to check here.
        assert!(parse_object(&cal("", &[far])).is_ok());
    }
}
