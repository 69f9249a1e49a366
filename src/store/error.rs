//! `StoreError`: what a store operation can refuse, in domain words, plus one
//! opaque `Backend` for failures of the database itself.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The principal, collection or resource does not exist.
    NotFound,
    /// The target already exists (MKCOL on an existing path, user add twice).
    AlreadyExists,
    /// The parent collection is missing (RFC 4918 section 9.3.1: 409).
    ParentMissing,
    /// The operation is not allowed at this place (e.g. a collection inside a
    /// calendar collection, a resource directly under the root).
    NotAllowedHere(&'static str),
    /// An If-Match / If-None-Match condition failed.
    PreconditionFailed,
    /// Another resource in the calendar already has this UID (its path).
    UidConflict(String),
    /// The sync token is not one this collection issued, or is too old.
    InvalidSyncToken,
    /// The user's quota would be exceeded.
    QuotaExceeded,
    /// A transformation refused the data (e.g. an iTIP rule), with why.
    Rejected(String),
    /// The write would queue more invitations than the principal's
    /// `limit` per hour; it fits again in `retry_after` seconds.
    RateLimited { limit: u64, retry_after: u64 },
    /// The change wants more seats than the event has free.
    CapacityExceeded { available: u32 },
    /// The database failed; the operation was rolled back.
    Backend(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotFound => write!(f, "not found"),
            StoreError::AlreadyExists => write!(f, "already exists"),
            StoreError::ParentMissing => write!(f, "the parent collection does not exist"),
            StoreError::NotAllowedHere(why) => write!(f, "not allowed here: {why}"),
            StoreError::PreconditionFailed => write!(f, "precondition failed"),
            StoreError::UidConflict(path) => write!(f, "UID already used by {path}"),
            StoreError::InvalidSyncToken => write!(f, "invalid or expired sync token"),
            StoreError::QuotaExceeded => write!(f, "quota exceeded"),
            StoreError::Rejected(why) => write!(f, "rejected: {why}"),
            StoreError::RateLimited { limit, retry_after } => write!(
                f,
                "more than {limit} invitations per hour; try again in {retry_after} s"
            ),
            StoreError::CapacityExceeded { available } => {
                write!(f, "not enough seats: {available} available")
            }
            StoreError::Backend(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

macro_rules! backend_from {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Backend(e.to_string()) }
        }
    )*};
}
backend_from!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError,
    serde_json::Error
);

pub type Result<T> = std::result::Result<T, StoreError>;
