//! GRIB files (issue 21): the table of a GRIB file is the table of its
//! cfgrib conversion (answers against xarray + cfgrib are in
//! `xarray_parity::grib_files_match_xarray`); filters on 2-D coordinates
//! prune; `read_grib` and `grid_variables` see the file; damaged or hostile
//! files fail with one clear line naming the file and the message.

use std::path::Path;

use crate::util::{data_dir, gridsql, gridsql_ok};

const ERA5: &str = "era5-levels-members.grib";
const CMC: &str = "CMC_glb_TMP_ISBL_1015_ps30km_2013052000_P006.grib2";
const FILES: [&str; 4] = [
    ERA5,
    "forecast_monthly_ukmo.grib",
    "regular_gg_ml_g2.grib",
    CMC,
];

/// `DESCRIBE t` as CSV lines, each cut to name, type and role.
fn columns(path: &Path) -> Vec<String> {
    crate::wild::describe(path)
        .iter()
        .map(|l| l.splitn(4, ',').take(3).collect::<Vec<_>>().join(","))
        .collect()
}

#[test]
fn a_grib_file_is_the_table_of_its_cfgrib_conversion() {
    let Some(data) = data_dir() else { return };
    for f in FILES {
        let grib = columns(&data.join(f));
        let nc = columns(&data.join(format!("{f}.nc")));
        assert_eq!(grib, nc, "{f}: columns, types and roles");
        assert!(grib.len() > 3, "{f}: {grib:?}");
    }
}

#[test]
fn a_box_on_the_2d_coordinates_of_a_grib_file_reads_its_window() {
    let Some(data) = data_dir() else { return };
    let table = format!("t={}", data.join(CMC).display());
    let plan = gridsql_ok(&[
        "--format",
        "csv",
        &table,
        "-c",
        "EXPLAIN SELECT avg(t) FROM t WHERE latitude BETWEEN 45 AND 55 AND longitude BETWEEN 280 AND 300",
    ]);
    let at = plan.find("cells=").expect("EXPLAIN shows cells=");
    let cells: u64 = plan[at + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("a number of cells");
    // 200 x 247 points; the box is a window of a few thousand
    assert!(cells > 1980 && cells < 49_400 / 4, "{cells} cells\n{plan}");
}

#[test]
fn read_grib_and_grid_variables_see_the_file() {
    let Some(data) = data_dir() else { return };
    let path = data.join(ERA5).display().to_string();
    let out = gridsql_ok(&[
        "--format",
        "csv",
        "-c",
        &format!(
            "SELECT count(*), count(DISTINCT number) FROM read_grib('{path}') WHERE \"isobaricInhPa\" = 850"
        ),
    ]);
    assert!(out.lines().any(|l| l == "292800,10"), "{out}");
    let out = gridsql_ok(&[
        "--format",
        "csv",
        "-c",
        &format!("SELECT name, role FROM grid_variables('{path}') ORDER BY name"),
    ]);
    for want in [
        "t,variable",
        "z,variable",
        "valid_time,coordinate",
        "number,dimension",
    ] {
        assert!(out.lines().any(|l| l == want), "no {want:?} in {out}");
    }
}

/// Runs `sql` on a GRIB file and asserts one clear error line that
/// contains every needle.
fn assert_fails(case: &str, path: &Path, sql: &str, needles: &[&str]) {
    let out = gridsql(&[
        "--format",
        "csv",
        &format!("t={}", path.display()),
        "-c",
        sql,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    eprintln!("[{case}] {}", err.trim_end());
    assert!(!out.status.success(), "[{case}] succeeded");
    assert!(
        !err.contains("panicked") && out.status.code().is_some(),
        "[{case}] crashed: {err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "[{case}] {err}");
    for n in needles {
        assert!(err.contains(n), "[{case}] no {n:?} in: {err}");
    }
}

/// Offsets of the binary data section and the grid description of the
/// first message of a GRIB1 file.
fn grib1_sections(bytes: &[u8]) -> (usize, usize) {
    let len = |at: usize| {
        (usize::from(bytes[at]) << 16)
            | (usize::from(bytes[at + 1]) << 8)
            | usize::from(bytes[at + 2])
    };
    let gds = 8 + len(8);
    (gds + len(gds), gds)
}

#[test]
fn damaged_grib_files_are_clear_errors() {
    let Some(data) = data_dir() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let good = std::fs::read(data.join(ERA5)).expect("ERA5 GRIB");
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).expect("write");
        p
    };
    // cut in the middle of its last message
    let p = write("truncated.grib", &good[..good.len() - 1000]);
    assert_fails(
        "truncated",
        &p,
        "SELECT count(*) FROM t",
        &["truncated.grib", "claims"],
    );
    // not GRIB at all
    let p = write("text.grib", b"temperature,latitude\n280,45\n");
    assert_fails(
        "not GRIB",
        &p,
        "SELECT count(*) FROM t",
        &["text.grib", "no GRIB message"],
    );
    // an absurd grid: 65535 x 65535 points in the first message
    let (_, gds) = grib1_sections(&good);
    let mut huge = good.clone();
    huge[gds + 6..gds + 10].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    let p = write("huge.grib", &huge);
    assert_fails(
        "huge grid",
        &p,
        "SELECT count(*) FROM t",
        &["huge.grib", "byte 0", "not supported"],
    );
    // data that claims 60 bits per value: the table opens, reading it fails
    // naming the variable and the message
    let (bds, _) = grib1_sections(&good);
    let mut bits = good.clone();
    bits[bds + 10] = 60;
    let p = write("bits.grib", &bits);
    assert_fails(
        "bits per value",
        &p,
        "SELECT avg(z) FROM t",
        &["bits.grib", "variable 'z'", "message at byte 0", "60 bits"],
    );
    // a corrupt JPEG 2000 code stream in a GRIB2 file
    let mut j2k = std::fs::read(data.join(CMC)).expect("CMC GRIB2");
    let n = j2k.len();
    for b in &mut j2k[n - 2000..n - 4] {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    let p = write("j2k.grib2", &j2k);
    let out = gridsql(&[
        "--format",
        "csv",
        &format!("t={}", p.display()),
        "-c",
        "SELECT avg(t) FROM t",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    // a damaged code stream may still decode (to other numbers); it must
    // never crash, and a failure names the file and the message
    assert!(
        !err.contains("panicked") && out.status.code().is_some(),
        "{err}"
    );
    if !out.status.success() {
        assert!(
            err.contains("j2k.grib2") && err.contains("message at byte 0"),
            "{err}"
        );
    }
}
