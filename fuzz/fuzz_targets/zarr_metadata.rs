//! Fuzz target `zarr_metadata`: see `gridsql_connectors::fuzz::zarr_metadata`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _accepted = gridsql_connectors::fuzz::zarr_metadata::run(data);
});
