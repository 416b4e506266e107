//! The crate's error type.
//!
//! zarrs errors are boxed: they are large, and `Result`s should stay small.

use std::path::PathBuf;

use zarrs::array::{ArrayCreateError, ArrayError};
use zarrs::filesystem::FilesystemStoreCreateError;
use zarrs::group::GroupCreateError;
use zarrs::storage::StorageError;

/// Why a sample store could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SampleError {
    /// The requested dataset is not valid (a zero or too large dimension, an unknown format).
    #[error("invalid sample spec: {0}")]
    InvalidSpec(String),
    /// The target exists and is not an empty directory; samples never overwrite.
    #[error("{} already exists and is not an empty directory", path.display())]
    NotEmpty {
        /// The store path.
        path: PathBuf,
    },
    /// Local file system error (creating the root directory, measuring the store).
    #[error("i/o error on {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The filesystem store could not be opened.
    #[error("cannot open a filesystem store at {}: {source}", path.display())]
    Store {
        /// The store path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: FilesystemStoreCreateError,
    },
    /// JSON metadata could not be serialised.
    #[error("cannot serialise metadata of {node}: {source}")]
    Json {
        /// The node (array name, or `/` for the root group).
        node: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// zarrs rejected the metadata of an array.
    #[error("cannot create array {array}: {source}")]
    CreateArray {
        /// The array name.
        array: String,
        /// The underlying error.
        #[source]
        source: Box<ArrayCreateError>,
    },
    /// zarrs rejected the metadata of a group.
    #[error("cannot create group {group}: {source}")]
    CreateGroup {
        /// The group path.
        group: String,
        /// The underlying error.
        #[source]
        source: Box<GroupCreateError>,
    },
    /// Metadata could not be written to the store.
    #[error("cannot write metadata of {node}: {source}")]
    Metadata {
        /// The node (array name, or `/` for the root group).
        node: String,
        /// The underlying error.
        #[source]
        source: StorageError,
    },
    /// A chunk could not be encoded or written.
    #[error("cannot write chunk {chunk:?} of {array}: {source}")]
    Chunk {
        /// The array name.
        array: String,
        /// The chunk's grid indices.
        chunk: Vec<u64>,
        /// The underlying error.
        #[source]
        source: Box<ArrayError>,
    },
}
