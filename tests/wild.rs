//! The real files of `../shared/data` batch 2 that gridsql had failed on
//! (issue 21), beyond the answers `xarray_parity` checks: what a table of
//! each shows (roles of string and auxiliary columns), that a filter on 2-D
//! coordinates skips what it can, and that nested groups are listed and
//! open. Each runs on the NetCDF file and both Zarr copies.

use crate::util::{data_dir, gridsql_ok};

const FORMS: [&str; 3] = ["", ".v2.zarr", ".v3.zarr"];

/// Cells a grid scan selects, from `EXPLAIN`.
fn selected_cells(plan: &str) -> u64 {
    let at = plan.find("cells=").expect("EXPLAIN shows cells=");
    plan[at + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("a number of cells")
}

/// `DESCRIBE` of a file's table as CSV lines.
pub(crate) fn describe(path: &std::path::Path) -> Vec<String> {
    gridsql_ok(&[
        "--format",
        "csv",
        &format!("t={}", path.display()),
        "-c",
        "DESCRIBE t",
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn string_and_auxiliary_columns_have_their_roles() {
    let Some(data) = data_dir() else { return };
    for form in FORMS {
        let fc = describe(&data.join(format!("small_FC_167_mon_19601101.nc{form}")));
        let ahccd = describe(&data.join(format!("ahccd_1950-2013.nc{form}")));
        for (rows, want) in [
            (&fc, "experiment_id,Utf8,coordinate"),
            (&fc, "institution,Utf8,coordinate"),
            (&fc, "reftime,Timestamp(µs),coordinate"),
            (&fc, "tas,Float32,variable"),
            (&fc, "ensemble,Int64,dimension"),
            (&ahccd, "location,Utf8,dimension"),
        ] {
            let row = format!("{want},");
            assert!(
                rows.iter().any(|l| l.starts_with(&row)),
                "{form}: no {want:?} in {rows:#?}"
            );
        }
    }
}

#[test]
fn a_box_on_2d_coordinates_reads_only_its_window() {
    let Some(data) = data_dir() else { return };
    for form in FORMS {
        let path = data.join(format!("small_rotPole_precipitation.nc{form}"));
        let table = format!("t={}", path.display());
        let plan = gridsql_ok(&[
            "--format",
            "csv",
            &table,
            "-c",
            "EXPLAIN SELECT avg(pr) FROM t WHERE lat BETWEEN 50 AND 55 AND lon BETWEEN 0 AND 10",
        ]);
        let cells = selected_cells(&plan);
        // 4 x 190 x 174 cells in all; the box is a window of a tenth of them
        assert!(
            cells > 0 && cells < 132_240 / 5,
            "{form}: {cells} cells\n{plan}"
        );
        // a box outside the grid selects nothing
        let plan = gridsql_ok(&[
            "--format",
            "csv",
            &table,
            "-c",
            "EXPLAIN SELECT avg(pr) FROM t WHERE lat > 89.5",
        ]);
        assert_eq!(selected_cells(&plan), 0, "{form}\n{plan}");
    }
}

#[test]
fn nested_groups_are_listed_and_open() {
    let Some(data) = data_dir() else { return };
    for form in FORMS {
        let path = data.join(format!(
            "S6A_P4_2__HR_RED__NR_014_191_20210403T004056_20210403T005056_F00.nc{form}"
        ));
        let out = gridsql_ok(&[
            "--format",
            "csv",
            "-c",
            &format!(
                "SELECT name FROM grid_variables('{}') WHERE role = 'group' ORDER BY name",
                path.display()
            ),
        ]);
        let groups: Vec<&str> = out.lines().skip(1).collect();
        assert_eq!(groups, ["data_01", "data_01/ku"], "{form}");
        let stored = if form.is_empty() { "NETCDF" } else { "ZARR" };
        let out = gridsql_ok(&[
            "--format",
            "csv",
            "-c",
            &format!(
                "CREATE EXTERNAL TABLE ku STORED AS {stored} LOCATION '{}' \
                 OPTIONS ('group' 'data_01/ku'); SELECT count(*) FROM ku",
                path.display()
            ),
        ]);
        assert!(out.lines().any(|l| l == "600"), "{form}: {out}");
    }
}
