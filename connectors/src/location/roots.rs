//! Which locations a remote client may open: the catalog's datasets and
//! whatever lies under the operator's `--allow-root` prefixes.
//!
//! Roots and requested locations go through the same canonical parse
//! ([`Location::parse`]), so a root holds under every spelling of a path:
//! dot segments, percent-encoded dots, `file:` URLs of any form and symbolic
//! links that lead out are all compared as the place they really name.

use super::Location;
use crate::error::{ConnectorError, Result};

/// The allowed locations of one server, kept in a session's configuration
/// (see [`super::Access`]).
#[derive(Debug, Clone, Default)]
pub struct AllowedRoots {
    roots: Vec<Location>,
    /// As the operator wrote them, for error messages.
    shown: Vec<String>,
}

impl AllowedRoots {
    /// Roots from `--allow-root` prefixes and the catalog's dataset locations.
    ///
    /// # Errors
    /// A prefix that is not a location.
    pub fn new(prefixes: &[String], catalog_locations: &[String]) -> Result<Self> {
        let mut out = AllowedRoots::default();
        for p in prefixes {
            let root = Location::parse(p).map_err(|e| ConnectorError::Location {
                location: p.clone(),
                reason: format!("--allow-root: {e}"),
            })?;
            out.roots.push(root);
            out.shown.push(p.clone());
        }
        for l in catalog_locations {
            match Location::parse(l) {
                Ok(root) => out.roots.push(root),
                Err(e) => log::warn!("catalog location '{l}' is not a root: {e}"),
            }
        }
        Ok(out)
    }

    /// Whether a client may open `location`.
    ///
    /// # Errors
    /// [`ConnectorError::Refused`], naming the location and the roots.
    pub fn check(&self, location: &Location) -> Result<()> {
        if self.roots.iter().any(|r| location.is_within(r)) {
            return Ok(());
        }
        let allowed = if self.shown.is_empty() {
            "this server allows only its catalog's datasets".to_string()
        } else {
            format!("allowed roots: {}", self.shown.join(", "))
        };
        Err(ConnectorError::Refused {
            location: location.to_string(),
            reason: format!(
                "outside the server's allowed roots ({allowed}); the operator can add a prefix \
                 with --allow-root"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(roots: &AllowedRoots, s: &str) -> std::result::Result<(), String> {
        let loc = Location::parse(s).map_err(|e| e.to_string())?;
        roots.check(&loc).map_err(|e| e.to_string())
    }

    #[test]
    fn local_roots() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("data");
        std::fs::create_dir(&root).expect("folder");
        std::fs::write(root.join("a.nc"), b"x").expect("file");
        let roots = AllowedRoots::new(&[root.display().to_string()], &[]).expect("roots");
        let r = root.display();
        assert!(check(&roots, &format!("{r}/a.nc")).is_ok());
        assert!(check(&roots, &format!("{r}/*.nc")).is_ok());
        assert!(check(&roots, &format!("file://{r}/b.zarr")).is_ok());
        let e = check(&roots, "/etc/passwd").expect_err("outside");
        assert!(
            e.contains("/etc/passwd") && e.contains("--allow-root"),
            "{e}"
        );
        assert!(check(&roots, &format!("{r}/../x.nc")).is_err());
        assert!(check(&roots, &format!("file://{r}/%2e%2e/x.nc")).is_err());
        assert!(check(&roots, &format!("file://{r}/%2E./x.nc")).is_err());
        // a sibling whose name starts with the root's name is not inside it
        assert!(check(&roots, &format!("{r}2/x.nc")).is_err());
        // a symlink inside the root pointing outside is refused
        std::os::unix::fs::symlink("/etc", root.join("etc")).expect("symlink");
        assert!(check(&roots, &format!("{r}/etc/passwd")).is_err());
    }

    #[test]
    fn url_roots() {
        let roots = AllowedRoots::new(&["s3://Bucket/grids/".into()], &[]).expect("roots");
        assert!(check(&roots, "s3://bucket/grids/a.zarr").is_ok());
        assert!(check(&roots, "s3://bucket/gridsx/a.zarr").is_err());
        assert!(check(&roots, "s3://other/grids/a.zarr").is_err());
        assert!(check(&roots, "s3://bucket/grids/../secret/a.zarr").is_err());
        assert!(check(&roots, "s3://bucket/grids/%2e%2e/secret/a.zarr").is_err());
        assert!(check(&roots, "gs://bucket/grids/a.zarr").is_err());
        assert!(check(&roots, "http://127.0.0.1:9000/grids/a.zarr").is_err());
    }

    #[test]
    fn catalog_locations_only() {
        let roots = AllowedRoots::new(&[], &["/srv/x.zarr".into()]).expect("roots");
        assert!(check(&roots, "/srv/x.zarr").is_ok());
        let e = check(&roots, "/srv/y.zarr").expect_err("outside");
        assert!(e.contains("only its catalog"), "{e}");
    }
}

/// Where a server's clients may write (`COPY ... TO` a grid), from
/// `--allow-write-root`: in the session configuration beside the
/// [`AllowedRoots`] it reads from. A session with read roots and no write
/// roots writes nowhere ([`super::Access::for_writing`]).
#[derive(Debug, Clone, Default)]
pub struct WriteRoots(pub AllowedRoots);
