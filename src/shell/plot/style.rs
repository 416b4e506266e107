//! What every plot shares: the embedded font, the colour map, the title and
//! number labels.
//!
//! plotters' `ab_glyph` backend draws text only with fonts registered at run
//! time (no system font lookup, so the binary draws the same text on every
//! machine); DejaVu Sans is embedded (licence: `assets/fonts/DejaVuSans-LICENSE.txt`).

use std::sync::OnceLock;

use plotters::prelude::{RGBColor, ViridisRGB};
use plotters::style::FontStyle;

/// The embedded font's family name.
pub(super) const FONT: &str = "sans-serif";

static FONT_BYTES: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Registers the embedded font once.
pub(super) fn register_font() -> anyhow::Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = DONE.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    anyhow::ensure!(*ok, "the embedded font cannot be loaded");
    Ok(())
}

/// The colour of `v` on the colour bar from `lo` to `hi` (viridis).
pub(super) fn colour(v: f64, lo: f64, hi: f64) -> RGBColor {
    if hi > lo {
        ViridisRGB::get_color_normalized(v.clamp(lo, hi), lo, hi)
    } else {
        ViridisRGB::get_color(0.5)
    }
}

/// The colours of successive lines.
pub(super) fn series_colour(i: usize) -> RGBColor {
    const COLOURS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    COLOURS[i % COLOURS.len()]
}

/// Light grey for frames and blank areas.
pub(super) fn grey() -> RGBColor {
    RGBColor(200, 200, 200)
}

/// The query as a one-line title, shortened to `max` characters.
pub(super) fn title(sql: &str, max: usize) -> String {
    let one: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        one
    } else {
        let cut: String = one.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// A short label for an axis or colour-bar value: four significant digits,
/// exponent form for very large or small magnitudes.
pub(super) fn label(v: f64) -> String {
    let mag = v.abs();
    // axis ticks computed as sums land on 1e-17 instead of 0
    if mag < 1e-12 || !v.is_finite() {
        return if v.is_finite() {
            "0".into()
        } else {
            format!("{v}")
        };
    }
    if !(1e-3..1e5).contains(&mag) {
        return format!("{v:.3e}");
    }
    let digits = (3 - mag.log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_titles() {
        assert_eq!(label(0.123456), "0.1235");
        assert_eq!(label(-12.5), "-12.5");
        assert_eq!(label(273.15), "273.1");
        assert_eq!(label(1234.0), "1234");
        assert_eq!(label(2.5e-7), "2.500e-7");
        assert_eq!(title("SELECT  a\n FROM t", 80), "SELECT a FROM t");
        assert_eq!(title("abcdef", 4), "abc…");
        assert!(register_font().is_ok());
    }
}
