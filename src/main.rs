//! The `gridsql` binary: everything is in the library (`src/lib.rs`).

// As datafusion-cli: glibc's allocator returns the large chunk buffers to the
// kernel after every chunk (page faults, TLB shootdowns); mimalloc reuses them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gridsql::main()
}
