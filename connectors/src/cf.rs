//! CF conventions decoding as xarray's `open_dataset` does by default: packed
//! values (`scale_factor`, `add_offset`), missing values (`_FillValue`,
//! `missing_value`, float NaN) and time coordinates (`<unit> since <date>` on
//! the CF calendars).
//!
//! Everything here is a pure function of attributes and typed values: no I/O.
//! Spec: CF conventions 1.11, sections 2.5 (missing data), 8.1 (packed data)
//! and 4.4 (time coordinate).

pub mod attrs;
pub mod packing;
pub mod time;

pub use attrs::{AttrValue, Attributes};
pub use packing::{CfDecoding, OutputType, RawElem, RawType, ScalarDecoder};
pub use time::{Calendar, TimeDecoding};
