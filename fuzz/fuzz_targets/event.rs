#![no_main]
//! See `ledger_service::fuzzing::event`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ledger_service::fuzzing::event(data));
