//! `nubo-bench-paas`: the PaaS end to end on this machine (root, runc, mke2fs, the Debian
//! stack of `scripts/build-stack.sh`). It starts a release `nubod --local-host --api
//! --router` on a fresh data directory and measures, over the REST API and through the
//! router, as a user of the PaaS would see it:
//!
//! 1. **deploy**: a small Python app without dependencies (stdlib `http.server` on `$PORT`,
//!    a `Procfile`, an empty `requirements.txt`) uploaded as a tarball to `POST
//!    /apps/{app}/builds`, until the first 200 through the router; with its parts (the
//!    build's status and log lines as they appear, the agent's log for the containers'
//!    PROLOG and DEPLOY, the instance's VM RUNNING, its port accepting connections as seen
//!    from this machine, the instance `up` in the API, the first 200). A new app per run;
//!    the first run also fetches the stack onto the host;
//! 2. **scale**: `PATCH /apps/{app}/formation` `web` 1 → N until all N are `up`, and back
//!    to 1 until the others are gone;
//! 3. **router**: requests/s and latency of one instance reached directly, through nubod's
//!    router and through an nginx of this machine proxying the same instance (run by the
//!    benchmark with a minimal configuration, on a free port), with the same load loop:
//!    one connection sending requests one after the other (latency), then several
//!    (throughput), each with keep-alive towards the server measured;
//! 4. **rollouts** (`--rollout N`): an app of its own at N `web` instances, a steady load
//!    through the router, and config changes rolled out with each `--max-in-flight`: the
//!    time to `DEPLOYED`, failed requests, latency during the rollout against just before;
//! 5. **faults** (`--detect N`): at N instances, one made dead (`/die`) or hung (`/hang`)
//!    under the load: the time until it leaves the route table, and the requests it cost;
//! 6. **autoscaling** (`--autoscale N`): a new app at 1 instance with a policy of at most N
//!    on requests per instance, then the steady load: the time until the autoscaler scales
//!    and until the instances it asked for are up.
//!
//! Prints a Markdown report for docs/benchmarks.md; progress goes to standard error. It
//! terminates every VM it made, stops nubod (which stops its agents) and nginx, and removes
//! the apps bridge and NAT table when they were not there before.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Parser;
use nubo_bench::machine::{median, meminfo_kib, ms, range};
use nubo_bench::nubod::process_cpu_seconds;
use nubo_client::Client;
use nubo_xmlrpc::Value;
use serde_json::json;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "Benchmarks the PaaS: deploy, scale and the router, on a local host")]
pub(crate) struct Args {
    /// The nubod binary (its nubo-hostd beside it).
    #[arg(long, default_value = "target/release/nubod")]
    pub(crate) nubod: PathBuf,
    /// The Debian stack (scripts/build-stack.sh).
    #[arg(long, default_value = "target/stack/debian-12.raw")]
    pub(crate) stack: PathBuf,
    /// Deploys measured (a new app each; 0: none, and no scale nor router part).
    #[arg(long, default_value_t = 5)]
    pub(crate) runs: usize,
    /// Instances of `web` to scale to (0: skip scaling).
    #[arg(long, default_value_t = 20)]
    pub(crate) scale: u32,
    /// Scale-up and -down cycles measured.
    #[arg(long, default_value_t = 2)]
    pub(crate) scale_runs: usize,
    /// Seconds of load for each target and each load (after 1 s of warm-up).
    #[arg(long, default_value_t = 5)]
    pub(crate) seconds: u64,
    /// Rounds of the router measurements (the proxies' order alternates).
    #[arg(long, default_value_t = 2)]
    pub(crate) rounds: usize,
    /// Seconds a proxy's measurement may wait for the connections to the instance left in
    /// TIME_WAIT by the one before to go (0: no wait).
    #[arg(long, default_value_t = 70)]
    pub(crate) settle: u64,
    /// Connections of the throughput load.
    #[arg(long, default_value_t = 16)]
    pub(crate) connections: usize,
    /// The nginx binary ("" to leave nginx out).
    #[arg(long, default_value = "nginx")]
    pub(crate) nginx: String,
    /// How often the deploy's progress is looked at, in ms.
    #[arg(long, default_value_t = 20)]
    pub(crate) poll_ms: u64,
    /// `web` instances of the rolling deploys of part 4 (0: skip it).
    #[arg(long, default_value_t = 0)]
    pub(crate) rollout: u32,
    /// Rolling deploys measured for each `--max-in-flight`.
    #[arg(long, default_value_t = 3)]
    pub(crate) rollout_runs: usize,
    /// The `max_in_flight` values of part 4.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 5])]
    pub(crate) max_in_flight: Vec<u32>,
    /// Seconds of load before each rolling deploy (its baseline latency), after 1 s.
    #[arg(long, default_value_t = 5)]
    pub(crate) baseline: u64,
    /// `web` instances of part 5, dead and hung instances (0: skip it).
    #[arg(long, default_value_t = 0)]
    pub(crate) detect: u32,
    /// Faults of each kind measured in part 5.
    #[arg(long, default_value_t = 3)]
    pub(crate) detect_runs: usize,
    /// Seconds of load after each fault of part 5.
    #[arg(long, default_value_t = 8)]
    pub(crate) detect_seconds: u64,
    /// The most instances of part 6's autoscaling policy (0: skip it).
    #[arg(long, default_value_t = 0)]
    pub(crate) autoscale: u32,
    /// Requests a second per instance part 6's policy keeps.
    #[arg(long, default_value_t = 50)]
    pub(crate) autoscale_target: u32,
    /// Autoscaling runs of part 6 (a new app each).
    #[arg(long, default_value_t = 3)]
    pub(crate) autoscale_runs: usize,
    /// Requests a second of the steady load of parts 4, 5 and 6 (due on a schedule).
    #[arg(long, default_value_t = 200)]
    pub(crate) load_rate: u32,
    /// Kept-alive connections of the steady load at most (each request takes a free one).
    #[arg(long, default_value_t = 256)]
    pub(crate) load_connections: usize,
}

/// The apps bridge and NAT table `--local-host` makes (docs/hosts.md).
pub(crate) const APPS_BRIDGE: &str = "nubo-apps";
pub(crate) const NAT_TABLE: &str = "nubo-local-nat";
/// The port `web` instances listen on ($PORT).
pub(crate) const WEB_PORT: u16 = 5000;
/// The router's apps domain (nubod's default).
pub(crate) const DOMAIN: &str = "apps.localhost";

/// The app: stdlib only. One write per answer (buffered `wfile`, no Nagle), keep-alive
/// (HTTP/1.1, a thread per connection), a listen backlog of 128 (socketserver's default of 5
/// drops the SYNs of a proxy's burst of new connections: 1 s retransmits), no line per
/// request on stderr.
pub(crate) const APP_PY: &str = r#"import os, socket
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

BODY = ("hello from " + socket.gethostname() + "\n").encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1
    disable_nagle_algorithm = True

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


ThreadingHTTPServer.request_queue_size = 128
ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
"#;
pub(crate) const PROCFILE: &str = "web: python3 app.py\n";

pub(crate) fn main() -> Result<()> {
    let args = Args::parse();
    if !sh("id -u").is_ok_and(|u| u.trim() == "0") {
        bail!("run as root: nubod --local-host runs containers");
    }
    let others = other_local_hosts();
    if !others.is_empty() {
        bail!(
            "another nubod --local-host runs here (pids {others:?}): they would share the apps bridge"
        );
    }
    let stack = std::fs::canonicalize(&args.stack).with_context(|| {
        format!(
            "no stack at {} (scripts/build-stack.sh)",
            args.stack.display()
        )
    })?;
    let work = tempfile::Builder::new()
        .prefix("nubo-bench-paas-")
        .tempdir()?;
    chmod_711(work.path())?;
    let machine = machine_line();
    eprintln!("machine: {machine}");
    let had = (bridge_exists(), nat_table_exists());
    let result = run(&args, work.path(), &stack);
    // The daemon is stopped by now (dropped in `run`), its VMs terminated.
    if other_local_hosts().is_empty() && !bridge_in_use() {
        if !had.1 && nat_table_exists() {
            let _ = sh(&format!("nft delete table ip {NAT_TABLE}"));
        }
        if !had.0 && bridge_exists() {
            let _ = sh(&format!("ip link del dev {APPS_BRIDGE}"));
        }
    }
    let report = result?;
    println!("Machine: {machine}; {}\n", now_utc());
    println!("| measurement | result |\n|---|---|");
    for (what, result) in &report.rows {
        println!("| {what} | {result} |");
    }
    for table in &report.tables {
        println!("\n{table}");
    }
    Ok(())
}

pub(crate) fn run(args: &Args, work: &Path, stack: &Path) -> Result<Report> {
    let daemon = Daemon::start(args, work, stack)?;
    let rest = daemon.rest();
    let mut report = Report::default();
    wait_every(Duration::from_secs(300), "the stack registered", || {
        let (status, body) = rest.get("/stacks")?;
        Ok(status == 200 && body.contains("\"debian-12\""))
    })?;
    let client = daemon.client();
    wait_every(Duration::from_secs(120), "host local-lxc MONITORED", || {
        let xml = client.call_string("one.hostpool.info", vec![])?;
        Ok(xml
            .split("<HOST>")
            .any(|h| h.contains("<NAME>local-lxc</NAME>") && h.contains("<STATE>2</STATE>")))
    })?;
    let tarball = app_tarball(work)?;

    // 1. Deploys.
    let mut runs = Vec::new();
    let mut last_app = String::new();
    for i in 1..=args.runs {
        let app = format!("bench{i}");
        if !last_app.is_empty() {
            delete_app(&rest, &client, &last_app)?;
        }
        let (status, body) = rest.send(
            "POST",
            "/apps",
            "application/json",
            json!({"name": app}).to_string().as_bytes(),
        )?;
        if status != 201 {
            bail!("POST /apps answered {status}: {body}");
        }
        let t = deploy(args, &daemon, &rest, &client, &app, &tarball)?;
        eprintln!("run {i}: {}", t.summary());
        runs.push(t);
        last_app = app;
    }
    if !runs.is_empty() {
        deploy_report(&runs, &mut report);
    }

    // 2. Scale.
    if args.scale > 1 && !last_app.is_empty() {
        for k in 1..=args.scale_runs {
            let (up, down) = scale(args, &rest, &client, &last_app, args.scale)?;
            eprintln!("scale {k}: up {up:?}, down {down:?}");
            report.scale.push((up, down));
        }
        scale_report(args.scale, &mut report);
    }

    // 3. The router.
    if !last_app.is_empty() {
        router_figures(args, work, &daemon, &rest, &last_app, &mut report)?;
    }

    // 4 and 5. Rollouts and faults, on an app of their own.
    if !last_app.is_empty() && (args.rollout > 0 || args.detect > 0 || args.autoscale > 0) {
        delete_app(&rest, &client, &last_app)?;
    }
    if args.rollout > 0 || args.detect > 0 {
        let app = rollout_app(args, &daemon, &rest, &client, work, ROLLOUT_APP)?;
        if args.rollout > 0 {
            rollouts(args, &daemon, &rest, &client, &app, &mut report)?;
        }
        if args.detect > 0 {
            detections(args, &daemon, &rest, &client, &app, &mut report)?;
        }
        delete_app(&rest, &client, &app)?;
    }

    // 6. Autoscaling, a new app each run.
    if args.autoscale > 0 {
        autoscaling(args, work, &daemon, &rest, &client, &mut report)?;
    }
    drop(daemon);
    Ok(report)
}

mod autoscale;
mod daemon;
mod deploy;
mod detect;
mod http;
mod report;
mod rollout;
mod router;
mod scale;
mod steady;
use autoscale::*;
use daemon::*;
use deploy::*;
use detect::*;
use http::*;
use report::*;
use rollout::*;
use router::*;
use scale::*;
