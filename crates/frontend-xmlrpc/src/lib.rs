//! OpenNebula-compatible XML-RPC front end: `POST /RPC2` calls mapped onto Nubo's core, and
//! objects rendered as OpenNebula's XML. It translates; the core decides.

mod handlers;
mod params;
pub mod render;
mod reply;
mod server;
pub mod xml;

#[cfg(test)]
mod fuzz_tests;

pub use server::{DEFAULT_BODY_LIMIT, router};
