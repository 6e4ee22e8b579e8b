//! `nubo-hostd`, the agent on every hypervisor host: serves nubod's signed requests with
//! the host's driver (QEMU, containers on runc, or simulated guests) until SIGTERM or Ctrl-C. Guests outlive the
//! agent; a restarted agent finds them again in its state directory.

mod config;
mod image_cache;
mod reporting;
mod server;
mod transfer;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use nubo_driver::Hypervisor;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = config::Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&args.log_level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let settings = config::Settings::resolve(&args)?;
    match nubo_listener::raise_fd_limit() {
        Ok(n) => tracing::debug!(open_files = n, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    nubo_hostapi::tls::trust(&settings.ca_files).context("cannot set up TLS")?;
    let tls = match &settings.tls {
        Some((cert, key)) => {
            Some(nubo_hostapi::tls::server_config(cert, key).context("cannot set up TLS")?)
        }
        None => None,
    };
    let mut transfers = None;
    let mut guest_ended = None;
    let driver: Arc<dyn Hypervisor> = match &settings.driver {
        config::DriverKind::Kvm(k) => {
            let mut k = k.clone();
            std::fs::create_dir_all(&k.state_dir)
                .with_context(|| format!("cannot create {}", k.state_dir.display()))?;
            // Absolute, because overlays name their base image by path.
            k.state_dir = std::fs::canonicalize(&k.state_dir)
                .with_context(|| format!("cannot resolve {}", k.state_dir.display()))?;
            let images = image_cache::ImageCache::new(
                &k.state_dir,
                nubo_hostapi::images::HostIdentity {
                    name: settings.name.clone(),
                    secret: settings.secret.clone(),
                },
            );
            let t = transfer::Transfers {
                name: settings.name.clone(),
                secret: settings.secret.clone(),
                address: settings.peer_address(&k),
                state_dir: k.state_dir.clone(),
            };
            let kvm = nubo_driver_kvm::KvmDriver::new(k, Arc::new(images));
            kvm.set_transport(Arc::new(t.clone()));
            transfers = Some(t);
            let (accel, reason) = kvm.accel().await;
            tracing::info!(accel = accel.name(), %reason, "acceleration chosen");
            Arc::new(kvm)
        }
        config::DriverKind::Lxc(l) => {
            let mut l = l.clone();
            std::fs::create_dir_all(&l.state_dir)
                .with_context(|| format!("cannot create {}", l.state_dir.display()))?;
            l.state_dir = std::fs::canonicalize(&l.state_dir)
                .with_context(|| format!("cannot resolve {}", l.state_dir.display()))?;
            let images = image_cache::ImageCache::new(
                &l.state_dir,
                nubo_hostapi::images::HostIdentity {
                    name: settings.name.clone(),
                    secret: settings.secret.clone(),
                },
            );
            let runtime = nubo_driver_lxc::runtime::OciCli::new(
                l.runtime.clone(),
                l.state_dir.join("runtime"),
            );
            tracing::info!(runtime = %l.runtime, "containers run with an OCI runtime");
            let t = transfer::Transfers {
                name: settings.name.clone(),
                secret: settings.secret.clone(),
                address: settings.peer_address_on(&settings.listen_host()),
                state_dir: l.state_dir.clone(),
            };
            let lxc = nubo_driver_lxc::LxcDriver::new(l, Arc::new(runtime), Arc::new(images));
            lxc.set_transport(Arc::new(t.clone()));
            transfers = Some(t);
            guest_ended = Some(lxc.init_ends());
            Arc::new(lxc)
        }
        config::DriverKind::Sim => Arc::new(
            nubo_driver_sim::SimFleet::new(Duration::from_millis(100)).host(&settings.name),
        ),
    };
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    tracing::info!(name = %settings.name, listen = %listener.local_addr()?, "nubo-hostd is serving");
    if let Some(front) = settings.nubod.clone() {
        tokio::spawn(reporting::run(
            driver.clone(),
            nubo_hostapi::images::HostIdentity {
                name: settings.name.clone(),
                secret: settings.secret.clone(),
            },
            front,
            settings.advertise.clone(),
            settings.push_every,
            guest_ended,
        ));
    }
    let app = server::router(server::Agent {
        bodies: nubo_listener::BodyRules::new(server::BODY_LIMIT),
        name: settings.name.clone(),
        secret: settings.secret.clone(),
        driver,
        transfers,
    });
    let limits = nubo_listener::Limits::default();
    nubo_listener::serve(listener, tls, app, limits, shutdown_signal())
        .await
        .context("the agent's server failed")?;
    tracing::info!("nubo-hostd stopped; guests keep running");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}
