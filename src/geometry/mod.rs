//! Parametric geometry of the patellofemoral joint: the femoral articular surface with its
//! analytic distance, and the meshed patella articular surface.

pub mod femur;
pub mod patella;

pub use femur::{FemoralSurface, SurfaceDistance, TrochleaError};
pub use patella::PatellaMesh;
