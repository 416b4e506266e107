//! Typed errors of the connectors, split by phase, and their one bridge to
//! [`DataFusionError`].
//!
//! Messages are lower-case and name the dataset, the variable and the chunk
//! they concern, so that a user pointed at an archive they did not write can
//! find the faulty piece.

use datafusion::error::DataFusionError;

/// Result alias of the connectors.
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// Everything that can go wrong while opening or reading a grid dataset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectorError {
    /// The location could not be parsed or has no store for its scheme.
    #[error("invalid location '{location}': {reason}")]
    Location {
        /// The location as the user gave it.
        location: String,
        /// Why it is not usable.
        reason: String,
    },
    /// A location outside what the session may open.
    #[error("location '{location}' is {reason}")]
    Refused {
        /// The location in its canonical form.
        location: String,
        /// Why it may not be opened.
        reason: String,
    },
    /// A table option was unknown or had a bad value.
    #[error("invalid table option '{option}': {reason}")]
    Option {
        /// Option key.
        option: String,
        /// Why it is not usable.
        reason: String,
    },
    /// The dataset's metadata could not be read or made sense of.
    #[error("dataset '{dataset}': {reason}")]
    Metadata {
        /// Dataset location.
        dataset: String,
        /// What is wrong.
        reason: String,
    },
    /// A variable's metadata or attributes are not usable.
    #[error("dataset '{dataset}', variable '{variable}': {reason}")]
    Variable {
        /// Dataset location.
        dataset: String,
        /// Variable name.
        variable: String,
        /// What is wrong.
        reason: String,
    },
    /// A chunk could not be read or decoded.
    #[error("dataset '{dataset}', variable '{variable}', chunk {chunk}: {reason}")]
    Chunk {
        /// Dataset location.
        dataset: String,
        /// Variable name.
        variable: String,
        /// Chunk index (or region) in the variable's chunk grid.
        chunk: String,
        /// What is wrong.
        reason: String,
    },
    /// A feature of the data that is valid but not supported.
    #[error("dataset '{dataset}': not supported: {reason}")]
    Unsupported {
        /// Dataset location.
        dataset: String,
        /// What is not supported.
        reason: String,
    },
    /// An error from the object store.
    #[error("dataset '{dataset}': {source}")]
    Store {
        /// Dataset location.
        dataset: String,
        /// Cause.
        #[source]
        source: object_store::Error,
    },
    /// An error from the object store while reading one key of a dataset's
    /// metadata. Only "not found" means a key is absent; any other error
    /// is this, so nothing is skipped silently.
    #[error("dataset '{dataset}', key '{key}': {source}")]
    StoreKey {
        /// Dataset location.
        dataset: String,
        /// The key (path in the store).
        key: String,
        /// Cause.
        #[source]
        source: object_store::Error,
    },
    /// An error from Arrow while building batches.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

impl From<ConnectorError> for DataFusionError {
    fn from(e: ConnectorError) -> Self {
        match e {
            ConnectorError::Arrow(e) => DataFusionError::ArrowError(Box::new(e), None),
            ConnectorError::Option { .. } | ConnectorError::Location { .. } => {
                DataFusionError::Configuration(e.to_string())
            }
            ConnectorError::Refused { .. } => DataFusionError::Plan(e.to_string()),
            ConnectorError::Unsupported { .. } => DataFusionError::NotImplemented(e.to_string()),
            other => DataFusionError::External(Box::new(other)),
        }
    }
}
