//! Herald: a CalDAV server with the organizer role in the server.
//!
//! Layers (see docs/ARCHITECTURE.md): `ical` (iCalendar model, no I/O),
//! `store` (redb, the only module that knows it), `caldav` (WebDAV/CalDAV
//! protocol), `server` (HTTP/TLS front door), `auth`, `control` (the local
//! control socket) and `cli` (the `herald` command).

pub mod api;
pub mod auth;
pub mod caldav;
pub mod cli;
pub mod clock;
pub mod config;
pub mod conn;
pub mod control;
pub mod delivery;
pub mod engine;
#[doc(hidden)]
pub mod fuzzing;
pub mod ical;
pub mod imip;
pub mod jobs;
pub mod lmtp;
pub mod private_fs;
pub mod scheduling;
pub mod server;
pub mod store;
pub mod timers;
