//! Minimal hand-written SVG charts for the report (no plotting dependency): a cohort retention
//! heatmap, calibration/holdout fit bars by frequency, and a CLV histogram. Output is a
//! self-contained SVG string that opens in any browser.

use crate::cohort::CohortRow;
use crate::validation::HoldoutValidation;
use std::fmt::Write;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn header(w: f64, h: f64, title: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/><text x="10" y="18" font-size="14" font-weight="bold">{}</text>"#,
        escape(title)
    );
    s
}

/// Colour-keyed legend entries laid out left to right from (x, y).
fn legend(s: &mut String, x: f64, y: f64, items: &[(&str, &str)]) {
    let mut cx = x;
    for (color, label) in items {
        let _ = write!(
            s,
            r#"<rect x="{cx:.1}" y="{:.1}" width="10" height="10" fill="{color}"/><text x="{:.1}" y="{y:.1}">{}</text>"#,
            y - 9.0,
            cx + 14.0,
            escape(label)
        );
        cx += 24.0 + 7.0 * label.chars().count() as f64;
    }
}

/// Y-axis labels at 0, half and the maximum.
fn y_axis(s: &mut String, left: f64, top: f64, plot_h: f64, max: f64) {
    for frac in [0.0, 0.5, 1.0] {
        let y = top + plot_h * (1.0 - frac);
        let v = max * frac;
        let label = if max >= 100.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.2}")
        };
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10">{label}</text><line x1="{:.1}" y1="{y:.1}" x2="{left:.1}" y2="{y:.1}" stroke="#999"/>"##,
            left - 6.0,
            y + 3.5,
            left - 3.0
        );
    }
}

/// Blend white → dark teal by `v` in [0, 1].
fn color(v: f64) -> String {
    let v = if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let lerp = |a: f64, b: f64| (a + (b - a) * v).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        lerp(255.0, 0.0),
        lerp(255.0, 109.0),
        lerp(255.0, 119.0)
    )
}

/// Retention heatmap: rows = cohorts (last 24), columns = month offsets 0..23. Colours are scaled
/// to the highest retention after month 0 so that typical 2–20% retention is visible.
pub fn cohort_heatmap(rows: &[CohortRow]) -> String {
    let rows: Vec<&CohortRow> = rows.iter().rev().take(24).rev().collect();
    let max_offset = rows
        .iter()
        .map(|r| r.retention.len())
        .max()
        .unwrap_or(0)
        .min(24);
    let (cw, ch, left, top) = (34.0, 18.0, 110.0, 50.0);
    let w = left + cw * max_offset.max(1) as f64 + 20.0;
    let h = top + ch * rows.len().max(1) as f64 + 20.0;
    let mut s = header(w, h, "Cohort retention by month since first order");
    let scale = rows
        .iter()
        .flat_map(|r| r.retention.iter().skip(1).copied())
        .fold(0.0f64, f64::max)
        .max(1e-9);
    for k in 0..max_offset {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{k}</text>"#,
            left + cw * (k as f64 + 0.5),
            top - 6.0
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = top + ch * i as f64;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{} ({})</text>"#,
            left - 4.0,
            y + 13.0,
            escape(&r.cohort),
            r.customers
        );
        for (k, &v) in r.retention.iter().take(max_offset).enumerate() {
            let shade = if k == 0 { 1.0 } else { v / scale };
            let x = left + cw * k as f64;
            let text_color = if shade > 0.55 { "white" } else { "black" };
            let _ = write!(
                s,
                r#"<rect x="{x}" y="{y}" width="{cw}" height="{ch}" fill="{}" stroke="white"/><text x="{}" y="{}" text-anchor="middle" fill="{text_color}" font-size="9">{:.0}%</text>"#,
                color(shade),
                x + cw / 2.0,
                y + 12.5,
                v * 100.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Grouped bars of mean actual vs predicted holdout purchases per calibration frequency.
pub fn holdout_bars(v: &HoldoutValidation, model_name: &str) -> String {
    let (w, h, left, top, bottom) = (560.0, 300.0, 60.0, 40.0, 40.0);
    let plot_h = h - top - bottom;
    let mut s = header(
        w,
        h,
        &format!("Holdout purchases per customer: actual vs {model_name}"),
    );
    let max = v
        .buckets
        .iter()
        .flat_map(|b| [b.actual_mean, b.predicted_mean])
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let group = (w - left - 20.0) / v.buckets.len().max(1) as f64;
    let bar = group * 0.35;
    for (i, b) in v.buckets.iter().enumerate() {
        let x0 = left + group * i as f64 + group * 0.15;
        for (j, (val, fill)) in [(b.actual_mean, "#555555"), (b.predicted_mean, "#006d77")]
            .iter()
            .enumerate()
        {
            let bh = plot_h * val / max;
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{bar:.1}" height="{bh:.1}" fill="{fill}"/>"#,
                x0 + bar * j as f64,
                top + plot_h - bh
            );
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x0 + bar,
            h - bottom + 14.0,
            escape(&b.frequency)
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="black"/><text x="{left}" y="{}">repeat purchases in calibration (mean holdout purchases per customer)</text>"##,
        top + plot_h,
        w - 20.0,
        top + plot_h,
        h - 6.0,
    );
    legend(
        &mut s,
        w - 190.0,
        34.0,
        &[("#555555", "actual"), ("#006d77", "predicted")],
    );
    y_axis(&mut s, left, top, plot_h, max);
    s.push_str("</svg>");
    s
}

/// Histogram of CLV values (major units), 20 bins up to the 99th percentile.
pub fn clv_histogram(values: &[f64], currency: &str) -> String {
    let (w, h, left, top, bottom) = (560.0, 300.0, 60.0, 40.0, 40.0);
    let plot_h = h - top - bottom;
    let mut s = header(
        w,
        h,
        &format!("Customer lifetime value distribution ({currency})"),
    );
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        s.push_str(r#"<text x="20" y="60">no customers</text></svg>"#);
        return s;
    }
    let hi = sorted[((sorted.len() - 1) as f64 * 0.99) as usize].max(1e-9);
    const BINS: usize = 20;
    let mut counts = [0usize; BINS];
    for v in &sorted {
        let b = ((v / hi) * BINS as f64)
            .floor()
            .clamp(0.0, (BINS - 1) as f64) as usize;
        counts[b] += 1;
    }
    let max = *counts.iter().max().unwrap_or(&1) as f64;
    y_axis(&mut s, left, top, plot_h, max.max(1.0));
    let bw = (w - left - 20.0) / BINS as f64;
    let y = top + plot_h;
    for (i, &c) in counts.iter().enumerate() {
        let bh = plot_h * c as f64 / max.max(1.0);
        let _ = write!(
            s,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="#006d77"><title>{c}</title></rect>"##,
            left + bw * i as f64,
            top + plot_h - bh,
            bw - 1.0
        );
    }
    let _ = write!(
        s,
        r#"<line x1="{left}" y1="{y}" x2="{}" y2="{y}" stroke="black"/><text x="{left}" y="{}">0</text><text x="{}" y="{}" text-anchor="end">{hi:.2}+</text><text x="{left}" y="{}">{} customers; last bin includes the top 1%</text>"#,
        w - 20.0,
        y + 14.0,
        w - 20.0,
        y + 14.0,
        h - 6.0,
        sorted.len(),
    );
    s.push_str("</svg>");
    s
}

/// Cumulative repeat purchases, actual vs predicted, with the calibration end marked.
pub fn tracking_lines(
    points: &[crate::validation::TrackingPoint],
    calibration_period: Option<u32>,
    unit_name: &str,
    model_name: &str,
) -> String {
    let (w, h, left, top, bottom) = (560.0, 300.0, 60.0, 40.0, 40.0);
    let plot_w = w - left - 20.0;
    let plot_h = h - top - bottom;
    let mut s = header(
        w,
        h,
        &format!("Cumulative repeat purchases: actual vs {model_name}"),
    );
    let Some(last) = points.last() else {
        s.push_str(r#"<text x="20" y="60">no data</text></svg>"#);
        return s;
    };
    let max_y = points
        .iter()
        .map(|p| p.actual_cumulative.max(p.predicted_cumulative))
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let max_x = last.period.max(1) as f64;
    let xy = |period: u32, v: f64| {
        (
            left + plot_w * period as f64 / max_x,
            top + plot_h * (1.0 - v / max_y),
        )
    };
    for (color, pick, dash) in [
        ("#555555", 0usize, ""),
        ("#006d77", 1usize, r#" stroke-dasharray="6 3""#),
    ] {
        let mut d = String::new();
        for (i, p) in points.iter().enumerate() {
            let v = if pick == 0 {
                p.actual_cumulative
            } else {
                p.predicted_cumulative
            };
            let (x, y) = xy(p.period, v);
            let _ = write!(d, "{}{x:.1},{y:.1} ", if i == 0 { "M" } else { "L" });
        }
        let _ = write!(
            s,
            r#"<path d="{d}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#
        );
    }
    if let Some(c) = calibration_period {
        let (x, _) = xy(c, 0.0);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{}" stroke="#999" stroke-dasharray="2 2"/><text x="{:.1}" y="{}" font-size="10">calibration end</text>"##,
            top + plot_h,
            x + 3.0,
            top + 12.0
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="{y0}" x2="{}" y2="{y0}" stroke="black"/><text x="{left}" y="{}">{unit_name}s since the first purchase in the data (0 … {})</text>"##,
        w - 20.0,
        h - 6.0,
        last.period,
        y0 = top + plot_h,
    );
    legend(
        &mut s,
        w - 190.0,
        34.0,
        &[("#555555", "actual"), ("#006d77", "predicted")],
    );
    y_axis(&mut s, left, top, plot_h, max_y);
    s.push_str("</svg>");
    s
}
