//! The egui windows: factor sliders with the re-solve status and save button, playback with
//! the timeline and the force plot, the metric readout beside the baseline, the legends
//! (fixed pressure scale in MPa, tissue colours and tensions, arrow scales), the 2D
//! pressure map of the articular surface, and the camera presets.

use bevy::prelude::*;
use bevy_egui::{egui, EguiContexts, EguiPrimaryContextPass};
use egui::{Align2, Color32, Pos2, Rect, Sense, Stroke};

use super::camera::{Orbit, Preset};
use super::live::{Live, SLIDERS};
use super::scene::{
    current_frame, tissue_color, CONTACT_ARROW_MM_PER_KN, LATERAL_ARROW_MM_PER_KN,
    TISSUE_SCALE_MAX_N,
};
use super::{Playback, Session};
use crate::experiment::Metrics;
use crate::output::svg::{pressure_rgb, PRESSURE_SCALE_MAX_MPA};
use crate::scenario::Kind;

pub struct UiPlugin;

impl Plugin for UiPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(EguiPrimaryContextPass, ui);
    }
}

fn c32(c: Color) -> Color32 {
    let s = c.to_srgba();
    Color32::from_rgb(
        (s.red * 255.0) as u8,
        (s.green * 255.0) as u8,
        (s.blue * 255.0) as u8,
    )
}

fn pressure32(p: f64) -> Color32 {
    let [r, g, b] = pressure_rgb(p);
    Color32::from_rgb(r, g, b)
}

#[allow(clippy::too_many_arguments)]
fn ui(
    mut contexts: EguiContexts,
    session: Res<Session>,
    mut playback: ResMut<Playback>,
    live: Option<ResMut<Live>>,
    orbit: Option<ResMut<Orbit>>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let Some(mut live) = live else { return Ok(()) };
    let is_gait = session.base.spec.scenario.kind == Kind::Gait;

    egui::Window::new("Factors")
        .anchor(Align2::LEFT_TOP, [8.0, 8.0])
        .default_width(300.0)
        .resizable(false)
        .show(ctx, |ui| {
            ui.label(format!(
                "{} — {}",
                session.base.name,
                session.path.display()
            ));
            ui.separator();
            let mut changed = false;
            for (i, s) in SLIDERS.iter().enumerate() {
                if s.gait_only && !is_gait {
                    continue;
                }
                let r = ui.add(
                    egui::Slider::new(&mut live.values[i], s.min..=s.max)
                        .text(s.label)
                        .suffix(s.unit),
                );
                changed |= r.changed();
            }
            if changed {
                live.touch();
            }
            ui.horizontal(|ui| {
                if ui.button("Reset to scenario").clicked() {
                    live.values = SLIDERS
                        .iter()
                        .map(|s| super::live::get(&session.base.spec, s.key))
                        .collect();
                    live.spec = session.base.spec.clone();
                    live.touch();
                }
                if ui.button("Save as scenario").clicked() {
                    live.saved = Some(save(&session, &live));
                }
            });
            let status = if live.solving || live.dirty_since.is_some() {
                "re-solving the cycle…".to_string()
            } else if let Some(ms) = live.last_solve_ms {
                format!("last re-solve: {ms:.0} ms (compile + whole cycle, off the render thread)")
            } else {
                "move a slider to re-solve the cycle".to_string()
            };
            ui.small(status);
            if let Some(e) = &live.error {
                ui.colored_label(Color32::from_rgb(255, 120, 100), e);
            }
            if let Some(s) = &live.saved {
                ui.small(s);
            }
            ui.separator();
            if let Some(mut orbit) = orbit {
                ui.horizontal(|ui| {
                    ui.label("View:");
                    for (name, p) in [
                        ("Front", Preset::Front),
                        ("Lateral", Preset::Lateral),
                        ("Sunrise", Preset::Sunrise),
                    ] {
                        if ui.button(name).clicked() {
                            orbit.preset(p);
                        }
                    }
                });
                ui.small("drag: orbit · right-drag: pan · wheel: zoom");
            }
        });

    let frame = current_frame(&session, &playback);
    egui::Window::new("Readout")
        .anchor(Align2::RIGHT_TOP, [-8.0, 8.0])
        .default_width(330.0)
        .resizable(false)
        .show(ctx, |ui| {
            let bw = session.current_compiled.model.body_weight_n;
            let row = |ui: &mut egui::Ui, name: &str, cur: f64, base: f64, digits: usize| {
                ui.label(name);
                ui.label(format!("{cur:.digits$}"));
                ui.label(format!("{base:.digits$}"));
                ui.end_row();
            };
            egui::Grid::new("metrics").striped(true).show(ui, |ui| {
                ui.strong("cycle metric");
                ui.strong("now");
                ui.strong("baseline");
                ui.end_row();
                let (m, b): (&Metrics, &Metrics) = (&session.current.metrics, &session.baseline.metrics);
                row(ui, "peak PF force, BW", m.peak_pf_force_bw, b.peak_pf_force_bw, 2);
                row(ui, "peak lateral force, N", m.peak_lateral_force_n, b.peak_lateral_force_n, 0);
                row(ui, "lateral share at peak", m.lateral_share_at_peak, b.lateral_share_at_peak, 2);
                row(ui, "max lateral shift, mm", m.max_lateral_shift_mm, b.max_lateral_shift_mm, 2);
                row(ui, "max lateral tilt, °", m.max_lateral_tilt_deg, b.max_lateral_tilt_deg, 1);
                row(ui, "peak pressure, MPa", m.peak_pressure_mpa, b.peak_pressure_mpa, 1);
                row(ui, "frames converged", m.frames_converged as f64, b.frames_converged as f64, 0);
            });
            if let Some((_, f)) = frame {
                let r = &f.result;
                ui.separator();
                ui.label(format!(
                    "{} {:.1}: knee {:.1}°, PF {:.0} N ({:.2} BW), lateral {:.0} N, share {:.2}, shift {:.2} mm, tilt {:.1}°{}",
                    session.current.x_label,
                    f.x,
                    r.knee.flexion.to_degrees(),
                    r.contact.force_n,
                    r.contact.force_n / bw,
                    r.contact.lateral_force_n,
                    r.contact.lateral_share,
                    r.tracking.shift_mm,
                    r.tracking.tilt.to_degrees(),
                    if r.status.converged() { "" } else { " — NOT CONVERGED" }
                ));
            }
            if session.current.cycles_in_scenario > 1 {
                ui.small(format!("showing cycle 1 of {}", session.current.cycles_in_scenario));
            }
        });

    egui::Window::new("Legend")
        .anchor(Align2::RIGHT_TOP, [-8.0, 290.0])
        .default_width(330.0)
        .resizable(false)
        .show(ctx, |ui| {
            ui.label(format!("Patella contact pressure, MPa (fixed scale 0–{PRESSURE_SCALE_MAX_MPA:.0})"));
            let (resp, painter) = ui.allocate_painter(egui::vec2(300.0, 34.0), Sense::hover());
            let r = resp.rect;
            let n = 60;
            for k in 0..n {
                let t0 = k as f32 / n as f32;
                let x0 = r.left() + t0 * r.width();
                let p = (k as f64 + 0.5) / n as f64 * PRESSURE_SCALE_MAX_MPA;
                painter.rect_filled(
                    Rect::from_min_max(Pos2::new(x0, r.top()), Pos2::new(x0 + r.width() / n as f32 + 0.5, r.top() + 16.0)),
                    0.0,
                    pressure32(p),
                );
            }
            for v in [0.0, 5.0, 10.0, 15.0] {
                let x = r.left() + (v / PRESSURE_SCALE_MAX_MPA) as f32 * r.width();
                let align = if v == 0.0 {
                    Align2::LEFT_TOP
                } else if v == PRESSURE_SCALE_MAX_MPA {
                    Align2::RIGHT_TOP
                } else {
                    Align2::CENTER_TOP
                };
                painter.text(Pos2::new(x, r.top() + 18.0), align, format!("{v:.0}"), egui::FontId::proportional(11.0), Color32::LIGHT_GRAY);
            }
            ui.separator();
            ui.label(format!("Tissues (tension, N; colour scale 0–{TISSUE_SCALE_MAX_N:.0} N)"));
            if let Some((_, f)) = frame {
                egui::Grid::new("tissues").show(ui, |ui| {
                    let entry = |ui: &mut egui::Ui, name: &str, force: f64| {
                        let (resp, painter) = ui.allocate_painter(egui::vec2(14.0, 10.0), Sense::hover());
                        painter.rect_filled(resp.rect, 2.0, c32(tissue_color(force)));
                        ui.label(name);
                        ui.label(format!("{force:.0}"));
                        ui.end_row();
                    };
                    for l in &f.lines {
                        entry(ui, l.name, l.force_n);
                    }
                    if let Some(g) = f.glute_med_n {
                        entry(ui, "gluteus medius (hip, schematic)", g);
                    }
                });
            }
            ui.small(format!(
                "pale arrow: PF contact force on the patella ({CONTACT_ARROW_MM_PER_KN:.0} mm per kN); pink: its lateral component ({LATERAL_ARROW_MM_PER_KN:.0} mm per kN)"
            ));
        });

    egui::Window::new("Pressure map")
        .anchor(Align2::LEFT_BOTTOM, [8.0, -8.0])
        .resizable(false)
        .show(ctx, |ui| {
            let Some((_, f)) = frame else { return };
            ui.small("articular surface seen from behind: lateral to the right, proximal up");
            let m = &session.current_compiled.model.patella;
            let lat = session.current_compiled.model.lat;
            let (resp, painter) = ui.allocate_painter(egui::vec2(220.0, 170.0), Sense::hover());
            let r = resp.rect;
            let (zmin, zmax) = m.z.iter().fold((f64::MAX, f64::MIN), |a, &z| {
                (a.0.min(lat * z), a.1.max(lat * z))
            });
            let (ymin, ymax) =
                m.y.iter()
                    .fold((f64::MAX, f64::MIN), |a, &y| (a.0.min(y), a.1.max(y)));
            let s = ((r.width() as f64 - 10.0) / (zmax - zmin))
                .min((r.height() as f64 - 10.0) / (ymax - ymin));
            let half = (0.5 * m.element_size * s) as f32;
            for i in 0..m.len() {
                let x = r.center().x + ((lat * m.z[i] - 0.5 * (zmin + zmax)) * s) as f32;
                let y = r.center().y - ((m.y[i] - 0.5 * (ymin + ymax)) * s) as f32;
                painter.rect_filled(
                    Rect::from_center_size(
                        Pos2::new(x, y),
                        egui::vec2(2.0 * half + 0.3, 2.0 * half + 0.3),
                    ),
                    0.0,
                    pressure32(f.pressure[i]),
                );
            }
        });

    egui::Window::new("Playback")
        .anchor(Align2::CENTER_BOTTOM, [-120.0, -8.0])
        .default_width(560.0)
        .resizable(false)
        .show(ctx, |ui| {
            let n = session.current.frames.len();
            if n == 0 {
                return;
            }
            ui.horizontal(|ui| {
                if ui
                    .button(if playback.playing {
                        "⏸ pause"
                    } else {
                        "▶ play"
                    })
                    .clicked()
                {
                    playback.playing = !playback.playing;
                }
                ui.add(
                    egui::Slider::new(&mut playback.speed, 0.1..=4.0)
                        .text("speed")
                        .logarithmic(true),
                );
            });
            let mut f = playback.frame.round() as usize;
            let x = session.current.frames[f.min(n - 1)].x;
            if ui
                .add(
                    egui::Slider::new(&mut f, 0..=n - 1)
                        .text(format!("frame ({}: {x:.1})", session.current.x_label)),
                )
                .changed()
            {
                playback.frame = f as f32;
                playback.playing = false;
            }
            plot(ui, &session, f.min(n - 1));
        });
    Ok(())
}

/// PF force (BW, blue) and lateral force (N, red) over the cycle, baseline faint, marker at
/// the current frame. Each quantity on its own axis, labelled at its maximum.
fn plot(ui: &mut egui::Ui, session: &Session, current: usize) {
    let (resp, painter) = ui.allocate_painter(egui::vec2(540.0, 150.0), Sense::hover());
    let r = resp.rect.shrink(4.0);
    painter.rect_stroke(
        r,
        0.0,
        Stroke::new(1.0, Color32::DARK_GRAY),
        egui::StrokeKind::Inside,
    );
    let bw = session.current_compiled.model.body_weight_n;
    let series = |rec: &crate::experiment::record::Recording,
                  f: &dyn Fn(&crate::experiment::record::RecordedFrame) -> f64|
     -> Vec<f64> { rec.frames.iter().map(f).collect() };
    let pf = |fr: &crate::experiment::record::RecordedFrame| fr.result.contact.force_n / bw;
    let lat = |fr: &crate::experiment::record::RecordedFrame| fr.result.contact.lateral_force_n;
    let (pf_now, pf_base) = (
        series(&session.current, &pf),
        series(&session.baseline, &pf),
    );
    let (lat_now, lat_base) = (
        series(&session.current, &lat),
        series(&session.baseline, &lat),
    );
    let max_of = |a: &[f64], b: &[f64]| a.iter().chain(b).fold(1e-9f64, |m, &v| m.max(v.abs()));
    let pf_max = max_of(&pf_now, &pf_base);
    let lat_max = max_of(&lat_now, &lat_base);
    let line = |vals: &[f64], max: f64, color: Color32, width: f32| {
        let n = vals.len().max(2);
        let pts: Vec<Pos2> = vals
            .iter()
            .enumerate()
            .map(|(i, v)| {
                Pos2::new(
                    r.left() + r.width() * i as f32 / (n - 1) as f32,
                    r.bottom() - r.height() * (v / max).max(0.0) as f32 * 0.95,
                )
            })
            .collect();
        painter.add(egui::Shape::line(pts, Stroke::new(width, color)));
    };
    line(
        &pf_base,
        pf_max,
        Color32::from_rgba_unmultiplied(90, 140, 255, 90),
        1.0,
    );
    line(
        &lat_base,
        lat_max,
        Color32::from_rgba_unmultiplied(255, 90, 90, 90),
        1.0,
    );
    line(&pf_now, pf_max, Color32::from_rgb(90, 140, 255), 2.0);
    line(&lat_now, lat_max, Color32::from_rgb(255, 90, 90), 2.0);
    let n = pf_now.len().max(2);
    let x = r.left() + r.width() * current as f32 / (n - 1) as f32;
    painter.line_segment(
        [Pos2::new(x, r.top()), Pos2::new(x, r.bottom())],
        Stroke::new(1.5, Color32::WHITE),
    );
    let font = egui::FontId::proportional(11.0);
    painter.text(
        r.left_top() + egui::vec2(4.0, 2.0),
        Align2::LEFT_TOP,
        format!("PF force (top = {pf_max:.1} BW)"),
        font.clone(),
        Color32::from_rgb(90, 140, 255),
    );
    painter.text(
        r.right_top() + egui::vec2(-4.0, 2.0),
        Align2::RIGHT_TOP,
        format!("lateral force (top = {lat_max:.0} N)"),
        font.clone(),
        Color32::from_rgb(255, 90, 90),
    );
    painter.text(
        r.left_bottom() + egui::vec2(4.0, -2.0),
        Align2::LEFT_BOTTOM,
        "faint: baseline",
        font,
        Color32::GRAY,
    );
}

/// Writes the current settings as a scenario file next to the loaded one; returns what
/// happened (for the status line).
fn save(session: &Session, live: &Live) -> String {
    let dir = session.path.parent().unwrap_or(std::path::Path::new("."));
    let stem = session
        .path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("scenario");
    let mut spec = live.spec.clone();
    for (s, v) in SLIDERS.iter().zip(&live.values) {
        super::live::set(&mut spec, s.key, *v);
    }
    for k in 1..1000 {
        let name = format!("{stem}_view{k}");
        let path = dir.join(format!("{name}.toml"));
        if path.exists() {
            continue;
        }
        spec.scenario.name = Some(name);
        spec.output.dir = None;
        let text = match toml::to_string(&spec) {
            Ok(t) => format!(
                "# Saved from the kneetrack viewer (settings of {}).\n{t}",
                session.path.display()
            ),
            Err(e) => return format!("could not save: {e}"),
        };
        return match std::fs::write(&path, text) {
            Ok(()) => format!("saved {}", path.display()),
            Err(e) => format!("could not save {}: {e}", path.display()),
        };
    }
    "could not save: too many saved files".into()
}
