//! Fuzz target: see herald::fuzzing::imip_inbound and docs/FUZZING.md.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| herald::fuzzing::imip_inbound(data));
