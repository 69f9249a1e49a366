//! The engine: the one transport-neutral layer every front door (CalDAV,
//! the mail doors, and the REST API next) calls for a change to calendars. It
//! owns the iTIP orchestration of a write (the stored copy, the plan from
//! `crate::scheduling`, SCHEDULE-STATUS, outbox entries) and the checks of
//! who may change what. It speaks the domain (a principal, an object, a
//! plan) and reports one error type, `EngineError`, which each front door
//! maps to its protocol in one place.

mod confirms;
pub mod event;
mod event_tz;
pub mod event_view;
pub mod events;
mod inbound;
pub mod modes;
mod roster;
mod save;
pub mod seats;
mod write;

pub use inbound::{Outcome, apply_mail, one_line};
pub use roster::{
    AddOutcome, AttendeeChange, Changed, NewAttendee, Notify, Role, add_attendees,
    add_attendees_in_job, cancel, remove_attendee, update_attendee,
};
pub use save::{Conditions, Saved, delete, save, save_parsed};
pub use write::{Plan, Target, check_attendee_count, may_schedule, plan_delete, plan_put};

use crate::scheduling::ItipError;
use crate::store::{Store, StoreError};

/// The principal on whose behalf the engine acts, with what it needs of
/// the configuration.
pub struct Actor<'a> {
    pub store: &'a Store,
    /// The principal's user name.
    pub user: &'a str,
    /// `limits.max_delegates_per_reply`.
    pub max_delegates_per_reply: usize,
    /// Woken after a write queued iTIP messages (the outbox worker waits on it).
    pub outbox_ready: &'a tokio::sync::Notify,
}

/// Why the engine refused or failed an operation.
#[derive(Debug)]
pub enum EngineError {
    Store(StoreError),
    /// The iTIP rules refused the change.
    Itip(ItipError),
    /// RFC 6638 section 3.2.4.3: the organizer may not make this change.
    OrganizerChange(String),
    /// RFC 6638 section 3.2.2.1: an attendee may not make this change.
    AttendeeChange(String),
    /// RFC 6638 section 3.2.4.1: the UID already belongs to a scheduling
    /// object (at `path` in `user`'s home, when it is theirs).
    NotUniqueScheduling {
        user: String,
        path: Option<String>,
        detail: String,
    },
    /// More ATTENDEEs in one component than `limits.max_attendees_per_instance`.
    TooManyAttendees {
        found: usize,
        max: usize,
    },
    /// A field of an API request has no acceptable value.
    Field {
        field: String,
        detail: String,
    },
    /// The object is not a valid calendar object resource (RFC 5545 /
    /// RFC 4791 section 4.1).
    InvalidObject(String),
    Internal(String),
}

pub type Result<T> = std::result::Result<T, EngineError>;

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        EngineError::Store(e)
    }
}

impl From<ItipError> for EngineError {
    fn from(e: ItipError) -> Self {
        EngineError::Itip(e)
    }
}
