//! End-to-end tests: the real `herald` binary, real HTTP, a real redb file.
//! One test binary with modules, one server per test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_cancel;
mod api_events;
mod api_feeds;
mod api_idempotency;
mod api_jobs;
mod api_reminders;
mod api_seats;
mod cli;
mod crash;
mod discovery;
mod hardening_a;
mod hardening_amplification;
mod hardening_bounds;
mod hardening_conn;
mod hardening_files;
mod inbox_props;
mod ingest;
mod locks;
mod methods;
mod queries_clients;
mod readme_api;
mod reports;
mod sched_clients;
mod scheduling;
mod security;
mod smtp_sink;
mod tls;
mod util;
