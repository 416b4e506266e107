//! `\plot` and `--plot` through the real binary, on the demo store: each
//! plot kind in PNG and SVG from real query results. The images are decoded
//! and checked (size, drawn pixels, blank land, colours), and the plotted
//! range the shell reports (`plot: ... min=.. max=..` on standard error, the
//! colour bar's ends) is compared with the same query's own answer and with
//! xarray's on the same store.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use crate::util::{gridsql_env, python, python_ok};

/// Days in the test demo store.
const DAYS: &str = "8";

/// The demo store shared by the tests of this module (written once).
pub(crate) fn demo_store() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("sla.zarr");
        let out = gridsql_env(
            &[
                "demo",
                "--path",
                p.to_str().expect("utf-8"),
                "--days",
                DAYS,
                "-c",
                "SELECT 1",
            ],
            &[],
        );
        assert!(
            out.status.success(),
            "demo: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    });
    dir.path()
}

fn sla_path() -> PathBuf {
    demo_store().join("sla.zarr")
}

/// `gridsql demo` on the shared store with `args`.
fn demo(args: &[&str]) -> Output {
    let p = sla_path();
    let mut all = vec!["demo", "--path", p.to_str().expect("utf-8"), "--days", DAYS];
    all.extend_from_slice(args);
    gridsql_env(&all, &[])
}

/// `gridsql demo` on the shared store with `script` piped to standard input.
fn demo_piped(script: &str) -> Output {
    let p = sla_path();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridsql"));
    cmd.args([
        "demo",
        "--path",
        p.to_str().expect("utf-8"),
        "--days",
        DAYS,
        "--format",
        "csv",
    ]);
    piped_within(cmd, script, Duration::from_secs(300))
}

/// Runs `cmd` with `script` on its standard input and its output captured;
/// kills it and fails the test when it is still running after `limit`.
pub(crate) fn piped_within(mut cmd: Command, script: &str, limit: Duration) -> Output {
    cmd.env("RUST_LOG", "error");
    crate::util::run_within(cmd, Some(script), limit)
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "gridsql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `plot:` lines of standard error as key/value maps (`kind`, `path`,
/// `width`, `height` and the `key=value` fields).
pub(crate) fn plot_infos(stderr: &[u8]) -> Vec<BTreeMap<String, String>> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("plot: "))
        .map(|l| {
            let mut words = l.split(' ');
            let mut m = BTreeMap::new();
            m.insert("kind".into(), words.next().unwrap_or_default().to_string());
            m.insert("path".into(), words.next().unwrap_or_default().to_string());
            let size = words.next().unwrap_or_default();
            let (w, h) = size.split_once('x').unwrap_or_default();
            m.insert("width".into(), w.to_string());
            m.insert("height".into(), h.to_string());
            for w in words {
                if let Some((k, v)) = w.split_once('=') {
                    m.insert(k.to_string(), v.to_string());
                }
            }
            m
        })
        .collect()
}

fn num(m: &BTreeMap<String, String>, k: &str) -> f64 {
    m.get(k)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number {k} in {m:?}"))
}

fn close(a: f64, b: f64, rtol: f64) -> bool {
    (a - b).abs() <= rtol * a.abs().max(b.abs()).max(1e-12)
}

/// A decoded RGB(A) image.
pub(crate) struct Image {
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// RGB per pixel, row-major.
    pub(crate) pixels: Vec<[u8; 3]>,
}

impl Image {
    pub(crate) fn read(path: &Path) -> Image {
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut reader = png::Decoder::new(file).read_info().expect("a PNG header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("a PNG frame");
        let step = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("unexpected PNG colour type {other:?}"),
        };
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let pixels = buf[..info.buffer_size()]
            .chunks_exact(step)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Image {
            width: info.width,
            height: info.height,
            pixels,
        }
    }

    /// Fraction of pixels in `x0..x1, y0..y1` that are not white.
    pub(crate) fn drawn_fraction(&self, (x0, x1): (u32, u32), (y0, y1): (u32, u32)) -> f64 {
        let mut drawn = 0usize;
        let mut all = 0usize;
        for y in y0..y1.min(self.height) {
            for x in x0..x1.min(self.width) {
                all += 1;
                if self.pixels[(y * self.width + x) as usize] != [255, 255, 255] {
                    drawn += 1;
                }
            }
        }
        drawn as f64 / all.max(1) as f64
    }

    fn colours(&self) -> HashSet<[u8; 3]> {
        self.pixels.iter().copied().collect()
    }

    /// Whether some pixel is within `tol` of `c` in every channel.
    fn has_colour_near(&self, c: [u8; 3], tol: u8) -> bool {
        self.pixels
            .iter()
            .any(|p| (0..3).all(|i| p[i].abs_diff(c[i]) <= tol))
    }
}

/// Viridis' two ends: the colour bar's minimum and maximum.
const VIRIDIS_LOW: [u8; 3] = [68, 1, 84];
const VIRIDIS_HIGH: [u8; 3] = [254, 232, 37];

/// The min, max, count of values and count of NULLs of column `col` of `query`, by gridsql.
fn stats(query: &str, col: &str) -> (f64, f64, usize, usize) {
    let sql = format!(
        "SELECT min({col}) AS lo, max({col}) AS hi, count({col}) AS n, count(*) - count({col}) AS nulls \
         FROM ({query})"
    );
    let out = ok(&demo(&["--format", "csv", "-c", &sql]));
    let row: Vec<&str> = out.lines().nth(1).expect("a row").split(',').collect();
    (
        row[0].parse().expect("lo"),
        row[1].parse().expect("hi"),
        row[2].parse().expect("n"),
        row[3].parse().expect("nulls"),
    )
}

/// Numbers printed by a Python snippet run with xarray on the demo store (`ds`).
fn xarray_numbers(py: &Path, body: &str) -> Vec<f64> {
    let script = format!(
        "import xarray as xr\nds = xr.open_zarr({:?}, consolidated=True)\n{body}",
        sla_path().display().to_string()
    );
    python_ok(py, ["-c", &script], "xarray failed")
        .split_whitespace()
        .map(|w| w.parse().expect("a number"))
        .collect()
}

const TIME_MEAN: &str =
    "SELECT latitude, longitude, avg(sla) AS sla FROM sla GROUP BY latitude, longitude";

#[test]
fn map_png_of_the_time_mean_spans_the_data_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let png = dir.path().join("maps/mean.png");
    // `--plot` infers a map from the latitude and longitude columns
    let out = demo(&[
        "--format",
        "csv",
        "-c",
        TIME_MEAN,
        "--plot",
        png.to_str().expect("utf-8"),
    ]);
    ok(&out);
    let infos = plot_infos(&out.stderr);
    assert_eq!(infos.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let info = &infos[0];
    assert_eq!(info["kind"], "map");
    assert_eq!(info["column"], "sla");
    assert_eq!(info["units"], "m");
    // the colour bar spans the result's range; the cells are its values and NULLs
    let (lo, hi, n, nulls) = stats(TIME_MEAN, "sla");
    assert_eq!(num(info, "min"), lo);
    assert_eq!(num(info, "max"), hi);
    assert_eq!(num(info, "cells") as usize, n);
    assert_eq!(num(info, "blank") as usize, nulls);
    assert_eq!(n + nulls, 180 * 360);
    assert!(
        nulls > n / 10,
        "the demo has land: {nulls} NULL cells of {}",
        n + nulls
    );

    let img = Image::read(&png);
    assert_eq!(
        (img.width, img.height),
        (num(info, "width") as u32, num(info, "height") as u32)
    );
    assert_eq!(img.width, 1000);
    assert!(img.height > 300 && img.height < 900, "{}", img.height);
    // the map area: ocean cells are coloured, land (NULL) is blank
    let map = img.drawn_fraction((150, 800), (80, img.height - 80));
    assert!(
        map > 0.5 && map < 0.95,
        "coloured fraction of the map area {map}"
    );
    assert!(img.colours().len() > 100, "{} colours", img.colours().len());
    assert!(img.has_colour_near(VIRIDIS_LOW, 6) && img.has_colour_near(VIRIDIS_HIGH, 6));
    // the colour bar (right of x = 850) is drawn
    assert!(img.drawn_fraction((850, 1000), (80, img.height - 80)) > 0.1);

    // xarray's time mean has the same range and land
    let Some(py) = python() else { return };
    let x = xarray_numbers(
        &py,
        "m = ds.sla.mean('time')\nprint(float(m.min()), float(m.max()), int(m.count()), int(m.isnull().sum()))",
    );
    assert!(
        close(x[0], lo, 1e-9) && close(x[1], hi, 1e-9),
        "xarray {x:?} vs {lo} {hi}"
    );
    assert_eq!((x[2] as usize, x[3] as usize), (n, nulls));
}

#[test]
fn map_svg_labels_the_colour_bar_with_the_range_and_units() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svg = dir.path().join("day.svg");
    let query = "SELECT latitude, longitude, sla FROM sla WHERE time = TIMESTAMP '1993-01-03'";
    let out = demo(&[
        "--format",
        "csv",
        "-c",
        query,
        "--plot",
        svg.to_str().expect("utf-8"),
    ]);
    ok(&out);
    let info = &plot_infos(&out.stderr)[0];
    let (lo, hi, n, nulls) = stats(query, "sla");
    assert_eq!((num(info, "min"), num(info, "max")), (lo, hi));
    assert_eq!(
        (num(info, "cells") as usize, num(info, "blank") as usize),
        (n, nulls)
    );
    let text = std::fs::read_to_string(&svg).expect("the SVG");
    assert!(text.starts_with("<svg"), "{}", &text[..text.len().min(200)]);
    assert!(text.contains(&format!("width=\"{}\"", info["width"])));
    assert!(text.contains(&format!("height=\"{}\"", info["height"])));
    // one rectangle per coloured cell (plus the colour bar's steps)
    assert!(
        text.matches("<rect").count() >= n,
        "{} rects",
        text.matches("<rect").count()
    );
    // the colour bar's end labels are the range, to four significant digits
    // plotters writes each text on its own line: `<text ...>\nmin -0.18\n</text>`
    let label = |word: &str| -> f64 {
        let at = text
            .find(&format!("\n{word} "))
            .unwrap_or_else(|| panic!("no '{word}' label"));
        let rest = &text[at + word.len() + 2..];
        rest[..rest.find('\n').expect("end of the label")]
            .trim()
            .parse()
            .expect("a number")
    };
    assert!(close(label("min"), lo, 1e-3), "{} vs {lo}", label("min"));
    assert!(close(label("max"), hi, 1e-3), "{} vs {hi}", label("max"));
    assert!(text.contains("sla (m)"), "the colour bar names the units");
    assert!(text.contains("latitude (degrees_north)") && text.contains("longitude (degrees_east)"));
    assert!(
        text.contains("SELECT latitude, longitude, sla FROM sla"),
        "the title is the query"
    );
}

const DAILY: &str = "SELECT time, min(sla) AS lowest, avg(sla) AS mean, max(sla) AS highest \
                     FROM sla GROUP BY time ORDER BY time";

#[test]
fn line_png_and_svg_draw_one_line_per_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let png = dir.path().join("daily.png");
    let svg = dir.path().join("daily.svg");
    let out = demo_piped(&format!(
        "{DAILY};\n\\plot line {}\n\\plot {}\n",
        png.display(),
        svg.display()
    ));
    ok(&out);
    let infos = plot_infos(&out.stderr);
    assert_eq!(infos.len(), 2, "{}", String::from_utf8_lossy(&out.stderr));
    let (lo, _, n, _) = stats(DAILY, "lowest");
    let (_, hi, _, _) = stats(DAILY, "highest");
    for info in &infos {
        assert_eq!(info["kind"], "line", "{info:?}");
        assert_eq!(info["column"], "lowest,mean,highest");
        assert_eq!(info["units"], "m");
        assert_eq!((num(info, "min"), num(info, "max")), (lo, hi));
        assert_eq!(num(info, "points") as usize, 3 * n);
        assert_eq!(num(info, "blank"), 0.0);
    }
    let img = Image::read(&png);
    assert_eq!((img.width, img.height), (1000, 560));
    assert!(img.drawn_fraction((0, 1000), (0, 560)) > 0.03);
    // the three series' colours are drawn
    for c in [[31, 119, 180], [255, 127, 14], [44, 160, 44]] {
        assert!(img.has_colour_near(c, 20), "no line of colour {c:?}");
    }
    let text = std::fs::read_to_string(&svg).expect("the SVG");
    assert!(text.starts_with("<svg"));
    for name in ["lowest", "mean", "highest"] {
        assert!(text.contains(&format!("\n{name}\n")), "legend entry {name}");
    }
    assert!(text.contains("1993-01-0"), "dates on the time axis");
    assert!(text.matches("<polyline").count() >= 3);

    // xarray: the lowest and highest cell of any day
    let Some(py) = python() else { return };
    let x = xarray_numbers(
        &py,
        "d = ('latitude', 'longitude')\nprint(float(ds.sla.min(d).min()), float(ds.sla.max(d).max()), ds.sizes['time'])",
    );
    assert!(
        close(x[0], lo, 1e-9) && close(x[1], hi, 1e-9),
        "xarray {x:?} vs {lo} {hi}"
    );
    assert_eq!(x[2] as usize, n);
}

#[test]
fn units_follow_the_computation_or_the_plot_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |name: &str| dir.path().join(name).display().to_string();
    let script = format!(
        "SELECT latitude, longitude, avg(sla) * 100 AS sla_cm FROM sla GROUP BY 1, 2;\n\
         \\plot map {}\n\\plot map {} cm\n\
         SELECT date_part('day', time) AS day, stddev(adt) AS spread FROM sla GROUP BY 1 ORDER BY 1;\n\
         \\plot {}\n",
        p("a.png"),
        p("b.png"),
        p("c.svg")
    );
    let out = demo_piped(&script);
    ok(&out);
    let infos = plot_infos(&out.stderr);
    assert_eq!(infos.len(), 3, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        infos[0]["units"], "-",
        "a product with a constant has no units"
    );
    assert_eq!(infos[1]["units"], "cm");
    assert_eq!(infos[2]["kind"], "line");
    assert_eq!(infos[2]["units"], "m", "stddev keeps the variable's units");
    let (lo, hi, _, _) = stats(
        "SELECT latitude, longitude, avg(sla) * 100 AS sla_cm FROM sla GROUP BY 1, 2",
        "sla_cm",
    );
    assert_eq!((num(&infos[1], "min"), num(&infos[1], "max")), (lo, hi));
}

#[test]
fn plot_errors_are_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |name: &str| dir.path().join(name).display().to_string();
    let cases: Vec<(Output, &str)> = vec![
        (
            demo(&["-c", "SELECT 1 AS a", "--plot", &p("x.png")]),
            "needs numeric value columns",
        ),
        (
            demo(&[
                "-c",
                "SELECT time, avg(sla) AS m FROM sla GROUP BY time",
                "--plot",
                &p("x.jpg"),
            ]),
            "must end in .png or .svg",
        ),
        (
            demo_piped(&format!(
                "SELECT time, avg(sla) AS m FROM sla GROUP BY time;\n\\plot map {}\n",
                p("y.png")
            )),
            "a map needs latitude and longitude columns",
        ),
        (
            demo_piped(&format!("\\plot {}\n", p("z.png"))),
            "nothing to plot",
        ),
        (
            demo_piped(&format!(
                "SELECT latitude, longitude, sla FROM sla WHERE sla > 100;\n\\plot {}\n",
                p("w.png")
            )),
            "no values to plot",
        ),
        (
            demo_piped("SELECT 1 AS a;\n\\plot map\n"),
            "the file is missing",
        ),
    ];
    for (out, expected) in cases {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "should fail with '{expected}'");
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| !l.starts_with("writing the sample"))
            .collect();
        assert_eq!(lines.len(), 1, "one line: {err}");
        assert!(err.contains(expected), "'{expected}' not in: {err}");
    }
    for f in ["x.png", "x.jpg", "y.png", "z.png", "w.png"] {
        assert!(
            !dir.path().join(f).exists(),
            "{f} was written by a failed plot"
        );
    }
}

/// The progress bar, on a real terminal: the interactive shell under a
/// pseudo-terminal (Python's `pty`), a query long enough to draw it.
#[test]
fn progress_bar_shows_chunks_on_a_terminal() {
    let Some(py) = python() else { return };
    let script = r#"
import os, pty, sys, time, select
binary, store = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.environ["RUST_LOG"] = "error"
    os.environ["GRIDSQL_PROGRESS_DELAY_MS"] = "0"
    os.execv(binary, [binary, "demo", "--path", store, "--days", "8"])
out = b""
def read_for(seconds, until=None):
    global out
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            out += chunk
            if until and until in out:
                return
read_for(60, b"gridsql> ")
os.write(fd, b"SELECT count(a) AS n FROM (SELECT tas - avg(tas) OVER (PARTITION BY lat, lon, date_part('month', time)) AS a FROM ensemble);\r")
read_for(300, b"row in")
os.write(fd, b"\\q\r")
read_for(30)
os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
"#;
    let store = sla_path();
    let out = Command::new(py)
        .args([
            "-c",
            script,
            env!("CARGO_BIN_EXE_gridsql"),
            store.to_str().expect("utf-8"),
        ])
        .output()
        .expect("python runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("row in"), "the query finished: {text}");
    // e.g. "[############............] 40/80 chunks  2.5 MiB  3.1 MiB/s  0.8s"
    let bar = text
        .split('\r')
        .rfind(|s| s.contains(" chunks  ") && s.contains("/s  "))
        .unwrap_or_else(|| panic!("no progress bar in: {text}"));
    let counts = bar
        .split(']')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.split_once('/'))
        .expect("read/total");
    let (read, total): (u64, u64) = (
        counts.0.parse().expect("read"),
        counts.1.parse().expect("total"),
    );
    // the ensemble's tas has 8 members x 10 years of one-year chunks (the
    // last bar drawn, when every scan partition has started)
    assert_eq!(total, 80, "{bar}");
    assert!(read <= total);
}

/// The sample ensemble (4-D, member × time × lat × lon) as a map: its range
/// and blank cells outside the USA agree with xarray's on the same store.
#[test]
fn ensemble_map_matches_xarray() {
    let dir = tempfile::tempdir().expect("tempdir");
    let png = dir.path().join("tas.png");
    let query = "SELECT lat, lon, avg(tas) AS tas FROM ensemble GROUP BY lat, lon";
    let out = demo(&[
        "--format",
        "csv",
        "-c",
        query,
        "--plot",
        png.to_str().expect("utf-8"),
    ]);
    ok(&out);
    let info = &plot_infos(&out.stderr)[0];
    assert_eq!(
        (info["kind"].as_str(), info["units"].as_str()),
        ("map", "K")
    );
    let (lo, hi, n, nulls) = stats(query, "tas");
    assert_eq!((num(info, "min"), num(info, "max")), (lo, hi));
    assert_eq!(n + nulls, 26 * 59);
    let img = Image::read(&png);
    assert_eq!(img.width, 1000);
    assert!(img.drawn_fraction((150, 800), (80, img.height - 80)) > 0.4);
    let Some(py) = python() else { return };
    let script = format!(
        "import xarray as xr\nds = xr.open_zarr({:?}, consolidated=True)\n\
         m = ds.tas.mean(('member', 'time'))\n\
         print(float(m.min()), float(m.max()), int(m.count()), int(m.isnull().sum()), ds.tas.attrs['units'])",
        demo_store().join("ensemble_usa.zarr").display().to_string()
    );
    let text = python_ok(&py, ["-c", &script], "xarray");
    let w: Vec<&str> = text.split_whitespace().collect();
    let (xlo, xhi): (f64, f64) = (w[0].parse().expect("min"), w[1].parse().expect("max"));
    // xarray averages float32 in float32 (numpy's pairwise sum); gridsql in float64
    assert!(
        close(xlo, lo, 1e-5) && close(xhi, hi, 1e-5),
        "xarray {w:?} vs {lo} {hi}"
    );
    assert_eq!(
        (w[2].parse::<usize>().ok(), w[3].parse::<usize>().ok()),
        (Some(n), Some(nulls))
    );
    assert_eq!(w[4], "K");
}
