//! The store: the only module that knows redb. It offers domain operations
//! (principals, collections, resources, PROPPATCH, COPY/MOVE, sync-collection
//! changes, time-range candidates) and reports `StoreError`s. Every write is
//! one transaction that updates the node, its body, indexes and the sync log
//! together, committed through the group-commit writer.

mod bodies;
mod calendars;
mod copy_move;
mod error;
mod idempotency;
mod inbound;
mod invites;
mod jobs;
mod model;
mod outbox;
mod rate;
mod read;
mod seats;
mod secrets;
mod tables;
mod timers;
mod tree_sync;
mod write;
mod writer;

pub use calendars::component_of;
pub use copy_move::CopyMove;
pub use error::{Result, StoreError};
pub use idempotency::{IdemBegin, StoredAnswer};
pub use inbound::InboundTransform;
pub use invites::{Invite, ReminderRule};
pub use jobs::{Job, JobAttendee, JobEnd, JobStatus, JobStep, JobWork};
pub use model::*;
pub use outbox::{LocalDelivery, Rewrite, StatusWriter, Transform};
pub use rate::StoreLimits;
pub use read::{SyncToken, normalize_address};
pub use seats::{
    Chain, Confirmed, GuestRule, GuestsAdded, Hold, HoldState, Policy, PolicySettings, Prepared,
    Waiting, WaitlistMode,
};
pub use tables::{member_name, parent_path, resource_name};
pub use timers::{Effect, Timer, TimerKind};
pub use write::{DEFAULT_CALENDAR, DeleteConditions, INBOX, OUTBOX_PATH};

use redb::Database;
use std::path::Path;
use std::sync::Arc;
use writer::Writer;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "herald.redb";

/// redb's page cache. Small on purpose: the data of a calendar server is
/// read in small pieces and the OS page cache sits underneath.
const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    writer: Writer,
    limits: Arc<StoreLimits>,
}

/// Why the database could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// Another process (normally `herald serve`) holds the database.
    InUse,
    Other(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::InUse => write!(f, "the database is in use by another herald process"),
            OpenError::Other(e) => write!(f, "{e}"),
        }
    }
}

impl Store {
    /// Open (or create) `DB_FILE` in `data_dir`, creating the directory.
    pub fn open(data_dir: &Path) -> std::result::Result<Store, OpenError> {
        crate::private_fs::create_dir(data_dir)
            .map_err(|e| OpenError::Other(format!("cannot create {}: {e}", data_dir.display())))?;
        let path = data_dir.join(DB_FILE);
        // redb creates its file with the umask's mode; create it owner-only first.
        crate::private_fs::ensure_file(&path)
            .map_err(|e| OpenError::Other(format!("{}: {e}", path.display())))?;
        let db = match Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
        {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => return Err(OpenError::InUse),
            Err(e) => return Err(OpenError::Other(format!("{}: {e}", path.display()))),
        };
        let db = Arc::new(db);
        write::create_tables(&db).map_err(|e| OpenError::Other(e.to_string()))?;
        let writer = Writer::start(db.clone());
        Ok(Store {
            db,
            writer,
            limits: Arc::default(),
        })
    }
}

impl Store {
    /// Stop the writer and close the database, when this is the last
    /// handle (otherwise the database closes when the last handle drops).
    pub fn close(self) {
        let Store { db, writer, .. } = self;
        writer.stop();
        drop(db);
    }
}
