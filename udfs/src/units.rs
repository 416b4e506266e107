//! Unit conversions for geophysical variables.

use crate::args::{doc, numeric_udf};

/// 0 °C in kelvin.
pub const ZERO_CELSIUS_K: f64 = 273.15;

/// Temperature in °C from kelvin: `k − 273.15`, in float64.
pub fn kelvin_to_celsius(k: f64) -> f64 {
    k - ZERO_CELSIUS_K
}

numeric_udf!(
    /// SQL `kelvin_to_celsius(x) -> DOUBLE`: x − 273.15. Any numeric input is widened to float64
    /// first and the result is always float64 (also for a float32 column: subtracting 273.15 in
    /// float32 would lose ~1e-5 K).
    KelvinToCelsius, "kelvin_to_celsius", 1, Float64, eval_f64, |[k]| kelvin_to_celsius(k),
    doc(
        "Temperature in degrees Celsius from kelvin: x - 273.15, computed and returned in float64.",
        "kelvin_to_celsius(x)",
        "SELECT time, avg(kelvin_to_celsius(t2m)) FROM era5 GROUP BY time ORDER BY time",
        &[("x", "Temperature in kelvin (any numeric type).")],
    )
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{assert_close, ctx, f64_value};

    #[test]
    fn kelvin_to_celsius_values() {
        assert_eq!(kelvin_to_celsius(273.15), 0.0);
        assert_close(kelvin_to_celsius(0.0), -273.15, 0.0);
        assert_close(kelvin_to_celsius(300.0), 26.850000000000023, 1e-15);
        assert!(kelvin_to_celsius(f64::NAN).is_nan());

        let ctx = ctx();
        assert_eq!(
            f64_value(&ctx, "SELECT kelvin_to_celsius(273.15)"),
            Some(0.0)
        );
        assert_eq!(
            f64_value(&ctx, "SELECT kelvin_to_celsius(373)"),
            Some(373.0 - 273.15)
        );
        // float32 in: widened first, float64 out
        assert_eq!(
            f64_value(&ctx, "SELECT kelvin_to_celsius(CAST(300.5 AS FLOAT))"),
            Some(300.5 - 273.15)
        );
        assert_eq!(f64_value(&ctx, "SELECT kelvin_to_celsius(NULL)"), None);
        assert!(crate::test_util::rows(&ctx, "SELECT kelvin_to_celsius('hot')").is_err());
    }
}
