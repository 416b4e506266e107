//! Reads regions of NetCDF variables, from one file or from the file of a
//! collection that holds the region along the record dimension.
//!
//! NetCDF-4 variables whose storage the Rust decoder handles are read
//! directly ([`super::direct`]): the chunk index is read once per file and
//! variable on the libnetcdf thread, then chunks are read and decoded on
//! blocking threads, several regions at once. A remote file's chunk index
//! comes from its skeleton ([`super::skeleton`]) and its chunks are fetched
//! by range ([`super::ranged`]); so are a remote NetCDF-3 file's values
//! ([`super::classic`]). Everything else (local NetCDF-3, other HDF5
//! filters, compact storage) reads through libnetcdf, from a whole copy when
//! the file is remote.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::chunk_index::{ChunkLayout, IndexError, is_hdf5, read_layout};
use super::classic::classic_layout;
use super::direct::{self, ByteSource, Names};
use super::header::{open_file, read_region};
use super::ranged::RemoteFile;
use super::skeleton::skeleton;
use super::sources::{Place, Source, local_path};
use super::worker;
use crate::cf::RawType;
use crate::error::{ConnectorError, Result};
use crate::grid::{GridReader, RawBuffer};

/// Most files kept open at once; past it the open handles are dropped.
const MAX_OPEN_FILES: usize = 64;

/// Set to `1` to read every variable through libnetcdf (to compare or to
/// work around a problem of the direct reader).
pub const LIBNETCDF_ENV: &str = "GRIDSQL_NETCDF_LIBNETCDF";

/// How a variable of one file is read.
#[derive(Debug, Clone)]
enum Route {
    /// Chunks read by offset and decoded in Rust.
    Direct(Arc<ChunkLayout>, ChunkSource),
    /// Through libnetcdf.
    Libnetcdf,
}

/// Where the chunks of a direct route are read from.
#[derive(Debug, Clone)]
enum ChunkSource {
    /// A local file.
    Local(Arc<std::fs::File>),
    /// A remote file, by range.
    Remote(Arc<RemoteFile>),
}

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
    routes: Mutex<HashMap<(usize, String), Route>>,
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
            routes: Mutex::new(HashMap::new()),
        }
    }

    /// Adds an already opened handle of file `i`. Handles of remote files
    /// are not kept: theirs may be of a skeleton, which holds no data.
    pub fn with_handle(self, i: usize, file: netcdf::File) -> Self {
        let local = self
            .files
            .get(i)
            .is_some_and(|f| matches!(f.source.place, Place::Local(_)));
        if local && let Ok(mut open) = self.open.lock() {
            open.insert(i, Arc::new(file));
        }
        self
    }

    /// The local path (remote files: the cached copy) and the display name
    /// of file `i`.
    async fn local_file(&self, i: usize) -> Result<(std::path::PathBuf, String)> {
        let span = self.files.get(i).ok_or_else(|| ConnectorError::Metadata {
            dataset: self.dataset.clone(),
            reason: format!("file {i} out of range"),
        })?;
        Ok((local_path(&span.source).await?, span.source.display.clone()))
    }

    /// The open handle of file `i`, opening it when needed.
    async fn handle(&self, i: usize) -> Result<Arc<netcdf::File>> {
        if let Some(h) = self.open.lock().ok().and_then(|o| o.get(&i).cloned()) {
            return Ok(h);
        }
        let (path, display) = self.local_file(i).await?;
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

    /// How variable `name` of file `i` is read, deciding it (and reading
    /// the chunk index) on first use.
    async fn route(&self, i: usize, name: &str, rank: usize) -> Result<Route> {
        let key = (i, name.to_string());
        if let Some(r) = self.routes.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(r);
        }
        let route = self.decide(i, name, rank).await?;
        if let Ok(mut routes) = self.routes.lock() {
            if routes.len() >= MAX_OPEN_FILES * 16 {
                routes.clear();
            }
            routes.insert(key, route.clone());
        }
        Ok(route)
    }

    /// Reads the chunk index of variable `name` of file `i` when the file is
    /// NetCDF-4 and its storage is one the Rust decoder handles; for a
    /// remote file, from its skeleton, NetCDF-3 included.
    async fn decide(&self, i: usize, name: &str, rank: usize) -> Result<Route> {
        if std::env::var(LIBNETCDF_ENV).is_ok_and(|v| v == "1") {
            return Ok(Route::Libnetcdf);
        }
        let source = &self
            .files
            .get(i)
            .ok_or_else(|| ConnectorError::Metadata {
                dataset: self.dataset.clone(),
                reason: format!("file {i} out of range"),
            })?
            .source;
        let display = source.display.clone();
        let (group, var) = (self.group.clone(), name.to_string());
        let found = match &source.place {
            Place::Local(path) => {
                let path = path.clone();
                worker::run(&self.dataset, move || {
                    if !is_hdf5(&path) {
                        return Ok(None);
                    }
                    let layout = read_layout(&path, &group, &var, rank)?;
                    let file = std::fs::File::open(&path)
                        .map_err(|e| IndexError::Failed(format!("cannot open: {e}")))?;
                    Ok(Some((layout, ChunkSource::Local(Arc::new(file)))))
                })
                .await?
            }
            Place::Remote { store, path } => {
                let Some(skeleton) = skeleton(source).await? else {
                    return Ok(Route::Libnetcdf);
                };
                let remote = RemoteFile {
                    store: Arc::clone(store),
                    path: path.clone(),
                    size: source.size,
                    skeleton: Arc::clone(&skeleton),
                };
                worker::run(&self.dataset, move || {
                    let layout = if is_hdf5(&skeleton.path) {
                        read_layout(&skeleton.path, &group, &var, rank)?
                    } else {
                        classic_layout(&skeleton.path, &var, rank)?
                    };
                    Ok(Some((layout, ChunkSource::Remote(Arc::new(remote)))))
                })
                .await?
            }
        };
        Ok(match found {
            Ok(Some((layout, chunks))) => Route::Direct(Arc::new(layout), chunks),
            Ok(None) => Route::Libnetcdf,
            Err(IndexError::Unsupported(why)) => {
                log::info!(
                    "dataset '{display}', variable '{name}': read through libnetcdf ({why})"
                );
                Route::Libnetcdf
            }
            Err(IndexError::Failed(why)) => {
                log::warn!(
                    "dataset '{display}', variable '{name}': chunk index unreadable, \
                     reading through libnetcdf: {why}"
                );
                Route::Libnetcdf
            }
        })
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
        let display = if self.files.len() > 1 {
            self.files[i].source.display.clone()
        } else {
            self.dataset.clone()
        };
        let name = variable.to_string();
        if let Route::Direct(layout, chunks) = self.route(i, variable, region.len()).await? {
            // A remote file's bytes are fetched first, then decoded off the
            // runtime (crate::io::decode); a local file's are read as they
            // are decoded, on a blocking thread.
            let (source, remote): (Box<dyn ByteSource + Send>, bool) = match chunks {
                ChunkSource::Local(file) => (Box::new(file), false),
                ChunkSource::Remote(file) => {
                    let ranges = direct::byte_ranges(&layout, &local);
                    (Box::new(file.fetch(ranges, &display).await?), true)
                }
            };
            let read = move || {
                let names = Names {
                    dataset: &display,
                    variable: &name,
                };
                direct::read_region(source.as_ref(), &layout, raw, &local, names)
            };
            let decoded = if remote {
                crate::io::decode::off_runtime(read).await
            } else {
                tokio::task::spawn_blocking(read).await
            };
            return decoded.map_err(|e| ConnectorError::Chunk {
                dataset: self.dataset.clone(),
                variable: variable.to_string(),
                chunk: format!("{region:?}"),
                reason: format!("decoding task failed: {e}"),
            })?;
        }
        let file = self.handle(i).await?;
        let group = self.group.clone();
        worker::run(&self.dataset, move || {
            read_region(&file, &group, &display, &name, raw, &local)
        })
        .await?
    }
}
