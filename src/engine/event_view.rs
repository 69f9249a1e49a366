//! Reading a stored calendar object, whoever wrote it (the API or a CalDAV
//! client), as the API's event (`EventView`, pure): the master VEVENT's
//! summary, times in its own zone, attendees with PARTSTAT and
//! SCHEDULE-STATUS, and herald's X-HERALD-MODE / X-HERALD-COUNTER-POLICY.
//! Also what an attendee's SCHEDULE-STATUS says about delivery.
//!
//! Times: a TZID herald resolves to an IANA zone gives that zone's name in
//! `time_zone` (vendor and Windows names included); UTC values give
//! `UTC`; a TZID known only from its own VTIMEZONE is given as written;
//! floating times give no `time_zone`. `end` is DTEND in the zone of
//! DTSTART, or DTSTART + DURATION, or (without either) the next day for a
//! date and DTSTART itself for a date-time (RFC 5545 section 3.6.1).

use super::event::{CounterPolicy, EventSpec, Mode, Role};
use crate::ical::model::{Comp, parse};
use crate::ical::timezone::{Anchor, Time, Zone, Zones, parse_duration, prop_time};
use chrono::{DateTime, Days, NaiveDateTime};

/// RFC 5545 STATUS of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    Tentative,
    /// Also an event without STATUS.
    #[default]
    Confirmed,
    Cancelled,
}

impl Status {
    pub fn from_ical(v: Option<&str>) -> Status {
        match v.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
            Some("TENTATIVE") => Status::Tentative,
            Some("CANCELLED") => Status::Cancelled,
            _ => Status::Confirmed,
        }
    }
}

/// A calendar user as an email address and a name.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonView {
    /// The address without `mailto:` (as written).
    pub email: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttendeeView {
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    /// PARTSTAT, upper case (NEEDS-ACTION when absent).
    pub partstat: String,
    /// The first SCHEDULE-STATUS code (RFC 6638 section 3.2.9), if any.
    pub schedule_status: Option<String>,
}

impl AttendeeView {
    /// The normalised calendar user address.
    pub fn address(&self) -> String {
        crate::scheduling::normalize_address(&format!("mailto:{}", self.email))
    }
}

/// The event of a stored calendar object (its master VEVENT).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventView {
    pub uid: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    /// `2026-03-10T14:00:00` (local to `time_zone`), or `2026-03-10` when all day.
    pub start: Option<String>,
    pub end: Option<String>,
    pub time_zone: Option<String>,
    pub all_day: bool,
    pub rrule: Option<String>,
    pub status: Status,
    pub sequence: i64,
    pub organizer: Option<PersonView>,
    pub attendees: Vec<AttendeeView>,
    pub mode: Mode,
    pub counter_policy: CounterPolicy,
}

/// How the invitation to an attendee travels, from their SCHEDULE-STATUS
/// in the organizer's copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// 1.0: queued in the outbox, not yet handed to mail.
    Queued,
    /// 1.1 (handed to the mail relay or the spool), or 2.x (the attendee answered).
    Sent,
    /// 3.x or 5.x: not delivered.
    Failed,
    /// 1.2: delivered to a user of this server.
    Local,
    /// No status: not scheduled by herald (the organizer itself, or an
    /// event that is not a scheduling object).
    None,
}

impl Delivery {
    /// `local`: the attendee is a user of this server (a 2.x status then
    /// means delivered locally and answered).
    pub fn from_status(status: Option<&str>, local: bool) -> Delivery {
        let Some(s) = status.map(str::trim) else {
            return Delivery::None;
        };
        match s.split('.').next() {
            _ if s == "1.0" => Delivery::Queued,
            _ if s == "1.2" => Delivery::Local,
            Some("1") => Delivery::Sent,
            Some("2") if local => Delivery::Local,
            Some("2") => Delivery::Sent,
            Some("3" | "4" | "5") => Delivery::Failed,
            _ => Delivery::None,
        }
    }
}

fn without_mailto(v: &str) -> String {
    let v = v.trim();
    match v.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("mailto:") => v[7..].to_string(),
        _ => v.to_string(),
    }
}

/// The zone a view writes times in.
#[derive(Clone, Copy)]
enum ViewZone {
    Utc,
    Floating,
    Zoned(Zone),
}

fn view_zone(t: &Time) -> ViewZone {
    match t.anchor {
        Anchor::Utc => ViewZone::Utc,
        Anchor::Floating | Anchor::Date => ViewZone::Floating,
        Anchor::Zoned(z) => ViewZone::Zoned(z),
    }
}

/// UTC seconds as wall-clock time in `zone`.
fn local_of(utc: i64, zone: ViewZone) -> Option<NaiveDateTime> {
    let dt = DateTime::from_timestamp(utc, 0)?;
    Some(match zone {
        ViewZone::Utc | ViewZone::Floating => dt.naive_utc(),
        ViewZone::Zoned(Zone::Iana(tz)) => dt.with_timezone(&tz).naive_local(),
        ViewZone::Zoned(Zone::Fixed(off)) => {
            DateTime::from_timestamp(utc + i64::from(off), 0)?.naive_utc()
        }
    })
}

const DATE_TIME: &str = "%Y-%m-%dT%H:%M:%S";

/// start, end, time_zone, all_day of a VEVENT.
fn times(ev: &Comp<'_>, zones: &Zones) -> (Option<String>, Option<String>, Option<String>, bool) {
    let Some(start) = ev.prop("DTSTART").and_then(|p| prop_time(p, zones).ok()) else {
        return (None, None, None, false);
    };
    let zone = view_zone(&start);
    let tz_name = match zone {
        ViewZone::Utc => Some("UTC".to_string()),
        ViewZone::Floating => None,
        ViewZone::Zoned(Zone::Iana(tz)) => Some(tz.name().to_string()),
        ViewZone::Zoned(Zone::Fixed(_)) => ev
            .prop("DTSTART")
            .and_then(|p| p.param("TZID"))
            .map(str::to_string),
    };
    let end_prop = ev.prop("DTEND").and_then(|p| prop_time(p, zones).ok());
    let duration = ev.prop("DURATION").and_then(|p| parse_duration(&p.value));
    if start.is_date() {
        let end = match (end_prop, duration) {
            (Some(e), _) => Some(e.naive.date()),
            (None, Some(d)) => start
                .naive
                .date()
                .checked_add_days(Days::new((d.max(0) / 86_400) as u64)),
            (None, None) => start.naive.date().succ_opt(),
        };
        return (
            Some(start.naive.date().format("%Y-%m-%d").to_string()),
            end.map(|d| d.format("%Y-%m-%d").to_string()),
            None,
            true,
        );
    }
    let end = match (end_prop, duration) {
        (Some(e), _) if e.is_floating() || matches!(zone, ViewZone::Floating) => Some(e.naive),
        (Some(e), _) => local_of(e.utc(None), zone),
        (None, Some(d)) => local_of(start.utc(None) + d, zone),
        (None, None) => Some(start.naive),
    };
    (
        Some(start.naive.format(DATE_TIME).to_string()),
        end.map(|e| e.format(DATE_TIME).to_string()),
        tz_name,
        false,
    )
}

/// The master VEVENT of a VCALENDAR (the first without RECURRENCE-ID, else
/// the first VEVENT).
pub(crate) fn master<'c, 'a>(cal: &'c Comp<'a>) -> Option<&'c Comp<'a>> {
    let mut events = cal.comps.iter().filter(|c| c.name == "VEVENT");
    let first = events.clone().next()?;
    Some(
        events
            .find(|c| c.prop("RECURRENCE-ID").is_none())
            .unwrap_or(first),
    )
}

/// The event of a stored object; None when it holds no VEVENT or does not parse.
pub fn read(text: &str) -> Option<EventView> {
    let top = parse(text).ok()?;
    let cal = top.iter().find(|c| c.name == "VCALENDAR")?;
    let ev = master(cal)?;
    let zones = Zones::from_calendar(cal);
    let (start, end, time_zone, all_day) = times(ev, &zones);
    let person = |p: &crate::ical::model::Prop<'_>| PersonView {
        email: without_mailto(&p.value),
        name: p.param("CN").map(str::to_string),
    };
    let attendees = ev
        .props_named("ATTENDEE")
        .map(|p| AttendeeView {
            email: without_mailto(&p.value),
            name: p.param("CN").map(str::to_string),
            role: Role::from_param(p.param("ROLE")),
            partstat: p
                .param("PARTSTAT")
                .unwrap_or("NEEDS-ACTION")
                .to_ascii_uppercase(),
            schedule_status: p
                .param("SCHEDULE-STATUS")
                .and_then(|s| s.split([',', ';']).next())
                .map(|s| s.trim().to_string()),
        })
        .collect();
    Some(EventView {
        uid: ev.text("UID").unwrap_or_default(),
        summary: ev.text("SUMMARY"),
        description: ev.text("DESCRIPTION"),
        location: ev.text("LOCATION"),
        start,
        end,
        time_zone,
        all_day,
        rrule: ev.prop("RRULE").map(|p| p.value.trim().to_string()),
        status: Status::from_ical(ev.prop("STATUS").map(|p| p.value.as_ref())),
        sequence: ev
            .prop("SEQUENCE")
            .and_then(|p| p.value.trim().parse().ok())
            .unwrap_or(0),
        organizer: ev.prop("ORGANIZER").map(person),
        attendees,
        mode: Mode::from_ical(ev.prop("X-HERALD-MODE").map(|p| p.value.as_ref())),
        counter_policy: CounterPolicy::from_ical(
            ev.prop("X-HERALD-COUNTER-POLICY").map(|p| p.value.as_ref()),
        ),
    })
}

impl EventView {
    /// The spec this view would be created from (for validating a patch
    /// against the fields it leaves alone).
    pub fn to_spec(&self) -> EventSpec {
        EventSpec {
            summary: self.summary.clone(),
            description: self.description.clone(),
            location: self.location.clone(),
            start: self.start.clone().unwrap_or_default(),
            end: self.end.clone(),
            time_zone: self.time_zone.clone(),
            all_day: self.all_day,
            rrule: self.rrule.clone(),
            attendees: self
                .attendees
                .iter()
                .map(|a| super::event::AttendeeSpec {
                    email: a.email.clone(),
                    name: a.name.clone(),
                    role: a.role,
                })
                .collect(),
            mode: self.mode,
            counter_policy: self.counter_policy,
            uid: Some(self.uid.clone()),
        }
    }
}
