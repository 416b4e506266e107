//! Pictures of a query result: `\plot map FILE` (filled grid cells of a
//! (latitude, longitude, value) result) and `\plot line FILE` (one line per
//! value column of a (time, value...) result), as PNG or SVG by the file's
//! extension.
//!
//! Every plot reports what it drew in one line, [`PlotInfo`], which the
//! shell prints on standard error: kind, file, size in pixels, the plotted
//! column(s), their value range (the colour bar's ends for a map, the y
//! axis's data range for a line plot) and units. Tests read that line; the
//! SVG files also carry the range as the colour bar's text labels.
//!
//! What it does not do: projections, coastlines (a map's blank cells are the
//! result's NULLs, e.g. land in an ocean dataset), or more than one map per
//! file.

mod columns;
mod line;
mod map;
mod style;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

/// What to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlotKind {
    /// Filled grid cells coloured by value, with a colour bar.
    Map,
    /// One line per value column against the first column.
    Line,
}

impl fmt::Display for PlotKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlotKind::Map => "map",
            PlotKind::Line => "line",
        })
    }
}

/// A result kept for plotting: the statement's text, schema, rows and the
/// units of each column.
pub(crate) struct ResultSet {
    /// The statement, used as the title.
    pub(crate) title: String,
    pub(crate) schema: SchemaRef,
    pub(crate) batches: Vec<RecordBatch>,
    /// Units per column (same order as the schema).
    pub(crate) units: Vec<Option<String>>,
}

/// What a plot drew, printed as one line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlotInfo {
    pub(crate) kind: PlotKind,
    pub(crate) path: PathBuf,
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// Plotted value columns.
    pub(crate) columns: Vec<String>,
    /// Smallest and largest plotted value.
    pub(crate) range: (f64, f64),
    pub(crate) units: Option<String>,
    /// Rows plotted (non-NULL values) and rows left blank (NULL values).
    pub(crate) points: usize,
    pub(crate) blanks: usize,
}

impl fmt::Display for PlotInfo {
    /// `plot: map out.png 1000x520 column=sla min=-0.12 max=0.3 units=m cells=4000 blank=1200`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plot: {} {} {}x{} column={} min={} max={} units={} {}={} blank={}",
            self.kind,
            self.path.display(),
            self.width,
            self.height,
            self.columns.join(","),
            self.range.0,
            self.range.1,
            self.units.as_deref().unwrap_or("-").replace(' ', "_"),
            match self.kind {
                PlotKind::Map => "cells",
                PlotKind::Line => "points",
            },
            self.points,
            self.blanks
        )
    }
}

/// Image format, from the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImageFormat {
    Png,
    Svg,
}

fn image_format(path: &Path) -> anyhow::Result<ImageFormat> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => Ok(ImageFormat::Png),
        Some("svg") => Ok(ImageFormat::Svg),
        _ => bail!(
            "cannot plot to '{}': the file name must end in .png or .svg",
            path.display()
        ),
    }
}

/// The kind a result suggests: a map when it has latitude and longitude
/// columns, else a line plot.
pub(crate) fn infer_kind(result: &ResultSet) -> PlotKind {
    if columns::lat_lon(&result.schema).is_some() {
        PlotKind::Map
    } else {
        PlotKind::Line
    }
}

/// Draws `result` as `kind` (inferred when `None`) into `path`; `units`,
/// when given, label the value columns instead of the dataset's units.
///
/// # Errors
/// A result without the columns the kind needs, no plottable value, a bad
/// file name or a file that cannot be written.
pub(crate) fn render(
    result: &ResultSet,
    kind: Option<PlotKind>,
    path: &Path,
    units: Option<String>,
) -> anyhow::Result<PlotInfo> {
    let format = image_format(path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    }
    style::register_font()?;
    let kind = kind.unwrap_or_else(|| infer_kind(result));
    let relabelled;
    let result = match units {
        None => result,
        Some(u) => {
            relabelled = ResultSet {
                title: result.title.clone(),
                schema: Arc::clone(&result.schema),
                batches: result.batches.clone(),
                units: relabel(result, &u),
            };
            &relabelled
        }
    };
    let info = match kind {
        PlotKind::Map => map::draw(result, path, format),
        PlotKind::Line => line::draw(result, path, format),
    }
    .with_context(|| format!("cannot draw a {kind} plot into {}", path.display()))?;
    Ok(info)
}

/// `units` for every column except latitude and longitude (the value columns).
fn relabel(result: &ResultSet, units: &str) -> Vec<Option<String>> {
    let skip = columns::lat_lon(&result.schema);
    (0..result.schema.fields().len())
        .map(|i| match skip {
            Some((a, b)) if i == a || i == b => result.units.get(i).cloned().flatten(),
            _ => Some(units.to_string()),
        })
        .collect()
}

/// A drawing error as an anyhow error (plotters' errors are generic over the backend).
fn draw_err<E: fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_extension() {
        assert_eq!(
            image_format(Path::new("a/b.PNG")).ok(),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            image_format(Path::new("b.svg")).ok(),
            Some(ImageFormat::Svg)
        );
        let e = image_format(Path::new("b.jpg"))
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("b.jpg") && e.contains(".png or .svg")));
    }
}
