//! A synthetic AVISO/DUACS-L4-like daily sea level store.
//!
//! See [`write_sea_level`] for the arrays, values and encoding.
//!
//! Data variables are chunked `(chunk_days, nlat, nlon)` and written one
//! chunk at a time; the whole cube is never in memory.

use std::f64::consts::TAU;
use std::path::Path;

use serde_json::json;

use crate::axes::{Axes, attrs, write_axes};
use crate::rng::Rng;
use crate::store::{Dtype, Fill, StoreWriter, Variable, store_chunk};
use crate::{SampleError, SampleInfo, ZarrFormat};

/// `time` of the first day, 1993-01-01, in days since 1950-01-01.
const START_DAYS: f64 = 15706.0;
/// Packing of `sla`: metres per stored unit.
const SLA_SCALE: f64 = 1e-4;
/// Stored `sla` value of land cells.
const SLA_FILL: i16 = i16::MIN;
/// Target land fraction of the mask.
const LAND_FRACTION: f64 = 0.30;
/// Seed of the land mask field (independent of the number of days).
const MASK_SEED: u64 = 12345;
/// Seed of the daily noise.
const NOISE_SEED: u64 = 42;
/// Standard deviation of the daily noise, metres.
const NOISE_SIGMA: f64 = 0.02;
const DIMS3: [&str; 3] = ["time", "latitude", "longitude"];

/// Size and layout of a synthetic sea level store.
///
/// # Example
/// ```
/// use gridsql_samples::{SeaLevelSpec, ZarrFormat};
///
/// // A quarter-degree, one-year store in Zarr v3 (about 2.7 GB uncompressed):
/// let spec = SeaLevelSpec { days: 365, nlat: 720, nlon: 1440, zarr_format: ZarrFormat::V3, ..SeaLevelSpec::default() };
/// assert_eq!(spec.chunk_days, 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeaLevelSpec {
    /// Number of daily time steps from 1993-01-01 (default 60).
    pub days: u32,
    /// Number of latitude cells from pole to pole (default 180, i.e. 1°).
    pub nlat: u32,
    /// Number of longitude cells around the globe (default 360, i.e. 1°).
    pub nlon: u32,
    /// Days per chunk of `sla` and `adt` (default 5); a chunk spans the whole grid.
    pub chunk_days: u32,
    /// Zarr format of the store (default v2).
    pub zarr_format: ZarrFormat,
}

impl Default for SeaLevelSpec {
    fn default() -> Self {
        Self {
            days: 60,
            nlat: 180,
            nlon: 360,
            chunk_days: 5,
            zarr_format: ZarrFormat::V2,
        }
    }
}

impl SeaLevelSpec {
    /// Checks the sizes; returns the number of grid cells and of chunk elements.
    fn validate(&self) -> Result<(usize, usize), SampleError> {
        let fields = [
            ("days", self.days),
            ("nlat", self.nlat),
            ("nlon", self.nlon),
            ("chunk_days", self.chunk_days),
        ];
        if let Some((name, _)) = fields.iter().find(|(_, v)| *v == 0) {
            return Err(SampleError::InvalidSpec(format!(
                "{name} must be at least 1"
            )));
        }
        let too_large = || {
            SampleError::InvalidSpec(format!(
                "a chunk of {} x {} x {} does not fit in memory",
                self.chunk_days, self.nlat, self.nlon
            ))
        };
        let cells = (self.nlat as usize)
            .checked_mul(self.nlon as usize)
            .ok_or_else(too_large)?;
        let chunk = cells
            .checked_mul(self.chunk_days.min(self.days) as usize)
            .filter(|n| n.checked_mul(size_of::<f64>()).is_some())
            .ok_or_else(too_large)?;
        Ok((cells, chunk))
    }
}

/// Writes a synthetic sea level store at `path`.
///
/// Grid and encoding follow the CMEMS/DUACS L4 global daily product (and the
/// project's Python generator `gen.py`, which this imitates without being
/// bit-identical to it):
///
/// | array       | type    | encoding                                                          |
/// |-------------|---------|-------------------------------------------------------------------|
/// | `time`      | float64 | `days since 1950-01-01`, calendar `standard`, daily from 1993-01-01 |
/// | `latitude`  | float32 | cell centres, ascending, `degrees_north`                          |
/// | `longitude` | float32 | cell centres in `[0, 360)`, `degrees_east`                        |
/// | `sla`       | int16   | `scale_factor` 1e-4, `add_offset` 0, `_FillValue` -32768 on land  |
/// | `adt`       | float32 | NaN on land                                                       |
///
/// Values, in metres: a smooth spatial pattern, a seasonal cycle of opposite
/// phase in each hemisphere, a wave propagating in longitude, a small trend
/// and Gaussian noise (σ = 2 cm). `adt` is `sla` plus a fixed mean dynamic
/// topography. Noise is drawn day by day over the whole grid in time order,
/// so a store with fewer days is an exact prefix of one with more, whatever
/// the chunking. The land mask (~30 % of cells: a thresholded smooth random
/// field plus Antarctica south of 70°S) depends only on the grid size.
///
/// `sla` and `adt` are chunked `(chunk_days, nlat, nlon)`, coordinates are one
/// chunk each; the metadata is laid out as xarray writes the
/// [`ZarrFormat`] chosen, consolidated metadata included.
///
/// `path` must not exist or be an empty directory; it is never overwritten.
///
/// # Errors
/// [`SampleError::InvalidSpec`] for a zero or too large size,
/// [`SampleError::NotEmpty`] if `path` holds something, and I/O, metadata or
/// chunk errors (naming the array and chunk) while writing.
pub fn write_sea_level(path: &Path, spec: &SeaLevelSpec) -> Result<SampleInfo, SampleError> {
    let (cells, _) = spec.validate()?;
    let grid = Grid::new(spec.nlat, spec.nlon);
    let (days, chunk_days) = (
        u64::from(spec.days),
        u64::from(spec.chunk_days.min(spec.days)),
    );
    let (nlat, nlon) = (u64::from(spec.nlat), u64::from(spec.nlon));

    let mut writer = StoreWriter::create(path, spec.zarr_format)?;

    // Coordinates: one chunk each.
    let times: Vec<f64> = (0..spec.days).map(|d| START_DAYS + f64::from(d)).collect();
    write_axes(
        &mut writer,
        &Axes {
            time_units: "days since 1950-01-01",
            times: &times,
            lat_name: "latitude",
            lat: &grid.lat,
            lon_name: "longitude",
            lon: &grid.lon,
        },
    )?;

    // Data variables, chunk by chunk in time order.
    let shape = vec![days, nlat, nlon];
    let chunks = vec![chunk_days, nlat, nlon];
    let sla = writer.create_array(&Variable {
        name: "sla",
        dims: DIMS3.to_vec(),
        shape: shape.clone(),
        chunks: chunks.clone(),
        dtype: Dtype::I16,
        fill: Fill::Int(SLA_FILL),
        attrs: attrs(&[
            ("standard_name", json!("sea_surface_height_above_sea_level")),
            ("long_name", json!("Sea level anomaly")),
            ("units", json!("m")),
            ("add_offset", json!(0.0)),
            ("scale_factor", json!(SLA_SCALE)),
        ]),
    })?;
    let adt = writer.create_array(&Variable {
        name: "adt",
        dims: DIMS3.to_vec(),
        shape,
        chunks,
        dtype: Dtype::F32,
        fill: Fill::NaN,
        attrs: attrs(&[
            ("standard_name", json!("sea_surface_height_above_geoid")),
            ("long_name", json!("Absolute dynamic topography")),
            ("units", json!("m")),
        ]),
    })?;

    let mut noise = Rng::new(NOISE_SEED);
    // Edge chunks are stored full size; days past the end keep the fill.
    let chunk_len = cells * chunk_days as usize;
    let mut sla_buf = vec![SLA_FILL; chunk_len];
    let mut adt_buf = vec![f32::NAN; chunk_len];
    for c in 0..days.div_ceil(chunk_days) {
        sla_buf.fill(SLA_FILL);
        adt_buf.fill(f32::NAN);
        let first = c * chunk_days;
        for (k, day) in (first..days.min(first + chunk_days)).enumerate() {
            let range = k * cells..(k + 1) * cells;
            grid.day(
                day,
                &mut noise,
                &mut sla_buf[range.clone()],
                &mut adt_buf[range],
            );
        }
        store_chunk(&sla, "sla", &[c, 0, 0], &sla_buf)?;
        store_chunk(&adt, "adt", &[c, 0, 0], &adt_buf)?;
    }

    let land_fraction = grid.land_fraction();
    let written = writer.finish(attrs(&[
        (
            "title",
            json!("Synthetic DUACS-L4-like sea level anomaly (gridsql-samples)"),
        ),
        ("Conventions", json!("CF-1.8")),
        ("source", json!("gridsql-samples")),
        (
            "comment",
            json!(
                "Synthetic data, not observations: smooth pattern + seasonal cycle + \
                 propagating wave + trend + Gaussian noise, fixed seeds"
            ),
        ),
        ("land_fraction", json!(land_fraction)),
    ]))?;
    Ok(SampleInfo {
        path: path.to_path_buf(),
        zarr_format: spec.zarr_format,
        arrays: written.arrays,
        shape: [days, nlat, nlon],
        chunk_shape: [chunk_days, nlat, nlon],
        land_fraction,
        bytes_written: written.bytes,
    })
}

/// A one-dimensional coordinate array in one chunk.
/// The static part of the dataset: coordinates, land mask, time-independent fields.
struct Grid {
    lat: Vec<f32>,
    lon: Vec<f32>,
    /// Row-major `(nlat, nlon)`, true on land.
    land: Vec<bool>,
    /// Mean sla pattern, metres, row-major.
    pattern: Vec<f64>,
    /// Mean dynamic topography (`adt - sla`), metres, row-major.
    mdt: Vec<f64>,
    /// Per latitude: amplitude of the seasonal cycle (its sign flips at the equator).
    season_amp: Vec<f64>,
    /// Per latitude: amplitude of the propagating wave.
    wave_amp: Vec<f64>,
}

impl Grid {
    fn new(nlat: u32, nlon: u32) -> Self {
        let dlat = 180.0 / f64::from(nlat);
        let dlon = 360.0 / f64::from(nlon);
        let lat: Vec<f32> = (0..nlat)
            .map(|i| (-90.0 + (f64::from(i) + 0.5) * dlat) as f32)
            .collect();
        let lon: Vec<f32> = (0..nlon)
            .map(|j| ((f64::from(j) + 0.5) * dlon) as f32)
            .collect();
        // Fields use the stored (float32) coordinates, as a reader would see them.
        let phi: Vec<f64> = lat.iter().map(|&v| f64::from(v).to_radians()).collect();
        let lam: Vec<f64> = lon.iter().map(|&v| f64::from(v).to_radians()).collect();
        let mut pattern = Vec::with_capacity(phi.len() * lam.len());
        let mut mdt = Vec::with_capacity(phi.len() * lam.len());
        for &p in &phi {
            for &l in &lam {
                pattern.push(0.05 * (3.0 * l).sin() * p.cos() + 0.03 * (2.0 * p).cos() * l.cos());
                mdt.push(0.6 * p.cos().powi(2) - 0.3 + 0.15 * (2.0 * l).sin() * p.cos());
            }
        }
        let land = land_mask(&lat, &phi, &lam);
        Self {
            season_amp: phi.iter().map(|p| 0.08 * p.sin()).collect(),
            wave_amp: phi.iter().map(|p| 0.05 * p.cos().powi(2)).collect(),
            lat,
            lon,
            land,
            pattern,
            mdt,
        }
    }

    fn land_fraction(&self) -> f64 {
        self.land.iter().filter(|&&l| l).count() as f64 / self.land.len() as f64
    }

    /// Fills one day (row-major grid) of packed `sla` and of `adt`; draws one
    /// noise value per cell, land included, so the stream is grid-aligned.
    fn day(&self, day: u64, noise: &mut Rng, sla: &mut [i16], adt: &mut [f32]) {
        let d = day as f64;
        let season = (TAU * (d % 365.25 - 80.0) / 365.25).cos();
        let trend = 0.003 * d / 365.25;
        let phase = TAU * d / 60.0;
        let wave: Vec<f64> = self
            .lon
            .iter()
            .map(|&l| (8.0 * f64::from(l).to_radians() + phase).sin())
            .collect();
        let nlon = self.lon.len();
        for (c, (out_sla, out_adt)) in sla.iter_mut().zip(adt.iter_mut()).enumerate() {
            let (i, j) = (c / nlon, c % nlon);
            let s = self.pattern[c]
                + self.season_amp[i] * season
                + self.wave_amp[i] * wave[j]
                + trend
                + NOISE_SIGMA * noise.normal();
            if self.land[c] {
                *out_sla = SLA_FILL;
                *out_adt = f32::NAN;
            } else {
                // Quantise as the int16 packing does; adt uses the quantised sla.
                let q = (s / SLA_SCALE)
                    .round()
                    .clamp(f64::from(i16::MIN + 1), f64::from(i16::MAX))
                    as i16;
                *out_sla = q;
                *out_adt = (self.mdt[c] + f64::from(q) * SLA_SCALE) as f32;
            }
        }
    }
}

/// Fixed land mask (row-major, true on land): Antarctica south of 70°S plus
/// the highest values of a smooth random field, up to [`LAND_FRACTION`].
fn land_mask(lat: &[f32], phi: &[f64], lam: &[f64]) -> Vec<bool> {
    let mut rng = Rng::new(MASK_SEED);
    let mut terms = Vec::new();
    for k in 1..=6_u32 {
        for m in 1..=6_u32 {
            let scale = f64::from(k * m);
            let (a, b) = (rng.normal() / scale, rng.normal() / scale);
            let offset = rng.uniform() * TAU;
            terms.push((f64::from(k), f64::from(m), a, b, offset));
        }
    }
    let mut field = Vec::with_capacity(phi.len() * lam.len());
    let mut land = Vec::with_capacity(phi.len() * lam.len());
    for (&p, &deg) in phi.iter().zip(lat) {
        for &l in lam {
            field.push(
                terms
                    .iter()
                    .map(|&(k, m, a, b, off)| a * (m * l + off).sin() * (k * p + b).cos())
                    .sum::<f64>(),
            );
            land.push(deg < -70.0);
        }
    }
    let target = (LAND_FRACTION * land.len() as f64).round() as usize;
    let antarctic = land.iter().filter(|&&l| l).count();
    let mut rest: Vec<f64> = field
        .iter()
        .zip(&land)
        .filter(|&(_, &ant)| !ant)
        .map(|(&f, _)| f)
        .collect();
    let extra = target.saturating_sub(antarctic).min(rest.len());
    if extra > 0 {
        rest.sort_unstable_by(|a, b| b.total_cmp(a));
        let threshold = rest[extra - 1];
        for (l, &f) in land.iter_mut().zip(&field) {
            *l |= f >= threshold;
        }
    }
    land
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use std::collections::BTreeMap;
    use std::fs;
    use std::path::PathBuf;
    use std::sync::Arc;

    use zarrs::array::{Array, ArraySubset};
    use zarrs::filesystem::FilesystemStore;

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn tiny(zarr_format: ZarrFormat) -> SeaLevelSpec {
        SeaLevelSpec {
            days: 6,
            nlat: 10,
            nlon: 20,
            chunk_days: 5,
            zarr_format,
        }
    }

    /// Every file of a store, by relative path.
    fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for entry in fs::read_dir(dir).expect("read_dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    let rel = path.strip_prefix(root).expect("prefix").to_path_buf();
                    out.insert(rel, fs::read(&path).expect("read"));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(root, root, &mut out);
        out
    }

    fn read_all<T: zarrs::array::ElementOwned>(
        store: &Arc<FilesystemStore>,
        name: &str,
    ) -> Result<(Vec<u64>, Vec<T>), Box<dyn std::error::Error>> {
        let array = Array::open(Arc::clone(store), &format!("/{name}"))?;
        let shape = array.shape().to_vec();
        let values =
            array.retrieve_array_subset::<Vec<T>>(&ArraySubset::new_with_shape(shape.clone()))?;
        Ok((shape, values))
    }

    fn check_store(zarr_format: ZarrFormat) -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sla.zarr");
        let spec = tiny(zarr_format);
        let info = write_sea_level(&path, &spec)?;
        assert_eq!(info.shape, [6, 10, 20]);
        assert_eq!(info.chunk_shape, [5, 10, 20]);
        assert_eq!(info.arrays, ["time", "latitude", "longitude", "sla", "adt"]);
        assert!(info.bytes_written > 0);
        assert!(
            (0.2..0.4).contains(&info.land_fraction),
            "{}",
            info.land_fraction
        );

        let store = Arc::new(FilesystemStore::new(&path)?);
        let (shape, time) = read_all::<f64>(&store, "time")?;
        assert_eq!(shape, [6]);
        assert_eq!(time, [15706.0, 15707.0, 15708.0, 15709.0, 15710.0, 15711.0]);
        let (shape, lat) = read_all::<f32>(&store, "latitude")?;
        assert_eq!(shape, [10]);
        assert_eq!((lat[0], lat[9]), (-81.0, 81.0));
        assert!(lat.windows(2).all(|w| w[0] < w[1]));
        let (_, lon) = read_all::<f32>(&store, "longitude")?;
        assert_eq!((lon[0], lon[19]), (9.0, 351.0));

        let (shape, sla) = read_all::<i16>(&store, "sla")?;
        assert_eq!(shape, [6, 10, 20]);
        let (shape, adt) = read_all::<f32>(&store, "adt")?;
        assert_eq!(shape, [6, 10, 20]);
        let grid = Grid::new(10, 20);
        for (n, (&s, &a)) in sla.iter().zip(&adt).enumerate() {
            let c = n % 200;
            if grid.land[c] {
                assert_eq!(s, SLA_FILL, "land cell {n}");
                assert!(a.is_nan(), "land cell {n}");
            } else {
                let metres = f64::from(s) * SLA_SCALE;
                assert!(s != SLA_FILL && metres.abs() < 0.5, "sla {metres} at {n}");
                assert!((-0.5..1.0).contains(&a), "adt {a} at {n}");
                // adt - sla is the fixed mean dynamic topography.
                assert!((f64::from(a) - metres - grid.mdt[c]).abs() < 1e-6);
            }
        }
        // Antarctica (the first row, 81°S) is land.
        assert!(grid.land[..20].iter().all(|&l| l));
        Ok(())
    }

    #[test]
    fn v2_store_reads_back() -> TestResult {
        check_store(ZarrFormat::V2)
    }

    #[test]
    fn v3_store_reads_back() -> TestResult {
        check_store(ZarrFormat::V3)
    }

    #[test]
    fn writes_are_byte_identical() -> TestResult {
        for zarr_format in [ZarrFormat::V2, ZarrFormat::V3] {
            let dir = tempfile::tempdir()?;
            let (a, b) = (dir.path().join("a.zarr"), dir.path().join("b.zarr"));
            write_sea_level(&a, &tiny(zarr_format))?;
            write_sea_level(&b, &tiny(zarr_format))?;
            let (fa, fb) = (files(&a), files(&b));
            assert!(fa.len() > 10, "{zarr_format}: {} files", fa.len());
            assert_eq!(fa, fb, "{zarr_format}");
        }
        Ok(())
    }

    #[test]
    fn fewer_days_is_a_prefix() -> TestResult {
        let dir = tempfile::tempdir()?;
        let short = SeaLevelSpec {
            days: 3,
            chunk_days: 2,
            ..tiny(ZarrFormat::V3)
        };
        write_sea_level(&dir.path().join("short"), &short)?;
        write_sea_level(&dir.path().join("long"), &tiny(ZarrFormat::V3))?;
        let short = Arc::new(FilesystemStore::new(dir.path().join("short"))?);
        let long = Arc::new(FilesystemStore::new(dir.path().join("long"))?);
        let (_, a) = read_all::<i16>(&short, "sla")?;
        let (_, b) = read_all::<i16>(&long, "sla")?;
        assert_eq!(a[..], b[..a.len()]);
        Ok(())
    }

    #[test]
    fn v2_zmetadata_lists_every_array() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sla.zarr");
        write_sea_level(&path, &tiny(ZarrFormat::V2))?;
        let zmeta: Value = serde_json::from_slice(&fs::read(path.join(".zmetadata"))?)?;
        assert_eq!(zmeta["zarr_consolidated_format"], 1);
        let entries = zmeta["metadata"].as_object().ok_or("metadata")?;
        assert_eq!(entries[".zgroup"]["zarr_format"], 2);
        assert_eq!(entries[".zattrs"]["Conventions"], "CF-1.8");
        for name in ["time", "latitude", "longitude", "sla", "adt"] {
            let zarray: Value =
                serde_json::from_slice(&fs::read(path.join(name).join(".zarray"))?)?;
            assert_eq!(entries[&format!("{name}/.zarray")], zarray, "{name}");
            assert!(entries[&format!("{name}/.zattrs")]["_ARRAY_DIMENSIONS"].is_array());
        }
        assert_eq!(entries["sla/.zarray"]["fill_value"], -32768);
        assert_eq!(entries["sla/.zarray"]["dtype"], "<i2");
        assert_eq!(entries["adt/.zarray"]["fill_value"], "NaN");
        assert!(entries["sla/.zattrs"].get("_FillValue").is_none());
        Ok(())
    }

    #[test]
    fn v3_root_consolidates_every_array() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sla.zarr");
        write_sea_level(&path, &tiny(ZarrFormat::V3))?;
        let root: Value = serde_json::from_slice(&fs::read(path.join("zarr.json"))?)?;
        assert_eq!(root["attributes"]["source"], "gridsql-samples");
        let cons = &root["consolidated_metadata"];
        assert_eq!(cons["kind"], "inline");
        assert_eq!(cons["must_understand"], false);
        for name in ["time", "latitude", "longitude", "sla", "adt"] {
            let doc: Value = serde_json::from_slice(&fs::read(path.join(name).join("zarr.json"))?)?;
            assert_eq!(cons["metadata"][name], doc, "{name}");
        }
        let sla = &cons["metadata"]["sla"];
        assert_eq!(sla["fill_value"], 0);
        assert_eq!(sla["attributes"]["_FillValue"], -32768);
        assert_eq!(
            sla["dimension_names"],
            json!(["time", "latitude", "longitude"])
        );
        assert!(sla["attributes"].get("_zarrs").is_none());
        Ok(())
    }

    #[test]
    fn refuses_a_non_empty_target_and_bad_specs() -> TestResult {
        let dir = tempfile::tempdir()?;
        fs::write(dir.path().join("keep.txt"), "x")?;
        let err = write_sea_level(dir.path(), &tiny(ZarrFormat::V2));
        assert!(matches!(err, Err(SampleError::NotEmpty { .. })));
        assert!(fs::exists(dir.path().join("keep.txt"))?);
        let bad = SeaLevelSpec {
            nlon: 0,
            ..tiny(ZarrFormat::V2)
        };
        let err = write_sea_level(&dir.path().join("bad"), &bad);
        assert!(matches!(err, Err(SampleError::InvalidSpec(_))));
        Ok(())
    }

    #[test]
    fn default_mask_is_thirty_percent_land() {
        let grid = Grid::new(180, 360);
        assert!(
            (grid.land_fraction() - 0.30).abs() < 0.001,
            "{}",
            grid.land_fraction()
        );
    }

    #[test]
    fn zarr_format_parses() -> TestResult {
        assert_eq!("V3".parse::<ZarrFormat>()?, ZarrFormat::V3);
        assert_eq!("2".parse::<ZarrFormat>()?, ZarrFormat::V2);
        assert!("v4".parse::<ZarrFormat>().is_err());
        Ok(())
    }
}
