//! OpenNebula-compatible XML-RPC front end: `POST /RPC2` calls mapped onto Nubo's core, and
//! objects rendered as OpenNebula's XML. It translates; the core decides.

mod handlers;
mod params;
pub mod render;
mod reply;
mod server;
pub mod xml;

pub use server::{DEFAULT_BODY_LIMIT, router};

/// Serves the XML-RPC API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    core: nubo_core::Core,
    body_limit: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(core, body_limit))
        .with_graceful_shutdown(shutdown)
        .await
}
