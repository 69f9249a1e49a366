//! Who may change a stored object with an iTIP message (RFC 5546 section
//! 3.2, RFC 6638 section 3.2): the one rule every door (local delivery,
//! `herald ingest`, LMTP, any later API) passes through, because it is
//! checked inside `deliver_request`, `deliver_cancel` and `apply_reply`,
//! on the object the store hands their transform.
//!
//! - A REQUEST/ADD/CANCEL from organizer O may change an existing object
//!   only when that object is a scheduling object (it has an ORGANIZER),
//!   its ORGANIZER is O, the message's ORGANIZER is O, and the recipient is
//!   one of its ATTENDEEs. A UID is no secret (it travels in every
//!   invitation), so it alone never grants anything.
//! - A REPLY from attendee A may change only the organizer's own object:
//!   its ORGANIZER is one of the recipient's addresses and A is one of its
//!   ATTENDEEs (`apply_reply` checks A per instance as well).
//!
//! A refusal is `ItipError::NoAuthority`; its SCHEDULE-STATUS is 3.8
//! ("No authority", RFC 5546 section 3.6) and nothing is stored.

use super::object::{self, sched_comps};
use super::{Comp, ItipError, ItipMessage, Method, normalize_address};

/// SCHEDULE-STATUS / REQUEST-STATUS for a message refused by this rule.
pub const NO_AUTHORITY_STATUS: &str = "3.8";

/// Whether `msg` (a parsed iTIP VCALENDAR with `method`, from `sender`, to
/// `recipients`: the recipient's calendar user addresses) may change
/// `current`, the stored VCALENDAR with the same UID.
pub(super) fn may_change(
    method: Method,
    current: &Comp,
    msg: &Comp,
    sender: &str,
    recipients: &[String],
) -> Result<(), ItipError> {
    let sender = normalize_address(sender);
    let refuse = |why: String| Err(ItipError::NoAuthority(why));
    let Some(organizer) = object::organizer(current) else {
        return refuse("the stored object with this UID is not a scheduling object".into());
    };
    let is_attendee =
        |addr: &str| sched_comps(current).any(|c| object::attendee(c, addr).is_some());
    match method {
        Method::Request | Method::Add | Method::Cancel => {
            if organizer != sender {
                return refuse(format!(
                    "the stored object is organized by {organizer}, not by {sender}"
                ));
            }
            if object::organizer(msg).as_deref() != Some(sender.as_str()) {
                return refuse(format!(
                    "the message's ORGANIZER is not its sender {sender}"
                ));
            }
            if !recipients
                .iter()
                .any(|r| is_attendee(&normalize_address(r)))
            {
                return refuse("the recipient is not an ATTENDEE of the stored object".into());
            }
            Ok(())
        }
        Method::Reply => {
            if !recipients.iter().any(|r| normalize_address(r) == organizer) {
                return refuse(format!(
                    "the stored object is organized by {organizer}, not by the recipient"
                ));
            }
            // The REPLY's ATTENDEE speaks for the sender (itself, or SENT-BY).
            let speaks = sched_comps(msg)
                .flat_map(|c| c.props_named("ATTENDEE"))
                .any(|p| {
                    let addr = normalize_address(&p.value);
                    let by = p.param("SENT-BY").map(normalize_address);
                    (addr == sender || by.as_deref() == Some(sender.as_str())) && is_attendee(&addr)
                });
            if !speaks {
                return refuse(format!("{sender} is not an ATTENDEE of the stored object"));
            }
            Ok(())
        }
        other => Err(ItipError::WrongMethod(other.as_str().into())),
    }
}

/// `may_change` on texts, for a door that wants to know before it acts
/// (the transform checks again inside its transaction): may `message`
/// (REQUEST/ADD/CANCEL to its recipient) change `current`?
pub fn may_deliver(current: &str, message: &ItipMessage) -> Result<(), ItipError> {
    let cur = object::parse_cal(current)?;
    let msg = object::parse_cal(&message.ical)?;
    may_change(
        message.method,
        &cur,
        &msg,
        &message.sender,
        std::slice::from_ref(&message.recipient),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(organizer: Option<&str>, attendees: &[&str]) -> Comp {
        let mut s = String::from(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:20250310T100000Z\r\n",
        );
        if let Some(o) = organizer {
            s.push_str(&format!("ORGANIZER:{o}\r\n"));
        }
        for a in attendees {
            s.push_str(&format!("ATTENDEE:{a}\r\n"));
        }
        s.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
        object::parse_cal(&s).unwrap()
    }

    const ALICE: &str = "mailto:alice@example.com";
    const BOB: &str = "mailto:bob@example.com";
    const EVE: &str = "mailto:eve@evil.example";

    #[test]
    fn the_rule_table() {
        let private = cal(None, &[]);
        let bobs = cal(Some(BOB), &[ALICE]);
        let bobs_without_alice = cal(Some(BOB), &["mailto:carol@example.com"]);
        let alices = cal(Some(ALICE), &[BOB]);
        let from_bob = cal(Some(BOB), &[ALICE]);
        let from_eve = cal(Some(EVE), &[ALICE]);
        let reply_from_bob = cal(Some(ALICE), &[BOB]);
        let me = [ALICE.to_string(), "mailto:a2@example.com".to_string()];
        use Method::*;
        #[rustfmt::skip]
        let table: [(Method, &Comp, &Comp, &str, bool); 16] = [
            // The organizer updates or cancels their own invitation.
            (Request, &bobs, &from_bob, BOB, true),
            (Cancel, &bobs, &from_bob, BOB, true),
            (Add, &bobs, &from_bob, "MAILTO:Bob@Example.com", true),
            // A private appointment with the same UID.
            (Request, &private, &from_bob, BOB, false),
            (Cancel, &private, &from_bob, BOB, false),
            // Someone else's invitation with the same UID.
            (Request, &bobs, &from_eve, EVE, false),
            (Cancel, &bobs, &from_eve, EVE, false),
            // The message names another ORGANIZER than its sender.
            (Request, &bobs, &from_eve, BOB, false),
            // The recipient is no attendee of the stored object.
            (Request, &bobs_without_alice, &from_bob, BOB, false),
            // The recipient's own event.
            (Request, &alices, &from_bob, BOB, false),
            (Cancel, &alices, &from_bob, BOB, false),
            // A REPLY to the organizer from an attendee.
            (Reply, &alices, &reply_from_bob, BOB, true),
            // ... not from a stranger, not to an object someone else organizes.
            (Reply, &alices, &reply_from_bob, EVE, false),
            (Reply, &bobs, &reply_from_bob, ALICE, false),
            (Reply, &private, &reply_from_bob, BOB, false),
            (Publish, &bobs, &from_bob, BOB, false),
        ];
        for (i, (method, current, msg, sender, ok)) in table.into_iter().enumerate() {
            let got = may_change(method, current, msg, sender, &me);
            assert_eq!(got.is_ok(), ok, "row {i}: {got:?}");
            if !ok && method != Publish {
                assert!(matches!(got, Err(ItipError::NoAuthority(_))), "row {i}");
            }
        }
    }
}
