//! POST to a schedule outbox (RFC 6638 section 5): a VFREEBUSY request
//! about some calendar users, answered at once with a
//! CALDAV:schedule-response holding each one's busy time. Our own users
//! are answered from their calendars; others get 3.7 (not a user here).
//! Each address is answered once; the work runs on the work pool, bounded
//! by the `[limits]` and stopped when the client leaves.

use super::error::{DavError, DavResult, Precondition};
use super::work::{self, LOAD_CHUNK, output_error};
use super::xml::escape;
use super::{Ctx, Resp, xml_response};
use crate::ical::model::{Comp, parse};
use crate::ical::timezone::parse_date_time;
use crate::ical::{self, OutputError};
use crate::store::{ScheduleBox, Store, normalize_address};
use chrono::{DateTime, Utc};
use hyper::StatusCode;

/// Most distinct recipients whose busy time one request computes; the
/// others are answered 5.1 (RFC 6638 section 5 lets a server refuse).
const MAX_RECIPIENTS: usize = 100;

fn utc_value(c: &Comp<'_>, name: &str) -> Option<DateTime<Utc>> {
    let p = c.prop(name)?;
    let (naive, utc) = parse_date_time(p.value.trim())?;
    utc.then(|| naive.and_utc())
}

fn bad(why: &str) -> DavError {
    DavError::precondition(Precondition::ValidSchedulingMessage, why.to_string())
}

pub async fn post(ctx: &Ctx<'_>) -> DavResult<Resp> {
    let (user, path) = ctx.node_target()?;
    let store = &ctx.app.store;
    let (_, node) = ctx.find_node(user, path)?.ok_or_else(DavError::not_found)?;
    if node.collection().and_then(|c| c.schedule) != Some(ScheduleBox::Outbox) {
        return Err(DavError::status(
            StatusCode::METHOD_NOT_ALLOWED,
            "POST is accepted by the schedule outbox only",
        ));
    }
    let text = std::str::from_utf8(&ctx.body).map_err(|_| bad("the body is not UTF-8"))?;
    let top = parse(text).map_err(|e| bad(&e.to_string()))?;
    let cal = top
        .iter()
        .find(|c| c.name == "VCALENDAR")
        .ok_or_else(|| bad("no VCALENDAR"))?;
    if !cal
        .prop("METHOD")
        .is_some_and(|m| m.value.eq_ignore_ascii_case("REQUEST"))
    {
        return Err(bad("only METHOD:REQUEST free-busy requests are accepted"));
    }
    let fb = cal
        .comps
        .iter()
        .find(|c| c.name == "VFREEBUSY")
        .ok_or_else(|| bad("no VFREEBUSY component"))?;
    let (Some(start), Some(end)) = (utc_value(fb, "DTSTART"), utc_value(fb, "DTEND")) else {
        return Err(bad("DTSTART and DTEND must be UTC date-times"));
    };
    if end <= start {
        return Err(bad("DTEND must be after DTSTART"));
    }
    let me = store
        .principal(&ctx.user)?
        .ok_or_else(|| DavError::Internal("authenticated user vanished".into()))?;
    let organizer = fb
        .prop("ORGANIZER")
        .map(|p| normalize_address(&p.value))
        .ok_or_else(|| bad("ORGANIZER is missing"))?;
    if !me.emails.contains(&organizer) {
        return Err(DavError::forbidden(
            "ORGANIZER is not one of your addresses",
        ));
    }
    let uid = fb.text("UID").unwrap_or_default();
    let recipients = recipients(fb);
    let app = ctx.app.clone();
    work::heavy(move |cancelled| {
        let limits = &app.config.limits;
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<C:schedule-response xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">",
        );
        for (n, attendee) in recipients.iter().enumerate() {
            let bounds = ical::Limits {
                max_instances: limits.max_instances_per_object,
                max_bytes: limits.max_response_bytes.saturating_sub(out.len()),
                cancelled,
                timezone: None,
            };
            bounds.check().map_err(|e| output_error(e, "free-busy"))?;
            out.push_str("<C:response><C:recipient><D:href>");
            out.push_str(&escape(attendee));
            out.push_str("</D:href></C:recipient>");
            // None past the cap: answered without looking anyone up.
            let who = if n < MAX_RECIPIENTS {
                Some(app.store.principal_by_address(attendee)?)
            } else {
                None
            };
            match who {
                None => out.push_str(
                    "<C:request-status>5.1;Service unavailable: too many recipients in one request</C:request-status>",
                ),
                Some(None) => {
                    out.push_str("<C:request-status>3.7;Invalid calendar user</C:request-status>")
                }
                Some(Some(who)) => match busy_of(&app.store, &who, start, end, &bounds) {
                    Ok(data) => {
                        let reply = as_reply(&data, &organizer, attendee, &uid);
                        out.push_str(
                            "<C:request-status>2.0;Success</C:request-status><C:calendar-data>",
                        );
                        out.push_str(&escape(&reply));
                        out.push_str("</C:calendar-data>");
                    }
                    Err(BusyError::Output(OutputError::TooManyInstances(_))) => out.push_str(
                        "<C:request-status>5.1;Service unavailable: too many instances in the range</C:request-status>",
                    ),
                    Err(BusyError::Output(e)) => return Err(output_error(e, "free-busy")),
                    Err(BusyError::Store(e)) => return Err(e.into()),
                },
            }
            out.push_str("</C:response>");
            if out.len() > limits.max_response_bytes {
                return Err(output_error(
                    OutputError::TooLarge(limits.max_response_bytes),
                    "free-busy",
                ));
            }
        }
        out.push_str("</C:schedule-response>\n");
        Ok(xml_response(StatusCode::OK, out))
    })
    .await?
}

/// The ATTENDEEs asked about, each address once (compared normalized, in
/// the order first given).
fn recipients(fb: &Comp<'_>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    fb.props_named("ATTENDEE")
        .map(|p| p.value.trim().to_string())
        .filter(|a| seen.insert(normalize_address(a)))
        .collect()
}

enum BusyError {
    Store(crate::store::StoreError),
    Output(OutputError),
}

/// Free/busy of every calendar of `user` over [start, end).
fn busy_of(
    store: &Store,
    user: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    limits: &ical::Limits<'_>,
) -> Result<String, BusyError> {
    let mut fb = ical::FreeBusy::new(start, end);
    for (cal, node) in store.children(user, "").map_err(BusyError::Store)? {
        // A transparent calendar (RFC 6638 section 9.1) never makes its owner busy.
        if node.calendar().is_none_or(|c| c.transparent) {
            continue;
        }
        // Floating times in each calendar's own zone (RFC 4791 section 9.8).
        let in_zone = ical::Limits {
            timezone: super::report::calendar_tz(&node),
            ..*limits
        };
        let paths: Vec<String> = store
            .time_candidates(user, &cal, Some(start.timestamp()), Some(end.timestamp()))
            .map_err(BusyError::Store)?
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        for chunk in paths.chunks(LOAD_CHUNK) {
            for (_, _, body) in store.resources(user, chunk).map_err(BusyError::Store)? {
                fb.add(&String::from_utf8_lossy(&body), &in_zone)
                    .map_err(BusyError::Output)?;
            }
        }
    }
    fb.finish(limits).map_err(BusyError::Output)
}

/// Turn the VFREEBUSY of `free_busy` into an iTIP REPLY (RFC 5546 section 3.3.3).
fn as_reply(data: &str, organizer: &str, attendee: &str, uid: &str) -> String {
    let mut out = String::with_capacity(data.len() + 200);
    for line in data.split_inclusive("\r\n") {
        out.push_str(line);
        if line.starts_with("VERSION:") {
            out.push_str("METHOD:REPLY\r\n");
        }
        if line.starts_with("BEGIN:VFREEBUSY") {
            out.push_str(&format!("ORGANIZER:{organizer}\r\nATTENDEE:{attendee}\r\n"));
            if !uid.is_empty() {
                out.push_str(&format!("UID:{}\r\n", ical::model::escape(uid)));
            }
        }
    }
    out
}
