//! Tenant-owned user content: fitness configurations (chat and recipes to
//! come). Reached only through `db.tenant(t)`.

pub mod fitness_configs;

pub use fitness_configs::{FitnessConfigs, FitnessConfiguration};
