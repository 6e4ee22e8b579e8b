//! `nubo-router`: serves the apps' router (the one `nubod --router` runs inside) as its
//! own process, with routes polled from nubod's REST API. Served by `nubo_listener::serve`
//! with the same connection limits and timeouts as nubod's listeners; SIGTERM or SIGINT
//! stops it (requests in progress finish, queued log lines are sent).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use nubo_router_agent::api::ApiClient;
use nubo_router_agent::remote::{Poller, RemoteRoutes};
use nubo_router_agent::shipper::{LogQueue, Shipper};

/// Nubo's HTTP router for apps, run apart from nubod.
#[derive(Debug, Parser)]
#[command(name = "nubo-router", version)]
struct Args {
    /// Where to serve the apps.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    /// nubod's REST API, e.g. http://127.0.0.1:8080/api/v1.
    #[arg(long, env = "NUBO_API")]
    api: String,
    /// A file holding `user:password` of a member of the oneadmin group (default:
    /// $ONE_AUTH, else ~/.one/one_auth).
    #[arg(long)]
    auth: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM)…
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// …and this key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Certificate authorities (PEM) to trust for an https:// API, besides the system's.
    #[arg(long)]
    ca: Vec<PathBuf>,
    /// How often the route table is polled, in milliseconds (10 to 60000).
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    refresh_ms: u64,
    /// Log filter when RUST_LOG is not set.
    #[arg(long, default_value = "info")]
    log_level: String,
}

/// The longest credentials file read.
const AUTH_MAX: u64 = 64 * 1024;

/// `user:password` from `path`, else `$ONE_AUTH`, else `~/.one/one_auth` (the first line).
fn credentials(path: Option<&Path>) -> anyhow::Result<(String, String)> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => match std::env::var_os("ONE_AUTH") {
            Some(p) => PathBuf::from(p),
            None => dirs::home_dir()
                .context("no --auth, no ONE_AUTH and no home directory")?
                .join(".one/one_auth"),
        },
    };
    let file = std::fs::File::open(&path)
        .with_context(|| format!("cannot read the credentials in {}", path.display()))?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, AUTH_MAX), &mut text)
        .with_context(|| format!("cannot read the credentials in {}", path.display()))?;
    let line = text.lines().next().unwrap_or_default().trim();
    match line.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok((user.to_owned(), password.to_owned())),
        _ => bail!("{} does not hold user:password", path.display()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&args.log_level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(e) = nubo_listener::raise_fd_limit() {
        tracing::warn!(error = %e, "cannot raise the open files limit");
    }
    nubo_hostapi::tls::trust(&args.ca).context("cannot set up TLS to the API")?;
    let (user, password) = credentials(args.auth.as_deref())?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(nubo_hostapi::tls::server_config(cert, key).context("cannot set up TLS")?)
        }
        _ => None,
    };

    let (queue, lines) = LogQueue::new();
    let routes = Arc::new(RemoteRoutes::new(queue.clone()));
    let mut poller = Poller::new(ApiClient::new(&args.api, &user, &password)?, routes.clone());
    // The first table before serving, so that apps are not answered 404 meanwhile;
    // refused credentials end here, anything else is tried again while serving.
    match poller.poll().await {
        Err(e) if e.is_refusal() => {
            bail!(
                "the API refuses the credentials of {user} (the oneadmin group's are needed): {e}"
            )
        }
        _ => {}
    }
    let shipper = Shipper::new(ApiClient::new(&args.api, &user, &password)?, queue, lines);

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(listen = %listener.local_addr()?, api = %args.api, https = tls.is_some(), "serving the apps' router");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let polling = tokio::spawn(poller.run(Duration::from_millis(args.refresh_ms), stop_rx.clone()));
    let shipping = tokio::spawn(shipper.run(stop_rx.clone()));
    let config = nubo_router::RouterConfig {
        scheme: if tls.is_some() { "https" } else { "http" },
        ..nubo_router::RouterConfig::default()
    };
    let router = nubo_router::router(routes, config, |ext| {
        ext.get::<nubo_listener::Peer>().map(|p| p.0)
    });
    tokio::spawn(async move {
        signalled().await;
        tracing::info!("stopping");
        let _ = stop_tx.send(true);
    });
    let mut stopped = stop_rx;
    nubo_listener::serve(
        listener,
        tls,
        router,
        nubo_listener::Limits::default(),
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        },
    )
    .await
    .context("the router failed")?;
    let _ = polling.await;
    let _ = shipping.await;
    tracing::info!("nubo-router stopped");
    Ok(())
}

/// SIGTERM or SIGINT.
async fn signalled() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot catch SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
