//! Fuzz target `selection_plan`: see `gridsql_connectors::fuzz::selection_plan`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _accepted = gridsql_connectors::fuzz::selection_plan::run(data);
});
