//! Fuzz target: see herald::fuzzing::ical_object and docs/FUZZING.md.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| herald::fuzzing::ical_object(data));
