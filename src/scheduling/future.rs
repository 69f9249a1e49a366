//! RECURRENCE-ID;RANGE=THISANDFUTURE in scheduling (RFC 5545 section
//! 3.8.4.4, RFC 5546 section 2.1.5): an instance that needs an override of
//! its own (a REPLY or CANCEL for one instance) and falls after a
//! THISANDFUTURE override is derived from that override — its shift of
//! DTSTART, its length and its other properties — not from the master.

use super::object::{self, instance_from_master, instance_key, length, sched_comps};
use super::{Comp, Prop};
use crate::ical::timezone::{parse_date, parse_date_time};
use chrono::{Duration, NaiveDateTime};

/// A date or date-time value as a naive date-time (dates at midnight),
/// and whether it was a date.
fn naive(v: &str) -> Option<(NaiveDateTime, bool)> {
    let v = v.trim();
    match parse_date_time(v) {
        Some((t, _)) => Some((t, false)),
        None => parse_date(v)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| (t, true)),
    }
}

/// The instant an instance key names, comparable between keys of one object.
fn key_time(key: &str) -> Option<NaiveDateTime> {
    naive(key).map(|(t, _)| t)
}

fn is_this_and_future(c: &Comp) -> bool {
    c.prop("RECURRENCE-ID")
        .and_then(|p| p.param("RANGE"))
        .is_some_and(|r| r.eq_ignore_ascii_case("THISANDFUTURE"))
}

/// The latest THISANDFUTURE override of `cal` before instance `rid`.
pub(super) fn covering<'a>(cal: &'a Comp, rid: &Prop) -> Option<&'a Comp> {
    let at = key_time(&instance_key(rid))?;
    sched_comps(cal)
        .filter(|c| is_this_and_future(c))
        .filter_map(|c| {
            let t = key_time(&object::key(c)?)?;
            (t < at).then_some((t, c))
        })
        .max_by_key(|(t, _)| *t)
        .map(|(_, c)| c)
}

/// The component for instance `rid` of the recurrence set in `cal` whose
/// master is `master`: derived from the THISANDFUTURE override covering
/// it, else from the master.
pub(super) fn instance_of(cal: &Comp, master: &Comp, rid: &Prop) -> Comp {
    match covering(cal, rid).and_then(|f| from_override(f, rid)) {
        Some(c) => c,
        None => instance_from_master(master, rid),
    }
}

/// `future` moved to instance `rid`: DTSTART shifted as the override
/// shifted its own instance, the override's length as DURATION.
fn from_override(future: &Comp, rid: &Prop) -> Option<Comp> {
    let own_rid = future.prop("RECURRENCE-ID")?;
    let own_start = future.prop("DTSTART")?;
    let delta = key_time(&instance_key(own_start))? - key_time(&instance_key(own_rid))?;
    let (at, date) = naive(&rid.value)?;
    let moved = at.checked_add_signed(Duration::seconds(delta.num_seconds()))?;
    let mut value = if date {
        moved.format("%Y%m%d").to_string()
    } else {
        moved.format("%Y%m%dT%H%M%S").to_string()
    };
    if rid.value.trim().ends_with(['Z', 'z']) {
        value.push('Z');
    }
    let len = length(future);
    let mut rid = rid.clone();
    rid.remove_param("RANGE");
    let mut start = rid.renamed("DTSTART");
    start.set_value(&value);
    let mut c = future.clone();
    c.props.retain(|p| {
        !matches!(
            p.name.as_str(),
            "RRULE"
                | "RDATE"
                | "EXDATE"
                | "RECURRENCE-ID"
                | "DTSTART"
                | "DTEND"
                | "DUE"
                | "DURATION"
        )
    });
    let at_uid = c
        .props
        .iter()
        .position(|p| p.name == "UID")
        .map_or(0, |i| i + 1);
    c.props.insert(at_uid, start);
    c.props.insert(at_uid, rid);
    if let Some(secs) = len {
        let d = format!(
            "{}PT{}S",
            if secs < 0 { "-" } else { "" },
            secs.unsigned_abs()
        );
        c.props.push(Prop::new("DURATION", &d));
    }
    Some(c)
}

/// For a recipient left out of the THISANDFUTURE override at `rid`: end
/// the master's RRULE just before that instance (UNTIL replacing COUNT or
/// an UNTIL; `rid` being an instance, nothing earlier is lost), so the
/// recipient's copy does not hold the instances they are no longer in.
pub(super) fn end_before(master: &mut Comp, rid: &Prop) {
    let Some((at, date)) = naive(&rid.value) else {
        return;
    };
    let floating = !rid.value.trim().ends_with(['Z', 'z']) && rid.param("TZID").is_none();
    let until = if date {
        at.checked_sub_signed(Duration::days(1))
            .map(|t| t.format("%Y%m%d").to_string())
    } else if floating {
        at.checked_sub_signed(Duration::seconds(1))
            .map(|t| t.format("%Y%m%dT%H%M%S").to_string())
    } else {
        key_time(&instance_key(rid))
            .and_then(|t| t.checked_sub_signed(Duration::seconds(1)))
            .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
    };
    let Some(until) = until else { return };
    for p in master.props.iter_mut().filter(|p| p.name == "RRULE") {
        let mut parts: Vec<String> = p
            .value
            .split(';')
            .filter(|part| {
                let k = part.split('=').next().unwrap_or_default().trim();
                !k.eq_ignore_ascii_case("COUNT") && !k.eq_ignore_ascii_case("UNTIL")
            })
            .map(str::to_string)
            .collect();
        parts.push(format!("UNTIL={until}"));
        p.set_value(&parts.join(";"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ical::edit;

    #[test]
    fn later_instances_come_from_the_this_and_future_override() {
        let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART;TZID=Europe/Berlin:20240101T100000\r\nDTEND;TZID=Europe/Berlin:20240101T110000\r\nRRULE:FREQ=DAILY;COUNT=10\r\nSUMMARY:old\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:u\r\nRECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20240104T100000\r\nDTSTART;TZID=Europe/Berlin:20240104T150000\r\nDTEND;TZID=Europe/Berlin:20240104T153000\r\nSUMMARY:new\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let cal = edit::parse_owned(text).unwrap().remove(0);
        let master = cal.comps[0].clone();
        let rid = |v: &str| {
            let mut p = Prop::new("RECURRENCE-ID", v);
            p.set_param("TZID", "Europe/Berlin");
            p
        };
        let later = instance_of(&cal, &master, &rid("20240106T100000"));
        assert_eq!(later.value("SUMMARY"), Some("new"));
        assert_eq!(later.value("DTSTART"), Some("20240106T150000"));
        assert_eq!(later.value("DURATION"), Some("PT1800S"));
        assert_eq!(later.value("RECURRENCE-ID"), Some("20240106T100000"));
        assert!(
            later
                .prop("RECURRENCE-ID")
                .unwrap()
                .param("RANGE")
                .is_none()
        );
        // Instances before the override still come from the master.
        let earlier = instance_of(&cal, &master, &rid("20240102T100000"));
        assert_eq!(earlier.value("SUMMARY"), Some("old"));
        assert_eq!(earlier.value("DTSTART"), Some("20240102T100000"));
        // The same instance named in UTC matches too (09:00Z is 10:00 Berlin).
        let utc = instance_of(
            &cal,
            &master,
            &Prop::new("RECURRENCE-ID", "20240107T090000Z"),
        );
        assert_eq!(utc.value("DTSTART"), Some("20240107T140000Z"));
    }

    #[test]
    fn a_reply_for_a_later_instance_lands_at_the_moved_time() {
        let org = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:m\r\nDTSTAMP:20240101T000000Z\r\nSEQUENCE:1\r\nDTSTART:20240101T100000Z\r\nDTEND:20240101T110000Z\r\nRRULE:FREQ=DAILY;COUNT=10\r\nORGANIZER:mailto:o@x\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:b@x\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:m\r\nDTSTAMP:20240101T000000Z\r\nSEQUENCE:1\r\nRECURRENCE-ID;RANGE=THISANDFUTURE:20240104T100000Z\r\nDTSTART:20240104T150000Z\r\nDTEND:20240104T160000Z\r\nORGANIZER:mailto:o@x\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:b@x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let reply = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:m\r\nDTSTAMP:20240102T000000Z\r\nSEQUENCE:1\r\nRECURRENCE-ID:20240106T100000Z\r\nORGANIZER:mailto:o@x\r\nATTENDEE;PARTSTAT=DECLINED:mailto:b@x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let out =
            crate::scheduling::apply_reply(org, reply, "mailto:b@x", &["mailto:o@x".into()], 10)
                .unwrap();
        let added = out
            .split("BEGIN:VEVENT")
            .find(|c| c.contains("RECURRENCE-ID:20240106T100000Z"))
            .expect("an override for 6 January");
        assert!(added.contains("DTSTART:20240106T150000Z"), "{out}");
        assert!(added.contains("PARTSTAT=DECLINED"), "{out}");
    }

    #[test]
    fn a_rule_ends_before_the_override_the_recipient_is_left_out_of() {
        let mut m = edit::parse_owned(
            "BEGIN:VEVENT\r\nUID:u\r\nDTSTART;TZID=Europe/Berlin:20240101T100000\r\nRRULE:FREQ=DAILY;COUNT=10\r\nEND:VEVENT\r\n",
        )
        .unwrap()
        .remove(0);
        let mut rid = Prop::new("RECURRENCE-ID", "20240104T100000");
        rid.set_param("TZID", "Europe/Berlin");
        rid.set_param("RANGE", "THISANDFUTURE");
        end_before(&mut m, &rid);
        assert_eq!(m.value("RRULE"), Some("FREQ=DAILY;UNTIL=20240104T085959Z"));
        let mut d = edit::parse_owned(
            "BEGIN:VEVENT\r\nUID:u\r\nDTSTART;VALUE=DATE:20240101\r\nRRULE:FREQ=WEEKLY;UNTIL=20250101\r\nEND:VEVENT\r\n",
        )
        .unwrap()
        .remove(0);
        let mut rid = Prop::new("RECURRENCE-ID", "20240115");
        rid.set_param("VALUE", "DATE");
        end_before(&mut d, &rid);
        assert_eq!(d.value("RRULE"), Some("FREQ=WEEKLY;UNTIL=20240114"));
    }
}
