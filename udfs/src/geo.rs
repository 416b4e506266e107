//! Geometry on the sphere for lat/lon grids: area weights, cell areas, great-circle distances,
//! longitude conventions and boxes that may cross the antimeridian.
//!
//! Each SQL function is a plain Rust function of `f64`s plus a `ScalarUDFImpl` around it. The SQL
//! functions accept any numeric argument (integers, float32, float64, decimals), widen it to
//! float64 *before* computing, return NULL when any argument is NULL and never fail on NaN (NaN
//! propagates; `in_box` is false for NaN).

use gridsql_connectors::geo::{lat_in_box, lon_in_box};

use crate::args::{doc, numeric_udf};

/// Mean Earth radius in km, R1 = (2a + b) / 3 of the WGS84 ellipsoid (IUGG): the radius
/// `haversine_km` uses.
pub const MEAN_EARTH_RADIUS_KM: f64 = 6371.0088;

/// Radius in m of the sphere with the surface area of the WGS84 ellipsoid (authalic radius R2):
/// the radius `cell_area` uses, so that a global grid sums to the ellipsoid's area 4πR².
pub const AUTHALIC_EARTH_RADIUS_M: f64 = 6_371_007.181;

/// Area weight of a latitude on a regular lat/lon grid: `cos(radians(lat))`, proportional to the
/// area of a cell centred there (what xarray's `np.cos(np.deg2rad(lat))` weights compute).
pub fn lat_weight(lat: f64) -> f64 {
    lat.to_radians().cos()
}

/// Area in m² of the lat/lon cell centred at latitude `lat` spanning `dlat` × `dlon` degrees, on
/// the sphere of radius [`AUTHALIC_EARTH_RADIUS_M`]:
/// `R² · radians(|dlon|) · |sin(radians(lat + dlat/2)) − sin(radians(lat − dlat/2))|`, with the
/// two edges clamped to [−90, 90] (so a cell centred on a pole is the polar cap half-cell).
pub fn cell_area(lat: f64, dlat: f64, dlon: f64) -> f64 {
    let top = (lat + dlat / 2.0).clamp(-90.0, 90.0).to_radians();
    let bottom = (lat - dlat / 2.0).clamp(-90.0, 90.0).to_radians();
    // sin(a) − sin(b) = 2 cos((a + b)/2) sin((a − b)/2): no cancellation for thin cells.
    let band = 2.0 * ((top + bottom) / 2.0).cos() * ((top - bottom) / 2.0).sin();
    AUTHALIC_EARTH_RADIUS_M * AUTHALIC_EARTH_RADIUS_M * dlon.abs().to_radians() * band.abs()
}

/// Longitude in [0, 360): 360 → 0, −10 → 350 (shared with the `in_box` pushdown).
pub use gridsql_connectors::geo::lon_360;

/// Longitude in [−180, 180): 180 → −180, 190 → −170, 350 → −10. Exact for finite input (no
/// rounding near ±180); NaN/±inf → NaN.
pub fn lon_180(lon: f64) -> f64 {
    let r = lon % 360.0; // exact, in (−360, 360)
    // Both shifts are exact (Sterbenz): |r| and 360 are within a factor of 2.
    if r >= 180.0 {
        r - 360.0
    } else if r < -180.0 {
        r + 360.0
    } else {
        r + 0.0 // −0.0 → 0.0
    }
}

/// Whether the point (`lat`, `lon`) lies in the box `south..=north` × `west..=east` (degrees,
/// bounds inclusive). Longitudes are compared in [0, 360): a box whose normalised `west` exceeds
/// its normalised `east` crosses the antimeridian or the prime meridian (`west = 170, east = −170`
/// holds 175, −175 and 185; `west = −10, east = 10` holds 355 and 5). A box with
/// `east − west ≥ 360` (e.g. −180..180 or 0..360) holds every longitude. NaN anywhere → false.
pub fn in_box(lat: f64, lon: f64, south: f64, north: f64, west: f64, east: f64) -> bool {
    // The same test the scan prunes chunks with (gridsql_connectors::geo).
    lat_in_box(lat, south, north) && lon_in_box(lon, west, east)
}

/// Great-circle distance in km between two points given in degrees, on the sphere of radius
/// [`MEAN_EARTH_RADIUS_KM`] (6371.0088 km). The central angle is the haversine formula's, computed
/// as `atan2(|a × b|, a · b)` (Vincenty's spherical form): identical to the haversine value to
/// rounding, but also accurate for nearly antipodal points, where `asin(√h)` loses half the digits.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (s1, c1) = lat1.to_radians().sin_cos();
    let (s2, c2) = lat2.to_radians().sin_cos();
    let (sdl, cdl) = (lon2 - lon1).to_radians().sin_cos();
    let cross = (c2 * sdl).hypot(c1 * s2 - s1 * c2 * cdl);
    let dot = s1 * s2 + c1 * c2 * cdl;
    MEAN_EARTH_RADIUS_KM * cross.atan2(dot)
}

numeric_udf!(
    /// SQL `lat_weight(lat) -> DOUBLE`: cos(radians(lat)), the area weight of a latitude row, for
    /// area-weighted means such as `weighted_avg(x, lat_weight(latitude))`.
    LatWeight, "lat_weight", 1, Float64, eval_f64, |[lat]| lat_weight(lat),
    doc(
        "Area weight of a latitude: cos(radians(lat)) in float64 (the argument is widened to float64 first).",
        "lat_weight(lat)",
        "SELECT time, weighted_avg(sla, lat_weight(latitude)) FROM sla GROUP BY time ORDER BY time",
        &[("lat", "Latitude in degrees (any numeric type).")],
    )
);

numeric_udf!(
    /// SQL `cell_area(lat, dlat, dlon) -> DOUBLE`: area in m² of the grid cell centred at `lat`
    /// of `dlat` × `dlon` degrees on the WGS84 authalic sphere (R = 6371007.181 m).
    CellArea, "cell_area", 3, Float64, eval_f64, |[lat, dlat, dlon]| cell_area(lat, dlat, dlon),
    doc(
        "Area in m² of a lat/lon cell centred at lat of size dlat x dlon degrees, on the sphere of the \
         WGS84 authalic radius R = 6371007.181 m: R² · radians(|dlon|) · |sin(radians(lat + dlat/2)) − \
         sin(radians(lat − dlat/2))|, edges clamped to ±90.",
        "cell_area(lat, dlat, dlon)",
        "SELECT sum(cell_area(latitude, 1, 1)) FROM sla WHERE time = TIMESTAMP '1993-01-01' AND sla IS NOT NULL",
        &[
            ("lat", "Latitude of the cell centre in degrees."),
            ("dlat", "Cell height in degrees."),
            ("dlon", "Cell width in degrees."),
        ],
    )
);

numeric_udf!(
    /// SQL `lon_180(lon) -> DOUBLE`: a longitude in the [−180, 180) convention (180 → −180).
    Lon180, "lon_180", 1, Float64, eval_f64, |[lon]| lon_180(lon),
    doc(
        "Longitude normalised to [-180, 180) degrees (180 maps to -180).",
        "lon_180(lon)",
        "SELECT min(lon_180(longitude)), max(lon_180(longitude)) FROM sla",
        &[("lon", "Longitude in degrees.")],
    )
);

numeric_udf!(
    /// SQL `lon_360(lon) -> DOUBLE`: a longitude in the [0, 360) convention (−10 → 350).
    Lon360, "lon_360", 1, Float64, eval_f64, |[lon]| lon_360(lon),
    doc(
        "Longitude normalised to [0, 360) degrees (360 maps to 0).",
        "lon_360(lon)",
        "SELECT DISTINCT lon_360(longitude) AS lon FROM sla ORDER BY lon",
        &[("lon", "Longitude in degrees.")],
    )
);

numeric_udf!(
    /// SQL `in_box(lat, lon, south, north, west, east) -> BOOLEAN`: whether a point lies in a
    /// lat/lon box, inclusive, with boxes across the antimeridian (west > east) handled.
    InBox, "in_box", 6, Boolean, eval_bool,
    |[lat, lon, south, north, west, east]| in_box(lat, lon, south, north, west, east),
    doc(
        "True when south <= lat <= north and lon lies in [west, east], longitudes compared in [0, 360); \
         when west > east after normalising, the box crosses the antimeridian (lon >= west OR lon <= east). \
         east - west >= 360 means every longitude. Bounds inclusive; NULL in, NULL out; NaN gives false.",
        "in_box(lat, lon, south, north, west, east)",
        "SELECT count(*) FROM sla WHERE in_box(latitude, longitude, 30, 46, -6, 36)",
        &[
            ("lat", "Latitude of the point in degrees."),
            ("lon", "Longitude of the point in degrees (any convention)."),
            ("south", "Southern bound (inclusive)."),
            ("north", "Northern bound (inclusive)."),
            ("west", "Western bound (inclusive, any convention)."),
            ("east", "Eastern bound (inclusive, any convention)."),
        ],
    )
);

numeric_udf!(
    /// SQL `haversine_km(lat1, lon1, lat2, lon2) -> DOUBLE`: great-circle distance in km on the
    /// sphere of the mean Earth radius 6371.0088 km.
    HaversineKm, "haversine_km", 4, Float64, eval_f64,
    |[lat1, lon1, lat2, lon2]| haversine_km(lat1, lon1, lat2, lon2),
    doc(
        "Great-circle (haversine) distance in km between two points in degrees, on the sphere of the mean \
         Earth radius R1 = 6371.0088 km.",
        "haversine_km(lat1, lon1, lat2, lon2)",
        "SELECT latitude, longitude FROM sla WHERE time = TIMESTAMP '1993-01-01' \
         AND haversine_km(latitude, longitude, 43.5, 6.5) < 300 ORDER BY latitude, longitude",
        &[
            ("lat1", "Latitude of the first point in degrees."),
            ("lon1", "Longitude of the first point in degrees."),
            ("lat2", "Latitude of the second point in degrees."),
            ("lon2", "Longitude of the second point in degrees."),
        ],
    )
);

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;

    use datafusion::common::ScalarValue;

    use super::*;
    use crate::test_util::{assert_close, ctx, f64_value, rows};

    const R: f64 = AUTHALIC_EARTH_RADIUS_M;

    #[test]
    fn lat_weight_closed_forms() {
        assert_close(lat_weight(60.0), 0.5, 1e-15);
        assert_eq!(lat_weight(0.0), 1.0);
        assert!(lat_weight(90.0).abs() < 1e-16);
        assert!(lat_weight(f64::NAN).is_nan());
    }

    #[test]
    fn lat_weight_sql_widens_every_numeric_type() {
        let ctx = ctx();
        for sql in [
            "SELECT lat_weight(60.0)",
            "SELECT lat_weight(60)",
            "SELECT lat_weight(CAST(60 AS FLOAT))",
            "SELECT lat_weight(CAST(60 AS TINYINT))",
            "SELECT lat_weight(CAST(60 AS DECIMAL(10, 3)))",
        ] {
            assert_close(f64_value(&ctx, sql).expect(sql), 0.5, 1e-15);
        }
        assert_eq!(f64_value(&ctx, "SELECT lat_weight(NULL)"), None);
        // float32 widened first: the float32 value of 43.0625 is exact, so the weight is the f64 one.
        let w = f64_value(&ctx, "SELECT lat_weight(CAST(43.0625 AS FLOAT))").expect("value");
        assert_eq!(w, 43.0625f64.to_radians().cos());
        assert!(
            f64_value(&ctx, "SELECT lat_weight(CAST('NaN' AS DOUBLE))")
                .expect("NaN")
                .is_nan()
        );
    }

    #[test]
    fn wrong_arguments_are_plan_errors_not_panics() {
        let ctx = ctx();
        for sql in [
            "SELECT lat_weight('sixty')",
            "SELECT lat_weight()",
            "SELECT lat_weight(1, 2)",
            "SELECT cell_area(1, 2)",
            "SELECT in_box(1, 2, 3, 4, 5)",
            "SELECT haversine_km(1, 2, 3, TIMESTAMP '2000-01-01')",
            "SELECT lon_180(true)",
        ] {
            rows(&ctx, sql).expect_err(sql);
        }
        let err = rows(&ctx, "SELECT lat_weight('sixty')")
            .expect_err("string")
            .to_string();
        assert!(
            err.contains("lat_weight: argument 1 must be numeric"),
            "{err}"
        );
    }

    #[test]
    fn cell_area_closed_forms() {
        let equator = R * R * 1f64.to_radians() * 2.0 * 0.5f64.to_radians().sin();
        assert_close(cell_area(0.0, 1.0, 1.0), equator, 1e-14);
        // sin difference written out, away from the equator
        let want =
            R * R * 2f64.to_radians() * (46f64.to_radians().sin() - 44f64.to_radians().sin());
        assert_close(cell_area(45.0, 2.0, 2.0), want, 1e-12);
        // signs of the sizes do not matter; symmetric in latitude
        assert_close(cell_area(45.0, -2.0, -2.0), want, 1e-12);
        assert_close(cell_area(-45.0, 2.0, 2.0), want, 1e-12);
        // edges clamped at the poles: a 2° cell centred on the pole is the 1° cap
        let cap = R * R * 1f64.to_radians() * (1.0 - 89f64.to_radians().sin());
        assert_close(cell_area(90.0, 2.0, 1.0), cap, 1e-9);
        assert_close(cell_area(-90.0, 2.0, 1.0), cap, 1e-9);
        // the whole sphere as one cell
        assert_close(cell_area(0.0, 180.0, 360.0), 4.0 * PI * R * R, 1e-15);
        assert!(cell_area(f64::NAN, 1.0, 1.0).is_nan());
    }

    #[test]
    fn global_one_degree_grid_sums_to_sphere_area() {
        let direct: f64 = (0..180)
            .map(|j| cell_area(-89.5 + f64::from(j), 1.0, 1.0))
            .sum::<f64>()
            * 360.0;
        assert_close(direct, 4.0 * PI * R * R, 1e-9);

        let ctx = ctx();
        let sql = "SELECT sum(cell_area(lat.value - 89.5, 1, 1)) \
                   FROM generate_series(0, 179) AS lat CROSS JOIN generate_series(0, 359) AS lon";
        assert_close(f64_value(&ctx, sql).expect("sum"), 4.0 * PI * R * R, 1e-9);
        // a float32 centre column widened first gives the same
        let sql32 = "SELECT sum(cell_area(CAST(lat.value - 89.5 AS FLOAT), CAST(1 AS FLOAT), 1)) \
                     FROM generate_series(0, 179) AS lat CROSS JOIN generate_series(0, 359) AS lon";
        assert_close(f64_value(&ctx, sql32).expect("sum"), 4.0 * PI * R * R, 1e-9);
    }

    #[test]
    fn haversine_known_distances() {
        const RK: f64 = MEAN_EARTH_RADIUS_KM;
        assert_close(
            haversine_km(0.0, 0.0, 0.0, 1.0),
            RK * 1f64.to_radians(),
            1e-12,
        );
        assert_close(
            haversine_km(0.0, 0.0, 1.0, 0.0),
            RK * 1f64.to_radians(),
            1e-12,
        );
        assert_close(haversine_km(0.0, 0.0, 0.0, 90.0), RK * PI / 2.0, 1e-12);
        assert_close(haversine_km(90.0, 0.0, -90.0, 0.0), RK * PI, 1e-12);
        assert_close(haversine_km(0.0, 0.0, 0.0, 180.0), RK * PI, 1e-12);
        assert_close(haversine_km(10.0, 20.0, -10.0, -160.0), RK * PI, 1e-12); // antipodes
        // across the antimeridian
        assert_close(
            haversine_km(0.0, 179.5, 0.0, -179.5),
            RK * 1f64.to_radians(),
            1e-9,
        );
        assert_eq!(haversine_km(43.0, 6.0, 43.0, 6.0), 0.0);
        // small distances against the textbook haversine formula (well conditioned there)
        let textbook = |a: f64, b: f64, c: f64, d: f64| {
            let (p1, p2) = (a.to_radians(), c.to_radians());
            let h = ((p2 - p1) / 2.0).sin().powi(2)
                + p1.cos() * p2.cos() * ((d - b).to_radians() / 2.0).sin().powi(2);
            2.0 * RK * h.sqrt().asin()
        };
        for (a, b, c, d) in [
            (43.0625, 6.0625, 43.1875, 6.1875),
            (0.0, 0.0, 1e-6, 0.0),
            (-89.9, 10.0, -89.8, -170.0),
        ] {
            assert_close(haversine_km(a, b, c, d), textbook(a, b, c, d), 1e-12);
        }
        // Paris - London and JFK - LAX: checked against the spherical law of cosines (well conditioned at
        // these distances) and against Python's `math` haversine with R = 6371.0088.
        for (a, b, c, d, python) in [
            (48.8566, 2.3522, 51.5074, -0.1278, 343.556_534_880_883_13),
            (
                40.6413,
                -73.7781,
                33.9416,
                -118.4085,
                3_974.341_689_577_772_7,
            ),
        ] {
            let (p1, p2, dl) = (
                f64::to_radians(a),
                f64::to_radians(c),
                f64::to_radians(d - b),
            );
            let cosines = RK * (p1.sin() * p2.sin() + p1.cos() * p2.cos() * dl.cos()).acos();
            let got = haversine_km(a, b, c, d);
            assert_close(got, cosines, 1e-9);
            assert_close(got, python, 1e-12);
        }
        assert!(haversine_km(f64::NAN, 0.0, 0.0, 0.0).is_nan());

        let ctx = ctx();
        let sql = "SELECT haversine_km(48.8566, 2.3522, 51.5074, -0.1278)";
        assert_close(
            f64_value(&ctx, sql).expect("km"),
            haversine_km(48.8566, 2.3522, 51.5074, -0.1278),
            0.0,
        );
        assert_eq!(f64_value(&ctx, "SELECT haversine_km(1, 2, NULL, 4)"), None);
    }

    #[test]
    fn longitude_conventions() {
        for (lon, l180, l360) in [
            (0.0, 0.0, 0.0),
            (-0.0, 0.0, 0.0),
            (10.0, 10.0, 10.0),
            (179.5, 179.5, 179.5),
            (180.0, -180.0, 180.0),
            (-180.0, -180.0, 180.0),
            (190.0, -170.0, 190.0),
            (-170.0, -170.0, 190.0),
            (359.75, -0.25, 359.75),
            (360.0, 0.0, 0.0),
            (-360.0, 0.0, 0.0),
            (720.5, 0.5, 0.5),
            (-10.0, -10.0, 350.0),
            (-540.0, -180.0, 180.0),
        ] {
            assert_eq!(lon_180(lon), l180, "lon_180({lon})");
            assert_eq!(lon_360(lon), l360, "lon_360({lon})");
            assert!(lon_180(lon).is_sign_positive() || lon_180(lon) < 0.0);
        }
        // tiny negative longitudes: no 360 out of lon_360, no rounding in lon_180
        assert_eq!(lon_360(-1e-20), 0.0);
        assert_eq!(lon_180(-1e-20), -1e-20);
        assert_eq!(lon_180(180.0 - 1e-13), 180.0 - 1e-13);
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(lon_180(x).is_nan() && lon_360(x).is_nan());
        }
        // every result in range
        for i in -2000..2000 {
            let lon = f64::from(i) * 0.37;
            assert!((-180.0..180.0).contains(&lon_180(lon)), "{lon}");
            assert!((0.0..360.0).contains(&lon_360(lon)), "{lon}");
        }

        let ctx = ctx();
        assert_eq!(f64_value(&ctx, "SELECT lon_180(190)"), Some(-170.0));
        assert_eq!(f64_value(&ctx, "SELECT lon_360(-10.5)"), Some(349.5));
        assert_eq!(
            f64_value(&ctx, "SELECT lon_180(CAST(358 AS FLOAT))"),
            Some(-2.0)
        );
        assert_eq!(f64_value(&ctx, "SELECT lon_360(NULL)"), None);
        let got = rows(
            &ctx,
            "SELECT min(lon_180(lon)), max(lon_180(lon)) FROM (SELECT CAST(value * 2 AS FLOAT) AS lon FROM generate_series(0, 179))",
        )
        .expect("min/max");
        assert_eq!(
            got,
            vec![vec![
                ScalarValue::Float64(Some(-180.0)),
                ScalarValue::Float64(Some(178.0))
            ]]
        );
    }

    #[test]
    fn in_box_sql() {
        let ctx = ctx();
        let got = rows(
            &ctx,
            "SELECT lon, in_box(0, lon, -10, 10, 170, -170) FROM (VALUES (175.0), (-175.0), (185.0), (0.0), (NULL)) AS t(lon) \
             ORDER BY lon NULLS LAST",
        )
        .expect("in_box");
        let want: Vec<(Option<f64>, Option<bool>)> = vec![
            (Some(-175.0), Some(true)),
            (Some(0.0), Some(false)),
            (Some(175.0), Some(true)),
            (Some(185.0), Some(true)),
            (None, None),
        ];
        let want: Vec<Vec<ScalarValue>> = want
            .into_iter()
            .map(|(l, b)| vec![ScalarValue::Float64(l), ScalarValue::Boolean(b)])
            .collect();
        assert_eq!(got, want);
        // as a filter over a 2° global grid with float32 coordinates: 11 rows x 11 columns
        let got = rows(
            &ctx,
            "SELECT count(*) FROM (SELECT CAST(value * 2 - 88 AS FLOAT) AS lat FROM generate_series(0, 88)) \
             CROSS JOIN (SELECT CAST(value * 2 AS FLOAT) AS lon FROM generate_series(0, 179)) \
             WHERE in_box(lat, lon, -10, 10, 170, -170)",
        )
        .expect("count");
        assert_eq!(got, vec![vec![ScalarValue::Int64(Some(121))]]);
        assert_eq!(
            rows(&ctx, "SELECT in_box(NULL, 1, 2, 3, 4, 5)").expect("null"),
            vec![vec![ScalarValue::Boolean(None)]]
        );
    }
}
