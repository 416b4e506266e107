//! Every ```` ```sql ```` block of `README.md` and `docs/**/*.md` runs, and
//! every picture the docs show is drawn by a `\plot` line of the docs.
//!
//! The convention (documented in docs/README.md): the blocks of one page are
//! piped, in order, to one `gridsql demo` session (tables `sla` and
//! `ensemble`, small copies written by the test) whose working directory is
//! the shared data folder, so relative locations name its files. Before each
//! block the test adds a marker statement; when the session fails, the last
//! marker printed names the failing block. `\plot` lines draw into a
//! temporary folder instead of `docs/images/`, and each image must exist and
//! not be blank.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::plots::{Image, piped_within, plot_infos};
use crate::util::{data_dir, gridsql_env, repo};

/// Days of the test's demo sea-level store.
const DAYS: &str = "10";

/// One ```sql block.
struct Block {
    /// Line (1-based) of the opening fence.
    line: usize,
    text: String,
}

/// The markdown files the test reads: README.md and docs/**/*.md.
fn markdown_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    let mut files = vec![repo().join("README.md")];
    let mut docs = Vec::new();
    walk(&repo().join("docs"), &mut docs);
    docs.sort();
    files.extend(docs);
    files
}

/// The ```sql blocks of a markdown text.
fn sql_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        match &mut current {
            None => {
                if let Some(rest) = t.strip_prefix("```sql")
                    && rest.trim().is_empty()
                {
                    current = Some(Block {
                        line: i + 1,
                        text: String::new(),
                    });
                }
            }
            Some(b) => {
                if t.starts_with("```") {
                    blocks.extend(current.take());
                } else {
                    b.text.push_str(line);
                    b.text.push('\n');
                }
            }
        }
    }
    blocks
}

/// The pictures a markdown text shows from `images/`.
fn pictures(text: &str) -> Vec<String> {
    text.split("](images/")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(str::to_string)
        .collect()
}

/// A block's `\plot` lines rewritten to draw into `out`; returns the
/// script and the file names drawn.
fn redirect_plots(block: &str, out: &Path) -> (String, Vec<String>) {
    let mut names = Vec::new();
    let mut script = String::new();
    for line in block.lines() {
        let t = line.trim();
        if t.starts_with("\\plot") {
            let words: Vec<String> = t
                .split_whitespace()
                .map(|w| {
                    let lower = w.to_ascii_lowercase();
                    if lower.ends_with(".png") || lower.ends_with(".svg") {
                        let name = Path::new(w)
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        names.push(name.clone());
                        out.join(name).display().to_string()
                    } else {
                        w.to_string()
                    }
                })
                .collect();
            script.push_str(&words.join(" "));
        } else {
            script.push_str(line);
        }
        script.push('\n');
    }
    (script, names)
}

/// Whether the block's last statement is closed (`;`) or it ends with a command.
fn ends_closed(block: &str) -> bool {
    block
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("--"))
        .is_none_or(|l| l.ends_with(';') || l.starts_with('\\'))
}

#[test]
fn every_sql_block_in_the_docs_runs() {
    let Some(data) = data_dir() else { return };
    let work = tempfile::tempdir().expect("tempdir");
    let sla = work.path().join("sla.zarr");
    let sla = sla.to_str().expect("utf-8");
    let out = gridsql_env(
        &["demo", "--path", sla, "--days", DAYS, "-c", "SELECT 1"],
        &[],
    );
    assert!(
        out.status.success(),
        "demo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let images = work.path().join("images");

    let mut failures = Vec::new();
    let mut drawn: BTreeMap<String, String> = BTreeMap::new();
    let mut shown: Vec<(String, String)> = Vec::new();
    let mut blocks_run = 0;
    for file in markdown_files() {
        let rel = file
            .strip_prefix(repo())
            .unwrap_or(&file)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&file).expect("read the markdown");
        shown.extend(pictures(&text).into_iter().map(|p| (rel.clone(), p)));
        let blocks = sql_blocks(&text);
        if blocks.is_empty() {
            continue;
        }
        let mut script = String::new();
        let mut expected = Vec::new();
        for (i, b) in blocks.iter().enumerate() {
            if !ends_closed(&b.text) {
                failures.push(format!(
                    "{rel}:{}: the block's last statement does not end with ';'",
                    b.line
                ));
            }
            script.push_str(&format!("SELECT 'block {i}' AS docs_sql_marker;\n"));
            let (s, names) = redirect_plots(&b.text, &images);
            script.push_str(&s);
            expected.extend(names.into_iter().map(|n| (n, format!("{rel}:{}", b.line))));
        }
        blocks_run += blocks.len();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridsql"));
        cmd.args(["demo", "--path", sla, "--days", DAYS, "--format", "csv"])
            .current_dir(&data);
        let out = piped_within(cmd, &script, Duration::from_secs(600));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            let last = stdout
                .lines()
                .filter_map(|l| l.strip_prefix("block "))
                .filter_map(|n| n.parse::<usize>().ok())
                .next_back()
                .unwrap_or(0);
            let b = &blocks[last];
            failures.push(format!(
                "{rel}:{}: block failed: {}\n{}",
                b.line,
                stderr.trim(),
                b.text
            ));
            continue;
        }
        let infos = plot_infos(&out.stderr);
        for (name, at) in expected {
            let path = images.join(&name);
            let reported = infos
                .iter()
                .any(|i| i["path"] == path.display().to_string());
            if !path.exists() || !reported {
                failures.push(format!("{at}: \\plot drew no {name}"));
                continue;
            }
            if name.ends_with(".png") {
                let img = Image::read(&path);
                let f = img.drawn_fraction((0, img.width), (0, img.height));
                // A line plot draws thin lines on white: a few percent of
                // its pixels (the docs' line plots draw 2.6-4.9%).
                if f < 0.02 {
                    failures.push(format!("{at}: {name} is blank ({f:.3} drawn)"));
                }
            }
            drawn.insert(name, at);
        }
    }
    // every picture shown is drawn by a \plot line and is in docs/images
    for (file, picture) in &shown {
        if !drawn.contains_key(picture) {
            failures.push(format!(
                "{file}: shows images/{picture}, which no \\plot line draws"
            ));
        }
        if !repo().join("docs/images").join(picture).exists() {
            failures.push(format!("{file}: docs/images/{picture} is missing"));
        }
    }
    let pictures: BTreeSet<&String> = shown.iter().map(|(_, p)| p).collect();
    eprintln!(
        "docs_sql: {blocks_run} sql blocks run, {} pictures drawn, {} shown",
        drawn.len(),
        pictures.len()
    );
    assert!(blocks_run > 20, "too few sql blocks found ({blocks_run})");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn blocks_and_pictures_are_found() {
    let md = "text\n```sql\nSELECT 1;\n\\plot map docs/images/a.png degC\n```\n\
              ```sh\nls\n```\n```sql\nSELECT 2\n```\n![x](images/a.png) ![y](images/b.svg)\n";
    let blocks = sql_blocks(md);
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].line, 2);
    assert!(ends_closed(&blocks[0].text));
    assert!(!ends_closed(&blocks[1].text));
    let (script, names) = redirect_plots(&blocks[0].text, Path::new("/tmp/out"));
    assert_eq!(names, ["a.png"]);
    assert!(script.contains("\\plot map /tmp/out/a.png degC"));
    assert_eq!(pictures(md), ["a.png", "b.svg"]);
}
