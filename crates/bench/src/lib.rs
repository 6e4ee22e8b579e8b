//! What the benchmark binaries share: a nubod started in a temporary directory.

pub mod nubod;
