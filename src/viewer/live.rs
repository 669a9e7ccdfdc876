//! Live exploration and the headless check.
//!
//! A slider change marks the factors dirty; after [`DEBOUNCE_S`] without another change a
//! worker thread compiles the scenario with the new values (every range check applies) on
//! the knee geometries and data files it keeps for the session (as a sweep's variants share
//! them: only the trochlear sliders change the geometry, each distinct one built once) and
//! records the cycle with the CLI's drivers — the render thread never waits. A stale
//! answer (superseded by a newer request) is dropped. The screenshot path renders one
//! frame, writes the PNG, prints where the patella is on screen, and exits.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bevy::prelude::*;
use bevy::render::view::screenshot::{save_to_disk, Screenshot, ScreenshotCaptured};

use super::scene::{root_transform, to_vec3};
use super::{Playback, Session};
use crate::experiment::record::{record, Recording};
use crate::scenario::{self, Compiled, ScenarioSpec};

/// Quiet time after the last slider change before a re-solve starts, s.
pub const DEBOUNCE_S: f64 = 0.12;

/// A factor slider: scenario key, label, range, unit, and whether it applies to gait only.
pub struct Slider {
    pub key: &'static str,
    pub label: &'static str,
    pub min: f64,
    pub max: f64,
    pub unit: &'static str,
    pub gait_only: bool,
}

/// The main factors (ranges inside the scenario file's allowed ranges).
pub const SLIDERS: &[Slider] = &[
    Slider {
        key: "subject.q_angle_deg",
        label: "Q-angle",
        min: 0.0,
        max: 30.0,
        unit: "°",
        gait_only: false,
    },
    Slider {
        key: "subject.tt_tg_mm",
        label: "TT-TG",
        min: 0.0,
        max: 30.0,
        unit: "mm",
        gait_only: false,
    },
    Slider {
        key: "muscles.vmo",
        label: "VMO strength",
        min: 0.0,
        max: 1.5,
        unit: "×",
        gait_only: false,
    },
    Slider {
        key: "muscles.glute_med",
        label: "Gluteus medius strength",
        min: 0.0,
        max: 1.5,
        unit: "×",
        gait_only: true,
    },
    Slider {
        key: "itb.tension_n",
        label: "IT-band tension",
        min: 0.0,
        max: 300.0,
        unit: "N",
        gait_only: false,
    },
    Slider {
        key: "gait.step_rate_change_pct",
        label: "Step rate change",
        min: -20.0,
        max: 20.0,
        unit: "%",
        gait_only: true,
    },
    Slider {
        key: "subject.insall_salvati",
        label: "Insall–Salvati",
        min: 0.7,
        max: 1.6,
        unit: "",
        gait_only: false,
    },
    Slider {
        key: "subject.sulcus_angle_deg",
        label: "Sulcus angle",
        min: 125.0,
        max: 165.0,
        unit: "°",
        gait_only: false,
    },
    Slider {
        key: "subject.trochlear_depth_mm",
        label: "Trochlear depth",
        min: 1.0,
        max: 7.0,
        unit: "mm",
        gait_only: false,
    },
    Slider {
        key: "foot.pronation_deg",
        label: "Foot pronation",
        min: 0.0,
        max: 15.0,
        unit: "°",
        gait_only: true,
    },
];

/// Reads a slider's value from a spec.
pub fn get(spec: &ScenarioSpec, key: &str) -> f64 {
    match key {
        "subject.q_angle_deg" => spec.subject.q_angle_deg,
        "subject.tt_tg_mm" => spec.subject.tt_tg_mm,
        "muscles.vmo" => spec.muscles.vmo,
        "muscles.glute_med" => spec.muscles.glute_med,
        "itb.tension_n" => spec.itb.tension_n,
        "gait.step_rate_change_pct" => spec.gait.step_rate_change_pct.unwrap_or(0.0),
        "subject.insall_salvati" => spec.subject.insall_salvati,
        "subject.sulcus_angle_deg" => spec.subject.sulcus_angle_deg,
        "subject.trochlear_depth_mm" => spec.subject.trochlear_depth_mm,
        "foot.pronation_deg" => spec.foot.pronation_deg,
        _ => f64::NAN,
    }
}

/// Writes a slider's value into a spec.
pub fn set(spec: &mut ScenarioSpec, key: &str, v: f64) {
    match key {
        "subject.q_angle_deg" => spec.subject.q_angle_deg = v,
        "subject.tt_tg_mm" => spec.subject.tt_tg_mm = v,
        "muscles.vmo" => spec.muscles.vmo = v,
        "muscles.glute_med" => spec.muscles.glute_med = v,
        "itb.tension_n" => spec.itb.tension_n = v,
        "gait.step_rate_change_pct" => {
            // A change relative to the preferred rate replaces an absolute rate.
            spec.gait.step_rate_spm = None;
            spec.gait.step_rate_change_pct = Some(v);
        }
        "subject.insall_salvati" => spec.subject.insall_salvati = v,
        "subject.sulcus_angle_deg" => spec.subject.sulcus_angle_deg = v,
        "subject.trochlear_depth_mm" => spec.subject.trochlear_depth_mm = v,
        "foot.pronation_deg" => spec.foot.pronation_deg = v,
        _ => {}
    }
}

/// The slider values and the re-solve state.
#[derive(Resource)]
pub struct Live {
    /// Current slider values, in [`SLIDERS`] order.
    pub values: Vec<f64>,
    /// The spec the sliders edit (the loaded scenario with the slider values).
    pub spec: ScenarioSpec,
    /// Time of the last slider change not yet solved.
    pub dirty_since: Option<Instant>,
    /// Newest request sent / answered.
    generation: u64,
    pub solving: bool,
    /// Wall time of the last re-solve (compile + whole cycle), ms.
    pub last_solve_ms: Option<f64>,
    /// Why the last request could not be solved.
    pub error: Option<String>,
    /// Where the last "save" went.
    pub saved: Option<String>,
    tx: Sender<Request>,
    rx: Mutex<Receiver<Answer>>,
}

struct Request {
    generation: u64,
    spec: ScenarioSpec,
    path: PathBuf,
}

type Answer = (u64, Result<(Compiled, Recording), String>, f64);

impl Live {
    /// Marks the factors changed.
    pub fn touch(&mut self) {
        self.dirty_since = Some(Instant::now());
    }
}

/// Distinct knee geometries a viewer session keeps (trochlear slider positions revisited
/// reuse theirs; a mesh knee's is its morph and patella elements, the field is shared).
const SESSION_GEOMETRIES: usize = 8;

/// Compiles and records a spec on the geometries and data files `shared` holds (the
/// worker's job; also used by tests of the viewer logic).
pub fn resolve(
    spec: &ScenarioSpec,
    path: &std::path::Path,
    shared: &scenario::Shared,
) -> Result<(Compiled, Recording), String> {
    let text = toml::to_string(spec).map_err(|e| e.to_string())?;
    let compiled =
        scenario::compile_shared(spec.clone(), path, &text, shared).map_err(|e| match e {
            scenario::ScenarioError::Range {
                key,
                value,
                min,
                max,
                unit,
                ..
            } => {
                format!("{key} = {value} is out of range: allowed {min} to {max}{unit}")
            }
            scenario::ScenarioError::Invalid { key, message, .. } => format!("{key}: {message}"),
            other => other.to_string(),
        })?;
    let rec = record(&compiled).map_err(|e| e.to_string())?;
    Ok((compiled, rec))
}

pub struct LivePlugin {
    pub screenshot: Option<PathBuf>,
    pub set: Vec<(String, f64)>,
}

/// Slider values given on the command line, applied once at start.
#[derive(Resource)]
struct InitialSet(Vec<(String, f64)>);

impl Plugin for LivePlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(InitialSet(self.set.clone()))
            .add_systems(Startup, start_worker)
            .add_systems(Update, (send_requests, receive_answers, advance_playback));
        if let Some(path) = &self.screenshot {
            app.insert_resource(ScreenshotPlan {
                path: path.clone(),
                frames: 0,
                requested: false,
                saved: Arc::new(AtomicBool::new(false)),
            })
            .add_systems(Last, take_screenshot);
        }
    }
}

fn start_worker(mut commands: Commands, session: Res<Session>, initial: Res<InitialSet>) {
    let (tx, worker_rx) = channel::<Request>();
    let (worker_tx, rx) = channel::<Answer>();
    std::thread::spawn(move || {
        // The session's knee geometries (only the trochlear sliders change one), each
        // built at its first re-solve and shared by the rest.
        let shared = scenario::Shared::new(SESSION_GEOMETRIES);
        while let Ok(mut req) = worker_rx.recv() {
            // Only the newest request matters.
            while let Ok(newer) = worker_rx.try_recv() {
                req = newer;
            }
            let started = Instant::now();
            let answer = resolve(&req.spec, &req.path, &shared);
            let ms = started.elapsed().as_secs_f64() * 1e3;
            if worker_tx.send((req.generation, answer, ms)).is_err() {
                break;
            }
        }
    });
    let spec = session.base.spec.clone();
    let mut values: Vec<f64> = SLIDERS.iter().map(|s| get(&spec, s.key)).collect();
    for (key, v) in &initial.0 {
        if let Some(i) = SLIDERS.iter().position(|s| s.key == key) {
            values[i] = *v;
        }
    }
    commands.insert_resource(Live {
        values,
        spec,
        dirty_since: (!initial.0.is_empty()).then(Instant::now),
        generation: 0,
        solving: false,
        last_solve_ms: None,
        error: None,
        saved: None,
        tx,
        rx: Mutex::new(rx),
    });
}

fn send_requests(mut live: ResMut<Live>, session: Res<Session>) {
    let Some(t) = live.dirty_since else { return };
    if t.elapsed().as_secs_f64() < DEBOUNCE_S {
        return;
    }
    live.dirty_since = None;
    let mut spec = live.spec.clone();
    for (s, v) in SLIDERS.iter().zip(live.values.clone()) {
        set(&mut spec, s.key, v);
    }
    live.spec = spec.clone();
    live.generation += 1;
    live.solving = true;
    let req = Request {
        generation: live.generation,
        spec,
        path: session.path.clone(),
    };
    let _ = live.tx.send(req);
}

fn receive_answers(
    mut live: ResMut<Live>,
    mut session: ResMut<Session>,
    mut playback: ResMut<Playback>,
) {
    let answers: Vec<Answer> = {
        let rx = live.rx.lock().expect("worker channel");
        rx.try_iter().collect()
    };
    for (generation, answer, ms) in answers {
        if generation != live.generation {
            continue;
        }
        live.solving = false;
        live.last_solve_ms = Some(ms);
        match answer {
            Ok((compiled, rec)) => {
                live.error = None;
                let n = rec.frames.len().max(1) as f32;
                playback.frame = playback.frame.min(n - 1.0);
                session.current = rec;
                session.current_compiled = compiled;
                session.geometry_changed = true;
            }
            Err(e) => live.error = Some(e),
        }
    }
}

fn advance_playback(time: Res<Time>, mut playback: ResMut<Playback>, session: Res<Session>) {
    if !playback.playing {
        return;
    }
    let n = session.current.frames.len() as f32;
    if n < 1.0 {
        return;
    }
    let step = time.delta_secs() * playback.fps * playback.speed;
    playback.frame = (playback.frame + step) % n;
}

/// The headless check's state.
#[derive(Resource)]
struct ScreenshotPlan {
    path: PathBuf,
    frames: u32,
    requested: bool,
    saved: Arc<AtomicBool>,
}

/// Frames rendered before the screenshot (the first frames of a software renderer can be
/// incomplete).
const SCREENSHOT_AFTER_FRAMES: u32 = 30;
/// Give up (exit code 1) if the PNG is not written after this many frames.
const SCREENSHOT_TIMEOUT_FRAMES: u32 = 1200;

#[allow(clippy::too_many_arguments)]
fn take_screenshot(
    mut commands: Commands,
    mut plan: ResMut<ScreenshotPlan>,
    session: Res<Session>,
    playback: Res<Playback>,
    live: Option<Res<Live>>,
    cams: Query<(&Camera, &GlobalTransform), With<Camera3d>>,
    mut exit: MessageWriter<AppExit>,
) {
    plan.frames += 1;
    if plan.saved.load(Ordering::SeqCst) {
        exit.write(AppExit::Success);
        return;
    }
    if plan.frames > SCREENSHOT_TIMEOUT_FRAMES {
        eprintln!("error: the screenshot was not written after {SCREENSHOT_TIMEOUT_FRAMES} frames");
        exit.write(AppExit::error());
        return;
    }
    if plan.requested || plan.frames < SCREENSHOT_AFTER_FRAMES {
        return;
    }
    // Wait for a pending re-solve (values given with --set).
    let Some(live) = live else { return };
    if live.solving || live.dirty_since.is_some() {
        return;
    }
    plan.requested = true;
    if let Some(e) = &live.error {
        eprintln!("error: the re-solve failed: {e}");
    }
    let (m, b) = (&session.current.metrics, &session.baseline.metrics);
    println!(
        "peak_lateral_force_n {:.1} baseline {:.1}; peak_pf_force_bw {:.3} baseline {:.3}",
        m.peak_lateral_force_n, b.peak_lateral_force_n, m.peak_pf_force_bw, b.peak_pf_force_bw
    );
    if let Some(ms) = live.last_solve_ms {
        println!("resolve_ms {ms:.1}");
    }
    // Where the patella (centre of its contact elements) is on screen, for the test.
    if let (Some((_, frame)), Ok((cam, gt))) = (
        super::scene::current_frame(&session, &playback),
        cams.single(),
    ) {
        let m = &session.current_compiled.model.patella;
        let n = m.len().max(1) as f64;
        let c = nalgebra::Point3::new(
            m.x.iter().sum::<f64>() / n,
            m.y.iter().sum::<f64>() / n,
            m.z.iter().sum::<f64>() / n,
        );
        let world = root_transform()
            .transform_point(to_vec3(&(frame.result.femur_from_patella * c).coords));
        if let Ok(px) = cam.world_to_viewport(gt, world) {
            println!("patella_px {:.0} {:.0}", px.x, px.y);
        }
    }
    let saved = plan.saved.clone();
    let path = plan.path.clone();
    commands
        .spawn(Screenshot::primary_window())
        .observe(save_to_disk(path))
        .observe(move |_: On<ScreenshotCaptured>| saved.store(true, Ordering::SeqCst));
}
