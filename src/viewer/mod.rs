//! `kneetrack view`: an interactive 3D viewer (cargo feature `viewer`), a Bevy plugin that
//! consumes recordings made by the CLI's own drivers ([`crate::experiment::record`]) and
//! re-solves the cycle with the same `step` when a factor slider moves. It has no physics
//! of its own: every number it shows comes from the library.
//!
//! * [`scene`]: femur, tibia and patella meshes from the solver's geometry, tissue lines,
//!   force arrows, posed frame by frame (femur frame mm → Bevy units in one root transform).
//! * [`ui`]: egui windows — factor sliders, playback and timeline with the force plot,
//!   metric readout beside the baseline, pressure legend and 2D pressure map, tissue legend,
//!   camera presets, save-as-scenario.
//! * [`live`]: the re-solve worker thread and the headless screenshot path.
//! * [`camera`]: orbit / pan / zoom and the front, lateral and axial ("sunrise") presets.

mod camera;
mod live;
mod scene;
mod ui;

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::render::RenderPlugin;
use bevy::window::WindowResolution;
use bevy_egui::EguiPlugin;

use crate::experiment::record::{record, Recording};
use crate::scenario::{self, Compiled};

/// How the viewer was started.
#[derive(Debug, Clone)]
pub struct ViewOptions {
    /// Headless check: render one frame, write this PNG, exit.
    pub screenshot: Option<PathBuf>,
    /// Where in the cycle (0…1) to open / take the screenshot.
    pub at: Option<f64>,
    /// Slider values to apply at start (`key`, value): they go through the live re-solve,
    /// exactly as if the slider had been moved (the screenshot waits for the answer).
    pub set: Vec<(String, f64)>,
}

/// The scenario and its recordings: the one being shown and the baseline (as loaded).
#[derive(Resource)]
pub(crate) struct Session {
    /// The scenario file.
    pub path: PathBuf,
    /// The scenario as loaded.
    pub base: Compiled,
    /// The baseline recording (as loaded) for the readout and the faint plot curves.
    pub baseline: Recording,
    /// What is shown now (the baseline until a slider moves).
    pub current: Recording,
    /// The compiled scenario of `current`.
    pub current_compiled: Compiled,
    /// Whether the scene must be rebuilt (a slider changed the geometry).
    pub geometry_changed: bool,
}

/// Playback state.
#[derive(Resource, Debug, Clone)]
pub(crate) struct Playback {
    /// Current frame (fractional while playing).
    pub frame: f32,
    pub playing: bool,
    /// Frames per second at speed 1.
    pub fps: f32,
    pub speed: f32,
}

/// Runs the viewer on a scenario file. Blocks until the window closes (or the screenshot is
/// written).
pub fn view(path: PathBuf, opts: ViewOptions) -> Result<(), String> {
    for (key, _) in &opts.set {
        if !live::SLIDERS.iter().any(|s| s.key == key) {
            return Err(format!(
                "--set {key}: not a viewer slider; one of: {}",
                live::SLIDERS
                    .iter()
                    .map(|s| s.key)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let base = scenario::compile::load_and_compile(&path).map_err(|e| e.to_string())?;
    let baseline = record(&base).map_err(|e| format!("{}: {e}", path.display()))?;
    let frames = baseline.frames.len().max(1);
    let start = opts
        .at
        .map(|a| (a.clamp(0.0, 1.0) * (frames - 1) as f64).round() as f32)
        .unwrap_or(0.0);
    let title = format!("kneetrack — {}", base.name);
    let headless = opts.screenshot.is_some();
    let session = Session {
        path,
        current: baseline.clone(),
        current_compiled: base.clone(),
        base,
        baseline,
        geometry_changed: false,
    };
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title,
                    resolution: WindowResolution::new(1400, 860),
                    ..default()
                }),
                ..default()
            })
            .set(RenderPlugin {
                // The screenshot must not catch pipelines still compiling (black frame).
                synchronous_pipeline_compilation: headless,
                ..default()
            }),
    )
    .add_plugins(EguiPlugin::default())
    .insert_resource(ClearColor(Color::srgb(0.11, 0.12, 0.14)))
    .insert_resource(session)
    .insert_resource(Playback {
        frame: start,
        playing: !headless && opts.at.is_none(),
        fps: 30.0,
        speed: 1.0,
    })
    .add_plugins(ViewerPlugin {
        screenshot: opts.screenshot,
        set: opts.set,
    });
    app.run();
    Ok(())
}

/// The viewer: scene, camera, UI, live re-solve and the optional screenshot.
pub struct ViewerPlugin {
    /// Headless check: write this PNG and exit.
    pub screenshot: Option<PathBuf>,
    /// Slider values to apply at start.
    pub set: Vec<(String, f64)>,
}

impl Plugin for ViewerPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins((
            scene::ScenePlugin,
            camera::CameraPlugin,
            ui::UiPlugin,
            live::LivePlugin {
                screenshot: self.screenshot.clone(),
                set: self.set.clone(),
            },
        ));
    }
}
