//! What a GRIB field is: parameter and level codes to the names, units and
//! CF attributes cfgrib gives them (ecCodes' `cfVarName`, `name`, `units`),
//! so a GRIB file and its cfgrib conversion make the same table.
//!
//! The tables hold the parameters of reanalyses and forecast models that
//! users meet most (ECMWF table 128, WMO table 2, GRIB2 discipline 0). A
//! parameter not listed keeps its numbers in its name (`param_128_200`,
//! `param_0_1_250`): readable, stable, never a clash.

/// A parameter's names and units.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Param {
    /// Column name (cfgrib's `cfVarName`).
    pub name: String,
    /// `long_name`.
    pub long_name: String,
    /// `units`.
    pub units: String,
    /// `standard_name`, when CF has one.
    pub standard_name: Option<&'static str>,
}

/// (column name, long name, units, standard name).
type Entry = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

fn param(e: &Entry) -> Param {
    Param {
        name: e.0.to_string(),
        long_name: e.1.to_string(),
        units: e.2.to_string(),
        standard_name: e.3,
    }
}

/// ECMWF local table 128 (ERA5, IFS), used by most centres' GRIB1 output
/// through ECMWF's MARS conventions.
fn ecmwf_128(code: u8) -> Option<Entry> {
    Some(match code {
        34 => ("sst", "Sea surface temperature", "K", None),
        59 => (
            "cape",
            "Convective available potential energy",
            "J kg**-1",
            None,
        ),
        129 => ("z", "Geopotential", "m**2 s**-2", Some("geopotential")),
        130 => ("t", "Temperature", "K", Some("air_temperature")),
        131 => ("u", "U component of wind", "m s**-1", Some("eastward_wind")),
        132 => (
            "v",
            "V component of wind",
            "m s**-1",
            Some("northward_wind"),
        ),
        133 => (
            "q",
            "Specific humidity",
            "kg kg**-1",
            Some("specific_humidity"),
        ),
        134 => ("sp", "Surface pressure", "Pa", Some("surface_air_pressure")),
        135 => (
            "w",
            "Vertical velocity",
            "Pa s**-1",
            Some("lagrangian_tendency_of_air_pressure"),
        ),
        138 => (
            "vo",
            "Vorticity (relative)",
            "s**-1",
            Some("atmosphere_relative_vorticity"),
        ),
        151 => (
            "msl",
            "Mean sea level pressure",
            "Pa",
            Some("air_pressure_at_mean_sea_level"),
        ),
        155 => ("d", "Divergence", "s**-1", Some("divergence_of_wind")),
        157 => ("r", "Relative humidity", "%", Some("relative_humidity")),
        164 => (
            "tcc",
            "Total cloud cover",
            "(0 - 1)",
            Some("cloud_area_fraction"),
        ),
        165 => ("u10", "10 metre U wind component", "m s**-1", None),
        166 => ("v10", "10 metre V wind component", "m s**-1", None),
        167 => ("t2m", "2 metre temperature", "K", None),
        168 => ("d2m", "2 metre dewpoint temperature", "K", None),
        172 => ("lsm", "Land-sea mask", "(0 - 1)", Some("land_binary_mask")),
        228 => ("tp", "Total precipitation", "m", None),
        235 => ("skt", "Skin temperature", "K", None),
        _ => return None,
    })
}

/// WMO GRIB1 table 2 (versions 1 to 3: NCEP and most other centres).
fn wmo_table2(code: u8) -> Option<Entry> {
    Some(match code {
        1 => ("pres", "Pressure", "Pa", Some("air_pressure")),
        2 => (
            "prmsl",
            "Pressure reduced to MSL",
            "Pa",
            Some("air_pressure_at_mean_sea_level"),
        ),
        7 => (
            "gh",
            "Geopotential height",
            "gpm",
            Some("geopotential_height"),
        ),
        11 => ("t", "Temperature", "K", Some("air_temperature")),
        17 => (
            "dpt",
            "Dew point temperature",
            "K",
            Some("dew_point_temperature"),
        ),
        33 => ("u", "U component of wind", "m s**-1", Some("eastward_wind")),
        34 => (
            "v",
            "V component of wind",
            "m s**-1",
            Some("northward_wind"),
        ),
        39 => (
            "w",
            "Vertical velocity",
            "Pa s**-1",
            Some("lagrangian_tendency_of_air_pressure"),
        ),
        51 => (
            "q",
            "Specific humidity",
            "kg kg**-1",
            Some("specific_humidity"),
        ),
        52 => ("r", "Relative humidity", "%", Some("relative_humidity")),
        61 => ("tp", "Total precipitation", "kg m**-2", None),
        71 => ("tcc", "Total cloud cover", "%", Some("cloud_area_fraction")),
        _ => return None,
    })
}

/// The parameter of a GRIB1 field (`table2Version`, `indicatorOfParameter`).
pub fn edition1(table: u8, code: u8) -> Param {
    let entry = match table {
        1..=3 => wmo_table2(code),
        128 => ecmwf_128(code),
        _ => None,
    };
    entry.as_ref().map(param).unwrap_or_else(|| Param {
        name: format!("param_{table}_{code}"),
        long_name: format!("GRIB1 parameter {code} of table {table}"),
        units: "unknown".into(),
        standard_name: None,
    })
}

/// The parameter of a GRIB2 field (discipline, category, number); `level`
/// tells 2 m temperature from temperature as ecCodes does.
pub fn edition2(discipline: u8, category: u8, number: u8, level: Option<&Level>) -> Param {
    let at = |kind: &str, v: f64| level.is_some_and(|l| l.kind.name == kind && l.value == v);
    let entry: Option<Entry> = match (discipline, category, number) {
        (0, 0, 0) if at("heightAboveGround", 2.0) => ecmwf_128(167),
        (0, 0, 6) if at("heightAboveGround", 2.0) => ecmwf_128(168),
        (0, 2, 2) if at("heightAboveGround", 10.0) => ecmwf_128(165),
        (0, 2, 3) if at("heightAboveGround", 10.0) => ecmwf_128(166),
        (0, 0, 0) => ecmwf_128(130),
        (0, 0, 6) => Some((
            "dpt",
            "Dew point temperature",
            "K",
            Some("dew_point_temperature"),
        )),
        (0, 0, 17) => ecmwf_128(235),
        (0, 1, 0) => ecmwf_128(133),
        (0, 1, 1) => ecmwf_128(157),
        (0, 1, 8) => Some(("tp", "Total Precipitation", "kg m**-2", None)),
        (0, 2, 2) => ecmwf_128(131),
        (0, 2, 3) => ecmwf_128(132),
        (0, 2, 8) => ecmwf_128(135),
        (0, 2, 12) => ecmwf_128(138),
        (0, 3, 0) => ecmwf_128(134),
        (0, 3, 1) => Some((
            "prmsl",
            "Pressure reduced to MSL",
            "Pa",
            Some("air_pressure_at_mean_sea_level"),
        )),
        (0, 3, 4) => ecmwf_128(129),
        (0, 3, 5) => wmo_table2(7),
        (0, 6, 1) => ecmwf_128(164),
        (0, 7, 6) => ecmwf_128(59),
        (2, 0, 0) => ecmwf_128(172),
        _ => None,
    };
    entry.as_ref().map(param).unwrap_or_else(|| Param {
        name: format!("param_{discipline}_{category}_{number}"),
        long_name: format!(
            "GRIB2 parameter {number} of category {category}, discipline {discipline}"
        ),
        units: "unknown".into(),
        standard_name: None,
    })
}

/// A kind of vertical level, as cfgrib names its coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LevelKind {
    /// Coordinate name (`isobaricInhPa`, `hybrid`, ...).
    pub name: &'static str,
    /// `long_name`.
    pub long_name: &'static str,
    /// `units`.
    pub units: &'static str,
    /// `standard_name`, when CF has one.
    pub standard_name: Option<&'static str>,
    /// Whether cfgrib lists its values from the largest down (pressure).
    pub descending: bool,
}

/// A field's level: its kind and value in the kind's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Kind.
    pub kind: LevelKind,
    /// Value.
    pub value: f64,
}

const fn kind(
    name: &'static str,
    long_name: &'static str,
    units: &'static str,
    standard_name: Option<&'static str>,
) -> LevelKind {
    LevelKind {
        name,
        long_name,
        units,
        standard_name,
        descending: false,
    }
}

const SURFACE: LevelKind = kind(
    "surface",
    "original GRIB coordinate for key: level(surface)",
    "1",
    None,
);
const MEAN_SEA: LevelKind = kind(
    "meanSea",
    "original GRIB coordinate for key: level(meanSea)",
    "1",
    None,
);
const ISOBARIC: LevelKind = LevelKind {
    descending: true,
    ..kind("isobaricInhPa", "pressure", "hPa", Some("air_pressure"))
};
const HEIGHT: LevelKind = kind(
    "heightAboveGround",
    "height above the surface",
    "m",
    Some("height"),
);
const HYBRID: LevelKind = kind(
    "hybrid",
    "hybrid level",
    "1",
    Some("atmosphere_hybrid_sigma_pressure_coordinate"),
);
const DEPTH: LevelKind = kind("depthBelowLandLayer", "soil depth", "m", Some("depth"));

/// The level of a GRIB1 field (`indicatorOfTypeOfLevel`, octets 11 and 12).
pub fn level1(kind_code: u8, octets: [u8; 2]) -> Result<Option<Level>, String> {
    let whole = f64::from(u16::from_be_bytes(octets));
    let (kind, value) = match kind_code {
        1 => (SURFACE, 0.0),
        102 => (MEAN_SEA, 0.0),
        100 => (ISOBARIC, whole),
        105 => (HEIGHT, whole),
        109 => (HYBRID, whole),
        112 => (DEPTH, f64::from(octets[0]) / 100.0),
        other => return Err(format!("GRIB1 level type {other} is not supported")),
    };
    Ok(Some(Level { kind, value }))
}

/// The level of a GRIB2 field (type of the first fixed surface and its
/// value in SI units).
pub fn level2(kind_code: u8, value: f64) -> Result<Option<Level>, String> {
    let (kind, value) = match kind_code {
        1 => (SURFACE, 0.0),
        101 => (MEAN_SEA, 0.0),
        100 => (ISOBARIC, value / 100.0),
        103 => (HEIGHT, value),
        105 => (HYBRID, value),
        106 => (DEPTH, value),
        255 => return Ok(None),
        other => return Err(format!("GRIB2 fixed surface type {other} is not supported")),
    };
    Ok(Some(Level { kind, value }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_cfgrib() {
        assert_eq!(edition1(128, 167).name, "t2m");
        assert_eq!(edition1(128, 129).units, "m**2 s**-2");
        assert_eq!(edition1(2, 11).name, "t");
        assert_eq!(edition1(200, 7).name, "param_200_7");
        let two_m = level2(103, 2.0).ok().flatten();
        assert_eq!(edition2(0, 0, 0, two_m.as_ref()).name, "t2m");
        let pl = level2(100, 85000.0).ok().flatten();
        assert_eq!(edition2(0, 0, 0, pl.as_ref()).name, "t");
        assert_eq!(pl.map(|l| l.value), Some(850.0));
        assert!(level1(7, [0, 0]).is_err());
    }
}
