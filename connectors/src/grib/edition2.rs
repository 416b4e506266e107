//! GRIB edition 2 through the `grib` crate: it parses the sections and
//! templates and decodes every common packing (simple, complex with and
//! without spatial differencing, JPEG 2000, CCSDS, run length); this module
//! only reads the keys cfgrib's table needs out of sections 1, 3 and 4.

use bytes::Bytes;
use grib::{Grib2SubmessageDecoder, GridDefinitionTemplateValues};

use super::geometry::GridDef;
use super::message::{Field, FieldKeys, unit_seconds};
use super::params;

/// Index in a section's payload (after its 5-byte header) of octet `n`.
const fn octet(n: usize) -> usize {
    n - 6
}

fn reference_time(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Option<i64> {
    chrono::NaiveDate::from_ymd_opt(i32::from(year), u32::from(month), u32::from(day))?
        .and_hms_opt(u32::from(hour), u32::from(minute), u32::from(second))
        .map(|t| t.and_utc().timestamp())
}

/// The octet where the end of the statistics interval starts, for the
/// product templates that have one (4.8 deterministic, 4.11 ensemble).
fn end_of_interval(template: u16) -> Option<usize> {
    match template {
        8 => Some(35),
        11 => Some(38),
        _ => None,
    }
}

/// The time at `at` in a section payload (year as two octets, then month,
/// day, hour, minute, second), seconds since 1970.
fn time_at(p: &[u8], at: usize) -> Option<i64> {
    let b = p.get(at..at + 7)?;
    reference_time(
        u16::from_be_bytes([b[0], b[1]]),
        b[2],
        b[3],
        b[4],
        b[5],
        b[6],
    )
}

/// The angles of a lat/lon or Gaussian grid in microdegrees: they are
/// stored in microdegrees unless a basic angle says otherwise.
fn angles(g: &grib::def::grib2::template::param_set::Grid) -> impl Fn(i64) -> i64 {
    let (basic, sub) = (
        g.initial_production_domain_basic_angle,
        g.basic_angle_subdivisions,
    );
    let unit = if basic == 0 || basic == u32::MAX || sub == 0 || sub == u32::MAX {
        1.0
    } else {
        f64::from(basic) / f64::from(sub) * 1e6
    };
    move |v| (v as f64 * unit).round() as i64
}

fn grid(def: &GridDefinitionTemplateValues) -> Result<GridDef, String> {
    match def {
        GridDefinitionTemplateValues::Template0(t) => {
            let g = &t.lat_lon.grid;
            let a = angles(g);
            Ok(GridDef::LatLon {
                ni: g.ni,
                nj: g.nj,
                la1: a(i64::from(g.first_point_lat)),
                lo1: a(i64::from(g.first_point_lon)),
                la2: a(i64::from(g.last_point_lat)),
                lo2: a(i64::from(g.last_point_lon)),
                scan: t.lat_lon.scanning_mode.0,
            })
        }
        GridDefinitionTemplateValues::Template40(t) => {
            let g = &t.gaussian.grid;
            let a = angles(g);
            Ok(GridDef::Gaussian {
                ni: g.ni,
                nj: g.nj,
                n: t.gaussian.n,
                lo1: a(i64::from(g.first_point_lon)),
                lo2: a(i64::from(g.last_point_lon)),
                scan: t.gaussian.scanning_mode.0,
            })
        }
        GridDefinitionTemplateValues::Template20(t) => {
            let radius_m = match t.earth_shape.shape {
                0 => 6_367_470,
                6 => 6_371_229,
                1 => {
                    let r = &t.earth_shape.spherical_earth_radius;
                    let v = f64::from(r.scaled_value) / 10f64.powi(i32::from(r.scale_factor));
                    if !(1.0..1e8).contains(&v) {
                        return Err(format!("earth radius {v} m"));
                    }
                    v.round() as u64
                }
                s => {
                    return Err(format!(
                        "polar stereographic grids on an ellipsoidal earth (shape {s}) are not supported"
                    ));
                }
            };
            Ok(GridDef::PolarStereographic {
                nx: t.ni,
                ny: t.nj,
                la1: i64::from(t.first_point_lat),
                lo1: i64::from(t.first_point_lon),
                lad: i64::from(t.lad),
                lov: i64::from(t.lov),
                dx_mm: u64::from(t.dx),
                dy_mm: u64::from(t.dy),
                south: t.projection_centre.0 & 0x80 != 0,
                scan: t.scanning_mode.0,
                radius_m,
            })
        }
        _ => Err(format!(
            "grid '{}' is not supported (regular lat/lon, Gaussian and polar stereographic are)",
            grib::GridShortName::short_name(def)
        )),
    }
}

/// Runs a call into the `grib` crate, turning a panic on malformed input
/// (it indexes some sections without checking their length) into an error:
/// a hostile file never takes the process down.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(format!("malformed GRIB2 message ({what} failed)")))
}

/// The fields of the GRIB2 message `msg` (one per repetition of sections 2
/// to 7).
///
/// # Errors
/// Unreadable sections, unsupported grids, levels or templates.
pub fn fields(msg: Bytes) -> Result<Vec<Field>, String> {
    guarded("reading its sections", || read_fields(msg))
}

fn read_fields(msg: Bytes) -> Result<Vec<Field>, String> {
    let grib2 = grib::from_bytes(msg).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (_, sub) in grib2.iter() {
        let discipline = sub.indicator().discipline;
        let id = sub.identification();
        let payload1: Vec<u8> = id.iter().copied().collect();
        let time =
            time_at(&payload1, octet(13)).ok_or("section 1 without a valid reference time")?;
        let prod = sub.prod_def();
        let template = prod.prod_tmpl_num();
        let (category, number) = prod
            .parameter_category()
            .zip(prod.parameter_number())
            .ok_or_else(|| format!("product definition template 4.{template} is not supported"))?;
        let level = match prod.fixed_surfaces() {
            Some((first, _)) => params::level2(first.surface_type, first.value())?,
            None => None,
        };
        let p4: Vec<u8> = prod.iter().copied().collect();
        let step_hours = match end_of_interval(template) {
            Some(at) => {
                let end =
                    time_at(&p4, octet(at)).ok_or("invalid end of the statistics interval")?;
                (end - time) as f64 / 3600.0
            }
            None => {
                let ft = prod
                    .forecast_time()
                    .ok_or_else(|| format!("no forecast time in template 4.{template}"))?;
                let unit = p4.get(octet(18)).copied().unwrap_or(255);
                let secs = unit_seconds(2, unit)
                    .ok_or_else(|| format!("time unit {unit} (code table 4.4) is not supported"))?;
                f64::from(ft.value) * secs / 3600.0
            }
        };
        // Ensemble templates (4.1, 4.11) carry the member at octet 36.
        let member = matches!(template, 1 | 11)
            .then(|| p4.get(octet(36)).map(|&m| i64::from(m)))
            .flatten();
        let def =
            GridDefinitionTemplateValues::try_from(sub.grid_def()).map_err(|e| e.to_string())?;
        let grid = grid(&def)?;
        grid.check()?;
        out.push(Field {
            keys: FieldKeys {
                param: params::edition2(discipline, category, number, level.as_ref()),
                level,
                number: member,
                time,
                step_hours,
            },
            grid,
        });
    }
    if out.is_empty() {
        return Err("a GRIB2 message without fields".into());
    }
    Ok(out)
}

/// The values of field `sub` of the GRIB2 message `msg`, NaN where its bit
/// map says missing.
///
/// # Errors
/// Unsupported packings (PNG among them), corrupt data.
pub fn decode(msg: Bytes, sub: usize) -> Result<Vec<f32>, String> {
    guarded("decoding its values", || decode_values(msg, sub))
}

fn decode_values(msg: Bytes, sub: usize) -> Result<Vec<f32>, String> {
    let grib2 = grib::from_bytes(msg).map_err(|e| e.to_string())?;
    let (_, submessage) = grib2
        .iter()
        .nth(sub)
        .ok_or_else(|| format!("no field {sub} in the message"))?;
    let decoder = Grib2SubmessageDecoder::from(submessage).map_err(|e| e.to_string())?;
    let values = decoder.dispatch().map_err(|e| e.to_string())?;
    Ok(values.collect())
}
