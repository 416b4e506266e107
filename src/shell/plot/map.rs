//! `\plot map`: each (latitude, longitude) row of the result is a filled
//! grid cell coloured by its value on a viridis colour bar that spans the
//! values' range; NULL values stay blank (a land mask in ocean data).
//!
//! The cell size is the smallest spacing between distinct latitudes (and
//! longitudes), so a regular grid is drawn without gaps and a coarser
//! selection of it (every other cell) with gaps, as it is.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::columns::{self, numbers, range};
use super::style::{self, FONT, colour, label};
use super::{ImageFormat, PlotInfo, PlotKind, ResultSet, draw_err};

/// Width of the image in pixels.
const WIDTH: u32 = 1000;
/// Width of the map's plotting area in pixels (the rest is axes and colour bar).
const PLOT_WIDTH: f64 = 760.0;
/// Steps of the colour bar's gradient.
const BAR_STEPS: usize = 200;

/// The cells to draw.
struct Cells {
    lat: Vec<f64>,
    lon: Vec<f64>,
    value: Vec<Option<f64>>,
    /// Cell size in degrees (latitude, longitude).
    size: (f64, f64),
    /// Extent of the cell centres: (lat min, lat max, lon min, lon max).
    extent: (f64, f64, f64, f64),
}

/// Draws the map of `result` into `path`.
pub(super) fn draw(
    result: &ResultSet,
    path: &Path,
    format: ImageFormat,
) -> anyhow::Result<PlotInfo> {
    let Some((lat_col, lon_col)) = columns::lat_lon(&result.schema) else {
        anyhow::bail!(
            "a map needs latitude and longitude columns (named lat/latitude and lon/longitude); \
             the result has {}",
            column_names(result)
        );
    };
    // the first numeric column after latitude and longitude, else before them
    let values = columns::value_columns(&result.schema, &[lat_col, lon_col]);
    let after = lat_col.max(lon_col);
    let first = values.iter().find(|&&c| c > after).or(values.first());
    let Some(&value_col) = first else {
        anyhow::bail!(
            "a map needs a numeric value column besides latitude and longitude; the result has {}",
            column_names(result)
        );
    };
    let cells = cells(result, lat_col, lon_col, value_col)?;
    let Some((lo, hi)) = range(&cells.value) else {
        anyhow::bail!(
            "column '{}' has no values to plot (all NULL or no rows)",
            result.schema.field(value_col).name()
        );
    };
    let units = result.units.get(value_col).cloned().flatten();
    let (lat0, lat1, lon0, lon1) = cells.extent;
    let lat_span = (lat1 - lat0) + cells.size.0;
    let lon_span = (lon1 - lon0) + cells.size.1;
    let plot_h = (PLOT_WIDTH * lat_span / lon_span).clamp(240.0, 720.0);
    let height = plot_h as u32 + 120;
    let info = PlotInfo {
        kind: PlotKind::Map,
        path: path.to_path_buf(),
        width: WIDTH,
        height,
        columns: vec![result.schema.field(value_col).name().clone()],
        range: (lo, hi),
        units: units.clone(),
        points: cells.value.iter().flatten().count(),
        blanks: cells.value.iter().filter(|v| v.is_none()).count(),
    };
    let names = Names {
        title: style::title(&result.title, 110),
        lat: axis_name(result, lat_col, "degrees_north"),
        lon: axis_name(result, lon_col, "degrees_east"),
        value: result.schema.field(value_col).name().clone(),
        units,
    };
    match format {
        ImageFormat::Png => {
            let root = BitMapBackend::new(path, (WIDTH, height)).into_drawing_area();
            draw_on(&root, &cells, &names, (lo, hi))?;
            root.present().map_err(draw_err)?;
        }
        ImageFormat::Svg => {
            let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
            draw_on(&root, &cells, &names, (lo, hi))?;
            root.present().map_err(draw_err)?;
        }
    }
    Ok(info)
}

/// Labels of the map.
struct Names {
    title: String,
    lat: String,
    lon: String,
    value: String,
    units: Option<String>,
}

fn column_names(result: &ResultSet) -> String {
    let names: Vec<&str> = result
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    format!("({})", names.join(", "))
}

/// `latitude (degrees_north)` from the column's name and units.
fn axis_name(result: &ResultSet, col: usize, default_units: &str) -> String {
    let name = result.schema.field(col).name();
    let units = result.units.get(col).cloned().flatten();
    format!("{name} ({})", units.as_deref().unwrap_or(default_units))
}

fn cells(
    result: &ResultSet,
    lat_col: usize,
    lon_col: usize,
    value_col: usize,
) -> anyhow::Result<Cells> {
    let lat = numbers(&result.batches, lat_col)?;
    let lon = numbers(&result.batches, lon_col)?;
    let value = numbers(&result.batches, value_col)?;
    let mut out = Cells {
        lat: Vec::with_capacity(lat.len()),
        lon: Vec::with_capacity(lat.len()),
        value: Vec::with_capacity(lat.len()),
        size: (1.0, 1.0),
        extent: (0.0, 0.0, 0.0, 0.0),
    };
    for ((y, x), v) in lat.into_iter().zip(lon).zip(value) {
        if let (Some(y), Some(x)) = (y, x) {
            out.lat.push(y);
            out.lon.push(x);
            out.value.push(v);
        }
    }
    // no rows leave the extent empty; the caller finds no values to plot
    let lat_range = range(out.lat.iter().copied().map(Some).collect::<Vec<_>>().iter());
    let lon_range = range(out.lon.iter().copied().map(Some).collect::<Vec<_>>().iter());
    if let (Some((lat0, lat1)), Some((lon0, lon1))) = (lat_range, lon_range) {
        out.extent = (lat0, lat1, lon0, lon1);
    }
    out.size = (spacing(&out.lat), spacing(&out.lon));
    Ok(out)
}

/// The smallest positive gap between distinct values (1 when there is one value).
fn spacing(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v.windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 1e-9)
        .fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.min(d))))
        .unwrap_or(1.0)
}

fn draw_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    cells: &Cells,
    names: &Names,
    (lo, hi): (f64, f64),
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(draw_err)?;
    let (map_area, bar_area) = root.split_horizontally(WIDTH - 150);
    let (dy, dx) = cells.size;
    let (lat0, lat1, lon0, lon1) = cells.extent;
    let mut chart = ChartBuilder::on(&map_area)
        .caption(&names.title, (FONT, 16))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(
            lon0 - dx / 2.0..lon1 + dx / 2.0,
            lat0 - dy / 2.0..lat1 + dy / 2.0,
        )
        .map_err(draw_err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(&names.lon)
        .y_desc(&names.lat)
        .x_label_formatter(&|v| label(*v))
        .y_label_formatter(&|v| label(*v))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(draw_err)?;
    chart
        .draw_series(
            cells
                .lat
                .iter()
                .zip(&cells.lon)
                .zip(&cells.value)
                .filter_map(|((y, x), v)| v.map(|v| (*y, *x, v)))
                .map(|(y, x, v)| {
                    Rectangle::new(
                        [(x - dx / 2.0, y + dy / 2.0), (x + dx / 2.0, y - dy / 2.0)],
                        colour(v, lo, hi).filled(),
                    )
                }),
        )
        .map_err(draw_err)?;
    draw_bar(&bar_area, names, (lo, hi))
}

/// The colour bar: a gradient from `lo` (bottom) to `hi` (top), its ends
/// labelled with the exact range, the axis with the units.
fn draw_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    names: &Names,
    (lo, hi): (f64, f64),
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    // a constant field still gets a bar of some height
    let (a, b) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
    };
    let desc = match &names.units {
        Some(u) => format!("{} ({u})", names.value),
        None => names.value.clone(),
    };
    let mut bar = ChartBuilder::on(area)
        .margin_top(60)
        .margin_bottom(70)
        .margin_left(8)
        .margin_right(8)
        .set_label_area_size(LabelAreaPosition::Right, 75)
        .build_cartesian_2d(0.0..1.0, a..b)
        .map_err(draw_err)?;
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(desc)
        .y_labels(6)
        .y_label_formatter(&|v| label(*v))
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .draw()
        .map_err(draw_err)?;
    let step = (b - a) / BAR_STEPS as f64;
    bar.draw_series((0..BAR_STEPS).map(|i| {
        let v0 = a + step * i as f64;
        Rectangle::new(
            [(0.0, v0), (1.0, v0 + step)],
            colour(v0 + step / 2.0, lo, hi).filled(),
        )
    }))
    .map_err(draw_err)?;
    // the exact ends of the data range, above and below the bar
    let (x0, y0) = bar.backend_coord(&(0.0, b));
    let (_, y1) = bar.backend_coord(&(0.0, a));
    let style = TextStyle::from((FONT, 13).into_font()).color(&BLACK);
    let (ox, oy) = area.get_base_pixel();
    area.draw_text(
        &format!("max {}", label(hi)),
        &style,
        (x0 - ox, y0 - oy - 22),
    )
    .map_err(draw_err)?;
    area.draw_text(
        &format!("min {}", label(lo)),
        &style,
        (x0 - ox, y1 - oy + 8),
    )
    .map_err(draw_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_is_smallest_gap() {
        assert_eq!(spacing(&[0.5, 1.5, 1.5, 3.5]), 1.0);
        assert_eq!(spacing(&[2.0]), 1.0);
    }
}
