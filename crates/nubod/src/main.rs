//! `nubod`, the Nubo core daemon: reads its settings, opens the store, starts the core and
//! serves the front ends until SIGTERM or Ctrl-C.

mod app_routes;
mod config;
mod first_start;
mod host_key;
mod local_host;
mod local_network;
mod local_stack;
mod metrics;

use anyhow::Context;
use clap::Parser;

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
    let mut settings = config::Settings::resolve(&args)?;
    match nubo_listener::raise_fd_limit() {
        Ok(n) => tracing::debug!(open_files = n, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
    settings.runtime.host_key = host_key::load_or_create(&settings.data_dir)?;
    if let Some(config::Command::HostSecret { name }) = &args.command {
        println!("{}", settings.runtime.host_key.secret_of(name));
        return Ok(());
    }
    run(settings).await.context("nubod stopped on an error")
}

async fn run(settings: config::Settings) -> anyhow::Result<()> {
    let store = nubo_store::Store::open(&settings.database)
        .await
        .context("cannot open the database")?;
    let datastore_base = settings.data_dir.join("datastores");
    let metrics = nubo_metrics::Metrics::new();
    let mut runtime = settings.runtime.clone();
    runtime.placement_observer = {
        let metrics = metrics.clone();
        nubo_core::PlacementObserver::new(move |waited| metrics.observe_placement(waited))
    };
    let core_config = nubo_core::CoreConfig {
        bootstrap: nubo_core::BootstrapConfig {
            admin_password: std::env::var("NUBO_ADMIN_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty()),
        },
        datastore_base: datastore_base.clone(),
        private_dirs: vec![settings.data_dir.clone()],
        images: settings.images.clone(),
        runtime,
        restricted: settings.restricted.clone(),
    };
    nubo_hostapi::tls::trust(&settings.ca_files).context("cannot set up TLS")?;
    let host_api_tls = match &settings.host_api_tls {
        Some((cert, key)) => Some(
            nubo_hostapi::tls::server_config(cert, key)
                .context("cannot set up TLS for the host agents' API")?,
        ),
        None => None,
    };
    let (core, outcome) = nubo_core::Core::open(store.clone(), core_config)
        .await
        .context("cannot start the core")?;
    let paas = nubo_paas::Paas::open(core.clone(), store, settings.paas.clone())
        .await
        .context("cannot start the PaaS")?;
    first_start::finish(&outcome, &datastore_base, &settings.data_dir)?;
    let listener = tokio::net::TcpListener::bind(&settings.xmlrpc)
        .await
        .with_context(|| format!("cannot listen on {}", settings.xmlrpc))?;
    let hosts_listener = tokio::net::TcpListener::bind(&settings.host_api)
        .await
        .with_context(|| format!("cannot listen on {}", settings.host_api))?;
    tracing::info!(
        xmlrpc = %listener.local_addr()?,
        host_api = %hosts_listener.local_addr()?,
        backend = core.backend_name(),
        data_dir = %settings.data_dir.display(),
        "nubod is serving"
    );
    let endpoint = match &settings.xmlrpc_endpoint {
        Some(url) => url.clone(),
        None => config::served_endpoint(listener.local_addr()?),
    };
    core.set_zone_endpoint(&endpoint)
        .await
        .context("cannot record zone 0's endpoint")?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
        stop_deadline();
    });
    let local_hosts = match &settings.local_host {
        Some(local) => {
            let url = local_agents_url(&settings, hosts_listener.local_addr()?);
            Some(
                local_host::start(&core, local, &settings.data_dir, &url, stop_rx.clone())
                    .await
                    .context("cannot set up the local host")?,
            )
            .inspect(|_| local_stack::register_when_ready(core.clone(), paas.clone()))
        }
        None => None,
    };
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let hosts = tokio::spawn(nubo_listener::serve(
        hosts_listener,
        host_api_tls,
        nubo_frontend_hosts::router(core.clone(), settings.host_api_bodies.clone()),
        settings.limits.clone(),
        stopped(stop_rx.clone()),
    ));
    let ec2 = match settings.ec2.clone() {
        Some((listen, config)) => {
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("cannot listen on {listen} for the EC2 API"))?;
            tracing::info!(ec2 = %listener.local_addr()?, region = %config.region, "serving the EC2 API");
            Some(tokio::spawn(nubo_listener::serve(
                listener,
                None,
                metrics.instrument(
                    nubo_frontend_ec2::router(core.clone(), config),
                    nubo_metrics::Interface::Ec2,
                ),
                settings.limits.clone(),
                stopped(stop_rx.clone()),
            )))
        }
        None => None,
    };
    let api = match settings.api.clone() {
        Some(listen) => {
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("cannot listen on {listen} for the REST API"))?;
            tracing::info!(api = %listener.local_addr()?, "serving the REST API");
            Some(tokio::spawn(nubo_listener::serve(
                listener,
                None,
                metrics
                    .instrument(
                        nubo_frontend_rest::router(paas.clone()),
                        nubo_metrics::Interface::Rest,
                    )
                    .merge(metrics.instrument(
                        nubo_frontend_camp::router(paas.clone()),
                        nubo_metrics::Interface::Camp,
                    ))
                    .merge(metrics::router(
                        metrics.clone(),
                        paas.clone(),
                        settings.metrics_token.clone(),
                    )),
                settings.limits.clone(),
                stopped(stop_rx.clone()),
            )))
        }
        None => None,
    };
    let router = match settings.router.clone() {
        Some(config::RouterSettings {
            listen,
            domain,
            tls,
        }) => {
            let tls = match &tls {
                Some((cert, key)) => Some(
                    nubo_hostapi::tls::server_config(cert, key)
                        .context("cannot set up TLS for the router")?,
                ),
                None => None,
            };
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("cannot listen on {listen} for the router"))?;
            tracing::info!(router = %listener.local_addr()?, domain, https = tls.is_some(), "serving the apps' router");
            let routes =
                std::sync::Arc::new(app_routes::AppRoutes::new(paas.clone(), metrics.clone()));
            let router_config = nubo_router::RouterConfig {
                scheme: if tls.is_some() { "https" } else { "http" },
                ..nubo_router::RouterConfig::default()
            };
            Some(tokio::spawn(nubo_listener::serve(
                listener,
                tls,
                nubo_router::router(routes, router_config, |ext| {
                    ext.get::<nubo_listener::Peer>().map(|p| p.0)
                }),
                settings.limits.clone(),
                stopped(stop_rx.clone()),
            )))
        }
        None => None,
    };
    nubo_listener::serve(
        listener,
        None,
        metrics.instrument(
            nubo_frontend_xmlrpc::router(core.clone(), settings.xmlrpc_bodies.clone()),
            nubo_metrics::Interface::Xmlrpc,
        ),
        settings.limits.clone(),
        stopped(stop_rx),
    )
    .await
    .context("the XML-RPC server failed")?;
    for (name, server) in [("EC2", ec2), ("REST", api), ("router", router)] {
        let Some(server) = server else { continue };
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "the {name} server failed"),
            Err(e) => tracing::error!(error = %e, "the {name} server panicked"),
        }
    }
    match hosts.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "the host agents' server failed"),
        Err(e) => tracing::error!(error = %e, "the host agents' server panicked"),
    }
    if let Some(local) = local_hosts {
        local.stopped().await;
    }
    core.close().await;
    tracing::info!("nubod stopped");
    Ok(())
}

/// nubod's host API as the local hosts' agents reach it: the bound port on the loopback
/// address (or the bound address), or `[hosts] url` when it serves TLS (whose certificate
/// names that address).
fn local_agents_url(settings: &config::Settings, bound: std::net::SocketAddr) -> String {
    if settings.host_api_tls.is_some()
        && let Some(url) = &settings.runtime.host_api_url
    {
        return url.clone();
    }
    let ip = match bound.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", std::net::SocketAddr::new(ip, bound.port()))
}

/// How long nubod may take to stop once told to.
const STOP_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// Ends the process if stopping takes longer than [`STOP_DEADLINE`] (a request that will
/// not finish, say): everything acknowledged is already committed, so nothing is lost.
fn stop_deadline() {
    std::thread::spawn(|| {
        std::thread::sleep(STOP_DEADLINE);
        tracing::error!(
            "nubod did not stop within {} s; exiting",
            STOP_DEADLINE.as_secs()
        );
        std::process::exit(1);
    });
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
