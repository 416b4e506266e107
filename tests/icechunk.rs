//! Icechunk repositories (issue 20): a repository written by the icechunk
//! Python package with two commits and a tag (`tests/xarray/icechunk_repo.py`,
//! data changed and appended in the second). Queries at the tag, the branch
//! and the first snapshot id equal xarray reading that version from the
//! repository; `icechunk_log` lists the snapshots; through SQL DDL, the
//! table functions and the binary.

use std::collections::BTreeMap;
use std::process::Command;

use gridsql_connectors::Format;

use crate::util::{cells_match, data_dir, gridsql_ok, python, repo, rows_json};

#[derive(serde::Deserialize, Debug)]
pub(crate) struct Snapshot {
    pub(crate) id: String,
    pub(crate) message: String,
}

#[derive(serde::Deserialize, Debug)]
struct Answer {
    version: BTreeMap<String, String>,
    sql: String,
    rows: Vec<Vec<serde_json::Value>>,
}

#[derive(serde::Deserialize, Debug)]
pub(crate) struct Written {
    pub(crate) snapshots: Vec<Snapshot>,
    answers: Vec<Answer>,
    #[serde(rename = "virtual")]
    virtual_repo: Virtual,
}

/// The repository of virtual chunks and xarray's answer on it.
#[derive(serde::Deserialize, Debug)]
struct Virtual {
    repo: String,
    raw: String,
    sql: String,
    rows: Vec<Vec<serde_json::Value>>,
}

/// Writes the repository into `dir/repo` and returns xarray's answers.
pub(crate) fn write_repo(dir: &std::path::Path) -> Option<Written> {
    let data = data_dir()?;
    let py = python()?;
    let out = dir.join("answers.json");
    let status = Command::new(py)
        .arg(repo().join("tests/xarray/icechunk_repo.py"))
        .arg("--data")
        .arg(&data)
        .arg("--repo")
        .arg(dir.join("repo"))
        .arg("--out")
        .arg(&out)
        .status()
        .expect("icechunk_repo.py runs");
    assert!(status.success(), "icechunk_repo.py failed");
    let text = std::fs::read_to_string(out).expect("answers");
    Some(serde_json::from_str(&text).expect("answers parse"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_version_answers_as_xarray_reads_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(written) = write_repo(dir.path()) else {
        return;
    };
    let location = dir.path().join("repo").display().to_string();
    let versions: std::collections::BTreeSet<_> =
        written.answers.iter().map(|a| a.version.clone()).collect();
    assert_eq!(versions.len(), 3, "tag, branch and snapshot: {versions:?}");
    let mut failures = Vec::new();
    for answer in &written.answers {
        let ctx = gridsql_engine::new_context(&gridsql_engine::SessionOptions::default())
            .expect("a session");
        gridsql_engine::register_dataset(
            &ctx,
            "t",
            &location,
            Some(Format::Icechunk),
            answer.version.clone(),
        )
        .await
        .expect("the repository opens");
        let batches = ctx
            .sql(&answer.sql)
            .await
            .expect("plans")
            .collect()
            .await
            .expect("runs");
        let got = rows_json(&batches);
        let same = got.len() == answer.rows.len()
            && got.iter().zip(&answer.rows).all(|(g, e)| {
                g.len() == e.len() && g.iter().zip(e).all(|(a, b)| cells_match(a, b, 1e-9))
            });
        if !same {
            failures.push(format!(
                "{:?} {}: gridsql {:?}.. != xarray {:?}..",
                answer.version,
                answer.sql,
                got.iter().take(3).collect::<Vec<_>>(),
                answer.rows.iter().take(3).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // the versions differ where the second commit changed the data
    let count = |v: &str| {
        written
            .answers
            .iter()
            .find(|a| a.version.contains_key(v) && a.sql.starts_with("SELECT count"))
            .map(|a| a.rows.clone())
    };
    assert_ne!(count("tag"), count("branch"));
    assert_eq!(count("tag"), count("snapshot"));
}

#[test]
fn the_log_lists_snapshots_and_sql_picks_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(written) = write_repo(dir.path()) else {
        return;
    };
    let location = dir.path().join("repo").display().to_string();
    let log = gridsql_ok(&[
        "--format",
        "csv",
        "-c",
        &format!("SELECT snapshot_id, message, parent_id FROM icechunk_log('{location}')"),
    ]);
    let rows: Vec<Vec<&str>> = log
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let want: Vec<Vec<&str>> = written
        .snapshots
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let parent = written.snapshots.get(i + 1).map_or("", |p| p.id.as_str());
            vec![s.id.as_str(), s.message.as_str(), parent]
        })
        .collect();
    assert_eq!(rows, want, "{log}");
    // DDL with each version option, and the table function
    let first = &written
        .snapshots
        .iter()
        .find(|s| s.message == "first")
        .expect("the first commit")
        .id;
    let count = |options: &str| {
        let out = gridsql_ok(&[
            "--format",
            "csv",
            "-c",
            &format!(
                "CREATE EXTERNAL TABLE t STORED AS ICECHUNK LOCATION '{location}' {options}; \
                 SELECT count(DISTINCT time) FROM t"
            ),
        ]);
        out.lines().last().unwrap_or_default().to_string()
    };
    assert_eq!(count("OPTIONS ('tag' 'v1')"), "24");
    assert_eq!(count(""), "36");
    assert_eq!(count(&format!("OPTIONS ('snapshot' '{first}')")), "24");
    let via_function = gridsql_ok(&[
        "--format",
        "csv",
        "-c",
        &format!("SELECT count(DISTINCT time) AS n FROM read_icechunk('{location}', 'tag', 'v1')"),
    ]);
    assert_eq!(via_function.lines().last(), Some("24"));
    // the format is detected from the folder
    let detected = gridsql_ok(&[
        "--format",
        "csv",
        &format!("t={location}"),
        "-c",
        "SELECT count(DISTINCT time) FROM t",
    ]);
    assert_eq!(detected.lines().last(), Some("36"));
    // bad versions are clear errors
    for (options, want) in [
        ("OPTIONS ('tag' 'nope')", "no tag 'nope'"),
        ("OPTIONS ('branch' 'dev')", "no branch 'dev'"),
        ("OPTIONS ('snapshot' 'xyz')", "not a snapshot id"),
        ("OPTIONS ('tag' 'v1', 'branch' 'main')", "only one of"),
    ] {
        let out = crate::util::gridsql(&[
            "-c",
            &format!(
                "CREATE EXTERNAL TABLE t STORED AS ICECHUNK LOCATION '{location}' {options}; SELECT 1"
            ),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(want),
            "{options}: {err}"
        );
    }
}

/// Virtual chunks are read by gridsql from their checked location: they
/// answer as xarray reads them, and under allowed roots that leave out the
/// referenced file they are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_chunks_are_read_from_their_checked_location() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(written) = write_repo(dir.path()) else {
        return;
    };
    let v = &written.virtual_repo;
    let ctx =
        gridsql_engine::new_context(&gridsql_engine::SessionOptions::default()).expect("a session");
    gridsql_engine::register_dataset(&ctx, "t", &v.repo, Some(Format::Icechunk), BTreeMap::new())
        .await
        .expect("opens");
    let got = rows_json(
        &ctx.sql(&v.sql)
            .await
            .expect("plans")
            .collect()
            .await
            .expect("runs"),
    );
    assert_eq!(got.len(), v.rows.len());
    for (g, e) in got.iter().zip(&v.rows) {
        assert!(
            g.iter().zip(e).all(|(a, b)| cells_match(a, b, 0.0)),
            "gridsql {got:?} != xarray {:?}",
            v.rows
        );
    }
    // the repository inside the roots, the raw file outside them
    let roots = gridsql_connectors::location::AllowedRoots::new(&[format!("{}/", v.repo)], &[])
        .expect("roots");
    let config =
        datafusion::prelude::SessionConfig::new().with_extension(std::sync::Arc::new(roots));
    let ctx = datafusion::prelude::SessionContext::new_with_config(config);
    gridsql_engine::register_dataset(&ctx, "t", &v.repo, Some(Format::Icechunk), BTreeMap::new())
        .await
        .expect("the repository itself is inside the roots");
    let refused = match ctx.sql("SELECT sum(v) FROM t").await {
        Ok(df) => df.collect().await.err().map(|e| e.to_string()),
        Err(e) => Some(e.to_string()),
    }
    .expect("the virtual chunk outside the roots is refused");
    assert!(
        refused.contains("outside") && refused.contains(&v.raw),
        "{refused}"
    );
}

/// The repository uploaded to the S3-compatible server, read there at the
/// tag and at the branch: the answers of the local repository.
#[test]
fn a_repository_in_s3_reads_as_the_local_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(_) = write_repo(dir.path()) else {
        return;
    };
    let Some(moto) = crate::s3::Moto::start() else {
        return;
    };
    let repo = dir.path().join("repo");
    moto.upload(&[(repo.as_path(), "repo")]);
    let envs = moto.envs();
    let remote = format!("s3://{}/repo", crate::s3::BUCKET);
    for options in ["OPTIONS ('tag' 'v1')", ""] {
        let sql = |location: &str| {
            format!(
                "CREATE EXTERNAL TABLE t STORED AS ICECHUNK LOCATION '{location}' {options}; \
                 SELECT count(sst), avg(sst), count(DISTINCT time) FROM t"
            )
        };
        let got = crate::util::gridsql_env(&["--format", "csv", "-c", &sql(&remote)], &envs);
        assert!(
            got.status.success(),
            "{remote} {options}: {}",
            String::from_utf8_lossy(&got.stderr)
        );
        let want = gridsql_ok(&["--format", "csv", "-c", &sql(&repo.display().to_string())]);
        assert_eq!(String::from_utf8_lossy(&got.stdout), want, "{options}");
    }
}
