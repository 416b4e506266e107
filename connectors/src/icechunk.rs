//! Icechunk repositories: transactional, versioned Zarr stores (snapshots,
//! branches, tags), read at one version with the `icechunk` crate.
//!
//! A table names its version by at most one of the options `branch`
//! (default `main`), `tag` or `snapshot`. The version is resolved to a
//! snapshot id once, when the table is opened, and the table's spec then
//! carries that id: the executors of a cluster and every later scan read
//! the snapshot the plan was made on, even if the branch moves meanwhile.
//!
//! Repositories are read from local folders and from `s3://` (credentials,
//! region and endpoint from the usual `AWS_*` variables). The location is
//! checked against the session's allowed roots before the repository is
//! opened, and so is the file of every virtual chunk, which gridsql reads
//! itself ([`store`]).

mod store;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use icechunk::format::SnapshotId;
use icechunk::repository::VersionInfo;
use icechunk::{Repository, Storage};
use icechunk_storage::s3_config::{S3Credentials, S3Options};
use object_store::ObjectStore;
use object_store::path::Path;
use tokio::sync::RwLock;

pub use store::IcechunkStore;

use crate::error::{ConnectorError, Result};
use crate::location::{Access, Location};
use crate::table::TableSpec;

/// The table options that pick a version.
pub const VERSION_OPTIONS: &[&str] = &["branch", "tag", "snapshot"];

/// One snapshot of a branch's history.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotEntry {
    /// The snapshot id, as `OPTIONS ('snapshot' '...')` takes it.
    pub id: String,
    /// When it was committed.
    pub committed_at: DateTime<Utc>,
    /// The commit message.
    pub message: String,
    /// The snapshot it was committed on, `None` for the first.
    pub parent: Option<String>,
}

fn repo_error(location: &Location, what: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Metadata {
        dataset: location.to_string(),
        reason: format!("Icechunk repository: {what}: {e}"),
    }
}

/// The version a spec's options name.
///
/// # Errors
/// More than one of `branch`, `tag`, `snapshot`; a malformed snapshot id.
pub fn version_of(spec: &TableSpec) -> Result<VersionInfo> {
    let given: Vec<(&str, &String)> = VERSION_OPTIONS
        .iter()
        .filter_map(|k| spec.options.get(*k).map(|v| (*k, v)))
        .collect();
    match given.as_slice() {
        [] => Ok(VersionInfo::BranchTipRef("main".into())),
        [("branch", b)] => Ok(VersionInfo::BranchTipRef(b.to_string())),
        [("tag", t)] => Ok(VersionInfo::TagRef(t.to_string())),
        [("snapshot", s)] => SnapshotId::try_from(s.trim())
            .map(VersionInfo::SnapshotId)
            .map_err(|e| ConnectorError::Option {
                option: "snapshot".into(),
                reason: format!("'{s}' is not a snapshot id ({e}); icechunk_log lists them"),
            }),
        _ => Err(ConnectorError::Option {
            option: given[1].0.into(),
            reason: "give only one of 'branch', 'tag' and 'snapshot'".into(),
        }),
    }
}

/// The storage of a repository location.
async fn storage(location: &Location) -> Result<Arc<dyn Storage + Send + Sync>> {
    let err = |e: &dyn std::fmt::Display| repo_error(location, "cannot open its storage", e);
    match location {
        Location::Local(p) => {
            if !p.is_dir() {
                return Err(repo_error(location, "not found", "no such folder"));
            }
            icechunk::new_local_filesystem_storage(p)
                .await
                .map_err(|e| err(&e))
        }
        Location::Remote {
            scheme,
            authority,
            segments,
        } if scheme == "s3" || scheme == "s3a" => {
            let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let endpoint = var("AWS_ENDPOINT_URL").or_else(|| var("AWS_ENDPOINT"));
            let mut options = S3Options::default();
            options.region = var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .or_else(|| Some("us-east-1".into()));
            options.allow_http = var("AWS_ALLOW_HTTP").is_some_and(|v| v == "true")
                || endpoint
                    .as_deref()
                    .is_some_and(|e| e.starts_with("http://"));
            options.force_path_style = endpoint.is_some();
            options.endpoint_url = endpoint;
            let prefix = (!segments.is_empty()).then(|| segments.join("/"));
            icechunk::new_s3_object_store_storage(
                options,
                authority.clone(),
                prefix,
                Some(S3Credentials::FromEnv),
            )
            .await
            .map_err(|e| err(&e))
        }
        Location::Remote { scheme, .. } => Err(ConnectorError::Location {
            location: location.to_string(),
            reason: format!(
                "Icechunk repositories are read from local folders and s3://, not {scheme}://"
            ),
        }),
    }
}

/// Opens the repository at a checked location.
async fn repository(access: &Access, location: &Location) -> Result<Repository> {
    access.check(location)?;
    let storage = storage(location).await?;
    Repository::open(None, storage, HashMap::new())
        .await
        .map_err(|e| repo_error(location, "cannot open", e))
}

/// The snapshot a version names.
async fn resolve(
    repo: &Repository,
    location: &Location,
    version: &VersionInfo,
) -> Result<SnapshotId> {
    match version {
        VersionInfo::SnapshotId(id) => Ok(id.clone()),
        VersionInfo::BranchTipRef(b) => repo
            .lookup_branch(b)
            .await
            .map_err(|e| repo_error(location, &format!("no branch '{b}'"), e)),
        VersionInfo::TagRef(t) => repo
            .lookup_tag(t)
            .await
            .map_err(|e| repo_error(location, &format!("no tag '{t}'"), e)),
        other => Err(repo_error(
            location,
            "unsupported version",
            format!("{other:?}"),
        )),
    }
}

/// The Zarr store of the version a spec names, its root path, and the spec
/// with that version pinned to its snapshot id.
///
/// # Errors
/// Refused location, no repository there, unknown version.
pub async fn icechunk_store(
    access: &Access,
    location: &Location,
    spec: &TableSpec,
) -> Result<(Arc<dyn ObjectStore>, Path, TableSpec)> {
    let version = version_of(spec)?;
    let repo = repository(access, location).await?;
    let id = resolve(&repo, location, &version).await?;
    let session = repo
        .readonly_session(&VersionInfo::SnapshotId(id.clone()))
        .await
        .map_err(|e| repo_error(location, &format!("cannot read snapshot {id}"), e))?;
    let store = icechunk::Store::from_session(Arc::new(RwLock::new(session))).await;
    let mut pinned = spec.clone();
    for k in VERSION_OPTIONS {
        pinned.options.remove(*k);
    }
    pinned.options.insert("snapshot".into(), id.to_string());
    let name = format!("{location} at snapshot {id}");
    Ok((
        Arc::new(IcechunkStore::new(name, store, access.clone())),
        Path::default(),
        pinned,
    ))
}

/// The history of a branch (default `main`), newest first.
///
/// # Errors
/// Refused location, no repository there, no such branch.
pub async fn snapshot_log(
    access: &Access,
    location: &Location,
    branch: Option<&str>,
) -> Result<Vec<SnapshotEntry>> {
    let repo = repository(access, location).await?;
    let branch = branch.unwrap_or("main");
    let ancestry = repo
        .ancestry(&VersionInfo::BranchTipRef(branch.to_string()))
        .await
        .map_err(|e| repo_error(location, &format!("no branch '{branch}'"), e))?;
    ancestry
        .map_ok(|s| SnapshotEntry {
            id: s.id.to_string(),
            committed_at: s.flushed_at,
            message: s.message,
            parent: s.parent_id.map(|p| p.to_string()),
        })
        .try_collect()
        .await
        .map_err(|e| repo_error(location, "cannot read its history", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Format;

    fn spec(options: &[(&str, &str)]) -> TableSpec {
        TableSpec {
            format: Format::Icechunk,
            location: "/r".into(),
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn one_version_option_at_most() {
        assert_eq!(
            version_of(&spec(&[])).expect("default"),
            VersionInfo::BranchTipRef("main".into())
        );
        assert_eq!(
            version_of(&spec(&[("tag", "v1")])).expect("tag"),
            VersionInfo::TagRef("v1".into())
        );
        assert!(version_of(&spec(&[("tag", "v1"), ("branch", "dev")])).is_err());
        let e = version_of(&spec(&[("snapshot", "not-an-id")])).expect_err("bad id");
        assert!(e.to_string().contains("icechunk_log"), "{e}");
    }
}
