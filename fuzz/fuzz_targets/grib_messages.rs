//! Fuzz target `grib_messages`: see `gridsql_connectors::fuzz::grib_messages`.
//!
//! The GRIB2 path catches panics inside the `grib` crate and turns them into
//! errors (`connectors/src/grib/edition2.rs`), so, as for `chunk_decode`, the
//! panic hook is silenced: a caught panic is the reader's business, and one
//! that escapes the body still aborts.
#![no_main]

static QUIET_HOOK: std::sync::Once = std::sync::Once::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    QUIET_HOOK.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let _accepted = gridsql_connectors::fuzz::grib_messages::run(data);
});
