//! Opening NetCDF locations: one file as it is; several files as one table
//! concatenated along their record dimension, as xarray's `open_mfdataset`
//! does.
//!
//! A collection opens from its first file's header alone, so listing,
//! `DESCRIBE` and planning need one header. The other headers are read when
//! a scan first needs the record coordinate ([`Collection::resolve`]): each
//! file's record length and coordinate, checked against the first file's
//! dimensions, variables and encodings. Files are then ordered by their first
//! record coordinate, and a filter on it skips whole files because regions
//! never cross file bounds.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::compute::concat;
use async_trait::async_trait;
use datafusion::common::ScalarValue;
use futures::{StreamExt, TryStreamExt};

use super::header::{Header, open_file, read_header};
use super::reader::{FileSpan, NetcdfReader};
use super::skeleton::{forget, skeleton};
use super::sources::{Source, list_sources, local_path};
use super::worker;
use crate::error::{ConnectorError, Result};
use crate::grid::build::{CoordReads, build_grid};
use crate::grid::model::Coords;
use crate::grid::{FileSplits, Grid, GridReader};
use crate::location::{Access, Location};
use crate::table::{DeferredTable, GridTable, OpenedTable, TableSpec};

/// Headers read at once while resolving a collection.
const HEADER_CONCURRENCY: usize = 8;

/// Opens a NetCDF location (a file, a directory or a glob); `spec` names
/// the canonical `location`.
///
/// # Errors
/// No files, refused files, unreadable headers, bad options.
pub async fn open_netcdf(
    spec: &TableSpec,
    location: &Location,
    access: &Access,
) -> Result<OpenedTable> {
    let dataset = spec.location.clone();
    let group = spec.options.get("group").cloned().unwrap_or_default();
    let sources = list_sources(location, access).await?;
    let first = sources[0].clone();
    let (file, header) = read_source_header(&first, &group, &first.display).await?;
    let raw: HashMap<String, _> = header
        .vars
        .variables
        .iter()
        .map(|v| (v.name.clone(), v.decoding.cf.raw))
        .collect();
    let span = FileSpan {
        source: first.clone(),
        start: 0,
        len: 0,
    };
    let reader = Arc::new(
        NetcdfReader::new(
            dataset.clone(),
            group.clone(),
            vec![span],
            None,
            raw.clone(),
        )
        .with_handle(0, file),
    );
    let grid = grid_of(&header, &spec.options, &reader, None).await?;
    if sources.len() == 1 {
        return Ok(OpenedTable::Ready(GridTable::new(
            spec.clone(),
            grid,
            reader,
        )));
    }
    let record = record_dim(&grid, &header.unlimited).ok_or_else(|| ConnectorError::Metadata {
        dataset: dataset.clone(),
        reason: format!(
            "{} files match but their variables have no record dimension to concatenate \
             along (no unlimited dimension and no 'time'); dims are ({})",
            sources.len(),
            grid.dims
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ),
    })?;
    // Auxiliary columns along the record dimension would need every file's
    // values; they are left out of a collection (a log line says so).
    let mut grid = grid;
    grid.aux.retain(|a| {
        let along = a.dims.contains(&record);
        if along {
            log::info!(
                "dataset '{dataset}': '{}' varies along the record dimension; not a column of a \
                 collection of files",
                a.var.name
            );
        }
        !along
    });
    let schema = grid.schema();
    let resolver = Collection {
        spec: spec.clone(),
        group,
        sources,
        first: grid,
        record,
        raw,
    };
    Ok(OpenedTable::Deferred {
        spec: spec.clone(),
        schema,
        resolver: Arc::new(resolver),
    })
}

/// Opens a source and reads its header on the libnetcdf thread: a local
/// file itself, a remote one from its skeleton, or from a whole copy when
/// the skeleton cannot be made or read.
async fn read_source_header(
    src: &Source,
    group: &str,
    dataset: &str,
) -> Result<(netcdf::File, Header)> {
    // Outer error: libnetcdf cannot open the file; inner: its header.
    // A skeleton holds no string values: they are read only from a whole file.
    let read = |path: std::path::PathBuf, strings: bool| {
        let group = group.to_string();
        let dataset = dataset.to_string();
        worker::run(&src.display, move || {
            let file = open_file(&path, &dataset)?;
            Ok::<_, ConnectorError>(
                read_header(&file, &group, &dataset, strings).map(|h| (file, h)),
            )
        })
    };
    if let Some(sk) = skeleton(src).await? {
        match read(sk.path.clone(), false).await? {
            Ok(found) => return found,
            Err(e) => {
                log::warn!(
                    "'{}': libnetcdf cannot open its byte-range copy ({e}); copying the file whole",
                    src.display
                );
                forget(src);
            }
        }
    }
    read(local_path(src).await?, true).await??
}

/// Builds the grid of one file's header, reading coordinates with `reader`:
/// all of them, or only the one named `only` (the other dimensions then hold
/// NULLs: a later file of a collection needs its sizes, not its values).
async fn grid_of(
    header: &Header,
    options: &BTreeMap<String, String>,
    reader: &Arc<NetcdfReader>,
    only: Option<&str>,
) -> Result<Grid> {
    let reader: &dyn GridReader = reader.as_ref();
    let coords = match only {
        Some(name) => CoordReads::Only(reader, name),
        None => CoordReads::All(reader),
    };
    build_grid(header.vars.clone(), options, coords).await
}

/// The dimension files are concatenated along: the grid's first unlimited
/// dimension, else `time`.
fn record_dim(grid: &Grid, unlimited: &[String]) -> Option<usize> {
    unlimited
        .iter()
        .find_map(|u| grid.dim_index(u))
        .or_else(|| grid.dim_index("time"))
}

/// What must agree between files: every non-record dimension's name and
/// size, every variable's name, dims, stored type and CF encoding.
fn signature(grid: &Grid, record: usize) -> Vec<String> {
    let mut out: Vec<String> = grid
        .dims
        .iter()
        .enumerate()
        .map(|(i, d)| {
            if i == record {
                format!("record dimension '{}'", d.name)
            } else {
                format!("dimension '{}' of size {}", d.name, d.size)
            }
        })
        .collect();
    for v in &grid.variables {
        let cf = &v.decoding.cf;
        out.push(format!(
            "variable '{}' ({}) {} scale_factor={:?} add_offset={:?} fill={:?}",
            v.name,
            v.dims.join(","),
            cf.raw.name(),
            cf.scale,
            cf.offset,
            cf.fills
        ));
    }
    out
}

/// A multi-file dataset waiting for its headers.
#[derive(Debug)]
struct Collection {
    spec: TableSpec,
    group: String,
    sources: Vec<Source>,
    first: Grid,
    record: usize,
    raw: HashMap<String, crate::cf::RawType>,
}

/// One file's contribution to the record dimension.
struct FileIndex {
    source: Source,
    len: u64,
    /// The record coordinate; `None` when the record dimension has none.
    coord: Option<ArrayRef>,
}

impl Collection {
    /// Reads one file's header and record coordinate and checks it against
    /// the first file.
    async fn index(&self, src: Source, expected: &[String]) -> Result<FileIndex> {
        let (file, header) = read_source_header(&src, &self.group, &src.display).await?;
        let reader = Arc::new(
            NetcdfReader::new(
                src.display.clone(),
                self.group.clone(),
                vec![FileSpan {
                    source: src.clone(),
                    start: 0,
                    len: 0,
                }],
                None,
                self.raw.clone(),
            )
            .with_handle(0, file),
        );
        let record_name = &self.first.dims[self.record].name;
        let grid = grid_of(&header, &self.spec.options, &reader, Some(record_name)).await?;
        let sig = signature(&grid, self.record);
        if sig != expected {
            let diff = expected
                .iter()
                .find(|e| !sig.contains(e))
                .map(|e| format!("the first file has {e}"))
                .or_else(|| {
                    sig.iter()
                        .find(|s| !expected.contains(s))
                        .map(|s| format!("this file has {s}"))
                })
                .unwrap_or_else(|| "different variables".into());
            return Err(ConnectorError::Metadata {
                dataset: self.spec.location.clone(),
                reason: format!(
                    "file '{}' does not match '{}': {diff}",
                    src.display, self.sources[0].display
                ),
            });
        }
        let dim = &grid.dims[self.record];
        Ok(FileIndex {
            source: src,
            len: dim.size,
            coord: match &dim.coords {
                Coords::Values(v) => Some(Arc::clone(v)),
                Coords::Index => None,
            },
        })
    }
}

/// The first value of a coordinate, for ordering files.
fn first_value(a: Option<&ArrayRef>) -> Option<ScalarValue> {
    let a = a?;
    (!a.is_empty())
        .then(|| ScalarValue::try_from_array(a, 0).ok())
        .flatten()
}

/// The last value of a coordinate, for checking overlaps.
fn last_value(a: Option<&ArrayRef>) -> Option<ScalarValue> {
    let a = a?;
    (!a.is_empty())
        .then(|| ScalarValue::try_from_array(a, a.len() - 1).ok())
        .flatten()
}

#[async_trait]
impl DeferredTable for Collection {
    async fn resolve(&self) -> Result<GridTable> {
        let dataset = self.spec.location.clone();
        let expected = signature(&self.first, self.record);
        let mut files: Vec<FileIndex> = futures::stream::iter(self.sources.clone())
            .map(|src| self.index(src, &expected))
            .buffered(HEADER_CONCURRENCY)
            .try_collect()
            .await?;
        files.retain(|f| f.len > 0);
        if files.is_empty() {
            return Err(ConnectorError::Metadata {
                dataset,
                reason: "every file has 0 records".into(),
            });
        }
        // Order files by their first record coordinate, as open_mfdataset's
        // combine='by_coords' does; ties keep file-name order.
        let keys: Vec<Option<ScalarValue>> = files
            .iter()
            .map(|f| first_value(f.coord.as_ref()))
            .collect();
        let mut order: Vec<usize> = (0..files.len()).collect();
        order.sort_by(|&a, &b| {
            keys[a]
                .partial_cmp(&keys[b])
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut slots: Vec<Option<FileIndex>> = files.into_iter().map(Some).collect();
        let files: Vec<FileIndex> = order.iter().filter_map(|&i| slots[i].take()).collect();
        // Files must not overlap along the record coordinate.
        for w in files.windows(2) {
            let last = last_value(w[0].coord.as_ref());
            let next = first_value(w[1].coord.as_ref());
            if let (Some(l), Some(n)) = (last, next)
                && l.partial_cmp(&n) != Some(std::cmp::Ordering::Less)
            {
                return Err(ConnectorError::Metadata {
                    dataset,
                    reason: format!(
                        "files '{}' and '{}' overlap along '{}' ({l} >= {n})",
                        w[0].source.display, w[1].source.display, self.first.dims[self.record].name
                    ),
                });
            }
        }
        // The record coordinate of all files, or the index along them when
        // the record dimension has no coordinate variable.
        let coords: Option<Vec<&ArrayRef>> = files.iter().map(|f| f.coord.as_ref()).collect();
        let coords = match coords {
            Some(parts) => {
                let arrays: Vec<&dyn arrow::array::Array> =
                    parts.iter().map(|a| a.as_ref()).collect();
                let target = self.first.dims[self.record].data_type();
                let coord = concat(&arrays).or_else(|_| {
                    // Files may decode to different Arrow types (float32 vs
                    // float64 coordinates); align them to the first file's.
                    let cast: Vec<ArrayRef> = parts
                        .iter()
                        .map(|a| arrow::compute::cast(a, &target))
                        .collect::<std::result::Result<_, _>>()?;
                    let refs: Vec<&dyn arrow::array::Array> =
                        cast.iter().map(AsRef::as_ref).collect();
                    concat(&refs)
                })?;
                Coords::Values(coord)
            }
            None => Coords::Index,
        };
        let mut spans = Vec::with_capacity(files.len());
        let mut start = 0u64;
        for f in &files {
            spans.push(FileSpan {
                source: f.source.clone(),
                start,
                len: f.len,
            });
            start += f.len;
        }
        let total = start;
        let mut grid = self.first.clone();
        let dim = &mut grid.dims[self.record];
        dim.size = total;
        dim.coords = coords;
        if let Some(c) = dim.coord_var.as_mut() {
            c.shape = vec![total];
        }
        for v in &mut grid.variables {
            if let Some(s) = v.shape.get_mut(self.record) {
                *s = total;
            }
        }
        grid.files = Some(FileSplits {
            dim: self.record,
            starts: spans.iter().map(|s| s.start).collect(),
        });
        let reader = NetcdfReader::new(
            dataset,
            self.group.clone(),
            spans,
            Some(self.record),
            self.raw.clone(),
        );
        Ok(GridTable::new(self.spec.clone(), grid, Arc::new(reader)))
    }
}
