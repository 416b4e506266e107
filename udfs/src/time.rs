//! Calendar helpers for climate time axes: meteorological seasons.

use std::sync::{Arc, LazyLock};

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::compute::cast;
use arrow::compute::kernels::temporal::{DatePart, date_part};
use arrow::datatypes::{DataType, Int32Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature,
};

use crate::args::{doc, output, to_arrays, user_defined};

/// Meteorological season of a month 1..=12: December–February `DJF`, March–May `MAM`, June–August
/// `JJA`, September–November `SON` (xarray's `time.season`); `None` outside 1..=12.
pub fn season_of_month(month: u32) -> Option<&'static str> {
    match month {
        12 | 1 | 2 => Some("DJF"),
        3..=5 => Some("MAM"),
        6..=8 => Some("JJA"),
        9..=11 => Some("SON"),
        _ => None,
    }
}

/// The month of a date string `YYYY-MM-DD...` (any number of year digits, optional sign, month of
/// one or two digits followed by the end or a non-digit), as 360_day calendar times are shown in
/// gridsql tables (`'2001-02-30 00:00:00'`). `None` if the string has no such month in 1..=12.
pub fn month_of_date_string(s: &str) -> Option<u32> {
    let s = s.trim_start();
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let year_len = s.bytes().take_while(u8::is_ascii_digit).count();
    if year_len == 0 {
        return None;
    }
    let rest = s[year_len..].strip_prefix('-')?;
    let month_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=2).contains(&month_len) {
        return None;
    }
    let month: u32 = rest[..month_len].parse().ok()?;
    (1..=12).contains(&month).then_some(month)
}

/// Whether `season` reads values of type `t` directly (dictionaries are decoded to their values).
fn accepted(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Null
            | DataType::Timestamp(_, _)
            | DataType::Date32
            | DataType::Date64
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
    )
}

/// SQL `season(t) -> VARCHAR`: the meteorological season `'DJF'`, `'MAM'`, `'JJA'` or `'SON'` of a
/// timestamp (any unit; with a time zone, the month in that zone), a date, or a `'YYYY-MM-DD...'`
/// string (360_day calendar times), for `GROUP BY season(time)` as xarray's `groupby("time.season")`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Season {
    signature: Signature,
}

impl Default for Season {
    fn default() -> Self {
        Self {
            signature: user_defined(),
        }
    }
}

impl Season {
    /// Creates the `season` function.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Seasons of an array of months (NULL month → NULL season).
fn seasons_of_months(name: &str, months: &ArrayRef) -> Result<StringArray> {
    let Some(months) = months.as_primitive_opt::<Int32Type>() else {
        return exec_err!(
            "{name}: month extraction gave {}, not Int32",
            months.data_type()
        );
    };
    Ok(months
        .iter()
        .map(|m| {
            m.and_then(|m| u32::try_from(m).ok())
                .and_then(season_of_month)
        })
        .collect())
}

/// Seasons of an iterator of optional date strings; a non-NULL string without a month is an error.
fn seasons_of_strings<'a>(
    name: &str,
    strings: impl Iterator<Item = Option<&'a str>>,
) -> Result<StringArray> {
    strings
        .map(|s| match s {
            None => Ok(None),
            Some(s) => match month_of_date_string(s).and_then(season_of_month) {
                Some(season) => Ok(Some(season)),
                None => {
                    exec_err!("{name}: cannot read a month from '{s}' (expected 'YYYY-MM-DD...')")
                }
            },
        })
        .collect()
}

impl ScalarUDFImpl for Season {
    fn name(&self) -> &str {
        "season"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] if accepted(t) => Ok(vec![t.clone()]),
            [DataType::Dictionary(_, value)] if accepted(value) => Ok(vec![value.as_ref().clone()]),
            [t] => plan_err!(
                "season: argument must be a timestamp, date or 'YYYY-MM-DD' string, got {t}"
            ),
            _ => plan_err!("season takes 1 argument, got {}", arg_types.len()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn is_strict(&self) -> bool {
        true
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = self.name();
        let arrays = to_arrays(&args.args, args.number_rows)?;
        let [array] = arrays.as_slice() else {
            return exec_err!("season takes 1 argument, got {}", arrays.len());
        };
        let array = match array.data_type() {
            DataType::Dictionary(_, value) => cast(array, value)?,
            _ => Arc::clone(array),
        };
        let seasons = match array.data_type() {
            DataType::Null => StringArray::new_null(array.len()),
            DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
                seasons_of_months(name, &date_part(&array, DatePart::Month)?)?
            }
            DataType::Utf8 => seasons_of_strings(name, array.as_string::<i32>().iter())?,
            DataType::LargeUtf8 => seasons_of_strings(name, array.as_string::<i64>().iter())?,
            DataType::Utf8View => seasons_of_strings(name, array.as_string_view().iter())?,
            other => {
                return exec_err!(
                    "season: argument must be a timestamp, date or 'YYYY-MM-DD' string, got {other}"
                );
            }
        };
        output(Arc::new(seasons), &args.args)
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                "Meteorological season of a timestamp, date or 'YYYY-MM-DD...' string (360_day calendars): \
                 'DJF' (Dec-Feb), 'MAM', 'JJA' or 'SON', as xarray's time.season.",
                "season(t)",
                "SELECT season(time) AS s, avg(sla) FROM sla GROUP BY season(time) ORDER BY s",
                &[(
                    "t",
                    "Timestamp (any unit, with or without time zone), date, or date string.",
                )],
            )
        });
        Some(&DOC)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        Date32Array, StringViewArray, TimestampNanosecondArray, TimestampSecondArray,
    };
    use arrow::datatypes::Field;
    use datafusion::common::ScalarValue;
    use datafusion::common::config::ConfigOptions;

    use super::*;
    use crate::test_util::{ctx, rows};

    fn utf8(s: Option<&str>) -> ScalarValue {
        ScalarValue::Utf8(s.map(str::to_string))
    }

    /// Calls `season` directly on one array argument.
    fn invoke(array: ArrayRef) -> Result<Vec<Option<String>>> {
        let n = array.len();
        let args = ScalarFunctionArgs {
            arg_fields: vec![Arc::new(Field::new("t", array.data_type().clone(), true))],
            args: vec![ColumnarValue::Array(array)],
            number_rows: n,
            return_field: Arc::new(Field::new("season", DataType::Utf8, true)),
            config_options: Arc::new(ConfigOptions::default()),
        };
        match Season::new().invoke_with_args(args)? {
            ColumnarValue::Array(a) => Ok(a
                .as_string::<i32>()
                .iter()
                .map(|s| s.map(str::to_string))
                .collect()),
            ColumnarValue::Scalar(s) => exec_err!("expected an array, got {s}"),
        }
    }

    #[test]
    fn season_boundaries() {
        let want = [
            "DJF", "DJF", "MAM", "MAM", "MAM", "JJA", "JJA", "JJA", "SON", "SON", "SON", "DJF",
        ];
        for (m, w) in (1..=12).zip(want) {
            assert_eq!(season_of_month(m), Some(w), "month {m}");
        }
        assert_eq!(season_of_month(0), None);
        assert_eq!(season_of_month(13), None);
    }

    #[test]
    fn month_of_strings() {
        for (s, m) in [
            ("2005-04-01", Some(4)),
            ("2001-02-30 00:00:00", Some(2)),
            ("0001-12-16T12:00:00", Some(12)),
            ("  1850-1-1", Some(1)),
            ("-0500-07-01", Some(7)),
            ("123456-11-01", Some(11)),
            ("2005-13-01", None),
            ("2005-00-01", None),
            ("2005-123-01", None),
            ("2005", None),
            ("05/04/2005", None),
            ("", None),
            ("-", None),
            ("é-04-01", None),
        ] {
            assert_eq!(month_of_date_string(s), m, "{s:?}");
        }
    }

    #[test]
    fn season_sql_timestamps_dates_strings() {
        let ctx = ctx();
        for (expr, want) in [
            ("TIMESTAMP '2005-11-30 23:59:59'", "SON"),
            ("TIMESTAMP '2005-12-01 00:00:00'", "DJF"),
            ("TIMESTAMP '2006-01-15'", "DJF"),
            ("TIMESTAMP '2006-02-28 23:59:59.999'", "DJF"),
            ("TIMESTAMP '2006-03-01'", "MAM"),
            ("TIMESTAMP '2006-05-31'", "MAM"),
            ("TIMESTAMP '2006-06-01'", "JJA"),
            ("TIMESTAMP '2006-08-31'", "JJA"),
            ("TIMESTAMP '2006-09-01'", "SON"),
            (
                "arrow_cast(TIMESTAMP '2006-09-01', 'Timestamp(Nanosecond, None)')",
                "SON",
            ),
            (
                "arrow_cast(TIMESTAMP '2006-02-01', 'Timestamp(Second, None)')",
                "DJF",
            ),
            (
                "arrow_cast(TIMESTAMP '2006-07-01', 'Timestamp(Millisecond, None)')",
                "JJA",
            ),
            ("DATE '2006-12-31'", "DJF"),
            ("arrow_cast(DATE '2006-04-30', 'Date64')", "MAM"),
            ("'2001-02-30 00:00:00'", "DJF"),
            ("arrow_cast('2001-06-30', 'LargeUtf8')", "JJA"),
            ("arrow_cast('2001-10-30', 'Utf8View')", "SON"),
            ("arrow_cast('2001-03-30', 'Dictionary(Int32, Utf8)')", "MAM"),
        ] {
            let sql = format!("SELECT season({expr})");
            assert_eq!(
                rows(&ctx, &sql).expect(&sql),
                vec![vec![utf8(Some(want))]],
                "{sql}"
            );
        }
        assert_eq!(
            rows(&ctx, "SELECT season(NULL)").expect("null"),
            vec![vec![utf8(None)]]
        );
    }

    #[test]
    fn season_group_by() {
        let ctx = ctx();
        let got = rows(
            &ctx,
            "SELECT season(t) AS s, count(*), min(t) FROM \
               (SELECT unnest(range(DATE '2005-01-01', DATE '2006-01-01', INTERVAL '1' DAY)) AS t) \
             GROUP BY season(t) ORDER BY min(t)",
        )
        .expect("group by");
        let got: Vec<(String, i64)> = got
            .into_iter()
            .map(|r| match (&r[0], &r[1]) {
                (ScalarValue::Utf8(Some(s)), ScalarValue::Int64(Some(n))) => (s.clone(), *n),
                other => panic!("unexpected row {other:?}"),
            })
            .collect();
        let want = [
            ("DJF", 31 + 28 + 31),
            ("MAM", 31 + 30 + 31),
            ("JJA", 30 + 31 + 31),
            ("SON", 30 + 31 + 30),
        ];
        assert_eq!(got, want.map(|(s, n)| (s.to_string(), n)));
    }

    #[test]
    fn season_errors_are_errors_not_panics() {
        let ctx = ctx();
        let err = rows(&ctx, "SELECT season('04/01/2005')")
            .expect_err("bad string")
            .to_string();
        assert!(
            err.contains("cannot read a month from '04/01/2005'"),
            "{err}"
        );
        for sql in [
            "SELECT season(42)",
            "SELECT season(1.5)",
            "SELECT season()",
            "SELECT season('2005-01-01', 1)",
        ] {
            rows(&ctx, sql).expect_err(sql);
        }
    }

    #[test]
    fn season_direct_arrays() {
        // 2005-02-28T23:00:00Z is 2005-03-01T01:00 at +02:00: the month in the column's zone counts.
        let t = 1_109_631_600_i64;
        let utc = TimestampSecondArray::from(vec![Some(t), None]);
        assert_eq!(
            invoke(Arc::new(utc)).expect("utc"),
            vec![Some("DJF".to_string()), None]
        );
        let plus2 = TimestampSecondArray::from(vec![Some(t)]).with_timezone("+02:00");
        assert_eq!(
            invoke(Arc::new(plus2)).expect("+02:00"),
            vec![Some("MAM".to_string())]
        );
        let utc_named =
            TimestampNanosecondArray::from(vec![Some(t * 1_000_000_000)]).with_timezone("UTC");
        assert_eq!(
            invoke(Arc::new(utc_named)).expect("UTC"),
            vec![Some("DJF".to_string())]
        );
        let dates = Date32Array::from(vec![Some(0), Some(181), None]); // 1970-01-01, 1970-07-01
        assert_eq!(
            invoke(Arc::new(dates)).expect("dates"),
            vec![Some("DJF".into()), Some("JJA".into()), None]
        );
        let views = StringViewArray::from(vec![Some("1999-09-09"), None]);
        assert_eq!(
            invoke(Arc::new(views)).expect("views"),
            vec![Some("SON".into()), None]
        );
        assert_eq!(
            invoke(Arc::new(StringArray::from(Vec::<&str>::new()))).expect("empty"),
            vec![]
        );
        assert!(invoke(Arc::new(StringArray::from(vec!["x"]))).is_err());
        assert!(invoke(Arc::new(arrow::array::Int32Array::from(vec![1]))).is_err());
    }
}
