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
    RemoveDead { ns: String, name: String },
    DisplayName(Option<String>),
    Description(Option<String>),
    Color(Option<String>),
    Order(Option<String>),
    Timezone(Option<String>),
    Components(Vec<String>),
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
    pub calendar: Option<CalendarObjectMeta>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PutOutcome {
    pub created: bool,
    pub etag: String,
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
