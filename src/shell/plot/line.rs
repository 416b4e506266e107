//! `\plot line`: the first column (a time or a number) on the x axis, one
//! line per other numeric column, rows sorted by x. A NULL value breaks its
//! line; a lone value between NULLs is drawn as a dot.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::columns::{self, numbers, range};
use super::style::{self, FONT, label, series_colour};
use super::{ImageFormat, PlotInfo, PlotKind, ResultSet, draw_err};

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 560;

/// One value column's points, in x order.
struct Series {
    name: String,
    points: Vec<(f64, Option<f64>)>,
}

/// Draws the line plot of `result` into `path`.
pub(super) fn draw(
    result: &ResultSet,
    path: &Path,
    format: ImageFormat,
) -> anyhow::Result<PlotInfo> {
    let schema = &result.schema;
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let Some(x_field) = schema.fields().first() else {
        anyhow::bail!("a line plot needs columns; the result has none");
    };
    if !columns::is_numeric(x_field.data_type()) {
        anyhow::bail!(
            "a line plot needs a time or number as its first column; '{}' is {}",
            x_field.name(),
            x_field.data_type()
        );
    }
    let value_cols = columns::value_columns(schema, &[0]);
    if value_cols.is_empty() {
        anyhow::bail!(
            "a line plot needs numeric value columns after the first; the result has ({})",
            names.join(", ")
        );
    }
    let temporal = columns::is_temporal(x_field.data_type());
    let x = numbers(&result.batches, 0)?;
    let mut order: Vec<usize> = (0..x.len()).filter(|&i| x[i].is_some()).collect();
    order.sort_by(|&a, &b| x[a].unwrap_or(0.0).total_cmp(&x[b].unwrap_or(0.0)));
    let mut series = Vec::new();
    for &c in &value_cols {
        let v = numbers(&result.batches, c)?;
        series.push(Series {
            name: schema.field(c).name().clone(),
            points: order.iter().map(|&i| (x[i].unwrap_or(0.0), v[i])).collect(),
        });
    }
    let all: Vec<Option<f64>> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .collect();
    let Some((lo, hi)) = range(&all) else {
        anyhow::bail!(
            "columns ({}) have no values to plot (all NULL or no rows)",
            series
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let xs: Vec<Option<f64>> = order.iter().map(|&i| x[i]).collect();
    let (x0, x1) = range(&xs).unwrap_or((0.0, 1.0));
    let units: Vec<Option<String>> = value_cols
        .iter()
        .map(|&c| result.units.get(c).cloned().flatten())
        .collect();
    let shared_units = match units.first() {
        Some(Some(u)) if units.iter().all(|v| v.as_deref() == Some(u)) => Some(u.clone()),
        _ => None,
    };
    let info = PlotInfo {
        kind: PlotKind::Line,
        path: path.to_path_buf(),
        width: WIDTH,
        height: HEIGHT,
        columns: series.iter().map(|s| s.name.clone()).collect(),
        range: (lo, hi),
        units: shared_units.clone(),
        points: all.iter().flatten().count(),
        blanks: all.iter().filter(|v| v.is_none()).count(),
    };
    let frame = Frame {
        title: style::title(&result.title, 110),
        x_name: x_field.name().clone(),
        y_name: match &shared_units {
            Some(u) if series.len() == 1 => format!("{} ({u})", series[0].name),
            Some(u) => u.clone(),
            None if series.len() == 1 => series[0].name.clone(),
            None => String::new(),
        },
        temporal,
        x: (x0, x1),
        y: (lo, hi),
    };
    match format {
        ImageFormat::Png => {
            let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
            draw_on(&root, &frame, &series)?;
            root.present().map_err(draw_err)?;
        }
        ImageFormat::Svg => {
            let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
            draw_on(&root, &frame, &series)?;
            root.present().map_err(draw_err)?;
        }
    }
    Ok(info)
}

/// Title, axis names and ranges.
struct Frame {
    title: String,
    x_name: String,
    y_name: String,
    temporal: bool,
    x: (f64, f64),
    y: (f64, f64),
}

/// Widens an empty range so that a chart can be built on it.
fn padded((a, b): (f64, f64), frac: f64) -> std::ops::Range<f64> {
    if b > a {
        let pad = (b - a) * frac;
        a - pad..b + pad
    } else {
        let pad = if a == 0.0 { 1.0 } else { a.abs() * 0.05 };
        a - pad..b + pad
    }
}

/// Seconds since the epoch as a date, with the time of day when the axis
/// spans less than a few days.
fn time_label(secs: f64, span: f64) -> String {
    let Some(t) = chrono::DateTime::from_timestamp(secs.round() as i64, 0) else {
        return label(secs);
    };
    if span < 3.0 * 86_400.0 {
        t.format("%Y-%m-%d %H:%M").to_string()
    } else {
        t.format("%Y-%m-%d").to_string()
    }
}

fn draw_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    frame: &Frame,
    series: &[Series],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(draw_err)?;
    let span = frame.x.1 - frame.x.0;
    let mut chart = ChartBuilder::on(root)
        .caption(&frame.title, (FONT, 16))
        .margin(14)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(padded(frame.x, 0.0), padded(frame.y, 0.05))
        .map_err(draw_err)?;
    let x_fmt = |v: &f64| {
        if frame.temporal {
            time_label(*v, span)
        } else {
            label(*v)
        }
    };
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(style::grey().mix(0.5))
        .x_desc(&frame.x_name)
        .y_desc(&frame.y_name)
        .x_labels(if frame.temporal { 6 } else { 10 })
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&|v| label(*v))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(draw_err)?;
    for (i, s) in series.iter().enumerate() {
        let colour = series_colour(i);
        let mut first = true;
        for run in s.points.split(|p| p.1.is_none()).filter(|r| !r.is_empty()) {
            let pts: Vec<(f64, f64)> = run.iter().filter_map(|(x, y)| y.map(|y| (*x, y))).collect();
            let drawn = if pts.len() == 1 {
                chart
                    .draw_series(pts.iter().map(|p| Circle::new(*p, 3, colour.filled())))
                    .map_err(draw_err)?
            } else {
                chart
                    .draw_series(LineSeries::new(pts, colour.stroke_width(2)))
                    .map_err(draw_err)?
            };
            if first {
                drawn.label(s.name.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
                first = false;
            }
        }
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 13))
            .draw()
            .map_err(draw_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_labels_and_padding() {
        assert_eq!(time_label(86_400.0, 10.0 * 86_400.0), "1970-01-02");
        assert_eq!(time_label(3_600.0, 3_600.0), "1970-01-01 01:00");
        assert_eq!(padded((1.0, 1.0), 0.1), 0.95..1.05);
        assert_eq!(padded((0.0, 10.0), 0.1), -1.0..11.0);
    }
}
