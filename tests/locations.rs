//! The allowed-roots rule as a property: for random location strings built
//! from the pieces attackers use (dot segments, percent-encoded dots and
//! separators in any case, double encoding, backslashes, `file:` spellings,
//! symlinks leading out, glob characters), whenever the check allows a
//! location, what the opener opens lies under an allowed root: the file
//! `object_store` maps the store path [`Access::store`] hands it to, and
//! the place the file system resolves that file to.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::SessionConfig;
use gridsql_connectors::location::{Access, AllowedRoots, Location};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Pieces of a path, hostile and harmless.
const PIECES: &[&str] = &[
    "/",
    "/",
    "/",
    "..",
    ".",
    "%2e",
    "%2E",
    "%2e%2e",
    ".%2E",
    "%2f",
    "%2F",
    "%5c",
    "%5C",
    "%25",
    "%252e",
    "\\",
    "//",
    "pub",
    "priv",
    "link",
    "out",
    "x.zarr",
    "*",
    "?",
    "[a]",
    "a b",
    "%20",
    "localhost",
    "~",
    ";",
    ":",
];

/// How a string starts.
const HEADS: &[&str] = &[
    "",
    "file://",
    "file://localhost",
    "file:",
    "FILE://",
    "file:///",
    "file:/",
    "./",
    "../",
];

/// The directory layout: `root/pub` (allowed) holding `x.zarr`, a folder
/// `d`, and `link` -> `root/priv`; `root/priv` (not allowed) holding `x.zarr`.
fn layout() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = std::fs::canonicalize(dir.path()).expect("real path");
    for d in ["pub/x.zarr", "pub/d", "priv/x.zarr"] {
        std::fs::create_dir_all(root.join(d)).expect("folder");
    }
    std::os::unix::fs::symlink(root.join("priv"), root.join("pub/link")).expect("symlink");
    std::os::unix::fs::symlink("../priv/x.zarr", root.join("pub/out")).expect("symlink");
    (dir, root)
}

/// The real place a path leads to: its deepest existing ancestor resolved
/// by the operating system, the rest appended.
fn real_place(p: &Path) -> PathBuf {
    let mut existing = p.to_path_buf();
    let mut tail = Vec::new();
    while std::fs::symlink_metadata(&existing).is_err() {
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(n), Some(parent)) => {
                tail.push(n);
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut out = std::fs::canonicalize(&existing).unwrap_or(existing);
    for n in tail.into_iter().rev() {
        out.push(n);
    }
    out
}

fn check(access: &Access, allowed: &Path, raw: &str) -> Result<(), TestCaseError> {
    let Ok(location) = access.locate(raw) else {
        return Ok(());
    };
    let Location::Local(path) = &location else {
        return Err(TestCaseError::fail(format!(
            "{raw}: allowed as {location:?}"
        )));
    };
    prop_assert!(
        path.starts_with(allowed),
        "{raw}: allowed {}",
        path.display()
    );
    // The canonical form parses to itself: executors re-open what was checked.
    prop_assert_eq!(
        Location::parse(&location.to_string()).ok(),
        Some(location.clone())
    );
    // What object_store is handed is the same path.
    let (_, store_path) = access
        .store(&location)
        .map_err(|e| TestCaseError::fail(format!("{raw}: {e}")))?;
    let handed = object_store::local::LocalFileSystem::new()
        .path_to_filesystem(&store_path)
        .map_err(|e| TestCaseError::fail(format!("{raw}: {e}")))?;
    prop_assert_eq!(&handed, path, "{}: store path differs", raw);
    // And the file system resolves it inside the root.
    let real = real_place(path);
    prop_assert!(real.starts_with(allowed), "{raw}: opens {}", real.display());
    Ok(())
}

#[test]
fn allowed_locations_open_only_under_the_roots() {
    let (_dir, root) = layout();
    let allowed = root.join("pub");
    let roots = AllowedRoots::new(&[allowed.display().to_string()], &[]).expect("roots");
    let config = SessionConfig::new().with_extension(Arc::new(roots));
    let access = Access::new(Arc::new(RuntimeEnv::default()), &config);
    let prefix = prop_oneof![
        Just(format!("{}/", allowed.display())),
        Just(format!("{}/", root.display())),
        Just(String::new()),
    ];
    let strategy = (
        prop::sample::select(HEADS),
        prefix,
        prop::collection::vec(prop::sample::select(PIECES), 0..12),
    )
        .prop_map(|(head, prefix, pieces)| format!("{head}{prefix}{}", pieces.concat()));
    let (mut runner, cases) = crate::util::seeded_runner(3000);
    let allowed_count = std::cell::Cell::new(0usize);
    let result = runner.run(&strategy, |raw| {
        if access.locate(&raw).is_ok() {
            allowed_count.set(allowed_count.get() + 1);
        }
        check(&access, &allowed, &raw)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "{} of {cases} generated locations allowed",
        allowed_count.get()
    );
    // The generator reaches both sides of the rule.
    assert!(allowed_count.get() > 0, "no generated location was allowed");
    // Hand-picked ones that must be refused, and one that must be allowed.
    let r = root.display();
    for bad in [
        format!("file://{r}/pub/%2e%2e/priv/x.zarr"),
        format!("{r}/pub/link/x.zarr"),
        format!("{r}/pub/out"),
        format!("file:{r}/pub/..%2fpriv"),
        format!("file://{r}/pub/%252e%252e/priv"),
    ] {
        assert!(access.locate(&bad).is_err(), "{bad} was allowed");
    }
    assert!(
        access
            .locate(&format!("file://{r}/pub/d/%2e%2e/x.zarr"))
            .is_ok()
    );
}
