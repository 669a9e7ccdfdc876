//! Patellofemoral contact: elastic-foundation pressure laws and the per-element kernel.

pub mod elastic_foundation;
pub mod law;

pub use elastic_foundation::{elastic_foundation, ContactResult};
pub use law::ContactLaw;
