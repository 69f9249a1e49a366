//! Moving components between documents: `split_by_uid` turns an export
//! into one calendar object resource per UID (for `herald import`), and
//! `merge_calendars` joins stored objects into one VCALENDAR (for GET on a
//! collection and `herald export`). Components are copied line for line, so
//! unknown and X- properties and components survive.

use super::IcalError;
use super::model::{Comp, escape, parse, referenced_tzids, write_comp, write_line};
use std::collections::HashMap;

const PRODID: &str = "PRODID:-//Herald//Herald Calendar Server//EN";

/// One VCALENDAR text per UID, each with the VTIMEZONEs it references.
pub fn split_by_uid(text: &str) -> Result<Vec<(String, String)>, IcalError> {
    let top = parse(text)?;
    let mut tzs: HashMap<String, &Comp<'_>> = HashMap::new();
    let mut groups: Vec<(String, Vec<&Comp<'_>>, &Comp<'_>)> = Vec::new();
    let mut by_uid: HashMap<String, usize> = HashMap::new();
    for cal in &top {
        if cal.name != "VCALENDAR" {
            return Err(IcalError::invalid(cal.lineno, "expected BEGIN:VCALENDAR"));
        }
        for c in &cal.comps {
            if c.name == "VTIMEZONE" {
                if let Some(id) = c.prop("TZID") {
                    tzs.entry(id.value.trim().to_string()).or_insert(c);
                }
                continue;
            }
            let Some(uid) = c.text("UID") else {
                if super::ComponentKind::from_name(&c.name).is_none() {
                    continue; // an unknown component without UID has no object to go to
                }
                return Err(IcalError::invalid(
                    c.lineno,
                    format!("{} has no UID", c.name),
                ));
            };
            let n = *by_uid.entry(uid.clone()).or_insert_with(|| {
                groups.push((uid, Vec::new(), cal));
                groups.len() - 1
            });
            groups[n].1.push(c);
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for (uid, comps, cal) in groups {
        let mut s = String::new();
        write_line(&mut s, "BEGIN:VCALENDAR");
        for name in ["VERSION", "PRODID", "CALSCALE"] {
            match cal.prop(name) {
                Some(p) => write_line(&mut s, &p.line),
                None if name == "VERSION" => write_line(&mut s, "VERSION:2.0"),
                None if name == "PRODID" => write_line(&mut s, PRODID),
                None => {}
            }
        }
        let mut ids = Vec::new();
        for c in &comps {
            referenced_tzids(c, &mut ids);
        }
        for id in ids {
            if let Some(tz) = tzs.get(id.trim()) {
                write_comp(&mut s, tz);
            }
        }
        for c in comps {
            write_comp(&mut s, c);
        }
        write_line(&mut s, "END:VCALENDAR");
        out.push((uid, s));
    }
    Ok(out)
}

/// One VCALENDAR holding every component of `objects` (unparseable ones skipped).
pub fn merge_calendars<'a>(
    objects: impl IntoIterator<Item = &'a str>,
    name: Option<&str>,
) -> String {
    let mut head = String::new();
    write_line(&mut head, "BEGIN:VCALENDAR");
    write_line(&mut head, "VERSION:2.0");
    write_line(&mut head, PRODID);
    if let Some(n) = name {
        write_line(&mut head, &format!("X-WR-CALNAME:{}", escape(n)));
    }
    let mut tz_out = String::new();
    let mut body = String::new();
    let mut seen_tz: Vec<String> = Vec::new();
    for text in objects {
        let Ok(top) = parse(text) else { continue };
        for cal in top.iter().filter(|c| c.name == "VCALENDAR") {
            for c in &cal.comps {
                if c.name == "VTIMEZONE" {
                    let id = c
                        .prop("TZID")
                        .map(|p| p.value.trim().to_string())
                        .unwrap_or_default();
                    if seen_tz.contains(&id) {
                        continue;
                    }
                    seen_tz.push(id);
                    write_comp(&mut tz_out, c);
                } else {
                    write_comp(&mut body, c);
                }
            }
        }
    }
    head.push_str(&tz_out);
    head.push_str(&body);
    write_line(&mut head, "END:VCALENDAR");
    head
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ical::parse_object;

    const TZ: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nX-LIC-LOCATION:Europe/Paris\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";

    fn event(uid: &str, tz: bool) -> String {
        let start = if tz {
            "DTSTART;TZID=Europe/Paris:20240101T100000"
        } else {
            "DTSTART:20240101T100000Z"
        };
        format!("BEGIN:VEVENT\r\nUID:{uid}\r\n{start}\r\nX-CUSTOM;X-P=1:keep me\r\nEND:VEVENT\r\n")
    }

    #[test]
    fn splits_two_events_sharing_a_vtimezone() {
        let text = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nMETHOD:PUBLISH\r\n{TZ}{}{}{}BEGIN:X-THING\r\nUID:x\r\nEND:X-THING\r\nEND:VCALENDAR\r\n",
            event("a", true),
            event("b", true),
            event("c", false)
        );
        let parts = split_by_uid(&text).unwrap();
        let uids: Vec<&str> = parts.iter().map(|(u, _)| u.as_str()).collect();
        assert_eq!(uids, vec!["a", "b", "c", "x"]);
        for (uid, cal) in &parts[..2] {
            assert!(cal.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\n"));
            assert!(cal.contains("PRODID:-//Test//EN\r\n"));
            assert!(!cal.contains("METHOD"));
            assert!(cal.contains("X-CUSTOM;X-P=1:keep me\r\n"));
            assert_eq!(&parse_object(cal).unwrap().uid, uid);
        }
        assert!(!parts[2].1.contains("VTIMEZONE"));
        let bad = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert!(split_by_uid(bad).is_err());
    }

    #[test]
    fn merge_dedups_vtimezones() {
        let a = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{TZ}{}END:VCALENDAR\r\n",
            event("a", true)
        );
        let b = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{TZ}{}END:VCALENDAR\r\n",
            event("b", true)
        );
        let out = merge_calendars([a.as_str(), b.as_str(), "junk"], Some("Work, home"));
        assert_eq!(out.matches("BEGIN:VTIMEZONE").count(), 1);
        assert_eq!(out.matches("BEGIN:VEVENT").count(), 2);
        assert!(out.contains("X-WR-CALNAME:Work\\, home\r\n"));
        assert!(out.contains("PRODID:-//Herald//Herald Calendar Server//EN\r\n"));
        assert!(out.ends_with("END:VCALENDAR\r\n"));
        let top = parse(&out).unwrap();
        assert_eq!(top.len(), 1);
    }
}
