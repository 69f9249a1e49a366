//! Fuzz target: see herald::fuzzing::xml_request and docs/FUZZING.md.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| herald::fuzzing::xml_request(data));
