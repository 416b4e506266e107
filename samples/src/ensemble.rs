//! A synthetic climate-model ensemble over the contiguous USA: monthly
//! near-surface air temperature and precipitation, `member × time ×
//! latitude × longitude`, the shape of the Pangeo ensemble examples
//! (e.g. CESM-LENS or NA-CORDEX subsets).
//!
//! See [`write_ensemble`] for the arrays, values and encoding. Chunks are
//! `(1 member, 12 months, nlat, nlon)`, written one at a time.

use std::f64::consts::TAU;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::axes::{Axes, attrs, write_axes};
use crate::rng::Rng;
use crate::store::{Dtype, Fill, StoreWriter, Variable, store_chunk};
use crate::{SampleError, ZarrFormat};

/// First year of the time axis.
const START_YEAR: i32 = 2000;
/// Southern and western edges of the grid (1° cells): 24°N–50°N, 125°W–66°W.
const LAT0: f64 = 24.0;
const LON0: f64 = -125.0;
const NLAT: u32 = 26;
const NLON: u32 = 59;
/// Seed of the member anomalies and cell noise.
const SEED: u64 = 2024;
const DIMS4: [&str; 4] = ["member", "time", "lat", "lon"];
/// Stored value of a missing `member` (none is missing; v2 needs a fill value).
const MEMBER_FILL: i16 = -1;

/// Size and layout of a synthetic ensemble store.
///
/// # Example
/// ```
/// use gridsql_samples::EnsembleSpec;
///
/// let spec = EnsembleSpec { members: 4, years: 2, ..EnsembleSpec::default() };
/// assert_eq!(spec.zarr_format, gridsql_samples::ZarrFormat::V2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsembleSpec {
    /// Ensemble members, numbered from 1 (default 8).
    pub members: u32,
    /// Years of monthly data from January 2000 (default 10).
    pub years: u32,
    /// Zarr format of the store (default v2).
    pub zarr_format: ZarrFormat,
}

impl Default for EnsembleSpec {
    fn default() -> Self {
        Self {
            members: 8,
            years: 10,
            zarr_format: ZarrFormat::V2,
        }
    }
}

/// What [`write_ensemble`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct EnsembleInfo {
    /// Root directory of the store.
    pub path: PathBuf,
    /// Arrays written (coordinates first).
    pub arrays: Vec<String>,
    /// Shape of `tas` and `pr`: `[member, time, lat, lon]`.
    pub shape: [u64; 4],
    /// Fraction of grid cells outside the USA outline (NaN in every variable).
    pub outside_fraction: f64,
    /// Total size in bytes of the files in the store.
    pub bytes_written: u64,
}

/// Writes a synthetic ensemble store at `path`.
///
/// | array    | type    | encoding                                                       |
/// |----------|---------|----------------------------------------------------------------|
/// | `member` | int16   | 1, 2, …                                                         |
/// | `time`   | float64 | `days since 2000-01-01`, calendar `standard`, first of each month |
/// | `lat`    | float32 | 24.5 … 49.5, `degrees_north`                                   |
/// | `lon`    | float32 | −124.5 … −66.5, `degrees_east`                                 |
/// | `tas`    | float32 | near-surface air temperature, `K`, NaN outside the USA         |
/// | `pr`     | float32 | precipitation, `mm/day`, NaN outside the USA                   |
///
/// Values: a climatology cooler to the north and over the western
/// mountains, a seasonal cycle stronger inland and to the north, a warming
/// trend of 0.3 K per decade, per-member anomalies (a red-noise series per
/// member times a large-scale pattern) and cell noise; precipitation is
/// wetter to the east and in the Pacific Northwest winter, with
/// multiplicative noise, never negative. A crude outline of the contiguous
/// USA (oceans, the Gulf of Mexico, Mexico, Canada) is NaN: the plots' blank
/// cells.
///
/// `path` must not exist or be an empty directory.
///
/// # Errors
/// [`SampleError::InvalidSpec`] for zero members or years,
/// [`SampleError::NotEmpty`] if `path` holds something, and I/O, metadata or
/// chunk errors while writing.
pub fn write_ensemble(path: &Path, spec: &EnsembleSpec) -> Result<EnsembleInfo, SampleError> {
    if spec.members == 0 || spec.years == 0 || spec.members > i16::MAX as u32 {
        return Err(SampleError::InvalidSpec(format!(
            "an ensemble needs 1 to {} members and at least one year (got {} members, {} years)",
            i16::MAX,
            spec.members,
            spec.years
        )));
    }
    let (members, months) = (u64::from(spec.members), u64::from(spec.years) * 12);
    let (nlat, nlon) = (u64::from(NLAT), u64::from(NLON));
    let lat: Vec<f32> = (0..NLAT)
        .map(|i| (LAT0 + f64::from(i) + 0.5) as f32)
        .collect();
    let lon: Vec<f32> = (0..NLON)
        .map(|j| (LON0 + f64::from(j) + 0.5) as f32)
        .collect();
    let inside: Vec<bool> = lat
        .iter()
        .flat_map(|&y| lon.iter().map(move |&x| in_usa(f64::from(y), f64::from(x))))
        .collect();

    let mut writer = StoreWriter::create(path, spec.zarr_format)?;
    let member = writer.create_array(&Variable {
        name: "member",
        dims: vec!["member"],
        shape: vec![members],
        chunks: vec![members],
        dtype: Dtype::I16,
        fill: Fill::Int(MEMBER_FILL),
        attrs: attrs(&[("long_name", json!("Ensemble member"))]),
    })?;
    let ids: Vec<i16> = (1..=spec.members).map(|m| m as i16).collect();
    store_chunk(&member, "member", &[0], &ids)?;
    let times: Vec<f64> = (0..months).map(|k| month_start_days(k as u32)).collect();
    write_axes(
        &mut writer,
        &Axes {
            time_units: "days since 2000-01-01",
            times: &times,
            lat_name: "lat",
            lat: &lat,
            lon_name: "lon",
            lon: &lon,
        },
    )?;

    let shape = vec![members, months, nlat, nlon];
    let chunks = vec![1, 12, nlat, nlon];
    let variable = |name, long_name, units, standard_name| Variable {
        name,
        dims: DIMS4.to_vec(),
        shape: shape.clone(),
        chunks: chunks.clone(),
        dtype: Dtype::F32,
        fill: Fill::NaN,
        attrs: attrs(&[
            ("standard_name", json!(standard_name)),
            ("long_name", json!(long_name)),
            ("units", json!(units)),
        ]),
    };
    let tas = writer.create_array(&variable(
        "tas",
        "Near-surface air temperature",
        "K",
        "air_temperature",
    ))?;
    let pr = writer.create_array(&variable(
        "pr",
        "Precipitation",
        "mm/day",
        "lwe_precipitation_rate",
    ))?;

    let cells = (nlat * nlon) as usize;
    let mut rng = Rng::new(SEED);
    let mut tas_buf = vec![f32::NAN; 12 * cells];
    let mut pr_buf = vec![f32::NAN; 12 * cells];
    for m in 0..members {
        // the member's large-scale anomaly: red noise in time, K
        let mut anomaly = 0.0;
        let phase = TAU * rng.uniform();
        for year in 0..u64::from(spec.years) {
            for month in 0..12u64 {
                anomaly = 0.6 * anomaly + 0.9 * rng.normal();
                let t = (year * 12 + month) as f64;
                let season = (TAU * (month as f64 - 6.5) / 12.0).cos(); // 1 in July
                for (c, &inside) in inside.iter().enumerate() {
                    let k = month as usize * cells + c;
                    let (y, x) = (
                        f64::from(lat[c / NLON as usize]),
                        f64::from(lon[c % NLON as usize]),
                    );
                    let noise_t = rng.normal();
                    let noise_p = rng.normal();
                    if !inside {
                        tas_buf[k] = f32::NAN;
                        pr_buf[k] = f32::NAN;
                        continue;
                    }
                    let pattern = 1.0 + 0.5 * (x.to_radians() * 3.0 + phase).sin();
                    let tas = climatology_tas(y, x)
                        + seasonal_amplitude(y, x) * season
                        + 0.0025 * t
                        + anomaly * pattern
                        + 0.6 * noise_t;
                    let pr = climatology_pr(y, x, season) * (0.35 * noise_p - 0.06).exp();
                    tas_buf[k] = tas as f32;
                    pr_buf[k] = pr.max(0.0) as f32;
                }
            }
            store_chunk(&tas, "tas", &[m, year, 0, 0], &tas_buf)?;
            store_chunk(&pr, "pr", &[m, year, 0, 0], &pr_buf)?;
        }
    }

    let outside_fraction = inside.iter().filter(|v| !**v).count() as f64 / inside.len() as f64;
    let written = writer.finish(attrs(&[
        (
            "title",
            json!("Synthetic monthly temperature and precipitation ensemble over the USA (gridsql-samples)"),
        ),
        ("Conventions", json!("CF-1.8")),
        ("source", json!("gridsql-samples")),
        (
            "comment",
            json!(
                "Synthetic data, not model output: climatology + seasonal cycle + trend + \
                 per-member red-noise anomalies + cell noise, fixed seed"
            ),
        ),
    ]))?;
    Ok(EnsembleInfo {
        path: path.to_path_buf(),
        arrays: written.arrays,
        shape: [members, months, nlat, nlon],
        outside_fraction,
        bytes_written: written.bytes,
    })
}

/// Mean annual temperature in K: cooler to the north and over the Rockies.
fn climatology_tas(lat: f64, lon: f64) -> f64 {
    let mountains = (-((lon + 110.0) / 6.0).powi(2)).exp() * 6.0;
    296.0 - 0.75 * (lat - 24.0) - mountains
}

/// Half the July–January temperature difference in K: larger inland and north.
fn seasonal_amplitude(lat: f64, lon: f64) -> f64 {
    let inland = 1.0 - ((lon + 96.0) / 30.0).powi(2).min(1.0);
    6.0 + 0.25 * (lat - 24.0) + 4.0 * inland
}

/// Mean precipitation in mm/day: wetter to the east, Pacific Northwest wet in winter.
fn climatology_pr(lat: f64, lon: f64, season: f64) -> f64 {
    let east = ((lon + 125.0) / 59.0).clamp(0.0, 1.0);
    let northwest = if lon < -118.0 && lat > 40.0 {
        3.0 * (1.0 - season) / 2.0
    } else {
        0.0
    };
    0.6 + 2.6 * east + 0.5 * east * season + northwest
}

/// Whether a cell centre is inside a crude outline of the contiguous USA.
fn in_usa(lat: f64, lon: f64) -> bool {
    let florida = (25.0..31.0).contains(&lat) && (-82.5..-80.0).contains(&lon);
    let pacific = lon < -124.0 + (41.0 - lat).max(0.0) * 0.75;
    let atlantic = lon > -67.0 - (44.5 - lat).max(0.0) * 1.3;
    let gulf = lat < 29.5 && lon > -97.5;
    let mexico = (lat < 31.5 && lon < -106.0) || (lat < 29.0 && lon < -97.0);
    let canada = lat > 49.0 || (lat > 47.5 && lon > -71.0);
    let lake_superior = lat > 47.0 && (-92.0..-84.0).contains(&lon);
    florida || !(pacific || atlantic || gulf || mexico || canada || lake_superior)
}

/// Days from 2000-01-01 to the first day of month `k` (0 = January 2000).
fn month_start_days(k: u32) -> f64 {
    let mut days = 0u32;
    for i in 0..k {
        let year = START_YEAR + (i / 12) as i32;
        days += days_in_month(year, i % 12 + 1);
    }
    f64::from(days)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A one-dimensional coordinate array in one chunk.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_outline() {
        assert_eq!(month_start_days(0), 0.0);
        assert_eq!(month_start_days(2), 31.0 + 29.0); // 2000 is a leap year
        assert_eq!(month_start_days(12), 366.0);
        assert!(in_usa(39.5, -98.5)); // Kansas
        assert!(in_usa(27.5, -81.5)); // Florida
        assert!(!in_usa(35.5, -124.5)); // Pacific
        assert!(!in_usa(26.5, -90.5)); // Gulf of Mexico
        assert!(!in_usa(49.5, -100.5)); // Canada
    }

    #[test]
    fn writes_a_small_store() -> Result<(), SampleError> {
        let dir = tempfile::tempdir().map_err(|source| SampleError::Io {
            path: PathBuf::from("tempdir"),
            source,
        })?;
        let spec = EnsembleSpec {
            members: 2,
            years: 1,
            ..EnsembleSpec::default()
        };
        let info = write_ensemble(&dir.path().join("e.zarr"), &spec)?;
        assert_eq!(info.shape, [2, 12, 26, 59]);
        assert_eq!(info.arrays, ["member", "time", "lat", "lon", "tas", "pr"]);
        assert!(info.outside_fraction > 0.1 && info.outside_fraction < 0.6);
        Ok(())
    }
}
