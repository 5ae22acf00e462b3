//! Fonts and colours shared by every optlab plot (the test-function study and the report).
//!
//! Text is drawn with DejaVu Sans embedded in the binary (`assets/fonts/`, Bitstream Vera
//! license) through plotters' `ab_glyph` feature, so no system font or fontconfig is needed.

use plotters::style::{FontStyle, HSLColor, RGBColor};

/// The embedded DejaVu Sans.
pub static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
/// The family name every plot asks for; [`register_fonts`] maps it to [`FONT`].
pub const FAMILY: &str = "sans-serif";

/// Registers the embedded font (once).
pub fn register_fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_err() {
            panic!("the embedded DejaVuSans.ttf is not a valid font");
        }
    });
}

/// Trajectory colours (Tableau 10 without its grey, then black).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
];

/// Colour `i` of [`PALETTE`], wrapping around.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Colour of series `i` out of `n`: the palette while it lasts, otherwise hues spread by the
/// golden angle (so that 11 and more configurations stay distinguishable).
pub fn series_color(i: usize, n: usize) -> RGBColor {
    if n <= PALETTE.len() {
        return color(i);
    }
    let h = (i as f64 * 0.381_966_011_250_105).fract();
    let lightness = if i.is_multiple_of(2) { 0.42 } else { 0.55 };
    let (r, g, b) = hsl_to_rgb(HSLColor(h, 0.75, lightness));
    RGBColor(r, g, b)
}

fn hsl_to_rgb(c: HSLColor) -> (u8, u8, u8) {
    use plotters::style::Color;
    let rgba = c.to_rgba();
    (rgba.0, rgba.1, rgba.2)
}

/// A darker shade of a colour (three quarters of each channel).
pub fn darker(c: RGBColor) -> RGBColor {
    RGBColor(c.0 - c.0 / 4, c.1 - c.1 / 4, c.2 - c.2 / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_font_registers() {
        register_fonts();
        register_fonts();
        assert_eq!(&FONT[..4], &[0, 1, 0, 0], "a TrueType font");
    }

    #[test]
    fn many_series_get_distinct_colours() {
        for n in [3, 10, 25] {
            let cs: Vec<RGBColor> = (0..n).map(|i| series_color(i, n)).collect();
            for i in 0..n {
                for j in 0..i {
                    assert_ne!(cs[i], cs[j], "series {i} and {j} of {n}");
                }
            }
        }
    }
}
