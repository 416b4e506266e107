//! Longitude conventions and lat/lon boxes, as plain functions of `f64`:
//! one definition for gridsql-udfs' `lon_360` and `in_box` SQL functions and
//! for the pushdown of `in_box` into grid scans ([`crate::pushdown`]), so the
//! pruned cells are exactly the ones the function keeps.

/// Longitude in [0, 360): 360 → 0, −10 → 350. Exact for finite input; NaN/±inf → NaN.
pub fn lon_360(lon: f64) -> f64 {
    let r = lon % 360.0; // exact, in (−360, 360)
    if r < 0.0 {
        let shifted = r + 360.0;
        // A tiny negative r rounds up to 360: that longitude is 0.
        if shifted >= 360.0 { 0.0 } else { shifted }
    } else {
        r + 0.0 // −0.0 → 0.0
    }
}

/// `south <= lat <= north`, bounds inclusive; false for NaN.
pub fn lat_in_box(lat: f64, south: f64, north: f64) -> bool {
    south <= lat && lat <= north
}

/// Whether `lon` lies in the longitude interval `west..=east`, compared in
/// [0, 360): a normalised `west` above the normalised `east` crosses the
/// antimeridian or the prime meridian (`170..-170` holds 175, −175 and 185;
/// `-10..10` holds 355 and 5); `east − west ≥ 360` holds every longitude;
/// NaN anywhere is false.
pub fn lon_in_box(lon: f64, west: f64, east: f64) -> bool {
    let l = lon_360(lon);
    if l.is_nan() || west.is_nan() || east.is_nan() {
        return false;
    }
    if east - west >= 360.0 {
        return true;
    }
    let (w, e) = (lon_360(west), lon_360(east));
    if w <= e {
        w <= l && l <= e
    } else {
        l >= w || l <= e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gridsql-udfs' `in_box` is exactly this composition.
    fn in_box(lat: f64, lon: f64, s: f64, n: f64, w: f64, e: f64) -> bool {
        lat_in_box(lat, s, n) && lon_in_box(lon, w, e)
    }

    #[test]
    fn boxes_across_meridians_and_nan() {
        for lon in [
            170.0, 175.0, -175.0, 185.0, 180.0, -180.0, -170.0, 190.0, 530.0,
        ] {
            assert!(in_box(0.0, lon, -10.0, 10.0, 170.0, -170.0), "{lon}");
        }
        for lon in [0.0, 169.9, -169.9, 191.0, 90.0, -90.0] {
            assert!(!in_box(0.0, lon, -10.0, 10.0, 170.0, -170.0), "{lon}");
        }
        assert!(in_box(0.0, -175.0, -10.0, 10.0, 170.0, 190.0));
        for lon in [355.0, -5.0, 0.0, 5.0, 10.0, -10.0, 350.0] {
            assert!(in_box(0.0, lon, -10.0, 10.0, -10.0, 10.0), "{lon}");
        }
        for lon in [180.0, 11.0, 349.0, -11.0] {
            assert!(!in_box(0.0, lon, -10.0, 10.0, -10.0, 10.0), "{lon}");
        }
        assert!(in_box(-10.0, 175.0, -10.0, 10.0, 170.0, -170.0));
        assert!(in_box(10.0, 175.0, -10.0, 10.0, 170.0, -170.0));
        assert!(!in_box(10.5, 175.0, -10.0, 10.0, 170.0, -170.0));
        assert!(!in_box(0.0, 175.0, 10.0, -10.0, 170.0, -170.0));
        for lon in [-180.0, -90.0, 0.0, 179.9, 359.9, 1000.0] {
            assert!(in_box(0.0, lon, -90.0, 90.0, -180.0, 180.0));
            assert!(in_box(0.0, lon, -90.0, 90.0, 0.0, 360.0));
        }
        assert!(in_box(0.0, -180.0, -90.0, 90.0, 180.0, 180.0));
        assert!(!in_box(0.0, 179.0, -90.0, 90.0, 180.0, 180.0));
        assert!(!in_box(f64::NAN, 175.0, -10.0, 10.0, 170.0, -170.0));
        assert!(!in_box(0.0, f64::NAN, -10.0, 10.0, 170.0, -170.0));
        assert!(!in_box(0.0, 175.0, -10.0, 10.0, f64::NAN, -170.0));
        assert!(!in_box(0.0, 175.0, f64::NAN, 10.0, 170.0, -170.0));
        for (lon, l360) in [
            (-0.0, 0.0),
            (180.0, 180.0),
            (-180.0, 180.0),
            (359.75, 359.75),
            (360.0, 0.0),
            (720.5, 0.5),
            (-10.0, 350.0),
            (-1e-20, 0.0),
        ] {
            assert_eq!(lon_360(lon), l360, "{lon}");
            assert!(lon_360(lon).is_sign_positive());
        }
    }
}
