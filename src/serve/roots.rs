//! Which datasets a remote client may open itself: the catalog's locations
//! and whatever lies under the operator's `--allow-root` prefixes.
//!
//! A client names locations in two places: the path-taking table functions
//! (`read_zarr`, `read_netcdf`, `grid_variables`, `grid_attributes`) and
//! `CREATE EXTERNAL TABLE ... LOCATION` (when DDL is allowed). The server's
//! session gets wrapped versions of both ([`GuardedTableFunction`],
//! [`GuardedFactory`]) that check the location before the real one opens
//! anything, so `read_zarr('/etc/passwd')` fails at planning with a message
//! naming the refused location, and nothing is read.
//!
//! Local paths are compared after making them absolute, resolving `.` and
//! `..` and following symbolic links of the part that exists (a symlink
//! inside a root that points outside it is refused); URLs are compared by
//! scheme, host and path segments, and a `..` segment in a URL is refused.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::TableProviderFactory;
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::{CreateExternalTable, Expr};
use datafusion::prelude::SessionContext;

/// One allowed prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Root {
    /// A local folder or file (absolute, normalised, symlinks resolved).
    Local(PathBuf),
    /// `scheme://host` and the path segments under it.
    Url {
        /// Lower-case `scheme://host`.
        base: String,
        /// Path segments, without empty ones.
        segments: Vec<String>,
    },
}

/// The allowed locations of one server.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowedRoots {
    roots: Vec<Root>,
    /// As the operator wrote them, for error messages.
    shown: Vec<String>,
}

impl AllowedRoots {
    /// Roots from `--allow-root` prefixes and the catalog's dataset locations.
    ///
    /// # Errors
    /// A prefix that is not a location (e.g. a URL with `..`).
    pub(crate) fn new(prefixes: &[String], catalog_locations: &[String]) -> anyhow::Result<Self> {
        let mut out = AllowedRoots::default();
        for p in prefixes {
            let root = parse(p).map_err(|e| anyhow::anyhow!("--allow-root '{p}': {e}"))?;
            out.roots.push(root);
            out.shown.push(p.clone());
        }
        for l in catalog_locations {
            if let Ok(root) = parse(l) {
                out.roots.push(root);
            }
        }
        Ok(out)
    }

    /// Whether a client may open `location`.
    ///
    /// # Errors
    /// A one-line reason naming the location and the allowed roots.
    pub(crate) fn check(&self, location: &str) -> std::result::Result<(), String> {
        let wanted = parse(location).map_err(|e| format!("location '{location}': {e}"))?;
        if self.roots.iter().any(|r| contains(r, &wanted)) {
            return Ok(());
        }
        let allowed = if self.shown.is_empty() {
            "this server allows only its catalog's datasets".to_string()
        } else {
            format!("allowed roots: {}", self.shown.join(", "))
        };
        Err(format!(
            "location '{location}' is outside the server's allowed roots ({allowed}); \
             the operator can add a prefix with --allow-root"
        ))
    }
}

/// Whether `root` holds `wanted`.
fn contains(root: &Root, wanted: &Root) -> bool {
    match (root, wanted) {
        (Root::Local(r), Root::Local(w)) => w.starts_with(r),
        (
            Root::Url { base, segments },
            Root::Url {
                base: wb,
                segments: ws,
            },
        ) => base == wb && ws.starts_with(segments),
        _ => false,
    }
}

/// A location as a [`Root`]: `file://` and plain paths are local, other
/// `scheme://` locations URLs.
fn parse(location: &str) -> std::result::Result<Root, String> {
    let location = location.trim();
    if location.is_empty() {
        return Err("empty location".into());
    }
    if let Some(path) = location.strip_prefix("file://") {
        return Ok(Root::Local(local(path)?));
    }
    if let Some((scheme, rest)) = location.split_once("://") {
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let path = path.split(['?', '#']).next().unwrap_or("");
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .map(str::to_string)
            .collect();
        if segments
            .iter()
            .any(|s| s == ".." || s.eq_ignore_ascii_case("%2e%2e"))
        {
            return Err("'..' is not allowed in a URL".into());
        }
        return Ok(Root::Url {
            base: format!(
                "{}://{}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase()
            ),
            segments,
        });
    }
    Ok(Root::Local(local(location)?))
}

/// An absolute, normalised local path whose existing part has its symlinks
/// resolved.
fn local(path: &str) -> std::result::Result<PathBuf, String> {
    let p = Path::new(path);
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("no current folder: {e}"))?
            .join(p)
    };
    let mut norm = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                norm.pop();
            }
            Component::CurDir => {}
            other => norm.push(other),
        }
    }
    // Follow symlinks of the longest part that exists; the rest (a glob, a
    // file not there yet) is appended as written.
    let mut existing = norm.clone();
    let mut tail = Vec::new();
    while !existing.exists() {
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                tail.push(name);
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut out = existing.canonicalize().unwrap_or(existing);
    for name in tail.into_iter().rev() {
        out.push(name);
    }
    Ok(out)
}

/// A table function whose first argument is a location, checked against the
/// roots before the wrapped function runs.
#[derive(Debug)]
pub(crate) struct GuardedTableFunction {
    name: String,
    inner: Arc<dyn TableFunctionImpl>,
    roots: Arc<AllowedRoots>,
}

impl TableFunctionImpl for GuardedTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if let Some(first) = args.exprs().first() {
            let location = match first {
                Expr::Literal(
                    ScalarValue::Utf8(Some(s))
                    | ScalarValue::LargeUtf8(Some(s))
                    | ScalarValue::Utf8View(Some(s)),
                    _,
                ) => s.clone(),
                other => {
                    return plan_err!(
                        "{}: the location must be a string literal, got {other}",
                        self.name
                    );
                }
            };
            if let Err(e) = self.roots.check(&location) {
                return plan_err!("{}: {e}", self.name);
            }
        }
        self.inner.call_with_args(args)
    }
}

/// A `CREATE EXTERNAL TABLE` factory whose locations are checked first.
#[derive(Debug)]
pub(crate) struct GuardedFactory {
    inner: Arc<dyn TableProviderFactory>,
    roots: Arc<AllowedRoots>,
}

#[async_trait]
impl TableProviderFactory for GuardedFactory {
    async fn create(
        &self,
        state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> Result<Arc<dyn TableProvider>> {
        for location in &cmd.locations {
            if let Err(e) = self.roots.check(location) {
                return plan_err!("CREATE EXTERNAL TABLE {}: {e}", cmd.name);
            }
        }
        self.inner.create(state, cmd).await
    }
}

/// Replaces gridsql's path-taking table functions and every table factory
/// of `ctx` with guarded versions.
pub(crate) fn install(ctx: &SessionContext, roots: &Arc<AllowedRoots>) {
    for (name, f) in gridsql_udfs::table_functions::table_functions() {
        ctx.register_udtf(
            name,
            Arc::new(GuardedTableFunction {
                name: name.to_string(),
                inner: f,
                roots: Arc::clone(roots),
            }),
        );
    }
    let state = ctx.state_ref();
    let mut state = state.write();
    let factories = state.table_factories_mut();
    for f in factories.values_mut() {
        *f = Arc::new(GuardedFactory {
            inner: Arc::clone(f),
            roots: Arc::clone(roots),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_roots() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("a.nc"), b"x").unwrap();
        let roots = AllowedRoots::new(&[root.display().to_string()], &[]).unwrap();
        assert!(
            roots
                .check(&root.join("a.nc").display().to_string())
                .is_ok()
        );
        assert!(roots.check(&format!("{}/*.nc", root.display())).is_ok());
        assert!(
            roots
                .check(&format!("file://{}/b.zarr", root.display()))
                .is_ok()
        );
        let e = roots.check("/etc/passwd").unwrap_err();
        assert!(
            e.contains("/etc/passwd") && e.contains("--allow-root"),
            "{e}"
        );
        assert!(roots.check(&format!("{}/../x.nc", root.display())).is_err());
        // a sibling whose name starts with the root's name is not inside it
        assert!(roots.check(&format!("{}2/x.nc", root.display())).is_err());
        // a symlink inside the root pointing outside is refused
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        assert!(
            roots
                .check(&root.join("etc/passwd").display().to_string())
                .is_err()
        );
    }

    #[test]
    fn url_roots() {
        let roots = AllowedRoots::new(&["s3://Bucket/grids/".into()], &[]).unwrap();
        assert!(roots.check("s3://bucket/grids/a.zarr").is_ok());
        assert!(roots.check("s3://bucket/gridsx/a.zarr").is_err());
        assert!(roots.check("s3://other/grids/a.zarr").is_err());
        assert!(roots.check("s3://bucket/grids/../secret/a.zarr").is_err());
        assert!(roots.check("gs://bucket/grids/a.zarr").is_err());
    }

    #[test]
    fn catalog_locations_only() {
        let roots = AllowedRoots::new(&[], &["/srv/x.zarr".into()]).unwrap();
        assert!(roots.check("/srv/x.zarr").is_ok());
        let e = roots.check("/srv/y.zarr").unwrap_err();
        assert!(e.contains("only its catalog"), "{e}");
    }
}
