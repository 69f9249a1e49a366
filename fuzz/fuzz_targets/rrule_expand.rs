//! Fuzz target: see herald::fuzzing::rrule_expand and docs/FUZZING.md.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| herald::fuzzing::rrule_expand(data));
