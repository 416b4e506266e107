//! Argument handling shared by the scalar functions: type coercion at planning time, turning
//! `ColumnarValue`s into Float64 arrays at execution time, and returning a scalar when every
//! argument was a scalar (so constant expressions fold to a literal).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::ColumnarValue;
use datafusion::logical_expr::{DocSection, Documentation, Signature, Volatility};

/// Documentation section of every gridsql function (shown by `SHOW FUNCTIONS`-style tools).
pub(crate) const DOC_SECTION_GEO: DocSection = DocSection {
    include: true,
    label: "Geoscience Functions",
    description: Some("Functions for gridded geoscience data (gridsql)."),
};

/// Signature of a function whose argument types are checked and coerced by its `coerce_types`.
pub(crate) fn user_defined() -> Signature {
    Signature::user_defined(Volatility::Immutable)
}

/// Whether values of type `t` can be widened to Float64 (integers, floats, decimals, NULL, and
/// dictionaries of those).
fn is_numeric_like(t: &DataType) -> bool {
    match t {
        DataType::Null => true,
        DataType::Dictionary(_, value) => is_numeric_like(value),
        other => other.is_numeric(),
    }
}

/// Planning-time coercion for a function of `arity` numeric arguments: every argument becomes
/// Float64 (a float32 or integer column is widened *before* the function computes), anything
/// non-numeric is a plan error naming the function and the argument.
pub(crate) fn coerce_numeric(
    name: &str,
    arg_types: &[DataType],
    arity: usize,
) -> Result<Vec<DataType>> {
    if arg_types.len() != arity {
        return plan_err!(
            "{name} takes {arity} numeric argument{}, got {}",
            if arity == 1 { "" } else { "s" },
            arg_types.len()
        );
    }
    arg_types
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if is_numeric_like(t) {
                Ok(DataType::Float64)
            } else {
                plan_err!("{name}: argument {} must be numeric, got {t}", i + 1)
            }
        })
        .collect()
}

/// Whether every argument is a scalar (the result is then returned as a scalar too).
pub(crate) fn all_scalar(args: &[ColumnarValue]) -> bool {
    args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)))
}

/// The arguments as arrays of one common length: `number_rows`, or 1 when all are scalars.
pub(crate) fn to_arrays(args: &[ColumnarValue], number_rows: usize) -> Result<Vec<ArrayRef>> {
    let rows = if all_scalar(args) { 1 } else { number_rows };
    args.iter().map(|a| a.to_array_of_size(rows)).collect()
}

/// The arguments as Float64 arrays of one common length (cast if the planner did not already).
pub(crate) fn float64_arrays(
    name: &str,
    args: &[ColumnarValue],
    number_rows: usize,
) -> Result<Vec<Float64Array>> {
    to_arrays(args, number_rows)?
        .into_iter()
        .enumerate()
        .map(|(i, array)| {
            let array = if array.data_type() == &DataType::Float64 {
                array
            } else if is_numeric_like(array.data_type()) {
                cast(&array, &DataType::Float64)?
            } else {
                return exec_err!(
                    "{name}: argument {} must be numeric, got {}",
                    i + 1,
                    array.data_type()
                );
            };
            match array.as_primitive_opt::<Float64Type>() {
                Some(a) => Ok(a.clone()),
                None => exec_err!("{name}: argument {} is not Float64 after casting", i + 1),
            }
        })
        .collect()
}

/// The `N` arguments of `name` as Float64 arrays, or an error if there are not exactly `N`.
pub(crate) fn float64_args<const N: usize>(
    name: &str,
    args: &[ColumnarValue],
    number_rows: usize,
) -> Result<[Float64Array; N]> {
    let arrays = float64_arrays(name, args, number_rows)?;
    let got = arrays.len();
    match <[Float64Array; N]>::try_from(arrays) {
        Ok(a) => Ok(a),
        Err(_) => exec_err!("{name} takes {N} arguments, got {got}"),
    }
}

/// Row-wise `f` over `N` equally long Float64 arrays; a NULL in any argument gives NULL.
pub(crate) fn map_rows<const N: usize, T>(
    name: &str,
    arrays: &[Float64Array; N],
    f: impl Fn([f64; N]) -> T,
) -> Result<Vec<Option<T>>> {
    let len = arrays.first().map_or(0, Array::len);
    if arrays.iter().any(|a| a.len() != len) {
        return exec_err!("{name}: arguments have different lengths");
    }
    Ok((0..len)
        .map(|i| {
            if arrays.iter().any(|a| a.is_null(i)) {
                None
            } else {
                Some(f(std::array::from_fn(|k| arrays[k].value(i))))
            }
        })
        .collect())
}

/// Wraps a result array: a scalar when every argument was a scalar, else the array.
pub(crate) fn output(array: ArrayRef, args: &[ColumnarValue]) -> Result<ColumnarValue> {
    if all_scalar(args) {
        if array.is_empty() {
            return exec_err!("internal: empty result for scalar arguments");
        }
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &array, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(array))
    }
}

/// Evaluates a Float64 → Float64 function of `N` numeric arguments (NULL in, NULL out).
pub(crate) fn eval_f64<const N: usize>(
    name: &str,
    args: &[ColumnarValue],
    number_rows: usize,
    f: impl Fn([f64; N]) -> f64,
) -> Result<ColumnarValue> {
    let arrays = float64_args::<N>(name, args, number_rows)?;
    let values: Float64Array = map_rows(name, &arrays, f)?.into_iter().collect();
    output(Arc::new(values), args)
}

/// Evaluates a Float64 → Boolean function of `N` numeric arguments (NULL in, NULL out).
pub(crate) fn eval_bool<const N: usize>(
    name: &str,
    args: &[ColumnarValue],
    number_rows: usize,
    f: impl Fn([f64; N]) -> bool,
) -> Result<ColumnarValue> {
    let arrays = float64_args::<N>(name, args, number_rows)?;
    let values: BooleanArray = map_rows(name, &arrays, f)?.into_iter().collect();
    output(Arc::new(values), args)
}

/// Builds the documentation of a function in the gridsql section.
pub(crate) fn doc(
    description: &str,
    syntax: &str,
    sql_example: &str,
    arguments: &[(&str, &str)],
) -> Documentation {
    let mut builder =
        Documentation::builder(DOC_SECTION_GEO, description, syntax).with_sql_example(sql_example);
    for (name, text) in arguments {
        builder = builder.with_argument(*name, *text);
    }
    builder.build()
}

/// Defines a scalar UDF struct over `$arity` numeric arguments (coerced to Float64 at planning
/// time; NULL in any argument gives NULL) that evaluates `$f` on each row with `$eval`
/// (`eval_f64` for a Float64 result, `eval_bool` for a Boolean one).
macro_rules! numeric_udf {
    (
        $(#[$meta:meta])*
        $ty:ident, $sql:literal, $arity:literal, $ret:ident, $eval:ident, $f:expr, $doc:expr
    ) => {
        $(#[$meta])*
        #[derive(Debug, PartialEq, Eq, Hash)]
        pub struct $ty {
            signature: ::datafusion::logical_expr::Signature,
        }

        impl Default for $ty {
            fn default() -> Self {
                Self { signature: $crate::args::user_defined() }
            }
        }

        impl $ty {
            #[doc = concat!("Creates the `", $sql, "` function.")]
            pub fn new() -> Self {
                Self::default()
            }
        }

        impl ::datafusion::logical_expr::ScalarUDFImpl for $ty {
            fn name(&self) -> &str {
                $sql
            }

            fn signature(&self) -> &::datafusion::logical_expr::Signature {
                &self.signature
            }

            fn coerce_types(
                &self,
                arg_types: &[::arrow::datatypes::DataType],
            ) -> ::datafusion::common::Result<Vec<::arrow::datatypes::DataType>> {
                $crate::args::coerce_numeric($sql, arg_types, $arity)
            }

            fn return_type(
                &self,
                _arg_types: &[::arrow::datatypes::DataType],
            ) -> ::datafusion::common::Result<::arrow::datatypes::DataType> {
                Ok(::arrow::datatypes::DataType::$ret)
            }

            fn is_strict(&self) -> bool {
                true
            }

            fn invoke_with_args(
                &self,
                args: ::datafusion::logical_expr::ScalarFunctionArgs,
            ) -> ::datafusion::common::Result<::datafusion::logical_expr::ColumnarValue> {
                $crate::args::$eval::<$arity>($sql, &args.args, args.number_rows, $f)
            }

            fn documentation(&self) -> Option<&::datafusion::logical_expr::Documentation> {
                static DOC: ::std::sync::LazyLock<::datafusion::logical_expr::Documentation> =
                    ::std::sync::LazyLock::new(|| $doc);
                Some(&DOC)
            }
        }
    };
}
pub(crate) use numeric_udf;
