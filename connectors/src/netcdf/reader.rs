//! Reads regions of NetCDF variables, from one file or from the file of a
//! collection that holds the region along the record dimension.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::header::{open_file, read_region};
use super::sources::{Source, local_path};
use super::worker;
use crate::cf::RawType;
use crate::error::{ConnectorError, Result};
use crate::grid::{GridReader, RawBuffer};

/// Most files kept open at once; past it the open handles are dropped.
const MAX_OPEN_FILES: usize = 64;

/// One file of a dataset and the record indices it holds.
#[derive(Debug, Clone)]
pub struct FileSpan {
    /// The file.
    pub source: Source,
    /// First index along the record dimension.
    pub start: u64,
    /// Number of records.
    pub len: u64,
}

/// Reads regions of a NetCDF dataset's variables.
#[derive(Debug)]
pub struct NetcdfReader {
    dataset: String,
    group: String,
    files: Vec<FileSpan>,
    record_dim: Option<usize>,
    raw: HashMap<String, RawType>,
    open: Mutex<HashMap<usize, Arc<netcdf::File>>>,
}

impl NetcdfReader {
    /// A reader of `files` (concatenated along dimension `record_dim` when
    /// there are several); `raw` gives each variable's element type.
    pub fn new(
        dataset: String,
        group: String,
        files: Vec<FileSpan>,
        record_dim: Option<usize>,
        raw: HashMap<String, RawType>,
    ) -> Self {
        NetcdfReader {
            dataset,
            group,
            files,
            record_dim,
            raw,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Adds an already opened handle of file `i`.
    pub fn with_handle(self, i: usize, file: netcdf::File) -> Self {
        if let Ok(mut open) = self.open.lock() {
            open.insert(i, Arc::new(file));
        }
        self
    }

    /// The open handle of file `i`, opening it when needed.
    async fn handle(&self, i: usize) -> Result<Arc<netcdf::File>> {
        if let Some(h) = self.open.lock().ok().and_then(|o| o.get(&i).cloned()) {
            return Ok(h);
        }
        let span = self.files.get(i).ok_or_else(|| ConnectorError::Metadata {
            dataset: self.dataset.clone(),
            reason: format!("file {i} out of range"),
        })?;
        let path = local_path(&span.source).await?;
        let display = span.source.display.clone();
        let file = worker::run(&self.dataset, move || open_file(&path, &display)).await??;
        let file = Arc::new(file);
        if let Ok(mut open) = self.open.lock() {
            if open.len() >= MAX_OPEN_FILES {
                open.clear();
            }
            open.insert(i, Arc::clone(&file));
        }
        Ok(file)
    }

    /// The file holding `region` and the region inside that file.
    fn locate(&self, variable: &str, region: &[Range<u64>]) -> Result<(usize, Vec<Range<u64>>)> {
        let Some(d) = self.record_dim else {
            return Ok((0, region.to_vec()));
        };
        let r = region.get(d).cloned().unwrap_or(0..0);
        let i = self
            .files
            .partition_point(|f| f.start <= r.start)
            .saturating_sub(1);
        let span = &self.files[i.min(self.files.len().saturating_sub(1))];
        if r.end > span.start + span.len || r.start < span.start {
            return Err(ConnectorError::Chunk {
                dataset: self.dataset.clone(),
                variable: variable.to_string(),
                chunk: format!("{region:?}"),
                reason: "the region spans several files".into(),
            });
        }
        let mut local = region.to_vec();
        local[d] = r.start - span.start..r.end - span.start;
        Ok((i, local))
    }
}

#[async_trait]
impl GridReader for NetcdfReader {
    async fn read(&self, variable: &str, region: &[Range<u64>]) -> Result<RawBuffer> {
        let raw = *self
            .raw
            .get(variable)
            .ok_or_else(|| ConnectorError::Variable {
                dataset: self.dataset.clone(),
                variable: variable.to_string(),
                reason: "not a variable of this dataset".into(),
            })?;
        let (i, local) = self.locate(variable, region)?;
        let file = self.handle(i).await?;
        let group = self.group.clone();
        let display = if self.files.len() > 1 {
            self.files[i].source.display.clone()
        } else {
            self.dataset.clone()
        };
        let name = variable.to_string();
        worker::run(&self.dataset, move || {
            read_region(&file, &group, &display, &name, raw, &local)
        })
        .await?
    }
}
