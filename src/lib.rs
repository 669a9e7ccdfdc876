//! kneetrack — a knee-tracking biomechanics simulator.
//!
//! A rigid-body model of femur, tibia and patella with quadriceps heads, patellar
//! ligaments and the IT band; every frame solves the patella's 6-DOF equilibrium against
//! an elastic-foundation patellofemoral contact and reports force, pressure and tracking.
//!
//! Data flow: scenario TOML → [`scenario::load`] (serde spec) → [`scenario::compile()`]
//! (validated [`Model`] + run plan) → [`experiment`] drivers calling [`step::step`] per
//! frame → [`output`] writers. Units inside: mm, N, MPa, s, rad.

#![warn(missing_docs)]

pub mod anatomy;
pub mod contact;
pub mod dynamics;
pub mod gait;
pub mod geometry;
pub mod input;
pub mod math;
pub mod mesh;
pub mod model;
pub mod osim;
pub mod params;
pub mod step;
pub mod tissues;

pub use model::{Data, Model};
pub use params::ModelParams;
pub use step::{step, FrameInput, FrameResult, KneeAngles, QuadLoad};
pub mod experiment;
pub mod output;
pub mod scenario;
pub mod sweep;
pub mod validation;
#[cfg(feature = "viewer")]
pub mod viewer;
