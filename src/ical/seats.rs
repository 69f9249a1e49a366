//! Seats an event's guest list takes (issue 11, capacity): every ATTENDEE
//! of the master VEVENT except the ORGANIZER's own line and
//! ROLE=NON-PARTICIPANT, and, when declines release seats, except
//! PARTSTAT=DECLINED. Pure, and a scan of the lines rather than a parse:
//! the store counts with it whenever an object
//! with a seat policy is written.

use std::borrow::Cow;

fn address(v: &str) -> String {
    let v = v.trim();
    let bare = v
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("mailto:"))
        .map_or(v, |_| &v[7..]);
    bare.to_ascii_lowercase()
}

/// Content lines with folding undone (RFC 5545 section 3.1); borrowed
/// unless a line was folded. Counting runs at every write of a seated
/// event, so it reads the lines it needs instead of building a tree.
fn logical_lines(text: &str) -> impl Iterator<Item = Cow<'_, str>> {
    let mut lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .peekable();
    std::iter::from_fn(move || {
        let first = lines.next()?;
        let folded = |l: &&str| l.starts_with(' ') || l.starts_with('\t');
        if !lines.peek().is_some_and(folded) {
            return Some(Cow::Borrowed(first));
        }
        let mut line = first.to_string();
        while let Some(next) = lines.next_if(folded) {
            line.push_str(&next[1..]);
        }
        Some(Cow::Owned(line))
    })
}

/// A content line's name, parameters (name, unquoted value) and value.
type Parts<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

/// Split a content line into name, parameters and value (quotes respected).
fn split_line(line: &str) -> Option<Parts<'_>> {
    let mut params = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    let mut name = None;
    let mut param = None::<&str>;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' | ':' if !quoted => {
                let part = &line[start..i];
                match name {
                    None => name = Some(part),
                    Some(_) => param = Some(part),
                }
                if let Some(p) = param.take()
                    && let Some((k, v)) = p.split_once('=')
                {
                    params.push((k, v.trim_matches('"')));
                }
                start = i + 1;
                if c == ':' {
                    return Some((name?, params, &line[start..]));
                }
            }
            _ => {}
        }
    }
    None
}

fn starts_with_ci(line: &str, prefix: &str) -> bool {
    line.len() >= prefix.len()
        && line.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Seats taken by the guest list of `text`; 0 when it is not an event.
pub fn seats_taken(text: &str, release_on_decline: bool) -> u32 {
    // Per VEVENT: (RECURRENCE-ID seen, ORGANIZER, ATTENDEE (address, seated, declined)).
    let mut depth = 0usize;
    let mut event_depth = None;
    let mut has_rid = false;
    let mut organizer: Option<String> = None;
    let mut guests: Vec<(String, bool, bool)> = Vec::new();
    let mut first: Option<u32> = None;
    let count = |organizer: &Option<String>, guests: &[(String, bool, bool)]| {
        let n = guests
            .iter()
            .filter(|(a, seated, declined)| {
                *seated && Some(a) != organizer.as_ref() && !(release_on_decline && *declined)
            })
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    };
    for line in logical_lines(text) {
        if starts_with_ci(&line, "BEGIN:") {
            depth += 1;
            if event_depth.is_none() && line[6..].trim().eq_ignore_ascii_case("VEVENT") {
                event_depth = Some(depth);
                has_rid = false;
                organizer = None;
                guests.clear();
            }
            continue;
        }
        if starts_with_ci(&line, "END:") {
            if event_depth == Some(depth) {
                event_depth = None;
                let n = count(&organizer, &guests);
                if !has_rid {
                    return n;
                }
                first.get_or_insert(n);
            }
            depth = depth.saturating_sub(1);
            continue;
        }
        // Only the event's own properties, not those of its alarms.
        if event_depth != Some(depth) {
            continue;
        }
        if starts_with_ci(&line, "RECURRENCE-ID") {
            has_rid = true;
        } else if starts_with_ci(&line, "ORGANIZER") || starts_with_ci(&line, "ATTENDEE") {
            let Some((name, params, value)) = split_line(&line) else {
                continue;
            };
            let param = |k: &str| {
                params
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(k))
                    .map(|(_, v)| *v)
            };
            if name.eq_ignore_ascii_case("ORGANIZER") {
                organizer = Some(address(value));
            } else if name.eq_ignore_ascii_case("ATTENDEE") {
                let seated =
                    !param("ROLE").is_some_and(|r| r.eq_ignore_ascii_case("NON-PARTICIPANT"));
                let declined =
                    param("PARTSTAT").is_some_and(|s| s.eq_ignore_ascii_case("DECLINED"));
                guests.push((address(value), seated, declined));
            }
        }
    }
    first.unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::seats_taken;

    const EV: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260310T100000Z\r\nORGANIZER:mailto:app@x.org\r\n\
ATTENDEE;ROLE=NON-PARTICIPANT:mailto:watch@x.org\r\nATTENDEE;ROLE=CHAIR:MAILTO:App@x.org\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:a@x.org\r\n\
ATTENDEE;PARTSTAT=DECLINED:mailto:b@x.org\r\nATTENDEE:mailto:c@x.org\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:u\r\nRECURRENCE-ID:20260317T100000Z\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260317T100000Z\r\nATTENDEE:mailto:z@x.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn counts_guests_of_the_master() {
        assert_eq!(seats_taken(EV, true), 2);
        assert_eq!(seats_taken(EV, false), 3);
        assert_eq!(seats_taken("not ical", true), 0);
        // Folded lines, quoted parameters, alarms' attendees not counted.
        let folded = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nORGANIZER:mailto:o@x.org\r\nATTENDEE;CN=\"A; B:C\";PART\r\n STAT=DECLINED:mailto:a@x.org\r\nATTENDEE;ROLE=REQ-PARTICIPANT:mai\r\n lto:b@x.org\r\nBEGIN:VALARM\r\nATTENDEE:mailto:c@x.org\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert_eq!(seats_taken(folded, true), 1);
        assert_eq!(seats_taken(folded, false), 2);
    }
}
