//! What the read-only object stores gridsql builds over other things
//! (kerchunk references, Icechunk snapshots) share: the refusal of every
//! write, and the metadata and result of a read whose bytes are in hand.

use std::ops::Range;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use object_store::path::Path;
use object_store::{GetResult, GetResultPayload, ObjectMeta};

/// The error of a write to a read-only store.
pub fn refused(what: &'static str) -> object_store::Error {
    object_store::Error::NotSupported {
        source: format!("{what} is read only").into(),
    }
}

/// Metadata of a key of `size` bytes (no time, no ETag: the content of a
/// reference or a snapshot does not change).
pub fn meta(location: &Path, size: u64) -> ObjectMeta {
    ObjectMeta {
        location: location.clone(),
        last_modified: DateTime::<Utc>::UNIX_EPOCH,
        size,
        e_tag: None,
        version: None,
    }
}

/// The result of a read of `range` of a `size`-byte key whose bytes are in
/// hand.
pub fn in_hand(location: &Path, size: u64, range: Range<u64>, bytes: Bytes) -> GetResult {
    GetResult {
        payload: GetResultPayload::Stream(futures::stream::once(async move { Ok(bytes) }).boxed()),
        meta: meta(location, size),
        range,
        attributes: Default::default(),
    }
}

/// `impl ObjectStore for $store` with the read methods given and every write
/// method refused with [`refused`]`($what)`. (One `#[async_trait]` impl has
/// to see all its methods at once, hence a macro around the whole impl.)
macro_rules! read_only_store {
    ($store:ty, $what:literal, { $($reads:tt)* }) => {
        #[async_trait::async_trait]
        impl object_store::ObjectStore for $store {
        $($reads)*

        async fn put_opts(
            &self,
            _: &object_store::path::Path,
            _: object_store::PutPayload,
            _: object_store::PutOptions,
        ) -> object_store::Result<object_store::PutResult> {
            Err($crate::io::read_only::refused($what))
        }

        async fn put_multipart_opts(
            &self,
            _: &object_store::path::Path,
            _: object_store::PutMultipartOptions,
        ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
            Err($crate::io::read_only::refused($what))
        }

        fn delete_stream(
            &self,
            locations: futures::stream::BoxStream<
                'static,
                object_store::Result<object_store::path::Path>,
            >,
        ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::path::Path>> {
            use futures::StreamExt;
            locations
                .map(|_| Err($crate::io::read_only::refused($what)))
                .boxed()
        }

        async fn copy_opts(
            &self,
            _: &object_store::path::Path,
            _: &object_store::path::Path,
            _: object_store::CopyOptions,
        ) -> object_store::Result<()> {
            Err($crate::io::read_only::refused($what))
        }

        async fn rename_opts(
            &self,
            _: &object_store::path::Path,
            _: &object_store::path::Path,
            _: object_store::RenameOptions,
        ) -> object_store::Result<()> {
            Err($crate::io::read_only::refused($what))
        }
        }
    };
}
pub(crate) use read_only_store;
