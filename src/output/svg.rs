//! Hand-written SVG plots: line charts against flexion and the patella pressure map on a
//! fixed colour scale. No plotting dependency; the output is deterministic text.

use std::fmt::Write;

use crate::experiment::RunResult;
use crate::model::Model;
use crate::scenario::Compiled;

/// Upper end of the pressure colour scale, MPa. Fixed so maps compare across frames, runs
/// and scenarios: 15 MPa covers the peak running pressures of Lenhart 2015 (≈ 10 MPa).
pub const PRESSURE_SCALE_MAX_MPA: f64 = 15.0;

const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// One plotted line.
pub struct Series<'a> {
    /// Legend label.
    pub name: &'a str,
    /// (x, y) points.
    pub points: Vec<(f64, f64)>,
}

/// Tick values and the number of decimals to print them with.
pub(crate) fn nice_ticks(lo: f64, hi: f64) -> (Vec<f64>, usize) {
    let span = (hi - lo).max(1e-9);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 6.0)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).ceil() * step;
    let decimals = (-step.log10().floor()).max(0.0) as usize
        + usize::from(step / 10f64.powf(step.log10().floor()) == 2.5);
    let ticks = (0..=((hi - start) / step + 1e-9).floor() as usize)
        .map(|i| start + i as f64 * step)
        .collect();
    (ticks, decimals)
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The frame of a chart: size and plot margins, px.
pub(crate) struct Frame {
    pub w: f64,
    pub h: f64,
    pub l: f64,
    pub r: f64,
    pub t: f64,
    pub b: f64,
}

impl Frame {
    /// The SVG header, a white background and the title.
    pub(crate) fn open(&self, title: &str) -> String {
        let Frame { w, h, l, r, .. } = *self;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>"#,
            (l + w - r) / 2.0,
            esc(title)
        );
        s
    }

    /// The axis titles: x below the plot, y rotated at the left edge.
    pub(crate) fn axis_titles(&self, s: &mut String, x_label: &str, y_label: &str) {
        let Frame { w, h, l, r, t, b } = *self;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            (l + w - r) / 2.0,
            h - 12.0,
            esc(x_label)
        );
        let _ = writeln!(
            s,
            r#"<text transform="translate(18,{}) rotate(-90)" text-anchor="middle">{}</text>"#,
            (t + h - b) / 2.0,
            esc(y_label)
        );
    }
}

/// A line chart (640 × 400).
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    chart(title, x_label, y_label, series, true)
}

/// A chart of points (640 × 400), joined by lines when `lines`.
pub fn chart(title: &str, x_label: &str, y_label: &str, series: &[Series], lines: bool) -> String {
    let (w, h, l, r, t, b) = (640.0, 400.0, 70.0, 170.0, 40.0, 50.0);
    let finite = |v: f64| v.is_finite();
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .filter(|v| finite(*v))
        .collect();
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| finite(*v))
        .collect();
    let (mut x0, mut x1) = xs
        .iter()
        .fold((f64::MAX, f64::MIN), |a, &v| (a.0.min(v), a.1.max(v)));
    let (mut y0, mut y1) = ys
        .iter()
        .fold((f64::MAX, f64::MIN), |a, &v| (a.0.min(v), a.1.max(v)));
    if xs.is_empty() {
        (x0, x1) = (0.0, 1.0);
    }
    if ys.is_empty() {
        (y0, y1) = (0.0, 1.0);
    }
    y0 = y0.min(0.0);
    if y1 - y0 < 1e-9 {
        y1 = y0 + 1.0;
    }
    if x1 - x0 < 1e-9 {
        x1 = x0 + 1.0;
    }
    let pad = 0.05 * (y1 - y0);
    let (y0, y1) = (y0 - if y0 < 0.0 { pad } else { 0.0 }, y1 + pad);
    let px = |x: f64| l + (x - x0) / (x1 - x0) * (w - l - r);
    let py = |y: f64| h - b - (y - y0) / (y1 - y0) * (h - t - b);
    let frame = Frame { w, h, l, r, t, b };
    let mut s = frame.open(title);
    let (xt, xd) = nice_ticks(x0, x1);
    for tx in xt {
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" y1="{1}" x2="{0:.1}" y2="{2}" stroke="#ddd"/><text x="{0:.1}" y="{3}" text-anchor="middle">{4:.5$}</text>"##,
            px(tx),
            t,
            h - b,
            h - b + 16.0,
            tx,
            xd
        );
    }
    let (yt, yd) = nice_ticks(y0, y1);
    for ty in yt {
        let _ = writeln!(
            s,
            r##"<line x1="{0}" y1="{1:.1}" x2="{2}" y2="{1:.1}" stroke="#ddd"/><text x="{3}" y="{4:.1}" text-anchor="end">{5:.6$}</text>"##,
            l,
            py(ty),
            w - r,
            l - 6.0,
            py(ty) + 4.0,
            ty,
            yd
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{l}" y="{t}" width="{}" height="{}" fill="none" stroke="#333"/>"##,
        w - l - r,
        h - t - b
    );
    frame.axis_titles(&mut s, x_label, y_label);
    for (i, ser) in series.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        let pts: Vec<String> = ser
            .points
            .iter()
            .filter(|p| finite(p.0) && finite(p.1))
            .map(|&(x, y)| format!("{:.2},{:.2}", px(x), py(y)))
            .collect();
        if lines {
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/>"#,
                pts.join(" ")
            );
        }
        for p in &pts {
            let (a, b2) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(s, r#"<circle cx="{a}" cy="{b2}" r="2.5" fill="{c}"/>"#);
        }
        let ly = t + 10.0 + 20.0 * i as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="{c}" stroke-width="3"/><text x="{3}" y="{4}">{5}</text>"#,
            w - r + 10.0,
            ly,
            w - r + 30.0,
            w - r + 36.0,
            ly + 4.0,
            esc(ser.name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Stacks SVG documents of equal width vertically into one.
pub fn stack(parts: &[String]) -> String {
    let dims = |svg: &str| -> (f64, f64) {
        let num = |key: &str| {
            svg.split(key)
                .nth(1)
                .and_then(|r| r.split('"').nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (num(" width="), num(" height="))
    };
    let width = parts.iter().map(|p| dims(p).0).fold(0.0, f64::max);
    let height: f64 = parts.iter().map(|p| dims(p).1).sum();
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">"#
    );
    s.push('\n');
    let mut y = 0.0;
    for p in parts {
        let inner_start = p.find('>').map(|i| i + 1).unwrap_or(0);
        let inner_end = p.rfind("</svg>").unwrap_or(p.len());
        let _ = writeln!(
            s,
            r#"<g transform="translate(0,{y})" font-family="sans-serif" font-size="12">{}</g>"#,
            &p[inner_start..inner_end]
        );
        y += dims(p).1;
    }
    s.push_str("</svg>\n");
    s
}

/// Colour of a pressure on the fixed scale (white at 0, then blue → green → yellow → red).
pub fn pressure_color(p: f64) -> String {
    let [r, g, b] = pressure_rgb(p);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// [`pressure_color`] as 8-bit RGB (the viewer uses the same scale).
pub fn pressure_rgb(p: f64) -> [u8; 3] {
    if p <= 0.0 {
        return [0xf4, 0xf4, 0xf4];
    }
    let t = (p / PRESSURE_SCALE_MAX_MPA).clamp(0.0, 1.0);
    let stops = [
        (0.0, (49, 54, 149)),
        (0.25, (69, 117, 180)),
        (0.5, (116, 196, 118)),
        (0.75, (254, 224, 68)),
        (1.0, (215, 48, 39)),
    ];
    let k = stops
        .windows(2)
        .position(|w| t <= w[1].0)
        .unwrap_or(stops.len() - 2);
    let ((t0, c0), (t1, c1)) = (stops[k], stops[k + 1]);
    let f = (t - t0) / (t1 - t0);
    let mix = |a: i32, b: i32| (a as f64 + f * (b - a) as f64).round() as u8;
    [mix(c0.0, c1.0), mix(c0.1, c1.1), mix(c0.2, c1.2)]
}

/// Patella pressure map, posterior (articular) view: lateral to the right, proximal up.
#[allow(clippy::needless_range_loop)] // SoA element arrays indexed together
pub fn pressure_map(model: &Model, pressure: &[f64], title: &str) -> String {
    let p = &model.patella;
    let (scale, ox, oy) = (9.0, 60.0, 60.0);
    let (cy, cz) = (p.centre[0], p.centre[1]);
    let (half_w, half_h) = (0.5 * p.width, 0.5 * p.height);
    let w = ox * 2.0 + 2.0 * half_w * scale + 120.0;
    let h = oy + 2.0 * half_h * scale + 80.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w:.0}" height="{h:.0}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{:.0}" y="24" font-size="15" text-anchor="middle">{}</text>"#,
        ox + half_w * scale,
        esc(title)
    );
    let e = p.element_size * scale;
    for i in 0..p.len() {
        let z_anat = model.lat * p.z[i];
        let x = ox + (z_anat - cz + half_w) * scale - 0.5 * e;
        let y = oy + (cy + half_h - p.y[i]) * scale - 0.5 * e;
        let _ = writeln!(
            s,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{e:.1}" height="{e:.1}" fill="{}"/>"#,
            pressure_color(pressure[i])
        );
    }
    let ridge = ox + (p.ridge_z - cz + half_w) * scale;
    let _ = writeln!(
        s,
        r##"<line x1="{ridge:.1}" y1="{oy}" x2="{ridge:.1}" y2="{:.1}" stroke="#555" stroke-dasharray="4 3"/>"##,
        oy + 2.0 * half_h * scale
    );
    let base = oy + 2.0 * half_h * scale + 20.0;
    let _ = writeln!(
        s,
        r#"<text x="{ox}" y="{base:.0}">medial</text><text x="{:.0}" y="{base:.0}" text-anchor="end">lateral</text>"#,
        ox + 2.0 * half_w * scale
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.0}" y="{:.0}" text-anchor="middle">proximal ↑ · posterior (articular) view · ridge dashed</text>"#,
        ox + half_w * scale,
        base + 20.0
    );
    // colour bar
    let bx = ox + 2.0 * half_w * scale + 40.0;
    let bh = 2.0 * half_h * scale;
    for k in 0..100 {
        let v = PRESSURE_SCALE_MAX_MPA * (1.0 - k as f64 / 100.0);
        let _ = writeln!(
            s,
            r#"<rect x="{bx:.0}" y="{:.1}" width="18" height="{:.2}" fill="{}"/>"#,
            oy + bh * k as f64 / 100.0,
            bh / 100.0 + 0.5,
            pressure_color(v.max(1e-9))
        );
    }
    for v in [0.0, 5.0, 10.0, 15.0] {
        let y = oy + bh * (1.0 - v / PRESSURE_SCALE_MAX_MPA);
        let _ = writeln!(
            s,
            r#"<text x="{:.0}" y="{:.1}">{v} MPa</text>"#,
            bx + 24.0,
            y + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Most cycles drawn per chart (one colour each).
const MAX_CYCLES_PLOTTED: usize = COLORS.len();

/// Gait plots against cycle %: PF force (BW) and lateral force, lateral shift and tilt (one
/// line per cycle, at most [`MAX_CYCLES_PLOTTED`]), and the pressure map at peak PF force.
fn gait_plots(model: &Model, name: &str, g: &crate::experiment::GaitRun) -> Vec<(String, String)> {
    let cycles = g.cycle_durations_s.len().min(MAX_CYCLES_PLOTTED);
    let labels: Vec<String> = (0..cycles)
        .map(|c| {
            if cycles == 1 {
                "cycle".into()
            } else {
                format!("cycle {}", c + 1)
            }
        })
        .collect();
    let bw = model.body_weight_n;
    let chart = |title: &str, y: &str, v: &dyn Fn(&crate::experiment::GaitFrame) -> f64| {
        let series: Vec<Series> = labels
            .iter()
            .enumerate()
            .map(|(c, l)| Series {
                name: l,
                points: g
                    .frames
                    .iter()
                    .filter(|f| f.cycle == c)
                    .map(|f| (f.sample.cycle_pct, v(f)))
                    .collect(),
            })
            .collect();
        line_chart(
            &format!("{name}: {title}"),
            "gait cycle (% from foot strike)",
            y,
            &series,
        )
    };
    let forces = stack(&[
        chart("PF contact force", "PF force (BW)", &|f| {
            f.result.contact.force_n / bw
        }),
        chart("lateral PF force", "lateral force (N)", &|f| {
            f.result.contact.lateral_force_n
        }),
    ]);
    let tracking = stack(&[
        chart("patellar lateral shift", "lateral shift (mm)", &|f| {
            f.result.tracking.shift_mm
        }),
        chart("patellar lateral tilt", "lateral tilt (deg)", &|f| {
            f.result.tracking.tilt.to_degrees()
        }),
    ]);
    let peak = &g.frames[g.peak_frame];
    let map = pressure_map(
        model,
        &g.peak_pressure,
        &format!(
            "{name}: pressure at peak PF force ({:.0} % of cycle, knee {:.0}°, {:.1} BW)",
            peak.sample.cycle_pct,
            peak.sample.knee_flexion_deg,
            peak.result.contact.force_n / bw
        ),
    );
    vec![
        ("gait_forces.svg".into(), forces),
        ("gait_tracking.svg".into(), tracking),
        ("pressure_map.svg".into(), map),
    ]
}

/// A dynamic run's time plots: the patella's lateral position and the loads over time (the
/// gait case with the quasi-static answer beside it), and its energy balance.
fn dynamic_plots(name: &str, d: &crate::dynamics::DynamicRun) -> Vec<(String, String)> {
    let ms = |g: &dyn Fn(&crate::dynamics::DynamicSample) -> f64| -> Vec<(f64, f64)> {
        d.samples
            .iter()
            .map(|x| (x.time_s * 1000.0, g(x)))
            .filter(|p| p.1.is_finite())
            .collect()
    };
    let mut tracking = vec![
        Series {
            name: "lateral shift (mm)",
            points: ms(&|x| x.shift_mm),
        },
        Series {
            name: "lateral tilt (deg)",
            points: ms(&|x| x.tilt_deg),
        },
    ];
    let mut forces = vec![
        Series {
            name: "PF contact (N)",
            points: ms(&|x| x.pf_force_n),
        },
        Series {
            name: "applied (N, lateral +)",
            points: ms(&|x| x.applied_n),
        },
        Series {
            name: "bone contact (N)",
            points: ms(&|x| x.bone_contact_n),
        },
    ];
    if d.quasi_static.is_some() {
        tracking.push(Series {
            name: "quasi-static lateral shift (mm)",
            points: ms(&|x| x.quasi_static_shift_mm),
        });
        forces.push(Series {
            name: "quasi-static PF contact (N)",
            points: ms(&|x| x.quasi_static_pf_n),
        });
    }
    let motion = stack(&[
        line_chart(
            &format!("{name}: patella over time"),
            "time (ms)",
            "mm / deg",
            &tracking,
        ),
        line_chart(
            &format!("{name}: forces over time"),
            "time (ms)",
            "force (N)",
            &forces,
        ),
    ]);
    let energy = line_chart(
        &format!("{name}: energy"),
        "time (ms)",
        "energy (mJ)",
        &[
            Series {
                name: "kinetic",
                points: ms(&|x| x.kinetic_j * 1000.0),
            },
            Series {
                name: "tendon and ligaments",
                points: ms(&|x| x.ligament_j * 1000.0),
            },
            Series {
                name: "dissipated",
                points: ms(&|x| x.dissipated_j * 1000.0),
            },
        ],
    );
    vec![
        ("dynamic_motion.svg".into(), motion),
        ("dynamic_energy.svg".into(), energy),
    ]
}

/// Every plot of a run: (file name, SVG).
pub fn plots(compiled: &Compiled, run: &RunResult) -> Vec<(String, String)> {
    let model = &compiled.model;
    let name = &compiled.name;
    match run {
        RunResult::Flexion(f) => {
            let x = |g: &dyn Fn(&crate::step::FrameResult) -> f64| {
                f.frames
                    .iter()
                    .map(|r| (r.knee.flexion.to_degrees(), g(r)))
                    .collect()
            };
            let tracking = stack(&[
                line_chart(
                    &format!("{name}: patellar tracking"),
                    "knee flexion (deg)",
                    "mm / deg",
                    &[
                        Series {
                            name: "lateral shift (mm)",
                            points: x(&|r| r.tracking.shift_mm),
                        },
                        Series {
                            name: "lateral tilt (deg)",
                            points: x(&|r| r.tracking.tilt.to_degrees()),
                        },
                        Series {
                            name: "lateral spin (deg)",
                            points: x(&|r| r.tracking.spin.to_degrees()),
                        },
                        Series {
                            name: "patellar flexion / 10 (deg)",
                            points: x(&|r| r.tracking.flexion.to_degrees() / 10.0),
                        },
                    ],
                ),
                line_chart(
                    &format!("{name}: bisect offset"),
                    "knee flexion (deg)",
                    "fraction lateral of groove",
                    &[Series {
                        name: "bisect offset",
                        points: x(&|r| r.tracking.bisect_offset),
                    }],
                ),
            ]);
            let forces = line_chart(
                &format!("{name}: forces"),
                "knee flexion (deg)",
                "force (N)",
                &[
                    Series {
                        name: "PF contact",
                        points: x(&|r| r.contact.force_n),
                    },
                    Series {
                        name: "PF lateral",
                        points: x(&|r| r.contact.lateral_force_n),
                    },
                    Series {
                        name: "quadriceps",
                        points: x(&|r| r.quadriceps_force_n),
                    },
                    Series {
                        name: "patellar tendon",
                        points: x(&|r| r.patellar_tendon_n),
                    },
                    Series {
                        name: "MPFL",
                        points: x(&|r| r.mpfl_n),
                    },
                ],
            );
            let peak = &f.frames[f.peak_frame];
            let map = pressure_map(
                model,
                &f.peak_pressure,
                &format!(
                    "{name}: pressure at peak PF force ({:.0}°, {:.0} N)",
                    peak.knee.flexion.to_degrees(),
                    peak.contact.force_n
                ),
            );
            vec![
                ("tracking.svg".into(), tracking),
                ("forces.svg".into(), forces),
                ("pressure_map.svg".into(), map),
            ]
        }
        RunResult::Gait(g) => gait_plots(model, name, g),
        RunResult::Dynamic(d) => dynamic_plots(name, d),
        RunResult::Stability(st) => {
            let mut series = Vec::new();
            for (dir, label) in [(1.0, "lateral displacement"), (-1.0, "medial displacement")] {
                let pts: Vec<(f64, f64)> = st
                    .rows
                    .iter()
                    .filter(|r| r.direction == dir)
                    .map(|r| (r.flexion_deg, r.restraining_force_n))
                    .collect();
                if !pts.is_empty() {
                    series.push(Series {
                        name: label,
                        points: pts,
                    });
                }
            }
            vec![(
                "restraint.svg".into(),
                line_chart(
                    &format!("{name}: restraining force"),
                    "knee flexion (deg)",
                    "restraining force (N)",
                    &series,
                ),
            )]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_scale_is_fixed_and_monotone_in_red() {
        assert_eq!(pressure_color(0.0), "#f4f4f4");
        assert_eq!(pressure_color(PRESSURE_SCALE_MAX_MPA), pressure_color(99.0));
        assert_ne!(pressure_color(1.0), pressure_color(12.0));
    }

    #[test]
    fn stacked_charts_keep_every_series() {
        let a = line_chart(
            "a",
            "x",
            "y",
            &[Series {
                name: "a",
                points: vec![(0.0, 1.0), (1.0, 2.0)],
            }],
        );
        let b = line_chart(
            "b",
            "x",
            "y",
            &[Series {
                name: "b",
                points: vec![(0.0, 1.0), (1.0, 3.0)],
            }],
        );
        let s = stack(&[a, b]);
        assert_eq!(s.matches("<polyline").count(), 2);
        assert!(s.contains(r#"height="800""#) && s.matches("<svg").count() == 1);
    }

    #[test]
    fn chart_has_one_polyline_per_series() {
        let s = line_chart(
            "t",
            "x",
            "y",
            &[
                Series {
                    name: "a",
                    points: vec![(0.0, 1.0), (1.0, 2.0)],
                },
                Series {
                    name: "b",
                    points: vec![(0.0, f64::NAN)],
                },
            ],
        );
        assert_eq!(s.matches("<polyline").count(), 2);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
    }
}
