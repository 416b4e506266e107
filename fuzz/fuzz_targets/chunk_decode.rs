//! Fuzz target `chunk_decode`: see `gridsql_connectors::fuzz::chunk_decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _accepted = gridsql_connectors::fuzz::chunk_decode::run(data);
});
