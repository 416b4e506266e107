//! From a canonical location to the object store that holds it and the
//! location's path inside that store.
//!
//! Stores come from the session's object-store registry; a scheme seen for
//! the first time gets a store built from the usual environment variables
//! (`AWS_*`, `GOOGLE_*`, `AZURE_*`), registered for the rest of the session.
//!
//! Remote stores retry with exponential backoff and time out, so that a
//! flaky or stalled server costs a bounded time and ends in one clear error
//! ("... after 3 retries ... connection timed out") instead of a hang: see
//! [`StoreLimits`]. Retries are logged at `info` level by `object_store`
//! (`RUST_LOG=object_store=info` shows them).
//!
//! Remote stores are registered wrapped in [`ScheduledStore`]: their
//! requests share the process's I/O budget and are counted ([`crate::io`]).

use std::sync::Arc;
use std::time::Duration;

use super::Location;
use crate::error::{ConnectorError, Result};
use crate::io::ScheduledStore;
use datafusion::execution::runtime_env::RuntimeEnv;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::http::HttpBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{BackoffConfig, ClientConfigKey, RetryConfig};

/// How remote stores (S3, GCS, Azure, HTTP) retry and time out.
///
/// Failed requests (5xx, 429, timeouts, refused connections) are retried
/// with exponential backoff (`init_backoff`, doubling, at most
/// `max_backoff`) up to `max_retries` times and never after
/// `retry_timeout` since the first attempt; each attempt is cut after
/// `request_timeout` (`connect_timeout` for connecting). Read from
/// `GRIDSQL_STORE_RETRIES`, `GRIDSQL_STORE_RETRY_TIMEOUT`,
/// `GRIDSQL_STORE_TIMEOUT` and `GRIDSQL_STORE_CONNECT_TIMEOUT` (seconds,
/// fractions allowed) by [`StoreLimits::from_env`].
#[derive(Debug, Clone, PartialEq)]
pub struct StoreLimits {
    /// Retries of one request after its first attempt (default 5).
    pub max_retries: usize,
    /// No retry starts later than this after the first attempt (default 60 s).
    pub retry_timeout: Duration,
    /// Wait before the first retry (default 100 ms).
    pub init_backoff: Duration,
    /// Longest wait between retries (default 5 s).
    pub max_backoff: Duration,
    /// Limit of one attempt, from sending the request to the end of the
    /// response body (default 30 s).
    pub request_timeout: Duration,
    /// Limit of establishing a connection (default 5 s).
    pub connect_timeout: Duration,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_retries: 5,
            retry_timeout: Duration::from_secs(60),
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl StoreLimits {
    /// The defaults, overridden by the `GRIDSQL_STORE_*` variables that are set.
    ///
    /// # Errors
    /// A variable that is not a non-negative number, as a message naming it.
    pub fn from_env() -> std::result::Result<Self, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// As [`StoreLimits::from_env`], with variables from `get`.
    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> std::result::Result<Self, String> {
        let mut l = StoreLimits::default();
        let number = |key: &str| -> std::result::Result<Option<f64>, String> {
            let Some(v) = get(key) else { return Ok(None) };
            match v.trim().parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
                _ => Err(format!("{key}='{v}' is not a non-negative number")),
            }
        };
        if let Some(n) = number("GRIDSQL_STORE_RETRIES")? {
            l.max_retries = n as usize;
        }
        let seconds = |key: &str, d: &mut Duration| -> std::result::Result<(), String> {
            if let Some(x) = number(key)? {
                *d = Duration::from_secs_f64(x.min(1e9));
            }
            Ok(())
        };
        seconds("GRIDSQL_STORE_RETRY_TIMEOUT", &mut l.retry_timeout)?;
        seconds("GRIDSQL_STORE_TIMEOUT", &mut l.request_timeout)?;
        seconds("GRIDSQL_STORE_CONNECT_TIMEOUT", &mut l.connect_timeout)?;
        Ok(l)
    }

    /// The retry policy `object_store` applies.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: self.init_backoff,
                max_backoff: self.max_backoff,
                base: 2.0,
            },
            max_retries: self.max_retries,
            retry_timeout: self.retry_timeout,
        }
    }

    /// The client settings (key, value) for the timeouts, given as config
    /// keys so that the ones the builders read from the environment
    /// (`AWS_ALLOW_HTTP`, proxies) are kept.
    fn client_keys(&self) -> [(ClientConfigKey, String); 2] {
        let ms = |d: Duration| format!("{}ms", d.as_millis().max(1));
        [
            (ClientConfigKey::Timeout, ms(self.request_timeout)),
            (ClientConfigKey::ConnectTimeout, ms(self.connect_timeout)),
        ]
    }
}

/// The path of a canonical location inside its store.
///
/// # Errors
/// A local path that is not UTF-8 or not a valid object path.
pub(super) fn object_path(location: &Location) -> Result<Path> {
    let err = |reason: String| ConnectorError::Location {
        location: location.to_string(),
        reason,
    };
    match location {
        // The path's own characters as raw parts: `LocalFileSystem` maps
        // them back to exactly this file (a file named `%25` or `~` stays
        // so; `Path::from_iter` would encode them into other names).
        Location::Local(p) => {
            let text = p
                .to_str()
                .ok_or_else(|| err("the path is not valid UTF-8".into()))?;
            Path::parse(text.trim_start_matches('/')).map_err(|e| err(e.to_string()))
        }
        Location::Remote { segments, .. } => {
            Ok(Path::from_iter(segments.iter().map(String::as_str)))
        }
    }
}

/// The store holding a canonical location and the location's path inside it.
///
/// Stores come from the runtime's registry; a scheme and host seen for the
/// first time get a store built from the environment, registered for the
/// rest of the session. Callers check the location first ([`super::Access`]).
///
/// # Errors
/// Unknown scheme, a store that cannot be built from the environment.
pub fn store_for(
    location: &Location,
    runtime: &Arc<RuntimeEnv>,
) -> Result<(Arc<dyn ObjectStore>, Path)> {
    let err = |reason: String| ConnectorError::Location {
        location: location.to_string(),
        reason,
    };
    let url = location.url();
    let path = object_path(location)?;
    if let Ok(store) = runtime.object_store(
        datafusion::execution::object_store::ObjectStoreUrl::parse(
            &url[..url::Position::BeforePath],
        )
        .map_err(|e| err(e.to_string()))?,
    ) {
        return Ok((store, path));
    }
    let limits = StoreLimits::from_env().map_err(err)?;
    let store: Arc<dyn ObjectStore> = match url.scheme() {
        "file" => Arc::new(LocalFileSystem::new()),
        "s3" | "s3a" => {
            let mut b = AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .with_retry(limits.retry_config());
            for (k, v) in limits.client_keys() {
                b = b.with_config(AmazonS3ConfigKey::Client(k), v);
            }
            Arc::new(b.build().map_err(|e| err(e.to_string()))?)
        }
        "gs" => {
            let mut b = GoogleCloudStorageBuilder::from_env()
                .with_url(url.as_str())
                .with_retry(limits.retry_config());
            for (k, v) in limits.client_keys() {
                b = b.with_config(GoogleConfigKey::Client(k), v);
            }
            Arc::new(b.build().map_err(|e| err(e.to_string()))?)
        }
        "az" | "abfs" | "abfss" | "azure" => {
            let mut b = MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .with_retry(limits.retry_config());
            for (k, v) in limits.client_keys() {
                b = b.with_config(AzureConfigKey::Client(k), v);
            }
            Arc::new(b.build().map_err(|e| err(e.to_string()))?)
        }
        "http" | "https" => {
            let origin = format!("{}://{}", url.scheme(), url.authority());
            // A plain `http://` location names its scheme on purpose: allow it
            // (object_store refuses non-TLS URLs by default).
            let mut b = HttpBuilder::new()
                .with_url(origin)
                .with_retry(limits.retry_config())
                .with_config(ClientConfigKey::AllowHttp, "true");
            for (k, v) in limits.client_keys() {
                b = b.with_config(k, v);
            }
            Arc::new(b.build().map_err(|e| err(e.to_string()))?)
        }
        other => return Err(err(format!("unsupported scheme '{other}'"))),
    };
    // Remote stores read through the I/O budget; local files keep their
    // direct path.
    let store: Arc<dyn ObjectStore> = if url.scheme() == "file" {
        store
    } else {
        Arc::new(ScheduledStore::new(store))
    };
    runtime.register_object_store(&url, Arc::clone(&store));
    Ok((store, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_from_variables() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            StoreLimits::from_lookup(vars(&[])).ok(),
            Some(StoreLimits::default())
        );
        let l = StoreLimits::from_lookup(vars(&[
            ("GRIDSQL_STORE_RETRIES", "2"),
            ("GRIDSQL_STORE_TIMEOUT", "0.5"),
            ("GRIDSQL_STORE_RETRY_TIMEOUT", "4"),
        ]))
        .expect("valid settings");
        assert_eq!(l.max_retries, 2);
        assert_eq!(l.request_timeout, Duration::from_millis(500));
        assert_eq!(l.retry_timeout, Duration::from_secs(4));
        assert_eq!(l.retry_config().max_retries, 2);
        let e = StoreLimits::from_lookup(vars(&[("GRIDSQL_STORE_TIMEOUT", "soon")]))
            .expect_err("not a number");
        assert!(e.contains("GRIDSQL_STORE_TIMEOUT='soon'"), "{e}");
        assert!(StoreLimits::from_lookup(vars(&[("GRIDSQL_STORE_RETRIES", "-1")])).is_err());
    }
}
