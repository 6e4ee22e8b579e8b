//! Part 3: the router against a direct connection and an nginx proxying the same instance.

use super::*;

/// Counts of one load.
#[derive(Debug, Default)]
pub(crate) struct Load {
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    pub(crate) elapsed: Duration,
    pub(crate) latencies: Vec<Duration>,
    pub(crate) cpu: Option<f64>,
    /// Connections from this machine to the instance in TIME_WAIT before the load.
    pub(crate) time_wait: Option<usize>,
}

impl Load {
    pub(crate) fn add(&mut self, other: &Load) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.elapsed += other.elapsed;
        self.latencies.extend_from_slice(&other.latencies);
        self.cpu = match (self.cpu, other.cpu) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }

    pub(crate) fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub(crate) fn pct(&self, p: f64) -> Duration {
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
pub(crate) fn load(
    addr: SocketAddr,
    host: &str,
    connections: usize,
    secs: Duration,
) -> Result<Load> {
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
pub(crate) fn one_request(
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
pub(crate) struct Nginx {
    pub(crate) child: Child,
    pub(crate) error_log: PathBuf,
}

impl Nginx {
    pub(crate) fn start(
        binary: &str,
        work: &Path,
        port: u16,
        backend: SocketAddr,
    ) -> Result<Nginx> {
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
    pub(crate) fn cpu_seconds(&self) -> f64 {
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

pub(crate) fn children_of(pid: u32) -> Vec<u32> {
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

pub(crate) fn router_figures(
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
pub(crate) fn time_wait_to(backend: SocketAddr) -> usize {
    sh(&format!("ss -Htan state time-wait dst {backend}")).map_or(0, |o| o.lines().count())
}

pub(crate) fn nginx_port(work: &Path) -> Result<u16> {
    let conf = std::fs::read_to_string(work.join("nginx").join("nginx.conf"))?;
    between(&conf, "listen 127.0.0.1:", ";")
        .and_then(|p| p.parse().ok())
        .context("no port in nginx.conf")
}

/// CPU seconds of the process serving `target` (nubod for the router, nginx's processes).
pub(crate) fn proxy_cpu(target: &str, nubod: u32, nginx: Option<&Nginx>) -> Option<f64> {
    if target.starts_with("nubod") {
        process_cpu_seconds(nubod).ok()
    } else if target.starts_with("nginx") {
        nginx.map(Nginx::cpu_seconds)
    } else {
        None
    }
}
