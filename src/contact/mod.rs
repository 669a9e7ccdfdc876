//! Patellofemoral contact: elastic-foundation pressure laws and the per-element kernels
//! (full, and warm with motion bounds — identical results).

pub mod elastic_foundation;
mod jacobian_lanes;
pub mod law;
pub mod motion_bound;

pub use elastic_foundation::{
    elastic_foundation, elastic_foundation_in, ContactResult, ContactScratch,
};
pub use law::ContactLaw;
pub use motion_bound::{elastic_foundation_warm, ContactCache};
