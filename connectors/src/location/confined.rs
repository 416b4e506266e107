//! A local store that refuses, key by key, what lies outside the allowed
//! roots: a Zarr store inside a root may hold a chunk or a folder that is a
//! symbolic link leading out, and `LocalFileSystem` follows links. Each
//! read resolves the key's file (`realpath`) and checks that place. It is
//! read-only, but for the writes of a COPY under a server's write roots
//! ([`ConfinedLocalStore::writable`]): each write or delete checks the place
//! its key resolves to (through the links of the part that exists).

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

use super::{AllowedRoots, Location};

/// The local file system, read-only, confined to the allowed roots.
#[derive(Debug)]
pub(crate) struct ConfinedLocalStore {
    inner: LocalFileSystem,
    roots: Arc<AllowedRoots>,
    writable: bool,
}

impl ConfinedLocalStore {
    pub(crate) fn new(roots: Arc<AllowedRoots>) -> Self {
        ConfinedLocalStore {
            inner: LocalFileSystem::new(),
            roots,
            writable: false,
        }
    }

    /// The same store, accepting writes inside the roots.
    pub(crate) fn writable(mut self, writable: bool) -> Self {
        self.writable = writable;
        self
    }

    /// Refuses a write to a key whose place (its existing part resolved
    /// through links, the rest appended) is outside the roots, or any write
    /// when the store is read-only.
    fn check_write(&self, location: &Path, what: &str) -> Result<()> {
        if !self.writable {
            return Err(Self::read_only(what));
        }
        let file = self.inner.path_to_filesystem(location)?;
        let mut existing = file.as_path();
        let mut rest = Vec::new();
        let real = loop {
            if let Ok(real) = std::fs::canonicalize(existing) {
                break real;
            }
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    existing = parent;
                }
                _ => break existing.to_path_buf(),
            }
        };
        let place = rest.iter().rev().fold(real, |p, n| p.join(n));
        self.roots.check(&Location::Local(place)).map_err(|e| {
            object_store::Error::PermissionDenied {
                path: location.to_string(),
                source: Box::new(e),
            }
        })
    }

    /// Refuses a key whose file (after following links) is outside the
    /// roots; a key that does not exist is left to the inner store.
    fn check(&self, location: &Path) -> Result<()> {
        let file = self.inner.path_to_filesystem(location)?;
        let Ok(real) = std::fs::canonicalize(&file) else {
            return Ok(());
        };
        self.roots.check(&Location::Local(real)).map_err(|e| {
            object_store::Error::PermissionDenied {
                path: location.to_string(),
                source: Box::new(e),
            }
        })
    }

    fn read_only(what: &str) -> object_store::Error {
        object_store::Error::NotSupported {
            source: format!("{what}: gridsql opens datasets read-only").into(),
        }
    }
}

impl std::fmt::Display for ConfinedLocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConfinedLocalStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for ConfinedLocalStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        options: PutOptions,
    ) -> Result<PutResult> {
        self.check_write(location, "put")?;
        self.inner.put_opts(location, payload, options).await
    }

    async fn put_multipart_opts(
        &self,
        _: &Path,
        _: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        Err(Self::read_only("put"))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.check(location)?;
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.check(location)?;
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        // a copy of the checks, for the stream to own
        let this = ConfinedLocalStore {
            inner: LocalFileSystem::new(),
            roots: Arc::clone(&self.roots),
            writable: self.writable,
        };
        let checked = locations
            .map(move |l| l.and_then(|p| this.check_write(&p, "delete").map(|()| p)))
            .boxed();
        self.inner.delete_stream(checked)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        if let Some(p) = prefix
            && let Err(e) = self.check(p)
        {
            return futures::stream::once(async move { Err(e) }).boxed();
        }
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        if let Some(p) = prefix {
            self.check(p)?;
        }
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, _: &Path, _: &Path, _: CopyOptions) -> Result<()> {
        Err(Self::read_only("copy"))
    }
}
