//! What the benchmark binaries share: a nubod started in a temporary directory, figures of
//! the machine, a busybox root filesystem image for containers.

pub mod busybox;
pub mod machine;
pub mod nubod;
