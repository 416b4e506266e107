//! Fuzz body: a GRIB file (editions 1 and 2) from its bytes to decoded
//! values: message boundaries, the sections of each message, the hypercube
//! cfgrib's model builds from their keys, and the values of every field
//! small enough to decode here.
//!
//! Checked: a file either fails with an error or gives fields whose grids
//! decode to exactly as many values as they have points; the hypercube
//! indexes only fields of the file.

use super::MAX_READ_CELLS;
use crate::grib::{hypercube, message};

/// Runs the target on one input.
pub fn run(data: &[u8]) -> bool {
    let bytes = bytes::Bytes::copy_from_slice(data);
    let Ok(fields) = message::fields(&bytes) else {
        return false;
    };
    let Ok(cube) = hypercube::hypercube("fuzz.grib", &fields, 1) else {
        return false;
    };
    let known: Vec<message::FieldAt> = fields.iter().map(|(at, _)| *at).collect();
    for index in cube.data.values() {
        assert!(
            index.fields.iter().flatten().all(|at| known.contains(at)),
            "the hypercube names a field the file does not have"
        );
    }
    let mut all = true;
    for (at, field) in &fields {
        let (ny, nx) = field.grid.shape();
        if ny * nx > MAX_READ_CELLS {
            continue;
        }
        let points = (ny * nx) as usize;
        match message::decode(&bytes, *at, points) {
            Ok(values) => assert_eq!(values.len(), points, "decoded values != grid points"),
            Err(_) => all = false,
        }
    }
    all
}
