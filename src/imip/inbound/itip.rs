//! One calendar part as an iTIP message (RFC 5546, RFC 6047 section 2.4):
//! choosing among several parts, checking METHOD, UID and the ATTENDEE
//! count, and normalising the text.
//!
//! Normalisation (everything else is kept as received; unchanged properties
//! are written back from their unfolded line as read, so only the folding
//! can differ):
//! - CRLF line ends, folded at 75 octets;
//! - the values of the PARTSTAT, ROLE, CUTYPE and RSVP parameters and of the
//!   METHOD and STATUS properties upper-cased (case-insensitive in RFC 5545);
//!   a property that changes is re-rendered from its parts (parameter names
//!   upper-cased, values quoted where they hold ':', ';' or ',');
//! - TZIDs that are Windows zone names ("W. Europe Standard Time", as
//!   Outlook writes them) renamed to the IANA name ("Europe/Berlin") in
//!   every TZID parameter and in the VTIMEZONE's TZID property. The VTIMEZONE
//!   keeps its rules and gains one `X-HERALD-ORIGINAL-TZID` property with the
//!   original name. The original is kept there and not as a parameter on
//!   each date property, since those properties are copied into stored
//!   objects and further messages; the rename itself is deterministic (the
//!   table in `crate::ical::timezone`). When the calendar already has a
//!   VTIMEZONE of that IANA name, the later duplicate is dropped.

use std::borrow::Cow;

use crate::ical::model::{self, Comp, Prop};
use crate::scheduling::Method;

use super::mime::CalendarPart;
use super::{Ignored, MAX_CALENDAR_BYTES, Refused, Verdict, windows_tz};

/// Why a calendar part cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Unusable {
    Ignored(Ignored),
    Refused(Refused),
}

impl From<Unusable> for Verdict {
    fn from(u: Unusable) -> Verdict {
        match u {
            Unusable::Ignored(i) => Verdict::Ignored(i),
            Unusable::Refused(r) => Verdict::Refused(r),
        }
    }
}

/// METHODs herald takes by mail.
const ACCEPTED: [Method; 6] = [
    Method::Reply,
    Method::Counter,
    Method::Refresh,
    Method::Request,
    Method::Cancel,
    Method::Add,
];

/// Scheduling components (the ones that carry UID).
const SCHED: [&str; 4] = ["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY"];

/// Parameters whose enumerated values are case-insensitive.
const UPPER_PARAMS: [&str; 4] = ["PARTSTAT", "ROLE", "CUTYPE", "RSVP"];
/// Properties whose enumerated values are case-insensitive.
const UPPER_PROPS: [&str; 2] = ["METHOD", "STATUS"];

/// A usable calendar part.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Calendar {
    pub method: Method,
    pub ical: String,
    pub uid: String,
}

struct Examined {
    cal: Calendar,
    /// The Content-Type method= equals the METHOD property.
    param_matches: bool,
}

/// The best usable calendar part, or the verdict of the best unusable one.
/// `parts` must not be empty.
pub(super) fn choose(parts: &[CalendarPart]) -> Result<Calendar, Unusable> {
    let mut best_ok: Option<((bool, bool, usize), Calendar)> = None;
    let mut best_err: Option<((bool, bool, usize), Unusable)> = None;
    for (i, part) in parts.iter().enumerate() {
        match examine(part) {
            Ok(e) => {
                let rank = (!e.param_matches, !part.inline_text_calendar, i);
                if best_ok.as_ref().is_none_or(|(r, _)| rank < *r) {
                    best_ok = Some((rank, e.cal));
                }
            }
            Err(v) => {
                let rank = (
                    matches!(v, Unusable::Ignored(_)),
                    !part.inline_text_calendar,
                    i,
                );
                if best_err.as_ref().is_none_or(|(r, _)| rank < *r) {
                    best_err = Some((rank, v));
                }
            }
        }
    }
    match (best_ok, best_err) {
        (Some((_, cal)), _) => Ok(cal),
        (None, Some((_, v))) => Err(v),
        (None, None) => Err(Unusable::Ignored(Ignored::NoCalendarPart)),
    }
}

fn bad(msg: impl Into<String>) -> Unusable {
    Unusable::Refused(Refused::BadCalendar(msg.into()))
}

fn examine(part: &CalendarPart) -> Result<Examined, Unusable> {
    if part.encoding_problem {
        return Err(Unusable::Refused(Refused::Malformed(
            "the calendar part's transfer encoding cannot be decoded".into(),
        )));
    }
    if part.text.len() > MAX_CALENDAR_BYTES {
        return Err(Unusable::Refused(Refused::TooLarge));
    }
    let text = part.text.strip_prefix('\u{feff}').unwrap_or(&part.text);
    if !looks_like_icalendar(text) {
        return Err(Unusable::Ignored(Ignored::NotItip(
            "the calendar part is not iCalendar data".into(),
        )));
    }
    let mut top = model::parse(text).map_err(|e| bad(e.to_string()))?;
    let mut cal = match top.len() {
        1 => top.remove(0),
        n => {
            return Err(bad(format!(
                "{n} top-level components, expected one VCALENDAR"
            )));
        }
    };
    if cal.name != "VCALENDAR" {
        return Err(bad(format!("{} instead of VCALENDAR", cal.name)));
    }
    let stated: Vec<String> = cal
        .props_named("METHOD")
        .map(|p| p.value.trim().to_ascii_uppercase())
        .collect();
    let stated = match stated.as_slice() {
        [] => None,
        [m] => Some(m.clone()),
        _ => return Err(bad("several METHOD properties")),
    };
    let method_name = match (&part.method_param, &stated) {
        (Some(p), Some(s)) if p != s => {
            return Err(bad(format!(
                "the Content-Type says method={p} but the calendar says METHOD:{s}"
            )));
        }
        (Some(m), _) | (None, Some(m)) => m.clone(),
        (None, None) => {
            return Err(Unusable::Ignored(Ignored::NotItip(
                "the calendar has no METHOD".into(),
            )));
        }
    };
    let method = Method::parse(&method_name)
        .filter(|m| ACCEPTED.contains(m))
        .ok_or_else(|| Unusable::Ignored(Ignored::UnsupportedMethod(method_name.clone())))?;
    let uid = check_components(&cal, method)?;
    let param_matches = part.method_param.is_some() && part.method_param == stated;
    normalise(&mut cal);
    let mut ical = String::with_capacity(text.len() + 64);
    model::write_comp(&mut ical, &cal);
    Ok(Examined {
        cal: Calendar { method, ical, uid },
        param_matches,
    })
}

/// A line `BEGIN:VCALENDAR` somewhere (HTML or plain text has none).
fn looks_like_icalendar(text: &str) -> bool {
    text.lines()
        .any(|l| l.trim().eq_ignore_ascii_case("BEGIN:VCALENDAR"))
}

/// The one UID of the scheduling components; REPLY and REFRESH components
/// must carry exactly one ATTENDEE.
fn check_components(cal: &Comp<'_>, method: Method) -> Result<String, Unusable> {
    let comps: Vec<&Comp<'_>> = cal
        .comps
        .iter()
        .filter(|c| SCHED.contains(&c.name.as_str()))
        .collect();
    if comps.is_empty() {
        return Err(bad("no VEVENT, VTODO, VJOURNAL or VFREEBUSY component"));
    }
    let mut uid: Option<String> = None;
    for c in &comps {
        let u = c
            .text("UID")
            .map(|u| u.trim().to_string())
            .unwrap_or_default();
        if u.is_empty() {
            return Err(bad(format!("{} without UID", c.name)));
        }
        match &uid {
            Some(first) if *first != u => return Err(bad("components with different UIDs")),
            Some(_) => {}
            None => uid = Some(u),
        }
        if matches!(method, Method::Reply | Method::Refresh) {
            let n = c.props_named("ATTENDEE").count();
            if n != 1 {
                return Err(bad(format!(
                    "a {} component must carry exactly one ATTENDEE, not {n}",
                    method.as_str()
                )));
            }
        }
    }
    uid.ok_or_else(|| bad("no UID"))
}

/// Apply the normalisation described in the module documentation.
fn normalise(cal: &mut Comp<'_>) {
    let mut tzids: Vec<&str> = Vec::new();
    model::referenced_tzids(cal, &mut tzids);
    let mut renames: Vec<(String, &'static str)> = tzids
        .iter()
        .filter_map(|t| windows_tz::to_iana(t).map(|i| (t.to_string(), i)))
        .collect();
    for tz in cal.comps.iter().filter(|c| c.name == "VTIMEZONE") {
        if let Some(p) = tz.prop("TZID") {
            let t = p.value.trim();
            if let Some(i) = windows_tz::to_iana(t)
                && !renames.iter().any(|(o, _)| o == t)
            {
                renames.push((t.to_string(), i));
            }
        }
    }
    normalise_comp(cal, &renames);
    if !renames.is_empty() {
        rename_vtimezones(cal, &renames);
    }
}

fn normalise_comp(comp: &mut Comp<'_>, renames: &[(String, &'static str)]) {
    for p in &mut comp.props {
        let mut changed = false;
        for (name, values) in &mut p.params {
            if UPPER_PARAMS.contains(&name.as_str()) {
                for v in values.iter_mut() {
                    if v.bytes().any(|b| b.is_ascii_lowercase()) {
                        *v = v.to_ascii_uppercase();
                        changed = true;
                    }
                }
            } else if name == "TZID" {
                for v in values.iter_mut() {
                    if let Some((_, iana)) = renames.iter().find(|(o, _)| o == v.as_str()) {
                        *v = (*iana).to_string();
                        changed = true;
                    }
                }
            }
        }
        if UPPER_PROPS.contains(&p.name.as_str()) && p.value.bytes().any(|b| b.is_ascii_lowercase())
        {
            p.value = Cow::Owned(p.value.to_ascii_uppercase());
            changed = true;
        }
        if changed {
            p.rerender();
        }
    }
    for c in &mut comp.comps {
        normalise_comp(c, renames);
    }
}

/// Rename Windows-named VTIMEZONEs, note the original name, drop duplicates.
fn rename_vtimezones(cal: &mut Comp<'_>, renames: &[(String, &'static str)]) {
    let mut seen: Vec<String> = Vec::new();
    let mut keep = Vec::with_capacity(cal.comps.len());
    for mut c in std::mem::take(&mut cal.comps) {
        if c.name != "VTIMEZONE" {
            keep.push(c);
            continue;
        }
        let mut original = None;
        let mut lineno = c.lineno;
        if let Some(p) = c.props.iter_mut().find(|p| p.name == "TZID") {
            let t = p.value.trim().to_string();
            if let Some((_, iana)) = renames.iter().find(|(o, _)| *o == t) {
                p.value = Cow::Owned((*iana).to_string());
                p.rerender();
                original = Some(t);
                lineno = p.lineno;
            }
        }
        let id = c.prop("TZID").map(|p| p.value.trim().to_string());
        if let Some(id) = id {
            if seen.contains(&id) {
                continue;
            }
            seen.push(id);
        }
        if let Some(o) = original {
            let value = model::escape(&o);
            c.props.push(Prop {
                name: "X-HERALD-ORIGINAL-TZID".into(),
                params: Vec::new(),
                line: Cow::Owned(format!("X-HERALD-ORIGINAL-TZID:{value}")),
                value: Cow::Owned(value),
                lineno,
            });
        }
        keep.push(c);
    }
    cal.comps = keep;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(text: &str, method: Option<&str>) -> CalendarPart {
        CalendarPart {
            text: text.into(),
            method_param: method.map(str::to_string),
            inline_text_calendar: true,
            encoding_problem: false,
        }
    }

    #[test]
    fn renders_quoted_values_and_keeps_other_lines() {
        let text = "BEGIN:VCALENDAR\nMETHOD:reply\nBEGIN:VEVENT\nUID:u1\nstatus:confirmed\nATTENDEE;CN=\"Doe, J\";partstat=tentative;X-A=b:mailto:a@b.example\nSUMMARY:keep this; as is\nEND:VEVENT\nEND:VCALENDAR\n";
        let cal = choose(&[part(text, None)]).unwrap();
        assert_eq!(cal.method, Method::Reply);
        assert_eq!(
            cal.ical,
            "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:u1\r\nSTATUS:CONFIRMED\r\nATTENDEE;CN=\"Doe, J\";PARTSTAT=TENTATIVE;X-A=b:mailto:a@b.example\r\nSUMMARY:keep this; as is\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
    }

    #[test]
    fn method_mismatch_and_missing() {
        let text = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:u\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert!(matches!(
            choose(&[part(text, Some("REPLY"))]),
            Err(Unusable::Refused(Refused::BadCalendar(_)))
        ));
        let none = text.replace("METHOD:REQUEST\r\n", "");
        assert!(matches!(
            choose(&[part(&none, None)]),
            Err(Unusable::Ignored(Ignored::NotItip(_)))
        ));
        let cal = choose(&[part(&none, Some("CANCEL"))]).unwrap();
        assert_eq!(cal.method, Method::Cancel);
        assert!(!cal.ical.contains("METHOD"));
        assert!(matches!(
            choose(&[part(text, Some("X-FOO"))]),
            Err(Unusable::Refused(Refused::BadCalendar(_)))
        ));
        assert_eq!(
            choose(&[part(&none, Some("X-FOO"))]),
            Err(Unusable::Ignored(Ignored::UnsupportedMethod(
                "X-FOO".into()
            )))
        );
        assert_eq!(
            choose(&[part(&text.replace("REQUEST", "declinecounter"), None)]),
            Err(Unusable::Ignored(Ignored::UnsupportedMethod(
                "DECLINECOUNTER".into()
            )))
        );
    }

    #[test]
    fn uid_rules() {
        let two = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:a\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:b\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert!(matches!(
            choose(&[part(two, None)]),
            Err(Unusable::Refused(Refused::BadCalendar(_)))
        ));
        let only_tz = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VTIMEZONE\r\nTZID:X\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n";
        assert!(matches!(
            choose(&[part(only_tz, None)]),
            Err(Unusable::Refused(Refused::BadCalendar(_)))
        ));
        let blank = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID: \r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert!(matches!(
            choose(&[part(blank, None)]),
            Err(Unusable::Refused(Refused::BadCalendar(_)))
        ));
    }

    #[test]
    fn prefers_matching_method_then_inline() {
        let mk = |m: &str, uid: &str| {
            format!(
                "BEGIN:VCALENDAR\r\nMETHOD:{m}\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nATTENDEE:mailto:a@b.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            )
        };
        let mut attach = part(&mk("REPLY", "attached"), Some("REPLY"));
        attach.inline_text_calendar = false;
        let inline_no_param = part(&mk("REPLY", "inline"), None);
        let chosen = choose(&[inline_no_param.clone(), attach.clone()]).unwrap();
        assert_eq!(chosen.uid, "attached");
        attach.method_param = None;
        let chosen = choose(&[attach, inline_no_param]).unwrap();
        assert_eq!(chosen.uid, "inline");
        // A broken part does not hide a good one.
        let broken = part("BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\n", Some("REPLY"));
        let chosen = choose(&[broken.clone(), part(&mk("REPLY", "ok"), None)]).unwrap();
        assert_eq!(chosen.uid, "ok");
        // With no good part, a Refused wins over an Ignored.
        let html = part("<html><body>Invitation</body></html>", Some("REPLY"));
        assert!(matches!(
            choose(&[html, broken]),
            Err(Unusable::Refused(Refused::BadCalendar(_)))
        ));
    }

    #[test]
    fn windows_zones_renamed_consistently() {
        let text = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\nBEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\nEND:VTIMEZONE\r\nBEGIN:VTIMEZONE\r\nTZID:Tokyo Standard Time\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART;TZID=\"W. Europe Standard Time\":20240301T100000\r\nDTEND;TZID=Tokyo Standard Time:20240301T180000\r\nEXDATE;TZID=Customized Time Zone:20240308T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let cal = choose(&[part(text, None)]).unwrap();
        assert_eq!(
            cal.ical,
            "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\nBEGIN:VTIMEZONE\r\nTZID:Asia/Tokyo\r\nX-HERALD-ORIGINAL-TZID:Tokyo Standard Time\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART;TZID=Europe/Berlin:20240301T100000\r\nDTEND;TZID=Asia/Tokyo:20240301T180000\r\nEXDATE;TZID=Customized Time Zone:20240308T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
    }
}
