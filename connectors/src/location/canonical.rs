//! The canonical form of a location: the one parser every opener uses.
//!
//! A local path is made absolute, its `.` and `..` resolved and its symbolic
//! links followed (each existing prefix through `realpath`, so `..` after a
//! link means what the operating system means by it); the part that does not
//! exist yet (a glob pattern, a file about to be created) is kept as written,
//! and a `..` in that part is refused, since nothing can tell where it leads.
//! A URL is parsed by the `url` crate (which resolves `.` and `..`, also in
//! their percent-encoded spellings), then its path segments are
//! percent-decoded once. Spellings that could mean two different things are
//! refused instead of guessed: backslashes, percent-encoded `/` or `\`,
//! percent-encoding applied twice, control characters, credentials, queries
//! and fragments in URLs.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use url::Url;

use crate::error::{ConnectorError, Result};

/// A location in the form gridsql checks and opens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// A local file, folder or glob pattern: absolute, without `.` or `..`,
    /// the symbolic links of its existing part resolved.
    Local(PathBuf),
    /// An object in a store (`s3://`, `gs://`, `az://`, `http(s)://`, ...).
    Remote {
        /// Lower-case scheme.
        scheme: String,
        /// Host and port, as the `url` crate normalises them.
        authority: String,
        /// Percent-decoded path segments, none empty, `.` or `..`.
        segments: Vec<String>,
    },
}

/// Characters that begin a glob pattern.
pub const GLOB_CHARS: [char; 3] = ['*', '?', '['];

impl Location {
    /// Parses and canonicalises what a user wrote.
    ///
    /// # Errors
    /// Ambiguous spellings (see the module documentation), URLs that do not
    /// parse, and local paths whose existing part cannot be resolved.
    pub fn parse(raw: &str) -> Result<Location> {
        let err = |reason: &str| ConnectorError::Location {
            location: raw.to_string(),
            reason: reason.to_string(),
        };
        let text = raw.trim();
        if text.is_empty() {
            return Err(err("empty location"));
        }
        if text.contains('\\') {
            return Err(err("backslashes are not allowed in locations"));
        }
        if text.chars().any(char::is_control) {
            return Err(err("control characters are not allowed in locations"));
        }
        let lower = text.to_ascii_lowercase();
        if lower.contains("%2f") || lower.contains("%5c") {
            return Err(err(
                "percent-encoded '/' or '\\' is not allowed in locations",
            ));
        }
        if !is_url(text) {
            // A plain path is taken literally: percent signs are characters
            // of its names. Encoded dots would be read one way here and
            // another by anything that decodes, so they are refused.
            if lower.contains("%2e") {
                return Err(err(
                    "percent-encoded '.' is not allowed in a path; write the path as it is",
                ));
            }
            return canonical_path(Path::new(text))
                .map(Location::Local)
                .map_err(|reason| err(&reason));
        }
        let url = Url::parse(text).map_err(|e| err(&e.to_string()))?;
        if url.cannot_be_a_base() {
            return Err(err("not a hierarchical URL"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(err(
                "credentials in a URL are not allowed; use the store's environment variables",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(err("queries and fragments are not allowed in a location"));
        }
        if url.scheme() == "file" {
            if !matches!(url.host_str(), None | Some("") | Some("localhost")) {
                return Err(err(
                    "a file URL must name this machine (no host or localhost)",
                ));
            }
            let path = url
                .to_file_path()
                .map_err(|()| err("not a local file URL"))?;
            let path = path
                .to_str()
                .ok_or_else(|| err("the path is not valid UTF-8"))?
                .to_string();
            if has_percent_escape(&path) {
                return Err(err("percent-encoding applied twice is not allowed"));
            }
            return canonical_path(Path::new(&path))
                .map(Location::Local)
                .map_err(|reason| err(&reason));
        }
        let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
            return Err(err("a URL needs a host or bucket"));
        };
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", host.to_ascii_lowercase()),
            None => host.to_ascii_lowercase(),
        };
        let mut segments = Vec::new();
        for s in url.path_segments().into_iter().flatten() {
            let decoded = percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map_err(|_| err("the path is not valid UTF-8 once decoded"))?;
            if decoded.is_empty() {
                continue;
            }
            if decoded == "." || decoded == ".." {
                return Err(err("'.' and '..' are not allowed in a URL path"));
            }
            if decoded.contains(['/', '\\']) || decoded.chars().any(char::is_control) {
                return Err(err(
                    "an encoded separator or control character in a URL path",
                ));
            }
            if has_percent_escape(&decoded) {
                return Err(err("percent-encoding applied twice is not allowed"));
            }
            segments.push(decoded.into_owned());
        }
        Ok(Location::Remote {
            scheme: url.scheme().to_ascii_lowercase(),
            authority,
            segments,
        })
    }

    /// A local location from a path (a glob match, a file of a folder).
    ///
    /// # Errors
    /// As [`Location::parse`].
    pub fn local(path: &Path) -> Result<Location> {
        match path.to_str() {
            Some(s) if !is_url(s) => Location::parse(s),
            _ => canonical_path(path).map(Location::Local).map_err(|reason| {
                ConnectorError::Location {
                    location: path.display().to_string(),
                    reason,
                }
            }),
        }
    }

    /// The location as a URL (`file://` for local paths).
    pub fn url(&self) -> Url {
        match self {
            Location::Local(p) => match Url::from_file_path(p) {
                Ok(u) => u,
                // Only relative paths fail, and canonical paths are absolute.
                Err(()) => Url::parse("file:///").expect("a constant URL"),
            },
            Location::Remote {
                scheme,
                authority,
                segments,
            } => {
                let mut url = Url::parse(&format!("{scheme}://{authority}/"))
                    .unwrap_or_else(|_| Url::parse("file:///").expect("a constant URL"));
                if let Ok(mut path) = url.path_segments_mut() {
                    path.pop_if_empty();
                    path.extend(segments);
                }
                url
            }
        }
    }

    /// The local path, for local locations.
    pub fn as_local(&self) -> Option<&Path> {
        match self {
            Location::Local(p) => Some(p),
            Location::Remote { .. } => None,
        }
    }

    /// Whether the location is a glob pattern.
    pub fn is_glob(&self) -> bool {
        match self {
            Location::Local(p) => p.to_string_lossy().contains(GLOB_CHARS),
            Location::Remote { segments, .. } => segments.iter().any(|s| s.contains(GLOB_CHARS)),
        }
    }

    /// Whether `self` is `other` or lies inside it.
    pub fn is_within(&self, other: &Location) -> bool {
        match (self, other) {
            (Location::Local(a), Location::Local(b)) => a.starts_with(b),
            (
                Location::Remote {
                    scheme,
                    authority,
                    segments,
                },
                Location::Remote {
                    scheme: s,
                    authority: a,
                    segments: g,
                },
            ) => scheme == s && authority == a && segments.starts_with(g),
            _ => false,
        }
    }
}

/// The canonical string: a plain absolute path (a `file://` URL when the
/// path begins or ends with white space, which parsing would trim), or a
/// URL whose path segments are percent-encoded again. [`Location::parse`]
/// gives the same location back from it.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => {
                let text = p.display().to_string();
                if text.trim() == text {
                    f.write_str(&text)
                } else {
                    write!(f, "{}", self.url())
                }
            }
            Location::Remote { .. } => write!(f, "{}", self.url()),
        }
    }
}

/// Whether a location is written as a URL: `scheme://...`, or `file:` in
/// any of its spellings.
fn is_url(text: &str) -> bool {
    if text.len() >= 5 && text[..5].eq_ignore_ascii_case("file:") {
        return true;
    }
    match text.find("://") {
        Some(i) if i > 0 => {
            let scheme = &text[..i];
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        _ => false,
    }
}

/// Whether `s` holds a `%` followed by two hex digits.
fn has_percent_escape(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

/// An absolute path without `.` or `..` whose existing prefixes have their
/// symbolic links resolved, one component at a time.
fn canonical_path(path: &Path) -> std::result::Result<PathBuf, String> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("no current folder: {e}"))?
            .join(path)
    };
    let mut out = PathBuf::from("/");
    let mut missing = false;
    for c in abs.components() {
        match c {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                if missing {
                    return Err(
                        "'..' after a part of the path that does not exist is not allowed".into(),
                    );
                }
                out.pop();
            }
            Component::Normal(name) => {
                out.push(name);
                if missing || name.to_string_lossy().contains(GLOB_CHARS) {
                    missing = true;
                    continue;
                }
                match std::fs::canonicalize(&out) {
                    Ok(real) => out = real,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing = true,
                    Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => missing = true,
                    Err(e) => return Err(format!("'{}': {e}", out.display())),
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(s: &str) -> PathBuf {
        match Location::parse(s) {
            Ok(Location::Local(p)) => p,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn local_paths_are_resolved() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = std::fs::canonicalize(dir.path()).expect("real path");
        std::fs::create_dir_all(root.join("pub/a")).expect("folder");
        std::os::unix::fs::symlink("/etc", root.join("pub/out")).expect("symlink");
        let r = root.display();
        assert_eq!(
            local(&format!("{r}/pub/./a/../b.nc")),
            root.join("pub/b.nc")
        );
        assert_eq!(
            local(&format!("{r}/pub/out/hostname")),
            PathBuf::from("/etc/hostname")
        );
        assert_eq!(local(&format!("{r}/pub/out/../x")), PathBuf::from("/x"));
        assert_eq!(local(&format!("file://{r}/pub/%2e%2e/x")), root.join("x"));
        assert_eq!(local(&format!("file://localhost{r}/pub")), root.join("pub"));
        assert_eq!(local(&format!("FILE:{r}/pub")), root.join("pub"));
        assert_eq!(local(&format!("{r}/pub/*.nc")), root.join("pub/*.nc"));
        for bad in [
            format!("{r}/pub/*/../x"),
            format!("{r}/pub\\..\\x"),
            format!("{r}/pub/%2e%2e/x"),
            format!("file://{r}/pub%2f..%2fx"),
            format!("file://{r}/pub/%5C"),
            format!("file://{r}/pub/%252e%252e/x"),
            format!("file://host{r}"),
            String::new(),
        ] {
            assert!(Location::parse(&bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn urls_are_decoded_once_and_normalised() {
        let loc = Location::parse("S3://Bucket/a/%2E%2e/b/c%20d.zarr/").expect("a URL");
        assert_eq!(
            loc,
            Location::Remote {
                scheme: "s3".into(),
                authority: "bucket".into(),
                segments: vec!["b".into(), "c d.zarr".into()],
            }
        );
        assert_eq!(loc.to_string(), "s3://bucket/b/c%20d.zarr");
        assert_eq!(Location::parse(&loc.to_string()).ok(), Some(loc));
        for bad in [
            "s3://bucket/a%2Fb",
            "s3://bucket/%252e%252e/x",
            "http://user:pw@host/x",
            "http://host/x?y=1",
            "s3:///x",
            "http://host/a\\b",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad} was accepted");
        }
        assert!(
            Location::parse("http://127.0.0.1:9000/x.zarr")
                .expect("a URL")
                .is_within(&Location::parse("http://127.0.0.1:9000/").expect("a URL"))
        );
    }
}
