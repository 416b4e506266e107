//! The horizontal grid of a GRIB field and the coordinates cfgrib gives it:
//! 1-D `latitude` and `longitude` dimensions for regular lat/lon and Gaussian
//! grids; `y`, `x` dimensions with 2-D `latitude(y, x)` and
//! `longitude(y, x)` for projected grids (polar stereographic).
//!
//! Values come out in the order the field stores them (the scanning mode),
//! as cfgrib shows them: ERA5's latitudes run from 90 down to -90.

/// Angles in millionths of a degree: GRIB1's millidegrees and GRIB2's
/// microdegrees meet here, exactly.
pub type MicroDegrees = i64;

/// A horizontal grid, as stored (hashable: fields on one grid share it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GridDef {
    /// Regular latitude/longitude (`regular_ll`).
    LatLon {
        /// Points along a parallel.
        ni: u32,
        /// Points along a meridian.
        nj: u32,
        /// First and last latitudes, longitudes.
        la1: MicroDegrees,
        /// Longitude of the first point.
        lo1: MicroDegrees,
        /// Latitude of the last point.
        la2: MicroDegrees,
        /// Longitude of the last point.
        lo2: MicroDegrees,
        /// Scanning mode flags (GRIB code table 3.4 / GRIB1 table 8).
        scan: u8,
    },
    /// Regular Gaussian (`regular_gg`): latitudes are the Gaussian ones.
    Gaussian {
        /// Points along a parallel.
        ni: u32,
        /// Points along a meridian.
        nj: u32,
        /// Parallels between a pole and the equator.
        n: u32,
        /// Longitude of the first point.
        lo1: MicroDegrees,
        /// Longitude of the last point.
        lo2: MicroDegrees,
        /// Scanning mode.
        scan: u8,
    },
    /// Polar stereographic on a sphere.
    PolarStereographic {
        /// Points along x.
        nx: u32,
        /// Points along y.
        ny: u32,
        /// First point.
        la1: MicroDegrees,
        /// First point.
        lo1: MicroDegrees,
        /// Latitude where dx, dy hold.
        lad: MicroDegrees,
        /// Orientation (the meridian parallel to y).
        lov: MicroDegrees,
        /// Grid lengths in millimetres.
        dx_mm: u64,
        /// Grid lengths in millimetres.
        dy_mm: u64,
        /// South pole projection.
        south: bool,
        /// Scanning mode.
        scan: u8,
        /// Earth radius in metres.
        radius_m: u64,
    },
}

/// The coordinates of a grid.
#[derive(Debug, Clone)]
pub enum Coordinates {
    /// `latitude(nj)`, `longitude(ni)`.
    Regular {
        /// Latitudes in storage order.
        lat: Vec<f64>,
        /// Longitudes in storage order.
        lon: Vec<f64>,
    },
    /// 2-D `latitude(y, x)`, `longitude(y, x)`, row-major.
    Projected {
        /// Rows.
        ny: u64,
        /// Columns.
        nx: u64,
        /// Latitudes.
        lat: Vec<f64>,
        /// Longitudes in 0 .. 360.
        lon: Vec<f64>,
    },
}

const I_NEGATIVE: u8 = 0x80;
const J_POSITIVE: u8 = 0x40;
const J_CONSECUTIVE: u8 = 0x20;
const BOUSTROPHEDON: u8 = 0x10;

fn deg(v: MicroDegrees) -> f64 {
    v as f64 / 1e6
}

/// `n` values from `first` to `last` evenly.
fn linspace(first: f64, last: f64, n: u32) -> Vec<f64> {
    if n <= 1 {
        return vec![first; n as usize];
    }
    let step = (last - first) / f64::from(n - 1);
    (0..n).map(|i| first + f64::from(i) * step).collect()
}

/// Longitudes of a regular row: increasing eastward from `lo1` to `lo2`
/// (across the meridian when `lo2` < `lo1`), or westward when `i` scans
/// negatively.
fn longitudes(lo1: MicroDegrees, lo2: MicroDegrees, ni: u32, scan: u8) -> Vec<f64> {
    let (a, mut b) = (deg(lo1), deg(lo2));
    if scan & I_NEGATIVE == 0 {
        if b < a {
            b += 360.0;
        }
    } else if b > a {
        b -= 360.0;
    }
    linspace(a, b, ni)
}

/// The `2 n` Gaussian latitudes, north to south, in degrees: the arcsines
/// of the roots of the Legendre polynomial of degree `2 n`, found by Newton's
/// method from the usual first guesses (as ecCodes does).
fn gaussian_latitudes(n: u32) -> Result<Vec<f64>, String> {
    let degree = 2 * n as usize;
    if degree == 0 || degree > 1 << 16 {
        return Err(format!("a Gaussian grid N{n}"));
    }
    let mut lats = Vec::with_capacity(degree);
    for k in 0..n as usize {
        // first guess: cos(pi (k + 3/4) / (degree + 1/2))
        let mut x = (std::f64::consts::PI * (k as f64 + 0.75) / (degree as f64 + 0.5)).cos();
        let mut converged = false;
        for _ in 0..100 {
            // Legendre P_degree(x) and its derivative by the recurrence
            let (mut p0, mut p1) = (1.0, x);
            for m in 2..=degree {
                let p2 = ((2 * m - 1) as f64 * x * p1 - (m - 1) as f64 * p0) / m as f64;
                p0 = p1;
                p1 = p2;
            }
            let dp = degree as f64 * (p0 - x * p1) / (1.0 - x * x);
            let dx = p1 / dp;
            x -= dx;
            if dx.abs() < 1e-15 {
                converged = true;
                break;
            }
        }
        if !converged {
            return Err(format!("Gaussian latitudes of N{n} did not converge"));
        }
        lats.push(x.asin().to_degrees());
    }
    let south: Vec<f64> = lats.iter().rev().map(|l| -l).collect();
    lats.extend(south);
    Ok(lats)
}

impl GridDef {
    /// Rows and columns.
    pub fn shape(&self) -> (u64, u64) {
        match *self {
            GridDef::LatLon { ni, nj, .. } | GridDef::Gaussian { ni, nj, .. } => {
                (u64::from(nj), u64::from(ni))
            }
            GridDef::PolarStereographic { nx, ny, .. } => (u64::from(ny), u64::from(nx)),
        }
    }

    /// Whether the grid has 1-D `latitude`/`longitude` dimensions.
    pub fn is_regular(&self) -> bool {
        !matches!(self, GridDef::PolarStereographic { .. })
    }

    fn scan(&self) -> u8 {
        match *self {
            GridDef::LatLon { scan, .. }
            | GridDef::Gaussian { scan, .. }
            | GridDef::PolarStereographic { scan, .. } => scan,
        }
    }

    /// Checks what the reader supports: rows of consecutive `i` values, all
    /// in the same direction.
    ///
    /// # Errors
    /// Column-major or boustrophedon scanning.
    pub fn check(&self) -> Result<(), String> {
        let scan = self.scan();
        if scan & (J_CONSECUTIVE | BOUSTROPHEDON) != 0 {
            return Err(format!(
                "scanning mode {scan:#04x} (columns first or alternating rows) is not supported"
            ));
        }
        let (ny, nx) = self.shape();
        if ny == 0 || nx == 0 || ny.saturating_mul(nx) > super::MAX_POINTS {
            return Err(format!("a grid of {ny} x {nx} points is not supported"));
        }
        Ok(())
    }

    /// The grid's coordinates, as cfgrib gives them.
    ///
    /// # Errors
    /// A Gaussian grid whose latitudes cannot be found, or whose rows are not
    /// all its latitudes (reduced or sub-area grids).
    pub fn coordinates(&self) -> Result<Coordinates, String> {
        match *self {
            GridDef::LatLon {
                ni,
                nj,
                la1,
                lo1,
                la2,
                lo2,
                scan,
            } => Ok(Coordinates::Regular {
                lat: linspace(deg(la1), deg(la2), nj),
                lon: longitudes(lo1, lo2, ni, scan),
            }),
            GridDef::Gaussian {
                ni,
                nj,
                n,
                lo1,
                lo2,
                scan,
            } => {
                let mut lat = gaussian_latitudes(n)?;
                if lat.len() != nj as usize {
                    return Err(format!(
                        "a Gaussian grid of {nj} rows is a part of N{n}; not supported"
                    ));
                }
                if scan & J_POSITIVE != 0 {
                    lat.reverse();
                }
                Ok(Coordinates::Regular {
                    lat,
                    lon: longitudes(lo1, lo2, ni, scan),
                })
            }
            GridDef::PolarStereographic { .. } => Ok(self.polar_stereographic()),
        }
    }

    /// Latitudes and longitudes of every point of a polar stereographic grid
    /// on a sphere (Snyder, Map Projections, eqs. 21-2 to 21-4, 20-14, 20-16).
    fn polar_stereographic(&self) -> Coordinates {
        let GridDef::PolarStereographic {
            nx,
            ny,
            la1,
            lo1,
            lad,
            lov,
            dx_mm,
            dy_mm,
            south,
            scan,
            radius_m,
        } = *self
        else {
            unreachable!("called on a polar stereographic grid only")
        };
        let r = radius_m as f64;
        let sign = if south { -1.0 } else { 1.0 };
        let lat_ts = sign * deg(lad).to_radians();
        let lon0 = deg(lov).to_radians();
        // On a sphere the scale factor at the standard parallel gives
        // rho = R (1 + sin lat_ts) tan(pi/4 - lat/2), lat towards the pole.
        let k = r * (1.0 + lat_ts.sin());
        let forward = |lat: f64, lon: f64| {
            let rho = k * (std::f64::consts::FRAC_PI_4 - sign * lat / 2.0).tan();
            let dl = lon - lon0;
            (rho * dl.sin(), -sign * rho * dl.cos())
        };
        let (x0, y0) = forward(deg(la1).to_radians(), deg(lo1).to_radians());
        let dx = dx_mm as f64 / 1000.0 * if scan & I_NEGATIVE == 0 { 1.0 } else { -1.0 };
        let dy = dy_mm as f64 / 1000.0 * if scan & J_POSITIVE != 0 { 1.0 } else { -1.0 };
        let cells = (u64::from(nx) * u64::from(ny)) as usize;
        let (mut lat, mut lon) = (Vec::with_capacity(cells), Vec::with_capacity(cells));
        for j in 0..ny {
            let y = y0 + f64::from(j) * dy;
            for i in 0..nx {
                let x = x0 + f64::from(i) * dx;
                let rho = x.hypot(y);
                let phi = sign * (std::f64::consts::FRAC_PI_2 - 2.0 * (rho / k).atan());
                let lambda = lon0 + x.atan2(-sign * y);
                lat.push(phi.to_degrees());
                lon.push(lambda.to_degrees().rem_euclid(360.0));
            }
        }
        Coordinates::Projected {
            ny: u64::from(ny),
            nx: u64::from(nx),
            lat,
            lon,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_grid_in_storage_order() {
        let g = GridDef::LatLon {
            ni: 120,
            nj: 61,
            la1: 90_000_000,
            lo1: 0,
            la2: -90_000_000,
            lo2: 357_000_000,
            scan: 0,
        };
        let Ok(Coordinates::Regular { lat, lon }) = g.coordinates() else {
            panic!("regular coordinates")
        };
        assert_eq!((lat[0], lat[60], lat.len()), (90.0, -90.0, 61));
        assert_eq!((lon[1], lon[119]), (3.0, 357.0));
    }

    #[test]
    fn gaussian_latitudes_are_not_round() {
        let g = GridDef::Gaussian {
            ni: 320,
            nj: 160,
            n: 80,
            lo1: 0,
            lo2: 358_875_000,
            scan: 0,
        };
        let Ok(Coordinates::Regular { lat, .. }) = g.coordinates() else {
            panic!("regular coordinates")
        };
        assert!((lat[0] - 89.141_519_426_461_12).abs() < 1e-9, "{}", lat[0]);
        assert!((lat[159] + 89.141_519_426_461_12).abs() < 1e-9);
    }

    #[test]
    fn polar_stereographic_round_trips_its_first_point() {
        let g = GridDef::PolarStereographic {
            nx: 247,
            ny: 200,
            la1: 32_549_114,
            lo1: 225_385_728,
            lad: 60_000_000,
            lov: 249_000_000,
            dx_mm: 30_000_000,
            dy_mm: 30_000_000,
            south: false,
            scan: J_POSITIVE,
            radius_m: 6_371_229,
        };
        let Coordinates::Projected { lat, lon, .. } = g.coordinates().expect("coordinates") else {
            panic!("projected coordinates")
        };
        assert!((lat[0] - 32.549_114).abs() < 1e-9, "{}", lat[0]);
        assert!((lon[0] - 225.385_728).abs() < 1e-9, "{}", lon[0]);
        assert!(lat.iter().all(|l| (-90.0..=90.0).contains(l)));
    }
}
