//! Geoscience SQL functions for gridsql, registered in every session.
//!
//! | SQL function | module | what |
//! |---|---|---|
//! | `lat_weight(lat)` | [`geo`] | cos(radians(lat)), area weight of a latitude |
//! | `cell_area(lat, dlat, dlon)` | [`geo`] | area of a lat/lon cell in m² |
//! | `haversine_km(lat1, lon1, lat2, lon2)` | [`geo`] | great-circle distance in km |
//! | `lon_180(lon)`, `lon_360(lon)` | [`geo`] | longitude in [−180, 180) / [0, 360) |
//! | `in_box(lat, lon, south, north, west, east)` | [`geo`] | point in a box, antimeridian-aware |
//! | `season(t)` | [`time`] | `'DJF'`, `'MAM'`, `'JJA'`, `'SON'` |
//! | `kelvin_to_celsius(x)` | [`units`] | x − 273.15 |
//! | `weighted_avg(value, weight)` (aggregate) | [`weighted_avg`] | Σ value·weight / Σ weight |
//! | `read_zarr(uri, ...)`, `read_netcdf(uri, ...)` (table) | [`table_functions`] | a dataset's table without `CREATE` |
//! | `grid_variables(uri, ...)`, `grid_attributes(uri, ...)` (table) | [`table_functions`] | a dataset's variables / attributes |
//!
//! See `docs/functions.md` for examples.

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;

mod args;
pub mod geo;
pub mod table_functions;
pub mod time;
pub mod units;
pub mod weighted_avg;

/// Every gridsql scalar function, ready to register in a session.
pub fn scalar_functions() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(geo::LatWeight::new()),
        ScalarUDF::from(geo::CellArea::new()),
        ScalarUDF::from(geo::HaversineKm::new()),
        ScalarUDF::from(geo::Lon180::new()),
        ScalarUDF::from(geo::Lon360::new()),
        ScalarUDF::from(geo::InBox::new()),
        ScalarUDF::from(time::Season::new()),
        ScalarUDF::from(units::KelvinToCelsius::new()),
    ]
}

/// Every gridsql aggregate function, ready to register in a session.
pub fn aggregate_functions() -> Vec<AggregateUDF> {
    vec![AggregateUDF::from(weighted_avg::WeightedAvg::new())]
}

/// Registers every gridsql function in `ctx` (replacing functions of the same names).
pub fn register_all(ctx: &SessionContext) {
    for f in scalar_functions() {
        ctx.register_udf(f);
    }
    for f in aggregate_functions() {
        ctx.register_udaf(f);
    }
    for (name, f) in table_functions::table_functions() {
        ctx.register_udtf(name, f);
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Running SQL through a real session with the functions registered.

    use arrow::array::{Array, AsArray, RecordBatch};
    use arrow::datatypes::{DataType, Float64Type};
    use datafusion::common::{Result, ScalarValue};
    use datafusion::prelude::SessionContext;

    /// A session with every gridsql function registered.
    pub(crate) fn ctx() -> SessionContext {
        let ctx = SessionContext::new();
        super::register_all(&ctx);
        ctx
    }

    /// Runs `sql` on a fresh multi-thread runtime and returns its batches.
    pub(crate) fn run(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        rt.block_on(async { ctx.sql(sql).await?.collect().await })
    }

    /// All values of a query as rows of `ScalarValue`s.
    pub(crate) fn rows(ctx: &SessionContext, sql: &str) -> Result<Vec<Vec<ScalarValue>>> {
        let mut out = vec![];
        for batch in run(ctx, sql)? {
            for r in 0..batch.num_rows() {
                out.push(
                    batch
                        .columns()
                        .iter()
                        .map(|c| ScalarValue::try_from_array(c, r))
                        .collect::<Result<Vec<_>>>()?,
                );
            }
        }
        Ok(out)
    }

    /// The single Float64 value (None for NULL) of a one-row, one-column query.
    pub(crate) fn f64_value(ctx: &SessionContext, sql: &str) -> Option<f64> {
        let batches = run(ctx, sql).expect(sql);
        let batch = batches.iter().find(|b| b.num_rows() > 0).expect("one row");
        assert_eq!((batch.num_rows(), batch.num_columns()), (1, 1), "{sql}");
        let col = batch.column(0);
        assert_eq!(col.data_type(), &DataType::Float64, "{sql}");
        let col = col.as_primitive::<Float64Type>();
        col.is_valid(0).then(|| col.value(0))
    }

    /// Asserts |got − want| ≤ rtol·|want|.
    #[track_caller]
    pub(crate) fn assert_close(got: f64, want: f64, rtol: f64) {
        assert!(
            (got - want).abs() <= rtol * want.abs(),
            "got {got}, want {want} (rtol {rtol})"
        );
    }
}
