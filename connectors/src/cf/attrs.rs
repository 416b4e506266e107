//! Attribute values as both formats carry them: JSON in Zarr, typed in NetCDF.
//!
//! The element type of a numeric attribute matters to CF decoding: xarray
//! picks float32 or float64 for unpacked values from the type of
//! `scale_factor`/`add_offset`, so a float attribute remembers whether it was
//! stored as float32.

use std::collections::BTreeMap;

use base64::Engine;

/// One attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// An integer.
    Int(i64),
    /// A float; `f32` is true when it was stored as float32.
    Float {
        /// The value.
        value: f64,
        /// Stored as float32.
        f32: bool,
    },
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// A list of values.
    List(Vec<AttrValue>),
    /// JSON null or an attribute of a type we do not interpret.
    Null,
}

impl AttrValue {
    /// Converts a JSON value (Zarr attributes).
    pub fn from_json(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => AttrValue::Null,
            serde_json::Value::Bool(b) => AttrValue::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    AttrValue::Int(i)
                } else if let Some(f) = n.as_f64() {
                    AttrValue::Float {
                        value: f,
                        f32: false,
                    }
                } else {
                    AttrValue::Null
                }
            }
            serde_json::Value::String(s) => AttrValue::Str(s.clone()),
            serde_json::Value::Array(a) => AttrValue::List(a.iter().map(Self::from_json).collect()),
            serde_json::Value::Object(_) => AttrValue::Null,
        }
    }

    /// The value as f64 if it is a number (or a one-element numeric list).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttrValue::Int(i) => Some(*i as f64),
            AttrValue::Float { value, .. } => Some(*value),
            AttrValue::List(l) if l.len() == 1 => l[0].as_f64(),
            // JSON has no NaN: zarr writers spell float fill values as strings.
            AttrValue::Str(s) => match s.as_str() {
                "NaN" | "nan" => Some(f64::NAN),
                "Infinity" | "inf" => Some(f64::INFINITY),
                "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
                _ => None,
            },
            _ => None,
        }
    }

    /// All numbers of a scalar or list attribute (e.g. `missing_value` may be a list).
    pub fn numbers(&self) -> Vec<f64> {
        match self {
            AttrValue::List(l) => l.iter().filter_map(AttrValue::as_f64).collect(),
            v => v.as_f64().into_iter().collect(),
        }
    }

    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is a float stored as float32.
    pub fn is_f32(&self) -> bool {
        match self {
            AttrValue::Float { f32, .. } => *f32,
            AttrValue::List(l) if l.len() == 1 => l[0].is_f32(),
            _ => false,
        }
    }

    /// Whether this is a float (of either width).
    pub fn is_float(&self) -> bool {
        match self {
            AttrValue::Float { .. } => true,
            AttrValue::List(l) if l.len() == 1 => l[0].is_float(),
            _ => false,
        }
    }

    /// Renders the value for display (`DESCRIBE`, `grid_attributes`).
    pub fn render(&self) -> String {
        match self {
            AttrValue::Int(i) => i.to_string(),
            AttrValue::Float { value, .. } => value.to_string(),
            AttrValue::Str(s) => s.clone(),
            AttrValue::Bool(b) => b.to_string(),
            AttrValue::List(l) => {
                let parts: Vec<String> = l.iter().map(AttrValue::render).collect();
                format!("[{}]", parts.join(", "))
            }
            AttrValue::Null => String::new(),
        }
    }
}

/// Decodes a Zarr v3 `_FillValue` attribute as xarray writes it: a number,
/// a special float string ("NaN"), or base64 of the value's little-endian
/// bytes (xarray's v3 encoding of float fill values).
pub fn decode_v3_fill(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::String(s) => {
            if let Some(f) = AttrValue::Str(s.clone()).as_f64() {
                return Some(f);
            }
            let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
            match bytes.len() {
                8 => Some(f64::from_le_bytes(bytes.try_into().ok()?)),
                4 => Some(f32::from_le_bytes(bytes.try_into().ok()?) as f64),
                _ => None,
            }
        }
        other => AttrValue::from_json(other).as_f64(),
    }
}

/// A variable's or dataset's attributes, in name order.
pub type Attributes = BTreeMap<String, AttrValue>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_fill_base64_nan() {
        let v = serde_json::json!("AAAAAAAA+H8=");
        assert!(decode_v3_fill(&v).is_some_and(f64::is_nan));
        assert_eq!(decode_v3_fill(&serde_json::json!(-32767)), Some(-32767.0));
        assert!(decode_v3_fill(&serde_json::json!("NaN")).is_some_and(f64::is_nan));
        assert_eq!(decode_v3_fill(&serde_json::json!("garbage!")), None);
    }

    #[test]
    fn numbers_of_lists() {
        let v = AttrValue::from_json(&serde_json::json!([1, 2.5]));
        assert_eq!(v.numbers(), vec![1.0, 2.5]);
        assert_eq!(AttrValue::Str("x".into()).numbers(), Vec::<f64>::new());
    }
}
