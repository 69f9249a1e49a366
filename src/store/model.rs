//! Domain records kept by the store: principals, collections and resources
//! (together "nodes", addressed by user and a path below the user's home),
//! and dead properties. Serialized as JSON inside redb values.

use serde::{Deserialize, Serialize};

/// A user of this server (RFC 3744 principal).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Principal {
    pub name: String,
    /// argon2 PHC string.
    pub password_hash: String,
    /// calendar-user-address-set, as `mailto:` addresses, lower-cased.
    pub emails: Vec<String>,
    pub displayname: Option<String>,
    pub created: i64,
    /// An organizer principal (`herald organizer add`): an application's
    /// identity for the REST API; it signs in with tokens, a password only
    /// when one is set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub organizer: bool,
}

/// A collection or a resource below a user's home.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Node {
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds.
    pub modified: i64,
    /// Strong entity tag, quoted.
    pub etag: String,
    #[serde(default)]
    pub displayname: Option<String>,
    #[serde(default)]
    pub dead_props: Vec<DeadProp>,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum NodeKind {
    Collection(Collection),
    Resource(Resource),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Collection {
    /// Unique for the life of the database; part of every sync token.
    pub id: u64,
    /// Change number of the latest change to a member (RFC 6578).
    pub sync_seq: u64,
    /// Present when this is a calendar collection (RFC 4791 section 4.2).
    pub calendar: Option<CalendarProps>,
    /// RFC 6638 scheduling collections: the schedule inbox or outbox.
    #[serde(default)]
    pub schedule: Option<ScheduleBox>,
    /// On the schedule inbox: the path of the calendar chosen by
    /// CALDAV:schedule-default-calendar-URL (RFC 6638 section 9.2), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_calendar: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ScheduleBox {
    Inbox,
    Outbox,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CalendarProps {
    pub description: Option<String>,
    /// Apple's calendar-color, e.g. `#FF2968FF`.
    pub color: Option<String>,
    pub order: Option<String>,
    /// CALDAV:calendar-timezone: a VCALENDAR with one VTIMEZONE.
    pub timezone: Option<String>,
    /// CALDAV:supported-calendar-component-set, upper-case names.
    pub components: Vec<String>,
    /// CALDAV:schedule-calendar-transp is transparent (RFC 6638 section
    /// 9.1): the calendar's events never make its owner busy.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub transparent: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Resource {
    pub content_type: String,
    pub size: u64,
    /// UID and component name, for calendar object resources.
    pub uid: Option<String>,
    pub component: Option<String>,
    /// Sync-log change number of this resource's latest change.
    pub change_seq: u64,
    /// RFC 6638 section 3.2.10 Schedule-Tag of a scheduling object resource.
    #[serde(default)]
    pub schedule_tag: Option<String>,
}

/// A property the server does not interpret (RFC 4918 section 4.2): kept as
/// the self-contained XML element the client sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeadProp {
    pub ns: String,
    pub name: String,
    pub xml: String,
}

impl Node {
    /// Bytes this node holds in its owner's quota: the body of a resource
    /// and every property text a client set (dead properties, display name,
    /// calendar description, colour, order and time zone).
    pub fn stored_bytes(&self) -> u64 {
        let text = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len());
        let dead: usize = self
            .dead_props
            .iter()
            .map(|p| p.ns.len() + p.name.len() + p.xml.len())
            .sum();
        let kind = match &self.kind {
            NodeKind::Resource(r) => r.size as usize,
            NodeKind::Collection(c) => c.calendar.as_ref().map_or(0, |cal| {
                text(&cal.description) + text(&cal.color) + text(&cal.order) + text(&cal.timezone)
            }),
        };
        (dead + text(&self.displayname) + kind) as u64
    }

    pub fn collection(&self) -> Option<&Collection> {
        match &self.kind {
            NodeKind::Collection(c) => Some(c),
            NodeKind::Resource(_) => None,
        }
    }
    pub fn resource(&self) -> Option<&Resource> {
        match &self.kind {
            NodeKind::Resource(r) => Some(r),
            NodeKind::Collection(_) => None,
        }
    }
    pub fn is_collection(&self) -> bool {
        self.collection().is_some()
    }
    pub fn calendar(&self) -> Option<&CalendarProps> {
        self.collection().and_then(|c| c.calendar.as_ref())
    }
}

/// A change to the properties of a node, applied all-or-nothing by PROPPATCH.
#[derive(Debug, Clone, PartialEq)]
pub enum PropChange {
    SetDead(DeadProp),
    RemoveDead {
        ns: String,
        name: String,
    },
    DisplayName(Option<String>),
    Description(Option<String>),
    Color(Option<String>),
    Order(Option<String>),
    Timezone(Option<String>),
    Components(Vec<String>),
    /// CALDAV:schedule-calendar-transp: true for transparent.
    Transparent(bool),
    /// CALDAV:schedule-default-calendar-URL of the schedule inbox: a
    /// calendar path of the same user (checked by the caller).
    DefaultCalendar(Option<String>),
}

/// What a new collection starts with (MKCOL, MKCALENDAR, extended MKCOL).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewCollection {
    pub calendar: Option<CalendarProps>,
    pub props: Vec<PropChange>,
}

/// Calendar metadata of an object being written, derived from its iCalendar.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarObjectMeta {
    pub uid: String,
    pub component: String,
    pub index: crate::ical::TimeIndex,
}

/// A PUT: body plus the preconditions to check inside the transaction.
#[derive(Debug, Clone)]
pub struct PutRequest {
    pub body: Vec<u8>,
    pub content_type: String,
    pub if_match: Option<String>,
    pub if_none_match_any: bool,
    /// If-Schedule-Tag-Match (RFC 6638 section 8.3): the current Schedule-Tag must equal it.
    pub if_schedule_tag: Option<String>,
    pub calendar: Option<CalendarObjectMeta>,
    /// Whether this write gives the object a new Schedule-Tag (a scheduling
    /// object changed significantly), keeps the old one, or has none.
    pub schedule_tag: ScheduleTag,
    /// iTIP messages caused by this write, queued in the same transaction.
    pub outbox: Vec<NewMessage>,
    /// Seats the write adds to the event's guest list: refused with
    /// `CapacityExceeded`, before any other check, when fewer are free.
    pub seats_wanted: u32,
    /// Settings of the event's seat and reminder policy, set with the write.
    pub policy: Option<crate::store::PolicySettings>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScheduleTag {
    /// Not a scheduling object resource.
    #[default]
    None,
    /// Keep the current tag (a new one if there was none).
    Keep,
    /// Issue a new tag.
    New,
}

/// An iTIP message to queue (see docs/STORAGE.md, outbox).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMessage {
    /// RFC 5546 method, upper case.
    pub method: String,
    /// Normalised recipient address (`mailto:...`).
    pub recipient: String,
    /// Normalised sender address.
    pub sender: String,
    pub uid: String,
    /// Local user the recipient address belongs to, when it is one of ours.
    pub local_user: Option<String>,
    /// The iTIP VCALENDAR (with METHOD).
    pub ical: String,
    /// A reminder: the REQUEST sent again (same SEQUENCE), with a line
    /// saying so in the text part.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reminder: bool,
}

/// A queued message and its delivery state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: u64,
    /// User whose change queued it, and the path of the object it came from
    /// (its SCHEDULE-STATUS is updated with the delivery result).
    pub owner: String,
    pub object_path: String,
    pub message: NewMessage,
    /// Stable Message-ID (without brackets).
    pub message_id: String,
    pub created: i64,
    pub attempts: u32,
    pub state: OutboxState,
    pub last_error: Option<String>,
    /// Set while a worker holds the entry (its `due` is then the lease end).
    #[serde(default)]
    pub leased: bool,
    /// SCHEDULE-STATUS recorded with the result and not yet written into
    /// the originating object (written in batches, see `outbox_apply_statuses`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OutboxState {
    /// Waiting; due at this unix time (a claimed message is due again when its lease ends).
    Pending {
        due: i64,
    },
    Sent {
        at: i64,
    },
    Failed {
        at: i64,
    },
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboxResult {
    Sent,
    Retry { due: i64, error: String },
    Failed { error: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct PutOutcome {
    pub created: bool,
    pub etag: String,
    pub schedule_tag: Option<String>,
}

/// Members changed and removed since a sync token (RFC 6578).
#[derive(Debug, Clone, PartialEq)]
pub struct Changes {
    /// The token describing the state after these changes.
    pub token: String,
    /// Names (relative to the collection) of members changed or created.
    pub changed: Vec<String>,
    /// Names of members removed.
    pub removed: Vec<String>,
    /// True when `limit` cut the list; the token then covers only what was returned.
    pub truncated: bool,
}

/// One line of an event's history: an inbound message and what it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: i64,
    pub message_id: String,
    /// Normalised From address.
    pub from: String,
    pub method: String,
    pub accepted: bool,
    /// What changed, or why it was refused.
    pub detail: String,
    /// DTSTAMP of the message's first component (UTC, as written), for the
    /// RFC 5546 section 2.1.5 ordering of replies.
    #[serde(default)]
    pub dtstamp: Option<String>,
    /// A COUNTER's proposal (its iTIP VCALENDAR), kept for the organizer
    /// to accept or decline later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal: Option<String>,
}

/// What `Store::apply_inbound` did.
#[derive(Debug, Clone, PartialEq)]
pub enum InboundApplied {
    /// This Message-ID was processed before, with this outcome.
    Duplicate(String),
    /// The object at this path was changed.
    Applied(String),
    /// Recorded, nothing changed, for this reason.
    Rejected(String),
}

/// An API bearer token (`herald token create`); only its hash is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Public identifier, for `herald token list` and `revoke`.
    pub id: String,
    pub principal: String,
    pub label: Option<String>,
    pub created: i64,
}

/// A subscription URL (`/feeds/{token}.ics`) for one calendar; only the
/// token's hash is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feed {
    pub id: String,
    pub user: String,
    /// The calendar's path below the home, ending with '/'.
    pub calendar: String,
    pub created: i64,
}
