//! Bodies of gridsql's fuzz targets: each takes arbitrary bytes, feeds them
//! through the connectors' own code (the same functions a query runs) and
//! checks the invariants that code promises. A broken invariant panics, so
//! libFuzzer records a crash; hostile input must only ever produce an `Err`.
//!
//! The bodies live here, not in the `fuzz/` crate, so that the committed
//! corpus (`fuzz/corpus/<target>/`) replays on stable Rust in the normal test
//! suite (`tests/properties.rs`), while `cargo +nightly fuzz run <target>`
//! explores new inputs. Not part of the connectors' stable API.

pub mod cf_attributes;
pub mod chunk_decode;
pub mod grib_messages;
pub mod selection_plan;
pub mod zarr_metadata;

use std::sync::Arc;

use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::grid::plan::region_cells;
use crate::grid::{Region, Selection};
use crate::table::{Format, GridTable, TableSpec};

/// Largest region (in cells) the bodies read: keeps one execution fast and
/// far below libFuzzer's memory limit, while metadata can claim any size.
pub(crate) const MAX_READ_CELLS: u64 = 1 << 16;

/// The location of the in-memory store the bodies write (for messages).
const STORE: &str = "fuzz.zarr";

/// A target's body: whether the input was accepted all the way.
pub type Body = fn(&[u8]) -> bool;

/// Every fuzz target by name, with its body. A body returns whether the
/// input was accepted all the way (opened, read, decoded or planned), so the
/// corpus replay can check that its valid seeds reach the deep code.
pub const TARGETS: &[(&str, Body)] = &[
    ("zarr_metadata", zarr_metadata::run),
    ("cf_attributes", cf_attributes::run),
    ("chunk_decode", chunk_decode::run),
    ("selection_plan", selection_plan::run),
    ("grib_messages", grib_messages::run),
];

/// Runs a future to completion on the current thread. The bodies only touch
/// in-memory stores, which never wait on a reactor.
pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// An in-memory object store holding `files` (key, bytes) under [`STORE`].
pub(crate) fn memory_store(files: &[(String, Vec<u8>)]) -> Arc<dyn ObjectStore> {
    let store = InMemory::new();
    for (key, bytes) in files {
        let path = Path::from(format!("{STORE}/{key}"));
        // An in-memory put cannot fail; ignore the result rather than unwrap.
        let _ = block_on(store.put(&path, PutPayload::from(bytes.clone())));
    }
    Arc::new(store)
}

/// Opens the in-memory store as a Zarr table, as `open_table` would.
pub(crate) fn open(store: Arc<dyn ObjectStore>) -> crate::Result<GridTable> {
    let spec = TableSpec {
        format: Format::Zarr,
        location: STORE.to_string(),
        options: Default::default(),
    };
    block_on(crate::zarr::open_zarr(store, Path::from(STORE), &spec))
}

/// Reads and decodes the first chunk of every variable of an opened table
/// (when it is small enough), checking that each read returns exactly one
/// value per cell and that decoding keeps that length and the schema's type.
fn read_first_chunks(table: &GridTable) -> bool {
    let mut all = true;
    for var in &table.grid.variables {
        let region: Region = var
            .shape
            .iter()
            .zip(&var.chunks)
            .map(|(&n, &c)| 0..n.min(c.max(1)))
            .collect();
        let cells = region_cells(&region);
        if cells == 0 || cells > MAX_READ_CELLS {
            continue;
        }
        let Ok(buf) = block_on(table.reader.read(&var.name, &region)) else {
            all = false;
            continue;
        };
        assert_eq!(
            buf.len() as u64,
            cells,
            "variable '{}': {} values for a region of {cells} cells",
            var.name,
            buf.len()
        );
        match buf.decode(0..buf.len(), &var.decoding) {
            Ok(array) => {
                assert_eq!(array.len(), buf.len());
                assert_eq!(array.data_type(), &var.decoding.arrow_type());
                check_inner_box(table, &var.name, &region, &array, &var.decoding);
            }
            Err(_) => all = false,
        }
    }
    all
}

/// Reads the box inside `region` that leaves out its first and last index
/// along every dimension longer than two (so the block-by-block blosc reader
/// and zarrs' partial decoders run) and, when that read decodes, checks it
/// equals the same cells of `whole`, the decoded read of all of `region`.
fn check_inner_box(
    table: &GridTable,
    name: &str,
    region: &Region,
    whole: &arrow::array::ArrayRef,
    decoding: &crate::grid::VariableDecoding,
) {
    let inner: Region = region
        .iter()
        .map(|r| match r.end - r.start {
            0..=1 => r.clone(),
            2 => r.start + 1..r.end,
            _ => r.start + 1..r.end - 1,
        })
        .collect();
    if inner == *region {
        return;
    }
    let Ok(buf) = block_on(table.reader.read(name, &inner)) else {
        return;
    };
    assert_eq!(buf.len() as u64, region_cells(&inner), "variable '{name}'");
    let Ok(part) = buf.decode(0..buf.len(), decoding) else {
        return;
    };
    // Positions of the inner box's cells in `region`, C order.
    let mut positions = vec![0u32];
    for (r, i) in region.iter().zip(&inner) {
        let n = (r.end - r.start) as u32;
        let offsets = (i.start - r.start) as u32..(i.end - r.start) as u32;
        positions = positions
            .iter()
            .flat_map(|p| offsets.clone().map(move |o| p * n + o))
            .collect();
    }
    let indices = arrow::array::UInt32Array::from(positions);
    let Ok(expected) = arrow::compute::take(whole.as_ref(), &indices, None) else {
        return;
    };
    assert_eq!(
        part.as_ref(),
        expected.as_ref(),
        "variable '{name}': the box {inner:?} reads differently alone than within {region:?}"
    );
}

/// Plans the regions of a whole-table scan (when there are few enough) and
/// checks they tile the selection.
fn plan_whole_table(table: &GridTable) {
    let Some(var) = table.grid.variables.first() else {
        return;
    };
    let selection = Selection::all(&table.grid.shape());
    let grid = table.grid.chunk_grid(&var.chunks);
    if grid.count_regions(&selection) > 4096 {
        return;
    }
    let regions = crate::grid::plan::regions(&selection, &grid);
    let total: u64 = regions.iter().map(|r| region_cells(r)).sum();
    assert_eq!(
        total,
        selection.cells(),
        "regions do not tile the selection"
    );
}

#[cfg(test)]
mod tests {
    use super::TARGETS;

    /// Replays every committed corpus input (`fuzz/corpus/<target>/`,
    /// including the inputs of crashes the fuzzers found and that were
    /// fixed) through its target's body, so `cargo test` catches
    /// regressions without nightly or libFuzzer.
    #[test]
    fn committed_corpus_replays_without_panic() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        for (name, body) in TARGETS {
            let dir = root.join(name);
            let mut inputs: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            inputs.sort();
            assert!(!inputs.is_empty(), "no corpus for fuzz target {name}");
            for input in &inputs {
                let data = std::fs::read(input).expect("read corpus file");
                let outcome = std::panic::catch_unwind(|| body(&data));
                let Ok(accepted) = outcome else {
                    panic!("fuzz target {name} panicked on {}", input.display());
                };
                // Seeds are valid inputs; crash reproducers and rejected
                // inputs (`crash-*`, `reject-*`) only must not panic.
                let file = input.file_name().and_then(|f| f.to_str()).unwrap_or("");
                if !file.starts_with("crash-") && !file.starts_with("reject-") {
                    assert!(accepted, "seed {} of {name} was rejected", input.display());
                }
            }
            eprintln!(
                "fuzz target {name}: {} corpus inputs replayed",
                inputs.len()
            );
        }
    }

    /// A mutation fuzzer on stable for machines without nightly: mutates
    /// the committed corpus (bit flips, boundary bytes, insertions,
    /// deletions, splices, digit changes) for `GRIDSQL_FUZZ_SECONDS` per
    /// target (only the targets named in `GRIDSQL_FUZZ_TARGETS`, default
    /// all) and writes any input that panics to `GRIDSQL_FUZZ_CRASHES`
    /// (default the temp dir). Without coverage guidance it finds less than
    /// libFuzzer; `cargo fuzz` is the real thing (docs/testing.md).
    #[test]
    #[ignore = "runs for minutes: cargo test -p gridsql-connectors --lib fuzz -- --ignored"]
    fn mutate_corpus() {
        let seconds: u64 = std::env::var("GRIDSQL_FUZZ_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10);
        let only = std::env::var("GRIDSQL_FUZZ_TARGETS").unwrap_or_default();
        let crashes = std::env::var_os("GRIDSQL_FUZZ_CRASHES")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        std::panic::set_hook(Box::new(|_| {}));
        let mut found = 0;
        for (name, body) in TARGETS {
            if !only.is_empty() && !only.split(',').any(|t| t == *name) {
                continue;
            }
            let corpus: Vec<Vec<u8>> = std::fs::read_dir(root.join(name))
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok().and_then(|e| std::fs::read(e.path()).ok()))
                .collect();
            let mut rng = 0x2545_f491_4f6c_dd1d_u64 ^ name.len() as u64;
            let mut next = move || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
            let (mut execs, mut accepted) = (0u64, 0u64);
            while std::time::Instant::now() < deadline && !corpus.is_empty() {
                let mut input = corpus[next() as usize % corpus.len()].clone();
                for _ in 0..1 + next() % 4 {
                    mutate(&mut input, &corpus, &mut next);
                }
                execs += 1;
                match std::panic::catch_unwind(|| body(&input)) {
                    Ok(ok) => accepted += u64::from(ok),
                    Err(_) => {
                        found += 1;
                        let path = crashes.join(format!("crash-{name}-{execs}"));
                        let _ = std::fs::write(&path, &input);
                        eprintln!("fuzz target {name}: panic, input in {}", path.display());
                    }
                }
            }
            eprintln!("fuzz target {name}: {execs} executions in {seconds} s, {accepted} accepted");
        }
        let _ = std::panic::take_hook();
        assert_eq!(
            found,
            0,
            "inputs that panic were written to {}",
            crashes.display()
        );
    }

    /// One random mutation of `input`.
    fn mutate(input: &mut Vec<u8>, corpus: &[Vec<u8>], next: &mut impl FnMut() -> u64) {
        const BOUNDARY: [u8; 8] = [0, 1, 0x7f, 0x80, 0xfe, 0xff, b'-', b'9'];
        let len = input.len();
        let at = |n: u64| if len == 0 { 0 } else { n as usize % len };
        match next() % 6 {
            0 if len > 0 => {
                let i = at(next());
                input[i] ^= 1 << (next() % 8);
            }
            1 if len > 0 => {
                let i = at(next());
                input[i] = BOUNDARY[next() as usize % BOUNDARY.len()];
            }
            2 => {
                let i = at(next());
                input.insert(i, next() as u8);
            }
            3 if len > 1 => {
                let i = at(next());
                let n = (1 + next() as usize % 8).min(len - i);
                input.drain(i..i + n);
            }
            4 => {
                let other = &corpus[next() as usize % corpus.len()];
                if !other.is_empty() {
                    let a = next() as usize % other.len();
                    let b = a + (next() as usize % (other.len() - a)).min(32);
                    let i = at(next());
                    input.splice(i..i, other[a..b].iter().copied());
                }
            }
            _ if len > 0 => {
                // A digit changed: JSON numbers, shapes and counts move.
                let digits: Vec<usize> = (0..len).filter(|&i| input[i].is_ascii_digit()).collect();
                if !digits.is_empty() {
                    let i = digits[next() as usize % digits.len()];
                    input[i] = b'0' + (next() % 10) as u8;
                }
            }
            _ => input.push(next() as u8),
        }
    }
}
