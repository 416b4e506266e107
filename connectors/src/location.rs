//! From a dataset location (a local path or an object-store URL) to a store
//! and the path of the dataset inside it.
//!
//! Stores come from the session's object-store registry; a scheme seen for
//! the first time gets a store built from the usual environment variables
//! (`AWS_*`, `GOOGLE_*`, `AZURE_*`), registered for the rest of the session.

use std::sync::Arc;

use datafusion::execution::runtime_env::RuntimeEnv;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::http::HttpBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use url::Url;

use crate::error::{ConnectorError, Result};

/// Parses a location into a URL; local paths must exist.
///
/// # Errors
/// A URL that does not parse or a local path that does not exist.
pub fn location_url(location: &str) -> Result<Url> {
    let err = |reason: String| ConnectorError::Location {
        location: location.to_string(),
        reason,
    };
    if location.contains("://") {
        let url = Url::parse(location).map_err(|e| err(e.to_string()))?;
        if url.scheme() == "file" {
            let p = url
                .to_file_path()
                .map_err(|()| err("not a local file URL".into()))?;
            return local_url(&p).map_err(err);
        }
        return Ok(url);
    }
    local_url(std::path::Path::new(location)).map_err(err)
}

fn local_url(p: &std::path::Path) -> std::result::Result<Url, String> {
    let abs = std::fs::canonicalize(p).map_err(|e| format!("{e}"))?;
    Url::from_file_path(&abs).map_err(|()| "cannot make a file URL".to_string())
}

/// The store holding `location` and the dataset's path inside it.
///
/// # Errors
/// Unknown scheme, bad URL, missing local path, a store that cannot be built
/// from the environment.
pub fn resolve(location: &str, runtime: &Arc<RuntimeEnv>) -> Result<(Arc<dyn ObjectStore>, Path)> {
    let url = location_url(location)?;
    let err = |reason: String| ConnectorError::Location {
        location: location.to_string(),
        reason,
    };
    let path = Path::from_url_path(url.path()).map_err(|e| err(e.to_string()))?;
    if let Ok(store) = runtime.object_store(
        datafusion::execution::object_store::ObjectStoreUrl::parse(
            &url[..url::Position::BeforePath],
        )
        .map_err(|e| err(e.to_string()))?,
    ) {
        return Ok((store, path));
    }
    let store: Arc<dyn ObjectStore> = match url.scheme() {
        "file" => Arc::new(LocalFileSystem::new()),
        "s3" | "s3a" => Arc::new(
            AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .build()
                .map_err(|e| err(e.to_string()))?,
        ),
        "gs" => Arc::new(
            GoogleCloudStorageBuilder::from_env()
                .with_url(url.as_str())
                .build()
                .map_err(|e| err(e.to_string()))?,
        ),
        "az" | "abfs" | "abfss" | "azure" => Arc::new(
            MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .build()
                .map_err(|e| err(e.to_string()))?,
        ),
        "http" | "https" => {
            let origin = format!("{}://{}", url.scheme(), url.authority());
            Arc::new(
                HttpBuilder::new()
                    .with_url(origin)
                    .build()
                    .map_err(|e| err(e.to_string()))?,
            )
        }
        other => return Err(err(format!("unsupported scheme '{other}'"))),
    };
    runtime.register_object_store(&url, Arc::clone(&store));
    Ok((store, path))
}
