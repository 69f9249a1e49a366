//! End-to-end tests: the real `herald` binary, real HTTP, a real redb file.
//! One test binary with modules, one server per test.

mod cli;
mod discovery;
mod methods;
mod reports;
mod security;
mod tls;
mod util;
