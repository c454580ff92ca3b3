//! Charts drawn on the server as inline SVG: no chart library in the page, nothing to load,
//! and they print. In right-to-left pages time runs from right to left and the value axis
//! sits on the right, as Arabic readers expect. All text in the SVG is escaped here.

use super::i18n::{self, Lang};
use std::fmt::Write;

pub struct Series<'a> {
    pub name: String,
    /// (x, y) points, x ascending.
    pub points: &'a [(f64, f64)],
    /// CSS class of the stroke (`s1`, `s2` …) so the page's palette and dark mode apply.
    pub class: &'static str,
    pub dashed: bool,
}

pub struct LineChart<'a> {
    pub title: String,
    pub series: Vec<Series<'a>>,
    /// Tick positions with their labels.
    pub x_ticks: Vec<(f64, String)>,
    pub x_range: (f64, f64),
    /// A vertical marker (e.g. the end of the calibration period) with its label.
    pub marker: Option<(f64, String)>,
    pub lang: Lang,
    /// Formats a y value for the axis.
    pub y_format: fn(f64, Lang) -> String,
}

pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

pub fn compact_axis(v: f64, lang: Lang) -> String {
    i18n::compact(v, lang)
}

impl LineChart<'_> {
    pub fn render(&self) -> String {
        let (w, h) = (720.0, 260.0);
        let rtl = self.lang == Lang::Ar;
        let (pad_axis, pad_other, pad_top, pad_bottom) = (56.0, 16.0, 16.0, 28.0);
        let (left, right) = if rtl {
            (pad_other, w - pad_axis)
        } else {
            (pad_axis, w - pad_other)
        };
        let (top, bottom) = (pad_top, h - pad_bottom);
        let ymax = nice_max(
            self.series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .fold(0.0, f64::max),
        );
        let (x0, x1) = self.x_range;
        let span = if x1 > x0 { x1 - x0 } else { 1.0 };
        let sx = |x: f64| {
            let f = (x - x0) / span;
            if rtl {
                right - f * (right - left)
            } else {
                left + f * (right - left)
            }
        };
        let sy = |y: f64| bottom - (y / ymax) * (bottom - top);
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{t}" preserveAspectRatio="none"><title>{t}</title>"#,
            t = esc(&self.title)
        );
        // Grid and value axis.
        for i in 0..=4 {
            let v = ymax * i as f64 / 4.0;
            let y = sy(v);
            let _ = write!(
                s,
                r#"<line class="grid" x1="{left}" x2="{right}" y1="{y:.1}" y2="{y:.1}"/>"#
            );
            let (tx, anchor) = if rtl {
                (right + 6.0, "start")
            } else {
                (left - 6.0, "end")
            };
            let _ = write!(
                s,
                r#"<text class="axis" x="{tx}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
                y + 4.0,
                esc(&(self.y_format)(v, self.lang))
            );
        }
        for (x, label) in &self.x_ticks {
            let _ = write!(
                s,
                r#"<text class="axis" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                sx(*x),
                h - 8.0,
                esc(label)
            );
        }
        if let Some((x, label)) = &self.marker {
            let mx = sx(*x);
            let _ = write!(
                s,
                r#"<line class="marker" x1="{mx:.1}" x2="{mx:.1}" y1="{top}" y2="{bottom}"/><text class="axis" x="{:.1}" y="{}" text-anchor="{}">{}</text>"#,
                if rtl { mx - 4.0 } else { mx + 4.0 },
                top + 10.0,
                if rtl { "end" } else { "start" },
                esc(label)
            );
        }
        for series in &self.series {
            if series.points.is_empty() {
                continue;
            }
            let mut d = String::new();
            for (i, (x, y)) in series.points.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1}",
                    if i == 0 { "M" } else { " L" },
                    sx(*x),
                    sy(*y)
                );
            }
            let _ = write!(
                s,
                r#"<path class="line {}{}" d="{d}"><title>{}</title></path>"#,
                series.class,
                if series.dashed { " dashed" } else { "" },
                esc(&series.name)
            );
        }
        s.push_str("</svg>");
        s
    }
}

/// Horizontal bars as HTML rows (label, bar, value); the stylesheet mirrors the bars in
/// right-to-left pages so they grow from the start side.
pub fn bars(items: &[(String, f64, String)]) -> String {
    let max = items.iter().map(|i| i.1).fold(0.0, f64::max).max(1e-9);
    let mut s = String::from(r#"<ul class="bars">"#);
    for (label, v, shown) in items {
        let pct = (v / max * 100.0).clamp(0.0, 100.0);
        let _ = write!(
            s,
            // An SVG rect, not a `style` width: the pages' CSP allows no inline styles.
            r#"<li><span class="bar-label">{}</span><svg class="bar-track" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true"><rect class="bar-fill" width="{pct:.1}" height="10" rx="1"/></svg><span class="bar-value">{}</span></li>"#,
            esc(label),
            esc(shown)
        );
    }
    s.push_str("</ul>");
    s
}

/// A heat colour class (`h0`…`h9`) for a value in [0, 1].
pub fn heat(v: f64) -> String {
    let i = if v.is_finite() {
        (v.clamp(0.0, 1.0) * 9.0).round() as i32
    } else {
        0
    };
    format!("h{i}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_to_left_charts_run_time_leftwards_and_escape_text() {
        let pts = [(0.0, 1.0), (10.0, 5.0)];
        let mk = |lang| {
            LineChart {
                title: "<b>revenue</b>".into(),
                series: vec![Series {
                    name: "a&b".into(),
                    points: &pts,
                    class: "s1",
                    dashed: false,
                }],
                x_ticks: vec![(0.0, "start".into())],
                x_range: (0.0, 10.0),
                marker: None,
                lang,
                y_format: compact_axis,
            }
            .render()
        };
        let ltr = mk(Lang::En);
        let rtl = mk(Lang::Ar);
        assert!(ltr.contains("&lt;b&gt;revenue") && !ltr.contains("<b>"));
        assert!(ltr.contains("a&amp;b"));
        // The first point (x = 0) is at the left in LTR and at the right in RTL.
        let first_x = |svg: &str| -> f64 {
            let d = svg.split("d=\"M").nth(1).unwrap();
            d.split(',').next().unwrap().parse().unwrap()
        };
        assert!(first_x(&ltr) < 100.0);
        assert!(first_x(&rtl) > 600.0);
    }
}
