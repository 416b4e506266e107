//! Fuzz target `chunk_decode`: see `gridsql_connectors::fuzz::chunk_decode`.
//!
//! libfuzzer-sys installs a panic hook that aborts on every panic, even one
//! that is caught. `ZarrReader` catches a known panic inside zarrs (a shard
//! shorter than its index; `fuzz/corpus/chunk_decode/crash-truncated-shard`)
//! and turns it into a chunk error, so this target replaces the hook with a
//! silent one: a caught panic is the reader's business, and a panic that
//! escapes the body still aborts (libfuzzer-sys catches it and aborts).
#![no_main]

static QUIET_HOOK: std::sync::Once = std::sync::Once::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    QUIET_HOOK.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let _accepted = gridsql_connectors::fuzz::chunk_decode::run(data);
});
