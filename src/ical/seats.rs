//! Seats an event's guest list takes (issue 11, capacity): every ATTENDEE
//! of the master VEVENT except the ORGANIZER's own line and
//! ROLE=NON-PARTICIPANT, and, when declines release seats, except
//! PARTSTAT=DECLINED. Pure; the store counts with it whenever an object
//! with a seat policy is written.

use super::model::{Comp, parse};

fn address(v: &str) -> String {
    let v = v.trim();
    let bare = v
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("mailto:"))
        .map_or(v, |_| &v[7..]);
    bare.to_ascii_lowercase()
}

/// The master VEVENT (no RECURRENCE-ID), else the first VEVENT.
fn master<'c, 'a>(cal: &'c Comp<'a>) -> Option<&'c Comp<'a>> {
    let mut events = cal.comps.iter().filter(|c| c.name == "VEVENT");
    let first = events.clone().next();
    events.find(|c| c.prop("RECURRENCE-ID").is_none()).or(first)
}

/// Seats taken by the guest list of `text`; 0 when it is not an event.
pub fn seats_taken(text: &str, release_on_decline: bool) -> u32 {
    let Ok(comps) = parse(text) else { return 0 };
    let Some(ev) = comps.iter().find_map(master) else {
        return 0;
    };
    let organizer = ev.prop("ORGANIZER").map(|p| address(&p.value));
    let n = ev
        .props_named("ATTENDEE")
        .filter(|p| Some(address(&p.value)) != organizer)
        .filter(|p| {
            !p.param("ROLE")
                .is_some_and(|r| r.eq_ignore_ascii_case("NON-PARTICIPANT"))
        })
        .filter(|p| {
            !(release_on_decline
                && p.param("PARTSTAT")
                    .is_some_and(|s| s.eq_ignore_ascii_case("DECLINED")))
        })
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
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
    }
}
