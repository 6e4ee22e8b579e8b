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
//!    (throughput), each with keep-alive towards the server measured.
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
struct Args {
    /// The nubod binary (its nubo-hostd beside it).
    #[arg(long, default_value = "target/release/nubod")]
    nubod: PathBuf,
    /// The Debian stack (scripts/build-stack.sh).
    #[arg(long, default_value = "target/stack/debian-12.raw")]
    stack: PathBuf,
    /// Deploys measured (a new app each).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Instances of `web` to scale to (0: skip scaling).
    #[arg(long, default_value_t = 20)]
    scale: u32,
    /// Scale-up and -down cycles measured.
    #[arg(long, default_value_t = 2)]
    scale_runs: usize,
    /// Seconds of load for each target and each load (after 1 s of warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Rounds of the router measurements (the proxies' order alternates).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Seconds a proxy's measurement may wait for the connections to the instance left in
    /// TIME_WAIT by the one before to go (0: no wait).
    #[arg(long, default_value_t = 70)]
    settle: u64,
    /// Connections of the throughput load.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// The nginx binary ("" to leave nginx out).
    #[arg(long, default_value = "nginx")]
    nginx: String,
    /// How often the deploy's progress is looked at, in ms.
    #[arg(long, default_value_t = 20)]
    poll_ms: u64,
}

/// The apps bridge and NAT table `--local-host` makes (docs/hosts.md).
const APPS_BRIDGE: &str = "nubo-apps";
const NAT_TABLE: &str = "nubo-local-nat";
/// The port `web` instances listen on ($PORT).
const WEB_PORT: u16 = 5000;
/// The router's apps domain (nubod's default).
const DOMAIN: &str = "apps.localhost";

/// The app: stdlib only. One write per answer (buffered `wfile`, no Nagle), keep-alive
/// (HTTP/1.1, a thread per connection), a listen backlog of 128 (socketserver's default of 5
/// drops the SYNs of a proxy's burst of new connections: 1 s retransmits), no line per
/// request on stderr.
const APP_PY: &str = r#"import os, socket
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
const PROCFILE: &str = "web: python3 app.py\n";

fn main() -> Result<()> {
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

fn run(args: &Args, work: &Path, stack: &Path) -> Result<Report> {
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
    for i in 1..=args.runs.max(1) {
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
    deploy_report(&runs, &mut report);

    // 2. Scale.
    if args.scale > 1 {
        for k in 1..=args.scale_runs {
            let (up, down) = scale(args, &rest, &client, &last_app, args.scale)?;
            eprintln!("scale {k}: up {up:?}, down {down:?}");
            report.scale.push((up, down));
        }
        scale_report(args.scale, &mut report);
    }

    // 3. The router.
    router_figures(args, work, &daemon, &rest, &last_app, &mut report)?;
    drop(daemon);
    Ok(report)
}

// ---------------------------------------------------------------------------------------
// The daemon.

/// nubod with `--local-host --api --router`; dropping it terminates every VM, then stops
/// nubod with SIGTERM (it stops its agents).
struct Daemon {
    child: Child,
    data: PathBuf,
    xmlrpc: String,
    api: String,
    router: SocketAddr,
    password: String,
}

impl Daemon {
    fn start(args: &Args, work: &Path, stack: &Path) -> Result<Daemon> {
        let data = work.join("data");
        let config = work.join("nubod.toml");
        // The containers' host only: no QEMU agent beside it.
        std::fs::write(&config, "[local_host]\nkvm = false\n")?;
        let (xmlrpc, host_api, api, router) =
            (free_port()?, free_port()?, free_port()?, free_port()?);
        let password = "bench-password".to_string();
        let log = std::fs::File::create(work.join("nubod.log"))?;
        let child = Command::new(&args.nubod)
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .args(["--xmlrpc", &format!("127.0.0.1:{xmlrpc}")])
            .args(["--host-api", &format!("127.0.0.1:{host_api}")])
            .args(["--api", &format!("127.0.0.1:{api}")])
            .args(["--router", &format!("127.0.0.1:{router}")])
            .arg("--local-host")
            .arg("--stack")
            .arg(stack)
            .args(["--log-level", "warn"])
            .env("NUBO_ADMIN_PASSWORD", &password)
            .env("HOME", work)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", args.nubod.display()))?;
        let daemon = Daemon {
            child,
            data,
            xmlrpc: format!("http://127.0.0.1:{xmlrpc}/RPC2"),
            api: format!("127.0.0.1:{api}"),
            router: SocketAddr::from(([127, 0, 0, 1], router)),
            password,
        };
        let client = daemon.client();
        wait_every(Duration::from_secs(60), "nubod answering", || {
            Ok(client.version().is_ok())
        })?;
        Ok(daemon)
    }

    fn client(&self) -> Client {
        Client::new(&self.xmlrpc, &format!("oneadmin:{}", self.password))
    }

    fn rest(&self) -> Rest {
        Rest {
            addr: self.api.clone(),
            auth: format!("Basic {}", base64(&format!("oneadmin:{}", self.password))),
        }
    }

    /// The local container host's agent log.
    fn agent_log(&self) -> PathBuf {
        self.data.join("local-hosts").join("local-lxc.log")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let client = self.client();
        if let Ok(ids) = pool_vms(&client) {
            for (id, _, _) in &ids {
                let _ = client.call(
                    "one.vm.action",
                    vec![Value::from("terminate-hard"), Value::Int(*id)],
                );
            }
            let _ = wait_every(Duration::from_secs(120), "every VM DONE", || {
                Ok(pool_vms(&client)?.is_empty())
            });
        }
        let _ = sh(&format!("kill -TERM {}", self.child.id()));
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The VMs that are not DONE: id, name, LCM_STATE.
fn pool_vms(client: &Client) -> Result<Vec<(i32, String, i32)>> {
    let xml = client.call_string(
        "one.vmpool.info",
        vec![
            Value::Int(-2),
            Value::Int(-1),
            Value::Int(-1),
            Value::Int(-1),
        ],
    )?;
    Ok(xml
        .split("<VM>")
        .skip(1)
        .filter_map(|vm| {
            let id = between(vm, "<ID>", "<")?.parse().ok()?;
            let name = between(vm, "<NAME>", "<")?.to_string();
            let lcm = between(vm, "<LCM_STATE>", "<")?.parse().ok()?;
            Some((id, name, lcm))
        })
        .collect())
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    Some(&text[from..from + text[from..].find(end)?])
}

/// Pids of nubods running with `--local-host`.
fn other_local_hosts() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let argv: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        (argv.first()?.ends_with(b"nubod") && argv.iter().any(|a| *a == b"--local-host"))
            .then_some(pid)
    })
    .collect()
}

fn bridge_exists() -> bool {
    Path::new("/sys/class/net").join(APPS_BRIDGE).exists()
}

fn bridge_in_use() -> bool {
    bridge_exists()
        && sh(&format!("ip -o link show master {APPS_BRIDGE}")).is_ok_and(|o| !o.trim().is_empty())
}

fn nat_table_exists() -> bool {
    sh(&format!("nft list table ip {NAT_TABLE}")).is_ok()
}

// ---------------------------------------------------------------------------------------
// HTTP: the REST API, the router, the load.

/// A raw HTTP/1.1 answer.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request on a new connection (`Connection: close`).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<Reply> {
    let sock: SocketAddr = addr.parse().context("address")?;
    let mut s = TcpStream::connect_timeout(&sock, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_nodelay(true)?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut out = req.into_bytes();
    out.extend_from_slice(body);
    s.write_all(&out)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .context("no status")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut reply = Reply {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    };
    if reply
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        reply.body = dechunk(&reply.body)?;
    }
    Ok(reply)
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("bad chunk")?;
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data.get(..size).context("short chunk")?);
        data = data.get(size + 2..).context("short chunk")?;
    }
}

fn base64(text: &str) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The REST API as oneadmin.
struct Rest {
    addr: String,
    auth: String,
}

impl Rest {
    fn get(&self, path: &str) -> Result<(u16, String)> {
        let r = self.raw("GET", path, "", b"")?;
        Ok((r.status, String::from_utf8_lossy(&r.body).into_owned()))
    }

    fn get_json(&self, path: &str) -> Result<serde_json::Value> {
        let (status, body) = self.get(path)?;
        if status != 200 {
            bail!("GET {path} answered {status}: {body}");
        }
        Ok(serde_json::from_str(&body)?)
    }

    fn send(&self, method: &str, path: &str, ctype: &str, body: &[u8]) -> Result<(u16, String)> {
        let r = self.raw(method, path, ctype, body)?;
        Ok((r.status, String::from_utf8_lossy(&r.body).into_owned()))
    }

    fn raw(&self, method: &str, path: &str, ctype: &str, body: &[u8]) -> Result<Reply> {
        let mut headers = vec![
            ("Authorization", self.auth.as_str()),
            ("Accept", "application/json"),
        ];
        if !ctype.is_empty() {
            headers.push(("Content-Type", ctype));
        }
        http(
            &self.addr,
            method,
            &format!("/api/v1{path}"),
            &headers,
            body,
            Duration::from_secs(60),
        )
    }
}

/// The status of `GET /` through `addr` with `Host: host` (0: no answer).
fn status_via(addr: SocketAddr, host: &str) -> u16 {
    http(
        &addr.to_string(),
        "GET",
        "/",
        &[("Host", host)],
        b"",
        Duration::from_secs(5),
    )
    .map_or(0, |r| r.status)
}

/// Whether `addr` accepts a TCP connection within 50 ms.
fn port_open(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(50)).is_ok()
}

// ---------------------------------------------------------------------------------------
// 1. Deploy.

/// What was seen when, after the build was asked for.
#[derive(Debug, Default, Clone)]
struct Timeline {
    events: BTreeMap<&'static str, Duration>,
    /// Build log lines (`----->` steps, `nubo-build:`) when first seen.
    log: Vec<(String, Duration)>,
}

impl Timeline {
    fn mark(&mut self, what: &'static str, at: Duration) {
        self.events.entry(what).or_insert(at);
    }

    fn get(&self, what: &str) -> Option<Duration> {
        self.events.get(what).copied()
    }

    fn log_line(&self, starts: &str) -> Option<Duration> {
        self.log
            .iter()
            .find(|(l, _)| l.starts_with(starts))
            .map(|(_, d)| *d)
    }

    fn summary(&self) -> String {
        self.events
            .iter()
            .map(|(k, v)| format!("{k}={}", ms(*v)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The app's tarball (made untimed).
fn app_tarball(work: &Path) -> Result<Vec<u8>> {
    let dir = work.join("app");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("app.py"), APP_PY)?;
    std::fs::write(dir.join("Procfile"), PROCFILE)?;
    std::fs::write(dir.join("requirements.txt"), "")?;
    let file = work.join("app.tar.gz");
    sh(&format!(
        "tar -C {} -czf {} app.py Procfile requirements.txt",
        dir.display(),
        file.display()
    ))?;
    Ok(std::fs::read(file)?)
}

fn deploy(
    args: &Args,
    daemon: &Daemon,
    rest: &Rest,
    client: &Client,
    app: &str,
    tarball: &[u8],
) -> Result<Timeline> {
    let poll = Duration::from_millis(args.poll_ms.max(1));
    let host = format!("{app}.{DOMAIN}");
    let mut t = Timeline::default();
    let wall = SystemTime::now();
    let t0 = Instant::now();
    let (status, body) = rest.send(
        "POST",
        &format!("/apps/{app}/builds"),
        "application/gzip",
        tarball,
    )?;
    if status != 202 {
        bail!("POST builds answered {status}: {body}");
    }
    t.mark("accepted", t0.elapsed());
    let build: serde_json::Value = serde_json::from_str(&body)?;
    let bid = build["id"].as_i64().context("no build id")?;
    let mut offset = 0u64;
    let mut partial = String::new();
    let mut build_vm: Option<i32> = None;
    let mut instance: Option<(i32, Option<SocketAddr>)> = None;
    let deadline = t0 + Duration::from_secs(900);
    loop {
        let now = t0.elapsed();
        if t.get("succeeded").is_none() {
            let b = rest.get_json(&format!("/apps/{app}/builds/{bid}"))?;
            let at = t0.elapsed();
            match b["status"].as_str().unwrap_or("") {
                "building" => t.mark("building", at),
                "succeeded" => {
                    t.mark("building", at);
                    t.mark("succeeded", at);
                }
                "failed" => {
                    let (_, log) = rest.get(&format!("/apps/{app}/builds/{bid}/log"))?;
                    let tail: String = log
                        .chars()
                        .rev()
                        .take(3000)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                    bail!("the build failed: {}\n{tail}", b["reason"]);
                }
                _ => {}
            }
            let r = rest.raw(
                "GET",
                &format!("/apps/{app}/builds/{bid}/log?offset={offset}"),
                "",
                b"",
            )?;
            if r.status == 200 {
                let at = t0.elapsed();
                partial.push_str(&String::from_utf8_lossy(&r.body));
                offset = r
                    .header("nubo-log-next")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(offset + r.body.len() as u64);
                while let Some(nl) = partial.find('\n') {
                    let line: String = partial.drain(..=nl).collect();
                    let line = line.trim();
                    if let Some(step) = line.strip_prefix("-----> ") {
                        t.log.push((step.to_string(), at));
                    } else if line.starts_with("nubo-build:") {
                        t.log.push((line.to_string(), at));
                    }
                }
            }
            if build_vm.is_none() {
                let name = format!("build-{app}-{bid}");
                build_vm = pool_vms(client)?
                    .into_iter()
                    .find(|(_, n, _)| *n == name)
                    .map(|(id, _, _)| id);
            }
        } else {
            if instance.is_none_or(|(_, ip)| ip.is_none()) || t.get("up").is_none() {
                let list = rest.get_json(&format!("/apps/{app}/instances"))?;
                let at = t0.elapsed();
                for i in list.as_array().into_iter().flatten() {
                    if i["type"] != "web" {
                        continue;
                    }
                    let vm = i["vm_id"].as_i64().unwrap_or(-1) as i32;
                    let ip = i["ip"]
                        .as_str()
                        .and_then(|s| s.parse::<std::net::IpAddr>().ok())
                        .map(|ip| SocketAddr::new(ip, WEB_PORT));
                    t.mark("instance", at);
                    instance = Some((vm, ip));
                    if i["state"] == "up" {
                        t.mark("up", at);
                    }
                }
            }
            if let Some((vm, ip)) = instance {
                if t.get("running").is_none() {
                    let xml = client.call_string("one.vm.info", vec![Value::Int(vm)])?;
                    if between(&xml, "<LCM_STATE>", "<") == Some("3") {
                        t.mark("running", t0.elapsed());
                    }
                }
                if t.get("running").is_some()
                    && t.get("port").is_none()
                    && let Some(ip) = ip
                    && port_open(ip)
                {
                    t.mark("port", t0.elapsed());
                }
            }
            if status_via(daemon.router, &host) == 200 {
                let at = t0.elapsed();
                t.mark("first_200", at);
                t.mark("up", at);
                t.mark("port", at);
                t.mark("running", at);
                break;
            }
        }
        if Instant::now() > deadline {
            bail!(
                "no 200 through the router 900 s after the build was asked for ({})",
                t.summary()
            );
        }
        let spent = t0.elapsed() - now;
        if spent < poll {
            std::thread::sleep(poll - spent);
        }
    }
    // The agent's log: the build container's and the instance's PROLOG and DEPLOY.
    let log = daemon.agent_log();
    if let Some(vm) = build_vm {
        for (op, what, key) in [
            ("PROLOG", "started", "build prolog"),
            ("DEPLOY", "started", "build deploy"),
            ("DEPLOY", "done", "build running"),
        ] {
            if let Some(d) = agent_time(&log, vm, op, what, wall) {
                t.mark(key, d);
            }
        }
    }
    if let Some((vm, _)) = instance {
        for (op, what, key) in [
            ("PROLOG", "started", "instance prolog"),
            ("PROLOG", "done", "instance prolog done"),
            ("DEPLOY", "started", "instance deploy"),
            ("DEPLOY", "done", "instance deployed"),
        ] {
            if let Some(d) = agent_time(&log, vm, op, what, wall) {
                t.mark(key, d);
            }
        }
    }
    Ok(t)
}

/// Seconds since midnight UTC of a log line's timestamp (`2026-12-07T04:50:01.123456Z`).
fn day_seconds(stamp: &str) -> Option<f64> {
    let time = stamp.split_once('T')?.1.trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// When the agent logged `op` `what` ("started", "done") for VM `vid`, after `since`.
fn agent_time(log: &Path, vid: i32, op: &str, what: &str, since: SystemTime) -> Option<Duration> {
    let text = std::fs::read_to_string(log).ok()?;
    let base = since.duration_since(UNIX_EPOCH).ok()?.as_secs_f64() % 86_400.0;
    let vm = format!("vm_id={vid} ");
    let opq = format!("op=\"{op}\"");
    text.lines()
        .filter(|l| {
            l.contains(&format!("operation {what}"))
                && (l.contains(&vm) || l.ends_with(&format!("vm_id={vid}")))
                && (l.contains(&opq) || l.contains(&format!("op={op}")))
        })
        .filter_map(|l| day_seconds(l.split_whitespace().next()?))
        .map(|at| at - base)
        .find(|d| *d >= 0.0)
        .map(Duration::from_secs_f64)
}

fn delete_app(rest: &Rest, client: &Client, app: &str) -> Result<()> {
    let (status, body) = rest.send("DELETE", &format!("/apps/{app}"), "", b"")?;
    if status != 204 {
        bail!("DELETE /apps/{app} answered {status}: {body}");
    }
    let ours =
        |n: &str| n.starts_with(&format!("{app}-")) || n.starts_with(&format!("build-{app}-"));
    wait_every(
        Duration::from_secs(120),
        "the app's containers gone",
        || Ok(!pool_vms(client)?.iter().any(|(_, n, _)| ours(n))),
    )?;
    Ok(())
}

/// The parts of a deploy, in order: (label, from event, to event).
const PARTS: [(&str, &str, &str); 11] = [
    ("POST answered (tarball stored)", "start", "accepted"),
    ("queued → building", "accepted", "building"),
    (
        "source unpacked, buildpack, ext4 image of the source (`mke2fs -d`)",
        "building",
        "log:Starting the build container",
    ),
    (
        "build container: scheduled, PROLOG, DEPLOY (agent's log)",
        "log:Starting the build container",
        "build running",
    ),
    (
        "build script (venv, pip on an empty requirements.txt) until its last line is copied (console read every 500 ms)",
        "build running",
        "log:nubo-build: succeeded",
    ),
    (
        "container powered off, slug saved (disk-saveas), SHA-256, release → `succeeded`",
        "log:nubo-build: succeeded",
        "succeeded",
    ),
    (
        "release → instance VM allocated (reconciler woken)",
        "succeeded",
        "instance",
    ),
    (
        "instance VM: scheduled, PROLOG (slug copied), DEPLOY → RUNNING",
        "instance",
        "running",
    ),
    (
        "RUNNING → port 5000 accepts (python3 starting, seen from this machine)",
        "running",
        "port",
    ),
    (
        "port open → instance `up` (reconciler's next round)",
        "port",
        "up",
    ),
    ("`up` → first 200 through the router", "up", "first_200"),
];

fn event(t: &Timeline, name: &str) -> Option<Duration> {
    match name {
        "start" => Some(Duration::ZERO),
        n if n.starts_with("log:") => t.log_line(&n[4..]),
        n => t.get(n),
    }
}

fn deploy_report(runs: &[Timeline], r: &mut Report) {
    let warm: Vec<&Timeline> = if runs.len() > 1 {
        runs[1..].iter().collect()
    } else {
        runs.iter().collect()
    };
    let total: Vec<Duration> = warm.iter().filter_map(|t| t.get("first_200")).collect();
    let n = total.len();
    let (lo, hi) = range(&total);
    let target = if median(&total) <= Duration::from_secs(3) {
        "met"
    } else {
        "**missed**"
    };
    if let Some(first) = runs.first().and_then(|t| t.get("first_200")) {
        r.row(
            "1. deploy, first run (the stack fetched onto the host, first build on it): POST build → first 200 through the router",
            format!("{:.2} s", first.as_secs_f64()),
        );
    }
    r.row(
        format!(
            "1. deploy: POST build (tarball) → first 200 through the router (median of {n}{})",
            if runs.len() > 1 {
                ", runs 2–".to_string() + &runs.len().to_string()
            } else {
                String::new()
            }
        ),
        format!(
            "{:.2} s ({:.2}–{:.2}); target ≤ 3 s: {target}",
            median(&total).as_secs_f64(),
            lo.as_secs_f64(),
            hi.as_secs_f64()
        ),
    );
    for (label, from, to) in PARTS {
        let v: Vec<Duration> = warm
            .iter()
            .filter_map(|t| Some(event(t, to)?.saturating_sub(event(t, from)?)))
            .collect();
        if v.is_empty() {
            continue;
        }
        let (lo, hi) = range(&v);
        r.row(
            format!("1. of which: {label}"),
            format!("{} ms ({}–{})", ms(median(&v)), ms(lo), ms(hi)),
        );
    }
    // Each run, every event and log line.
    let mut table = String::from(
        "Each deploy, ms after the POST of the build:\n\n| run | building | log lines (ms) | build container RUNNING | succeeded | instance allocated | its PROLOG | its DEPLOY done | RUNNING seen | port open | `up` | first 200 |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (i, t) in runs.iter().enumerate() {
        let f = |k: &str| t.get(k).map_or("–".to_string(), ms);
        let lines = t
            .log
            .iter()
            .map(|(l, d)| format!("{} {}", short(l), ms(*d)))
            .collect::<Vec<_>>()
            .join("; ");
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            i + 1,
            f("building"),
            lines,
            f("build running"),
            f("succeeded"),
            f("instance"),
            f("instance prolog"),
            f("instance deployed"),
            f("running"),
            f("port"),
            f("up"),
            f("first_200"),
        ));
    }
    r.tables.push(table);
}

/// The first words of a build log line.
fn short(line: &str) -> String {
    let cut = line.find(" (").unwrap_or(line.len());
    line[..cut].chars().take(40).collect()
}

// ---------------------------------------------------------------------------------------
// 2. Scale.

/// When each thing was seen, after the call.
type Marks = BTreeMap<&'static str, Duration>;

/// Scales `web` to `n` until all are up, then back to 1 until the others are gone.
fn scale(args: &Args, rest: &Rest, client: &Client, app: &str, n: u32) -> Result<(Marks, Marks)> {
    let poll = Duration::from_millis(args.poll_ms.max(10));
    let prefix = format!("{app}-web-");
    let mut up = BTreeMap::new();
    let t0 = Instant::now();
    let (status, body) = rest.send(
        "PATCH",
        &format!("/apps/{app}/formation"),
        "application/json",
        json!({"web": n}).to_string().as_bytes(),
    )?;
    if status != 200 {
        bail!("PATCH formation answered {status}: {body}");
    }
    up.insert("answered", t0.elapsed());
    let mut open = std::collections::BTreeSet::new();
    let deadline = t0 + Duration::from_secs(600);
    loop {
        let vms = pool_vms(client)?;
        let at = t0.elapsed();
        let ours: Vec<_> = vms
            .iter()
            .filter(|(_, name, _)| name.starts_with(&prefix))
            .collect();
        if ours.len() >= n as usize {
            up.entry("allocated").or_insert(at);
        }
        let running: Vec<i32> = ours
            .iter()
            .filter(|(_, _, l)| *l == 3)
            .map(|(id, _, _)| *id)
            .collect();
        if running.len() >= n as usize {
            up.entry("running").or_insert(at);
        }
        let list = rest.get_json(&format!("/apps/{app}/instances"))?;
        let at = t0.elapsed();
        let web: Vec<&serde_json::Value> = list
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i["type"] == "web")
            .collect();
        for i in &web {
            let vm = i["vm_id"].as_i64().unwrap_or(-1) as i32;
            if open.contains(&vm) || !running.contains(&vm) {
                continue;
            }
            if let Some(ip) = i["ip"]
                .as_str()
                .and_then(|s| s.parse::<std::net::IpAddr>().ok())
                && port_open(SocketAddr::new(ip, WEB_PORT))
            {
                open.insert(vm);
            }
        }
        if open.len() >= n as usize {
            up.entry("ports").or_insert(t0.elapsed());
        }
        if web.iter().filter(|i| i["state"] == "up").count() >= n as usize {
            up.insert("up", at);
            break;
        }
        if Instant::now() > deadline {
            bail!("not all {n} instances up after 600 s");
        }
        std::thread::sleep(poll);
    }
    // Back to 1.
    let mut down = BTreeMap::new();
    let t0 = Instant::now();
    let (status, body) = rest.send(
        "PATCH",
        &format!("/apps/{app}/formation"),
        "application/json",
        json!({"web": 1}).to_string().as_bytes(),
    )?;
    if status != 200 {
        bail!("PATCH formation answered {status}: {body}");
    }
    down.insert("answered", t0.elapsed());
    let deadline = t0 + Duration::from_secs(600);
    loop {
        let list = rest.get_json(&format!("/apps/{app}/instances"))?;
        let at = t0.elapsed();
        if list.as_array().map_or(0, |a| a.len()) <= 1 {
            down.entry("listed").or_insert(at);
        }
        let vms = pool_vms(client)?;
        let at = t0.elapsed();
        if vms
            .iter()
            .filter(|(_, name, _)| name.starts_with(&prefix))
            .count()
            <= 1
        {
            down.insert("done", at);
            down.entry("listed").or_insert(at);
            break;
        }
        if Instant::now() > deadline {
            bail!("the instances scaled away were not gone after 600 s");
        }
        std::thread::sleep(poll);
    }
    Ok((up, down))
}

fn scale_report(n: u32, r: &mut Report) {
    let runs = r.scale.clone();
    let pick = |m: &BTreeMap<&str, Duration>, k: &str| m.get(k).copied();
    let mut rows: Vec<(String, String)> = Vec::new();
    for (label, up_side, key) in [
        (
            format!("2. scale web 1 → {n}: PATCH → all {n} VMs allocated"),
            true,
            "allocated",
        ),
        (
            format!("2. scale web 1 → {n}: PATCH → all {n} RUNNING"),
            true,
            "running",
        ),
        (
            format!("2. scale web 1 → {n}: PATCH → all {n} ports accept (seen from this machine)"),
            true,
            "ports",
        ),
        (
            format!("2. scale web 1 → {n}: PATCH → all {n} `up` in the API (routed)"),
            true,
            "up",
        ),
        (
            format!("2. scale web {n} → 1: PATCH → the instances list shows 1"),
            false,
            "listed",
        ),
        (
            format!(
                "2. scale web {n} → 1: PATCH → the {} others' VMs DONE",
                n - 1
            ),
            false,
            "done",
        ),
    ] {
        let v: Vec<Duration> = runs
            .iter()
            .filter_map(|(u, d)| pick(if up_side { u } else { d }, key))
            .collect();
        if v.is_empty() {
            continue;
        }
        let each = v
            .iter()
            .map(|d| format!("{:.2}", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ");
        let mut result = format!("{each} s");
        if key == "up" {
            let met = if median(&v) <= Duration::from_secs(3) {
                "met"
            } else {
                "**missed**"
            };
            result.push_str(&format!("; target ≤ 3 s: {met}"));
        }
        rows.push((label, result));
    }
    for (w, v) in rows {
        r.row(w, v);
    }
}

// ---------------------------------------------------------------------------------------
// 3. The router.

/// Counts of one load.
#[derive(Debug, Default)]
struct Load {
    ok: u64,
    errors: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    cpu: Option<f64>,
    /// Connections from this machine to the instance in TIME_WAIT before the load.
    time_wait: Option<usize>,
}

impl Load {
    fn add(&mut self, other: &Load) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.latencies.extend_from_slice(&other.latencies);
        self.cpu = match (self.cpu, other.cpu) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }

    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn pct(&self, p: f64) -> Duration {
        let mut v = self.latencies.clone();
        v.sort();
        if v.is_empty() {
            return Duration::ZERO;
        }
        v[((v.len() - 1) as f64 * p).round() as usize]
    }
}

/// `connections` threads, each on its own keep-alive connection (a new one when the server
/// closes it), sending `GET /` with `Host: host` one after the other for `secs`.
fn load(addr: SocketAddr, host: &str, connections: usize, secs: Duration) -> Result<Load> {
    let stop = Arc::new(AtomicBool::new(false));
    let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: nubo-bench\r\n\r\n");
    let start = Instant::now();
    let handles: Vec<_> = (0..connections.max(1))
        .map(|_| {
            let (stop, request) = (stop.clone(), request.clone());
            std::thread::spawn(move || {
                let mut out = Load::default();
                let mut conn: Option<BufReader<TcpStream>> = None;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    match one_request(&mut conn, addr, &request) {
                        Ok(200) => {
                            out.ok += 1;
                            out.latencies.push(t.elapsed());
                        }
                        Ok(_) | Err(_) => {
                            out.errors += 1;
                            conn = None;
                        }
                    }
                }
                out
            })
        })
        .collect();
    std::thread::sleep(secs);
    stop.store(true, Ordering::Relaxed);
    let mut all = Load::default();
    for h in handles {
        let l = h
            .join()
            .map_err(|_| anyhow::anyhow!("a load thread panicked"))?;
        all.ok += l.ok;
        all.errors += l.errors;
        all.latencies.extend(l.latencies);
    }
    all.elapsed = start.elapsed();
    Ok(all)
}

/// One request on `conn` (connecting first when there is none); the status.
fn one_request(
    conn: &mut Option<BufReader<TcpStream>>,
    addr: SocketAddr,
    request: &str,
) -> Result<u16> {
    if conn.is_none() {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        *conn = Some(BufReader::new(s));
    }
    let r = conn.as_mut().context("no connection")?;
    r.get_mut().write_all(request.as_bytes())?;
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        bail!("closed");
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no status")?;
    let (mut length, mut close) = (0usize, line.starts_with("HTTP/1.0"));
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            bail!("closed in the headers");
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            let v = v.trim();
            if n.eq_ignore_ascii_case("content-length") {
                length = v.parse()?;
            } else if n.eq_ignore_ascii_case("connection") {
                close = v.eq_ignore_ascii_case("close");
            } else if n.eq_ignore_ascii_case("transfer-encoding") {
                bail!("chunked answers are not read by this load loop");
            }
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body)?;
    if close {
        *conn = None;
    }
    Ok(status)
}

/// nginx run by the benchmark: a minimal reverse proxy to one instance.
struct Nginx {
    child: Child,
    error_log: PathBuf,
}

impl Nginx {
    fn start(binary: &str, work: &Path, port: u16, backend: SocketAddr) -> Result<Nginx> {
        let dir = work.join("nginx");
        std::fs::create_dir_all(dir.join("tmp"))?;
        let d = dir.display();
        let conf = format!(
            "daemon off;\nmaster_process on;\nworker_processes auto;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log;\nevents {{ worker_connections 1024; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/tmp/body;\n  \
             proxy_temp_path {d}/tmp/proxy;\n  server {{\n    listen 127.0.0.1:{port};\n    \
             location / {{\n      proxy_pass http://{backend};\n      \
             proxy_set_header Host $host;\n      \
             proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n      \
             proxy_set_header X-Forwarded-Proto $scheme;\n      \
             proxy_set_header X-Forwarded-Host $host;\n    }}\n  }}\n}}\n"
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf)?;
        let child = Command::new(binary)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {binary}"))?;
        let nginx = Nginx {
            child,
            error_log: dir.join("error.log"),
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_every(Duration::from_secs(10), "nginx answering", || {
            Ok(status_via(addr, "x") == 200)
        })?;
        Ok(nginx)
    }

    /// CPU seconds of the master and its workers.
    fn cpu_seconds(&self) -> f64 {
        let master = self.child.id();
        children_of(master)
            .into_iter()
            .chain([master])
            .filter_map(|p| process_cpu_seconds(p).ok())
            .sum()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = sh(&format!("kill -TERM {}", self.child.id()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let p: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        let ppid: u32 = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (ppid == pid).then_some(p)
    })
    .collect()
}

fn router_figures(
    args: &Args,
    work: &Path,
    daemon: &Daemon,
    rest: &Rest,
    app: &str,
    r: &mut Report,
) -> Result<()> {
    let list = rest.get_json(&format!("/apps/{app}/instances"))?;
    let ip = list
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["type"] == "web" && i["state"] == "up")
        .and_then(|i| i["ip"].as_str()?.parse::<std::net::IpAddr>().ok())
        .context("no web instance up")?;
    let backend = SocketAddr::new(ip, WEB_PORT);
    let nginx = if args.nginx.is_empty() {
        None
    } else {
        Some(Nginx::start(&args.nginx, work, free_port()?, backend)?)
    };
    let host = format!("{app}.{DOMAIN}");
    let nubod_pid = daemon.child.id();
    let mut targets: Vec<(&str, SocketAddr, String)> = vec![
        (
            "direct to the instance",
            backend,
            format!("{ip}:{WEB_PORT}"),
        ),
        ("nubod's router", daemon.router, host.clone()),
    ];
    if nginx.is_some() {
        let port = nginx_port(work)?;
        targets.push((
            "nginx 1.22 (minimal proxy_pass)",
            SocketAddr::from(([127, 0, 0, 1], port)),
            host,
        ));
    }
    let secs = Duration::from_secs(args.seconds.max(1));
    let mut results: Vec<(String, usize, Load, Load)> = Vec::new();
    for round in 1..=args.rounds.max(1) {
        // Every other round the proxies go in the other order: each leaves thousands of
        // the instance's connections in TIME_WAIT for the next.
        let mut order: Vec<usize> = (0..targets.len()).collect();
        if round % 2 == 0 {
            order[1..].reverse();
        }
        for k in order {
            let (name, addr, host) = &targets[k];
            if k > 0 && args.settle > 0 {
                // The proxies' connections to the instance left in TIME_WAIT on this
                // machine make every connect() search the ephemeral ports: let them go.
                let until = Instant::now() + Duration::from_secs(args.settle);
                while time_wait_to(backend) > 100 && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
            let intruders: Vec<u32> = other_local_hosts()
                .into_iter()
                .filter(|p| *p != nubod_pid)
                .collect();
            if !intruders.is_empty() {
                bail!(
                    "another nubod --local-host started during the run (pids {intruders:?}): it shares the apps bridge and VM numbers, the figures would be wrong"
                );
            }
            let waiting = time_wait_to(backend);
            eprintln!(
                "load, round {round}: {name} ({waiting} connections to the instance in TIME_WAIT)"
            );
            load(*addr, host, 1, Duration::from_secs(1))?;
            let one = load(*addr, host, 1, secs)?;
            load(*addr, host, args.connections, Duration::from_secs(1))?;
            let cpu0 = proxy_cpu(name, nubod_pid, nginx.as_ref());
            let mut many = load(*addr, host, args.connections, secs)?;
            many.cpu = cpu0.map(|c| proxy_cpu(name, nubod_pid, nginx.as_ref()).unwrap_or(c) - c);
            eprintln!(
                "  1 connection: {:.0}/s p50 {:?}; {} connections: {:.0}/s p50 {:?} p99 {:?}, {} errors",
                one.rate(),
                one.pct(0.5),
                args.connections,
                many.rate(),
                many.pct(0.5),
                many.pct(0.99),
                one.errors + many.errors
            );
            many.time_wait = Some(waiting);
            results.push((name.to_string(), round, one, many));
        }
    }
    if let Some(n) = &nginx {
        let log = std::fs::read_to_string(&n.error_log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        eprintln!("nginx error log: {} lines", lines.len());
        for l in lines.iter().rev().take(5) {
            eprintln!("  {l}");
        }
        r.row("3. nginx: lines in its error log", lines.len().to_string());
    }
    drop(nginx);
    let us = |d: Duration| format!("{:.0} µs", d.as_secs_f64() * 1e6);
    let mut table = format!(
        "Router: `GET /` of the app (a {}-byte answer), {} s per measurement after 1 s of warm-up, the same load loop for all (keep-alive towards the target):\n\n\
         | target | 1 connection: requests/s | p50 | p99 | {c} connections: requests/s | p50 | p99 | errors | CPU of the proxy | TIME_WAIT to the instance before |\n|---|---|---|---|---|---|---|---|---|---|\n",
        "hello from ".len() + 20,
        secs.as_secs(),
        c = args.connections
    );
    for (name, round, one, many) in &results {
        table.push_str(&format!(
            "| {name} (round {round}) | {:.0} | {} | {} | {:.0} | {} | {} | {} | {} | {} |\n",
            one.rate(),
            us(one.pct(0.5)),
            us(one.pct(0.99)),
            many.rate(),
            us(many.pct(0.5)),
            us(many.pct(0.99)),
            one.errors + many.errors,
            many.cpu.map_or("–".into(), |c| format!(
                "{:.0} % of one core",
                c * 100.0 / secs.as_secs_f64()
            )),
            many.time_wait.map_or("–".into(), |n| n.to_string()),
        ));
    }
    r.tables.push(table);
    let merged: Vec<(String, Load, Load)> = targets
        .iter()
        .map(|(name, _, _)| {
            let (mut one, mut many) = (Load::default(), Load::default());
            for (_, _, o, m) in results.iter().filter(|(n, ..)| n == name) {
                one.add(o);
                many.add(m);
            }
            (name.to_string(), one, many)
        })
        .collect();
    let find = |k: &str| merged.iter().find(|(n, _, _)| n.starts_with(k));
    if let (Some((_, d1, dn)), Some((_, r1, rn))) = (find("direct"), find("nubod")) {
        let added50 = r1.pct(0.5).saturating_sub(d1.pct(0.5));
        let added99 = r1.pct(0.99).saturating_sub(d1.pct(0.99));
        let met = if added50 <= Duration::from_millis(1) {
            "met"
        } else {
            "**missed**"
        };
        r.row(
            "3. router: added latency, 1 connection (p50 / p99 over direct)",
            format!(
                "{} / {}; target p50 ≤ 1 ms: {met}",
                us(added50),
                us(added99)
            ),
        );
        r.row(
            format!(
                "3. router: requests/s with {} connections (direct: {:.0})",
                args.connections,
                dn.rate()
            ),
            format!("{:.0}", rn.rate()),
        );
        if let Some((_, n1, nn)) = find("nginx") {
            let met = if rn.rate() >= nn.rate() {
                "met"
            } else {
                "**missed**"
            };
            r.row(
                format!(
                    "3. nginx: requests/s with {} connections; added p50 with 1 connection",
                    args.connections
                ),
                format!(
                    "{:.0}; {} (router / nginx requests/s: {:.2}; target ≥ nginx: {met})",
                    nn.rate(),
                    us(n1.pct(0.5).saturating_sub(d1.pct(0.5))),
                    rn.rate() / nn.rate().max(1e-9)
                ),
            );
        }
    }
    Ok(())
}

/// Connections from this machine to `backend` in TIME_WAIT.
fn time_wait_to(backend: SocketAddr) -> usize {
    sh(&format!("ss -Htan state time-wait dst {backend}")).map_or(0, |o| o.lines().count())
}

fn nginx_port(work: &Path) -> Result<u16> {
    let conf = std::fs::read_to_string(work.join("nginx").join("nginx.conf"))?;
    between(&conf, "listen 127.0.0.1:", ";")
        .and_then(|p| p.parse().ok())
        .context("no port in nginx.conf")
}

/// CPU seconds of the process serving `target` (nubod for the router, nginx's processes).
fn proxy_cpu(target: &str, nubod: u32, nginx: Option<&Nginx>) -> Option<f64> {
    if target.starts_with("nubod") {
        process_cpu_seconds(nubod).ok()
    } else if target.starts_with("nginx") {
        nginx.map(Nginx::cpu_seconds)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------
// Helpers.

#[derive(Debug, Default)]
struct Report {
    rows: Vec<(String, String)>,
    tables: Vec<String>,
    scale: Vec<(Marks, Marks)>,
}

impl Report {
    fn row(&mut self, what: impl Into<String>, result: impl Into<String>) {
        let (what, result) = (what.into(), result.into());
        eprintln!("  {what}: {result}");
        self.rows.push((what, result));
    }
}

/// Polls `done` every 20 ms until it holds.
fn wait_every(timeout: Duration, what: &str, mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let start = Instant::now();
    loop {
        if done().unwrap_or(false) {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sh(cmd: &str) -> Result<String> {
    let out = Command::new("sh").args(["-c", cmd]).output()?;
    if !out.status.success() {
        bail!("{cmd}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn chmod_711(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o711))?;
    Ok(())
}

fn machine_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem = meminfo_kib("MemTotal:").unwrap_or(0) / 1024;
    let kernel = sh("uname -r").unwrap_or_default();
    let distro = sh(". /etc/os-release && echo \"$PRETTY_NAME\"").unwrap_or_default();
    format!(
        "{cores} × {cpu}, {mem} MiB, {}, Linux {}",
        distro.trim(),
        kernel.trim()
    )
}

fn now_utc() -> String {
    sh("date -u '+%Y-%m-%d %H:%M UTC'")
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_encodes_as_rfc_4648() {
        assert_eq!(base64("oneadmin:pw"), "b25lYWRtaW46cHc=");
        assert_eq!(base64("ab"), "YWI=");
        assert_eq!(base64("abc"), "YWJj");
    }

    #[test]
    fn chunks_are_joined() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").expect("valid"),
            b"abcde"
        );
    }
}
