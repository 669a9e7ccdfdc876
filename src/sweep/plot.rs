//! sweep.svg: the sweep's plot metric against its axis (one axis), as a heat map over a
//! two-axis grid (cells annotated with values, failed variants crossed out), or as a
//! coloured scatter over the first two axes (sampled sweeps). Sweeps of more than one
//! axis are plotted over their first two; more axes show as scatter spread.

use std::fmt::Write;

use super::manifest::Manifest;
use super::spec::Method;
use super::table::METRICS;
use crate::output::svg::{chart, esc, nice_ticks, Frame, Series};

/// Rows beyond this are not plotted (the table has them all); the plot says so.
pub const MAX_PLOT_POINTS: usize = 200_000;

/// What the plot needs of one row.
#[derive(Debug, Clone)]
pub struct PlotRow {
    /// Axis cells as written in the table.
    pub labels: Vec<String>,
    /// The plot metric (None when the variant failed or lacks it).
    pub metric: Option<f64>,
}

/// Collects the plot's view of one table row (cells of the CSV line).
pub fn collect(m: &Manifest, cells: &[String], rows: &mut Vec<PlotRow>) {
    if rows.len() >= MAX_PLOT_POINTS {
        return;
    }
    let na = m.axes.len();
    let col = METRICS.iter().position(|c| c.0 == m.plot).unwrap_or(0);
    rows.push(PlotRow {
        labels: cells[1..1 + na].to_vec(),
        metric: cells[na + 2 + col].parse().ok(),
    });
}

/// Perceptually uniform sequential colour (viridis stops, van der Walt & Smith 2015).
fn viridis(t: f64) -> String {
    let stops = [
        (68, 1, 84),
        (59, 82, 139),
        (33, 145, 140),
        (94, 201, 98),
        (253, 231, 37),
    ];
    let t = t.clamp(0.0, 1.0) * (stops.len() - 1) as f64;
    let k = (t.floor() as usize).min(stops.len() - 2);
    let f = t - k as f64;
    let (a, b) = (stops[k], stops[k + 1]);
    let mix = |x: i32, y: i32| (x as f64 + f * (y - x) as f64).round() as i32;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |a, v| (a.0.min(v), a.1.max(v)));
    if lo > hi {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 {
        (lo, lo + 1.0)
    } else {
        (lo, hi)
    }
}

/// Renders sweep.svg.
pub fn render(m: &Manifest, rows: &[PlotRow]) -> String {
    let mut title = format!("{}: {}", m.sweep, m.plot);
    if rows.len() as u64 >= MAX_PLOT_POINTS as u64 && m.end - m.first > MAX_PLOT_POINTS as u64 {
        title += &format!(" (first {MAX_PLOT_POINTS} variants)");
    }
    let num = |s: &str| s.parse::<f64>().ok();
    let grid2 = m.method == Method::Grid
        && m.axes.len() == 2
        && m.end - m.first == m.variants
        && rows.len() as u64 == m.variants;
    if grid2 {
        return heat_map(m, rows, &title);
    }
    let xs: Vec<Option<f64>> = rows.iter().map(|r| num(&r.labels[0])).collect();
    if m.axes.len() >= 2 && m.method != Method::Grid {
        return scatter_map(m, rows, &title);
    }
    let mut points: Vec<(f64, f64)> = rows
        .iter()
        .zip(&xs)
        .filter_map(|(r, x)| Some((x.unwrap_or(f64::NAN), r.metric?)))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let lines = m.axes.len() == 1 && m.method == Method::Grid;
    chart(
        &title,
        &m.axes[0].key,
        &m.plot,
        &[Series {
            name: &m.plot,
            points,
        }],
        lines,
    )
}

/// Grid over two axes: first axis across, second up; cell colour = metric.
fn heat_map(m: &Manifest, rows: &[PlotRow], title: &str) -> String {
    let nx = m.axes[0].len.unwrap_or(1) as usize;
    let ny = m.axes[1].len.unwrap_or(1) as usize;
    let (lo, hi) = range(rows.iter().filter_map(|r| r.metric));
    let (w, h, l, r, t, b) = (640.0, 460.0, 90.0, 130.0, 40.0, 60.0);
    let cw = (w - l - r) / nx as f64;
    let ch = (h - t - b) / ny as f64;
    let frame = Frame { w, h, l, r, t, b };
    let mut s = frame.open(title);
    let annotate = nx <= 12 && ny <= 12;
    for (i, row) in rows.iter().enumerate() {
        let (ix, iy) = (i / ny, i % ny);
        let x = l + ix as f64 * cw;
        let y = h - b - (iy + 1) as f64 * ch;
        match row.metric {
            Some(v) => {
                let f = (v - lo) / (hi - lo);
                let _ = writeln!(
                    s,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{cw:.1}" height="{ch:.1}" fill="{}" stroke="white"/>"#,
                    viridis(f)
                );
                if annotate {
                    let ink = if f > 0.6 { "black" } else { "white" };
                    let _ = writeln!(
                        s,
                        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{ink}" font-size="11">{}</text>"#,
                        x + cw / 2.0,
                        y + ch / 2.0 + 4.0,
                        short(v)
                    );
                }
            }
            None => {
                let _ = writeln!(
                    s,
                    r##"<rect x="{x:.1}" y="{y:.1}" width="{cw:.1}" height="{ch:.1}" fill="#bbbbbb" stroke="white"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11">failed</text>"##,
                    x + cw / 2.0,
                    y + ch / 2.0 + 4.0
                );
            }
        }
        if iy == 0 {
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                x + cw / 2.0,
                h - b + 16.0,
                esc(&row.labels[0])
            );
        }
        if ix == 0 {
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                l - 6.0,
                y + ch / 2.0 + 4.0,
                esc(&row.labels[1])
            );
        }
    }
    frame.axis_titles(&mut s, &m.axes[0].key, &m.axes[1].key);
    colour_bar(&mut s, w - r + 30.0, t, h - t - b, lo, hi, &m.plot);
    s.push_str("</svg>\n");
    s
}

/// Sampled sweeps over ≥ 2 axes: points in the plane of the first two, coloured by metric.
fn scatter_map(m: &Manifest, rows: &[PlotRow], title: &str) -> String {
    let num = |s: &str| s.parse::<f64>().ok();
    let pts: Vec<(f64, f64, Option<f64>)> = rows
        .iter()
        .filter_map(|r| Some((num(&r.labels[0])?, num(&r.labels[1])?, r.metric)))
        .collect();
    let (x0, x1) = range(pts.iter().map(|p| p.0));
    let (y0, y1) = range(pts.iter().map(|p| p.1));
    let (lo, hi) = range(pts.iter().filter_map(|p| p.2));
    let (w, h, l, r, t, b) = (640.0, 460.0, 80.0, 130.0, 40.0, 60.0);
    let px = |x: f64| l + (x - x0) / (x1 - x0) * (w - l - r);
    let py = |y: f64| h - b - (y - y0) / (y1 - y0) * (h - t - b);
    let frame = Frame { w, h, l, r, t, b };
    let mut s = frame.open(title);
    let (xt, xd) = nice_ticks(x0, x1);
    for tx in xt {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{tx:.xd$}</text>"#,
            px(tx),
            h - b + 16.0
        );
    }
    let (yt, yd) = nice_ticks(y0, y1);
    for ty in yt {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{ty:.yd$}</text>"#,
            l - 6.0,
            py(ty) + 4.0
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{l}" y="{t}" width="{}" height="{}" fill="none" stroke="#333"/>"##,
        w - l - r,
        h - t - b
    );
    for (x, y, v) in &pts {
        let fill = v
            .map(|v| viridis((v - lo) / (hi - lo)))
            .unwrap_or_else(|| "#bbbbbb".into());
        let _ = writeln!(
            s,
            r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{fill}"/>"#,
            px(*x),
            py(*y)
        );
    }
    frame.axis_titles(&mut s, &m.axes[0].key, &m.axes[1].key);
    colour_bar(&mut s, w - r + 30.0, t, h - t - b, lo, hi, &m.plot);
    s.push_str("</svg>\n");
    s
}

fn colour_bar(s: &mut String, x: f64, y: f64, height: f64, lo: f64, hi: f64, label: &str) {
    let n = 40;
    for k in 0..n {
        let f = k as f64 / (n - 1) as f64;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{:.1}" width="16" height="{:.1}" fill="{}"/>"#,
            y + height * (1.0 - f) - height / n as f64,
            height / n as f64 + 0.5,
            viridis(f)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}">{}</text><text x="{}" y="{}">{}</text>"#,
        x + 20.0,
        y + 10.0,
        short(hi),
        x + 20.0,
        y + height,
        short(lo)
    );
    let _ = writeln!(
        s,
        r#"<text transform="translate({},{}) rotate(-90)" text-anchor="middle" font-size="11">{}</text>"#,
        x + 70.0,
        y + height / 2.0,
        esc(label)
    );
}

/// A value with about four significant digits.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}
