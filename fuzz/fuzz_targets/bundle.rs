#![no_main]
//! See `ledger_service::fuzzing::bundle`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ledger_service::fuzzing::bundle(data));
