//! Writes the default sample sea level store in Zarr v2 and v3 and times it.
//!
//! `cargo run -p gridsql-samples --example write_demo -- [OUT_PREFIX [DAYS NLAT NLON]]`
//! writes `OUT_PREFIX_v2.zarr` and `OUT_PREFIX_v3.zarr` (default `/tmp/demo`,
//! default size [`SeaLevelSpec::default`]), replacing earlier stores there.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use gridsql_samples::{SeaLevelSpec, ZarrFormat, write_sea_level};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let prefix = args.first().map_or("/tmp/demo", String::as_str);
    let mut base = SeaLevelSpec::default();
    if let [_, days, nlat, nlon] = args.as_slice() {
        match (days.parse(), nlat.parse(), nlon.parse()) {
            (Ok(d), Ok(y), Ok(x)) => (base.days, base.nlat, base.nlon) = (d, y, x),
            _ => {
                eprintln!("error: DAYS NLAT NLON must be positive integers");
                return ExitCode::FAILURE;
            }
        }
    }
    for zarr_format in [ZarrFormat::V2, ZarrFormat::V3] {
        let path = PathBuf::from(format!("{prefix}_{zarr_format}.zarr"));
        // Only replace something that looks like a Zarr store.
        let is_store = path.join(".zgroup").exists() || path.join("zarr.json").exists();
        if is_store && let Err(e) = std::fs::remove_dir_all(&path) {
            eprintln!("error: cannot remove {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        let spec = SeaLevelSpec {
            zarr_format,
            ..base.clone()
        };
        let start = Instant::now();
        match write_sea_level(&path, &spec) {
            Ok(info) => println!(
                "{}: {zarr_format}, shape {:?}, chunks {:?}, land {:.3}, {} bytes, {:.2}s",
                info.path.display(),
                info.shape,
                info.chunk_shape,
                info.land_fraction,
                info.bytes_written,
                start.elapsed().as_secs_f64()
            ),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
