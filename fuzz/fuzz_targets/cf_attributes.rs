//! Fuzz target `cf_attributes`: see `gridsql_connectors::fuzz::cf_attributes`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _accepted = gridsql_connectors::fuzz::cf_attributes::run(data);
});
