//! Orbit camera: left-drag orbits, right- or middle-drag pans, the wheel zooms; presets
//! for the front, lateral and axial ("sunrise", from distal-anterior) views. Mouse input
//! over the egui windows is left to them.

use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll};
use bevy::prelude::*;
use bevy_egui::input::EguiWantsInput;

use super::scene::{root_transform, to_vec3};
use super::Session;

pub struct CameraPlugin;

impl Plugin for CameraPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, spawn_camera)
            .add_systems(Update, (orbit_input, apply_orbit).chain());
    }
}

/// Camera presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Front,
    Lateral,
    Sunrise,
}

/// Orbit state: the camera looks at `target` from `distance` at `yaw`/`pitch` (radians).
#[derive(Resource, Debug, Clone)]
pub struct Orbit {
    pub target: Vec3,
    pub yaw: f32,
    pub pitch: f32,
    pub distance: f32,
    /// +1 right knee, −1 left knee (where "lateral" is).
    pub lat: f32,
}

impl Orbit {
    /// Moves to a preset.
    pub fn preset(&mut self, p: Preset) {
        let (yaw, pitch, distance) = match p {
            Preset::Front => (0.35 * self.lat, 0.15, 1.9),
            // The lateral side of a right knee is scene −X.
            Preset::Lateral => (-std::f32::consts::FRAC_PI_2 * self.lat, 0.1, 2.4),
            // Axial view up the femur from distal-anterior, as the radiographic sunrise view.
            Preset::Sunrise => (0.0, -1.05, 2.2),
        };
        (self.yaw, self.pitch, self.distance) = (yaw, pitch, distance);
    }

    fn transform(&self) -> Transform {
        let dir = Vec3::new(
            self.pitch.cos() * self.yaw.sin(),
            self.pitch.sin(),
            self.pitch.cos() * self.yaw.cos(),
        );
        Transform::from_translation(self.target + dir * self.distance)
            .looking_at(self.target, Vec3::Y)
    }
}

/// The knee's focus: the patella's mean position over the recording, in the scene.
fn focus(session: &Session) -> Vec3 {
    let f = &session.current.frames;
    if f.is_empty() {
        return Vec3::ZERO;
    }
    let mean = f
        .iter()
        .map(|fr| to_vec3(&fr.result.femur_from_patella.translation.vector))
        .sum::<Vec3>()
        / f.len() as f32;
    root_transform().transform_point(mean)
}

fn spawn_camera(mut commands: Commands, session: Res<Session>) {
    let mut orbit = Orbit {
        target: focus(&session),
        yaw: 0.0,
        pitch: 0.0,
        distance: 2.6,
        lat: session.base.model.lat as f32,
    };
    orbit.preset(Preset::Front);
    // No tone mapping: the unlit pressure colours must show the legend's colours exactly.
    commands.spawn((Camera3d::default(), Tonemapping::None, orbit.transform()));
    commands.insert_resource(orbit);
}

fn orbit_input(
    mut orbit: ResMut<Orbit>,
    buttons: Res<ButtonInput<MouseButton>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    egui: Option<Res<EguiWantsInput>>,
) {
    if egui.is_some_and(|e| e.wants_any_pointer_input()) {
        return;
    }
    let d = motion.delta;
    if buttons.pressed(MouseButton::Left) {
        orbit.yaw -= d.x * 0.006;
        orbit.pitch = (orbit.pitch + d.y * 0.006).clamp(-1.5, 1.5);
    } else if buttons.pressed(MouseButton::Right) || buttons.pressed(MouseButton::Middle) {
        let t = orbit.transform();
        let k = 0.0015 * orbit.distance;
        orbit.target += (-t.right() * d.x + t.up() * d.y) * k;
    }
    if scroll.delta.y != 0.0 {
        orbit.distance = (orbit.distance * (1.0 - 0.1 * scroll.delta.y.signum())).clamp(0.4, 12.0);
    }
}

fn apply_orbit(orbit: Res<Orbit>, mut cams: Query<&mut Transform, With<Camera3d>>) {
    if !orbit.is_changed() {
        return;
    }
    for mut t in &mut cams {
        *t = orbit.transform();
    }
}
