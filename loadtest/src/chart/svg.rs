//! The fan-out chart drawn as SVG by hand: axes (log N across, ms up, linear or log), one
//! polyline per series through the median at each N, a dot per run, and a legend.

use super::{Metric, Series};
use crate::median;
use anyhow::bail;
use std::fmt::Write as _;

// Layout, in SVG user units.
const WIDTH: f64 = 760.0;
pub(super) const HEIGHT: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 230.0;
pub(super) const TOP: f64 = 64.0;
pub(super) const BOTTOM: f64 = 56.0;
const PALETTE: [&str; 6] = [
    "#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be123c",
];
const BASELINE_COLOUR: &str = "#6b7280";

/// `12345` as `12,345`.
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Text for an SVG text node or attribute.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round step for about five ticks up to `max`.
fn nice_step(max: f64) -> f64 {
    let raw = (max / 5.0).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// The chart as a standalone SVG document. Fails on no series or no points.
pub(super) fn svg(
    title: &str,
    subtitle: &str,
    metric: Metric,
    series: &[Series],
    log_y: bool,
) -> anyhow::Result<String> {
    let ns: Vec<u64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let values = || {
        series
            .iter()
            .flat_map(|s| s.points.iter().flat_map(|p| p.1.iter()))
    };
    if ns.is_empty() || values().next().is_none() {
        bail!("nothing to draw: no runs");
    }
    if ns.contains(&0) {
        bail!("N must be at least 1 on a log axis");
    }
    // x: log10(N), padded so the end points are not on the frame.
    let (mut lo, mut hi) = (ns[0] as f64, ns[ns.len() - 1] as f64);
    if lo == hi {
        lo /= 2.0;
        hi *= 2.0;
    }
    let (lo, hi) = (lo.log10() - 0.06, hi.log10() + 0.06);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |n: u64| LEFT + ((n as f64).log10() - lo) / (hi - lo) * plot_w;
    // y: 0 to a round number above the largest value.
    let top_value = values().copied().fold(0.0, f64::max).max(1e-3);
    let step = nice_step(top_value * 1.05);
    let y_max = ((top_value * 1.05) / step).ceil() * step;
    // Log scale: from a little under the smallest value to a little over the largest.
    let floor = 0.1;
    let low_value = values().copied().fold(f64::INFINITY, f64::min).max(floor);
    let (log_lo, log_hi) = ((low_value / 1.3).log10(), (top_value * 1.3).log10());
    let y = |v: f64| {
        if log_y {
            TOP + plot_h - (v.max(floor).log10() - log_lo) / (log_hi - log_lo) * plot_h
        } else {
            TOP + plot_h - v / y_max * plot_h
        }
    };

    let mut s = String::new();
    writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    )?;
    writeln!(s, "<title>{}</title>", esc(title))?;
    writeln!(
        s,
        r##"<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>"##
    )?;
    writeln!(
        s,
        r##"<text x="{LEFT}" y="24" font-size="16" font-weight="bold" fill="#111827">{}</text>"##,
        esc(title)
    )?;
    writeln!(
        s,
        r##"<text x="{LEFT}" y="44" font-size="11" fill="#4b5563">{}</text>"##,
        esc(subtitle)
    )?;
    // Grid and y ticks.
    writeln!(s, r#"<g class="y-axis">"#)?;
    let y_ticks: Vec<f64> = if log_y {
        // 1-2-5 steps of each decade in range.
        let mut t = Vec::new();
        let mut decade = 10f64.powf(log_lo.floor());
        while decade <= 10f64.powf(log_hi) {
            for m in [1.0, 2.0, 5.0] {
                let v = m * decade;
                if (log_lo..=log_hi).contains(&v.log10()) {
                    t.push(v);
                }
            }
            decade *= 10.0;
        }
        t
    } else {
        (0..)
            .map(|k| k as f64 * step)
            .take_while(|v| *v <= y_max + step / 1000.0)
            .collect()
    };
    for v in y_ticks {
        let yy = y(v);
        let label = if (log_y && v < 1.0) || (!log_y && step < 1.0) {
            format!("{v:.1}")
        } else {
            format!("{v:.0}")
        };
        writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#e5e7eb"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#374151">{label}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            yy + 4.0
        )?;
    }
    writeln!(
        s,
        r##"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle" fill="#111827">{} latency, ms{}</text>"##,
        TOP + plot_h / 2.0,
        metric.label(),
        if log_y { " (log scale)" } else { "" }
    )?;
    writeln!(s, "</g>")?;
    // x ticks: the N that were run (or 1-2-5 steps if there are many).
    let ticks: Vec<u64> = if ns.len() <= 10 {
        ns.clone()
    } else {
        let mut t = Vec::new();
        let mut mag = 1u64;
        while (mag as f64) <= 10f64.powf(hi) {
            for m in [1, 2, 5] {
                let n = m * mag;
                let l = (n as f64).log10();
                if l >= lo && l <= hi {
                    t.push(n);
                }
            }
            mag = mag.saturating_mul(10);
        }
        t
    };
    writeln!(s, r#"<g class="x-axis">"#)?;
    for n in ticks {
        let xx = x(n);
        writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}" stroke="#f3f4f6"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle" fill="#374151">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 18.0,
            thousands(n)
        )?;
    }
    writeln!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#111827">N, watchers of one queue (log scale)</text>"##,
        LEFT + plot_w / 2.0,
        HEIGHT - 12.0
    )?;
    writeln!(s, "</g>")?;
    writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#9ca3af"/>"##
    )?;
    // The series.
    let mut palette = PALETTE.iter().cycle();
    for (k, ser) in series.iter().enumerate() {
        let colour = if ser.baseline {
            BASELINE_COLOUR
        } else {
            palette.next().copied().unwrap_or("#000000")
        };
        let dash = if ser.baseline {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let mut points: Vec<&(u64, Vec<f64>)> =
            ser.points.iter().filter(|p| !p.1.is_empty()).collect();
        points.sort_by_key(|p| p.0);
        writeln!(s, r#"<g class="series" data-label="{}">"#, esc(&ser.label))?;
        let line: Vec<String> = points
            .iter()
            .map(|(n, vs)| format!("{:.1},{:.1}", x(*n), y(median(vs))))
            .collect();
        writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"#,
            line.join(" ")
        )?;
        for (n, vs) in &points {
            for v in vs {
                writeln!(
                    s,
                    r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}" stroke="#ffffff"><title>{}: N = {}, {} {v:.1} ms</title></circle>"##,
                    x(*n),
                    y(*v),
                    esc(&ser.label),
                    thousands(*n),
                    metric.label()
                )?;
            }
        }
        // Legend entry.
        let ly = TOP + 10.0 + 22.0 * k as f64;
        let lx = LEFT + plot_w + 16.0;
        writeln!(
            s,
            r##"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}" fill="#111827">{}</text>"##,
            lx + 24.0,
            lx + 30.0,
            ly + 4.0,
            esc(&ser.label)
        )?;
        writeln!(s, "</g>")?;
    }
    writeln!(s, "</svg>")?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(thousands(19_000), "19,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(nice_step(100.0), 20.0);
        assert_eq!(nice_step(12.0), 2.5);
    }
}
