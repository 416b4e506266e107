//! The files a NetCDF location names: one file, a directory of files or a
//! glob (`data/dt_global_*.nc`, `s3://bucket/sst/*.nc`), local or in an
//! object store.
//!
//! libnetcdf reads local paths only, so a remote file is copied once into a
//! local cache (`$GRIDSQL_CACHE_DIR`, else `~/.cache/gridsql/objects`) under a
//! name derived from its URL, size and ETag; a changed object gets a new copy.

use std::hash::{Hash, Hasher};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use datafusion::execution::runtime_env::RuntimeEnv;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::error::{ConnectorError, Result};
use crate::location::resolve;

/// File name extensions taken from a directory.
const NETCDF_EXTENSIONS: &[&str] = &["nc", "nc3", "nc4", "netcdf", "cdf", "h5", "hdf5"];

/// Most files one location may name.
pub const MAX_FILES: usize = 1 << 20;

/// One file of a dataset.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file as users see it (path or URL), for messages.
    pub display: String,
    /// Where it lies.
    pub place: Place,
    /// Size in bytes.
    pub size: u64,
    /// Version tag: modification time (local) or ETag (remote).
    pub version: String,
}

/// Where a source lies.
#[derive(Debug, Clone)]
pub enum Place {
    /// A local file.
    Local(PathBuf),
    /// An object in a store.
    Remote {
        /// The store.
        store: Arc<dyn ObjectStore>,
        /// Path in the store.
        path: Path,
    },
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn loc_err(location: &str, reason: String) -> ConnectorError {
    ConnectorError::Location {
        location: location.to_string(),
        reason,
    }
}

/// Lists the files `location` names, sorted by name.
///
/// # Errors
/// Bad locations or patterns, nothing matching, store errors.
pub async fn list_sources(location: &str, runtime: &Arc<RuntimeEnv>) -> Result<Vec<Source>> {
    let remote = location.contains("://") && !location.starts_with("file://");
    let mut out = if remote {
        list_remote(location, runtime).await?
    } else {
        let path = location
            .strip_prefix("file://")
            .unwrap_or(location)
            .to_string();
        let loc = location.to_string();
        tokio::task::spawn_blocking(move || list_local(&path, &loc))
            .await
            .map_err(|e| loc_err(location, e.to_string()))??
    };
    if out.is_empty() {
        return Err(loc_err(location, "no NetCDF files match".into()));
    }
    if out.len() > MAX_FILES {
        return Err(loc_err(
            location,
            format!("{} files match (limit {MAX_FILES})", out.len()),
        ));
    }
    out.sort_by(|a, b| a.display.cmp(&b.display));
    Ok(out)
}

fn local_source(path: PathBuf, location: &str) -> Result<Source> {
    let meta = std::fs::metadata(&path)
        .map_err(|e| loc_err(location, format!("'{}': {e}", path.display())))?;
    let version = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or_else(String::new, |d| d.as_nanos().to_string());
    Ok(Source {
        display: path.display().to_string(),
        place: Place::Local(path),
        size: meta.len(),
        version,
    })
}

fn is_netcdf_name(p: &FsPath) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| NETCDF_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn list_local(path: &str, location: &str) -> Result<Vec<Source>> {
    if has_glob(path) {
        let entries = glob::glob(path).map_err(|e| loc_err(location, e.to_string()))?;
        let mut out = Vec::new();
        for entry in entries {
            let p = entry.map_err(|e| loc_err(location, e.to_string()))?;
            if p.is_file() {
                out.push(local_source(p, location)?);
            }
            if out.len() > MAX_FILES {
                break;
            }
        }
        return Ok(out);
    }
    let p = PathBuf::from(path);
    let meta = std::fs::metadata(&p).map_err(|e| loc_err(location, e.to_string()))?;
    if meta.is_dir() {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&p).map_err(|e| loc_err(location, e.to_string()))? {
            let entry = entry.map_err(|e| loc_err(location, e.to_string()))?;
            let ep = entry.path();
            if ep.is_file() && is_netcdf_name(&ep) {
                out.push(local_source(ep, location)?);
            }
        }
        return Ok(out);
    }
    Ok(vec![local_source(p, location)?])
}

async fn list_remote(location: &str, runtime: &Arc<RuntimeEnv>) -> Result<Vec<Source>> {
    // The part before the first glob character names the store and the
    // prefix to list; the whole path is the pattern.
    let (base, pattern) = match location.find(['*', '?', '[']) {
        Some(i) => {
            let slash = location[..i].rfind('/').unwrap_or(0);
            (&location[..=slash], Some(location))
        }
        None => (location, None),
    };
    let (store, prefix) = resolve(base, runtime)?;
    let source = |meta: ObjectMeta, url: String| Source {
        display: url,
        place: Place::Remote {
            store: Arc::clone(&store),
            path: meta.location.clone(),
        },
        size: meta.size,
        version: meta
            .e_tag
            .clone()
            .unwrap_or_else(|| meta.last_modified.to_rfc3339()),
    };
    let url = url::Url::parse(base).map_err(|e| loc_err(location, e.to_string()))?;
    let origin = format!("{}://{}", url.scheme(), url.authority());
    let url_of = |p: &Path| format!("{origin}/{p}");
    // One object, or else a listing: of a "directory" prefix (NetCDF names)
    // or of the prefix before a pattern (names matching it).
    let pattern = match pattern {
        Some(p) => Some(glob::Pattern::new(p).map_err(|e| loc_err(location, e.to_string()))?),
        None => {
            if let Ok(meta) = store.head(&prefix).await {
                let url = url_of(&meta.location);
                return Ok(vec![source(meta, url)]);
            }
            None
        }
    };
    let opts = glob::MatchOptions {
        require_literal_separator: true,
        ..glob::MatchOptions::new()
    };
    let metas: Vec<ObjectMeta> =
        store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| ConnectorError::Store {
                dataset: location.to_string(),
                source: e,
            })?;
    Ok(metas
        .into_iter()
        .filter_map(|m| {
            let url = url_of(&m.location);
            let keep = match &pattern {
                Some(p) => p.matches_with(&url, opts),
                None => is_netcdf_name(FsPath::new(m.location.as_ref())),
            };
            keep.then(|| source(m, url))
        })
        .collect())
}

/// The local cache directory of remote files.
fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("GRIDSQL_CACHE_DIR") {
        return PathBuf::from(d).join("objects");
    }
    let home = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    home.join("gridsql").join("objects")
}

/// A stable local name of a source version.
fn cache_name(src: &Source) -> String {
    // FNV-1a: stable across runs and Rust versions, unlike DefaultHasher.
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 ^= u64::from(*b);
                self.0 = self.0.wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    src.display.hash(&mut h);
    src.version.hash(&mut h);
    src.size.hash(&mut h);
    let stem: String = src
        .display
        .rsplit('/')
        .next()
        .unwrap_or("file")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(64)
        .collect();
    format!("{:016x}-{stem}", h.finish())
}

/// A local path of the source: the file itself, or its cached copy.
///
/// # Errors
/// Store or file-system errors while copying.
pub async fn local_path(src: &Source) -> Result<PathBuf> {
    let (store, path) = match &src.place {
        Place::Local(p) => return Ok(p.clone()),
        Place::Remote { store, path } => (store, path),
    };
    let dir = cache_dir();
    let target = dir.join(cache_name(src));
    if tokio::fs::metadata(&target)
        .await
        .is_ok_and(|m| m.len() == src.size)
    {
        return Ok(target);
    }
    let io_err = |e: std::io::Error| ConnectorError::Metadata {
        dataset: src.display.clone(),
        reason: format!("cannot cache in '{}': {e}", dir.display()),
    };
    tokio::fs::create_dir_all(&dir).await.map_err(io_err)?;
    let tmp = dir.join(format!("{}.part{}", cache_name(src), std::process::id()));
    let result = store.get(path).await.map_err(|e| ConnectorError::Store {
        dataset: src.display.clone(),
        source: e,
    })?;
    let mut stream = result.into_stream();
    let mut file = tokio::fs::File::create(&tmp).await.map_err(io_err)?;
    use tokio::io::AsyncWriteExt;
    while let Some(bytes) = stream.try_next().await.map_err(|e| ConnectorError::Store {
        dataset: src.display.clone(),
        source: e,
    })? {
        file.write_all(&bytes).await.map_err(io_err)?;
    }
    file.flush().await.map_err(io_err)?;
    drop(file);
    tokio::fs::rename(&tmp, &target).await.map_err(io_err)?;
    Ok(target)
}
