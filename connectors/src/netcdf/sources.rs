//! The files a NetCDF location names: one file, a directory of files or a
//! glob (`data/dt_global_*.nc`, `s3://bucket/sst/*.nc`), local or in an
//! object store.
//!
//! A remote file is read by byte range: its metadata through a sparse local
//! copy ([`super::skeleton`]), its chunks from the store. Only a file whose
//! header or storage the byte-range path cannot read is copied whole into a
//! local cache (`$GRIDSQL_CACHE_DIR/objects`, else
//! `~/.cache/gridsql/objects`) under a name derived from its URL, size and
//! ETag; a changed object gets a new copy.

use std::hash::{Hash, Hasher};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::error::{ConnectorError, Result};
use crate::location::GLOB_CHARS;
use crate::location::{Access, Location};
use crate::table::Format;

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

fn loc_err(location: &Location, reason: String) -> ConnectorError {
    ConnectorError::Location {
        location: location.to_string(),
        reason,
    }
}

/// Lists the files `location` names, sorted by name. Every file a glob or a
/// folder expands to is canonicalised and checked on its own (a symbolic
/// link in an allowed folder may lead out of it).
///
/// # Errors
/// Bad locations or patterns, nothing matching, refused files, store errors.
pub async fn list_sources(location: &Location, access: &Access) -> Result<Vec<Source>> {
    let mut out = match location {
        Location::Remote { .. } => list_remote(location, access).await?,
        Location::Local(path) => {
            let (path, loc, access) = (path.clone(), location.clone(), access.clone());
            tokio::task::spawn_blocking(move || list_local(&path, &loc, &access))
                .await
                .map_err(|e| loc_err(location, e.to_string()))??
        }
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

/// A local file found under `location`, canonicalised and checked.
fn local_source(found: &FsPath, location: &Location, access: &Access) -> Result<Source> {
    let canonical = Location::local(found)?;
    let path = access.local_file(&canonical)?;
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
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(Format::is_netcdf_name)
}

fn list_local(path: &FsPath, location: &Location, access: &Access) -> Result<Vec<Source>> {
    access.check(location)?;
    if location.is_glob() {
        let pattern = path
            .to_str()
            .ok_or_else(|| loc_err(location, "the pattern is not valid UTF-8".into()))?;
        let entries = glob::glob(pattern).map_err(|e| loc_err(location, e.to_string()))?;
        let mut out = Vec::new();
        for entry in entries {
            let p = entry.map_err(|e| loc_err(location, e.to_string()))?;
            if p.is_file() {
                out.push(local_source(&p, location, access)?);
            }
            if out.len() > MAX_FILES {
                break;
            }
        }
        return Ok(out);
    }
    let meta = std::fs::metadata(path).map_err(|e| loc_err(location, e.to_string()))?;
    if meta.is_dir() {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| loc_err(location, e.to_string()))? {
            let entry = entry.map_err(|e| loc_err(location, e.to_string()))?;
            let ep = entry.path();
            if ep.is_file() && is_netcdf_name(&ep) {
                out.push(local_source(&ep, location, access)?);
            }
            if out.len() > MAX_FILES {
                break;
            }
        }
        return Ok(out);
    }
    Ok(vec![local_source(path, location, access)?])
}

async fn list_remote(location: &Location, access: &Access) -> Result<Vec<Source>> {
    let Location::Remote {
        scheme,
        authority,
        segments,
    } = location
    else {
        return Err(loc_err(location, "not a remote location".into()));
    };
    // The segments before the first one with a glob character name the
    // prefix to list; the whole location is the pattern.
    let literal = segments
        .iter()
        .position(|s| s.contains(GLOB_CHARS))
        .unwrap_or(segments.len());
    let base = Location::Remote {
        scheme: scheme.clone(),
        authority: authority.clone(),
        segments: segments[..literal].to_vec(),
    };
    let (store, prefix) = access.store(&base)?;
    // Each object found is named by its canonical location (its decoded
    // path segments), checked on its own.
    let segments_of = |p: &Path| -> Vec<String> {
        p.parts()
            .map(|part| {
                percent_encoding::percent_decode_str(part.as_ref())
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect()
    };
    let source = |meta: ObjectMeta, segments: Vec<String>| -> Result<Source> {
        let loc = Location::Remote {
            scheme: scheme.clone(),
            authority: authority.clone(),
            segments,
        };
        access.check(&loc)?;
        Ok(Source {
            display: loc.to_string(),
            place: Place::Remote {
                store: Arc::clone(&store),
                path: meta.location.clone(),
            },
            size: meta.size,
            version: meta
                .e_tag
                .clone()
                .unwrap_or_else(|| meta.last_modified.to_rfc3339()),
        })
    };
    // One object, or else a listing: of a "directory" prefix (NetCDF names)
    // or of the prefix before a pattern (names matching it, segment by
    // segment, on the decoded names).
    let pattern = if literal < segments.len() {
        Some(
            glob::Pattern::new(&segments.join("/"))
                .map_err(|e| loc_err(location, e.to_string()))?,
        )
    } else {
        if let Ok(meta) = store.head(&prefix).await {
            let segments = segments_of(&meta.location);
            return Ok(vec![source(meta, segments)?]);
        }
        None
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
    let mut out = Vec::new();
    for m in metas {
        let segments = segments_of(&m.location);
        let keep = match &pattern {
            Some(p) => p.matches_with(&segments.join("/"), opts),
            None => is_netcdf_name(FsPath::new(m.location.as_ref())),
        };
        if keep {
            out.push(source(m, segments)?);
        }
        if out.len() > MAX_FILES {
            break;
        }
    }
    Ok(out)
}

/// The local cache directory: `$GRIDSQL_CACHE_DIR`, else `gridsql` in the
/// user's cache directory.
pub(crate) fn cache_root() -> PathBuf {
    if let Some(d) = std::env::var_os("GRIDSQL_CACHE_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    home.join("gridsql")
}

/// A stable local name of a source version.
pub(crate) fn cache_name(src: &Source) -> String {
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
    let dir = cache_root().join("objects");
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
