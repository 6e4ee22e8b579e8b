//! Part 1: deploy a small Python app from a tarball to the first 200 through the router.

use super::*;

/// What was seen when, after the build was asked for.
#[derive(Debug, Default, Clone)]
pub(crate) struct Timeline {
    pub(crate) events: BTreeMap<&'static str, Duration>,
    /// Build log lines (`----->` steps, `nubo-build:`) when first seen.
    pub(crate) log: Vec<(String, Duration)>,
}

impl Timeline {
    pub(crate) fn mark(&mut self, what: &'static str, at: Duration) {
        self.events.entry(what).or_insert(at);
    }

    pub(crate) fn get(&self, what: &str) -> Option<Duration> {
        self.events.get(what).copied()
    }

    pub(crate) fn log_line(&self, starts: &str) -> Option<Duration> {
        self.log
            .iter()
            .find(|(l, _)| l.starts_with(starts))
            .map(|(_, d)| *d)
    }

    pub(crate) fn summary(&self) -> String {
        self.events
            .iter()
            .map(|(k, v)| format!("{k}={}", ms(*v)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The app's tarball (made untimed).
pub(crate) fn app_tarball(work: &Path) -> Result<Vec<u8>> {
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

pub(crate) fn deploy(
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
            ("DISKSAVEAS", "started", "build saveas"),
            ("DISKSAVEAS", "done", "build saved"),
        ] {
            if let Some(d) = agent_time(&log, vm, op, what, wall) {
                t.mark(key, d);
            }
        }
        if let Some(d) = agent_said(&log, vm, INIT_ENDED, wall) {
            t.mark("build ended", d);
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
pub(crate) fn day_seconds(stamp: &str) -> Option<f64> {
    let time = stamp.split_once('T')?.1.trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// What the agent logs when a container's init ends (the container driver's init watch).
const INIT_ENDED: &str = "a container's init ended";

/// When the agent first logged `message` for VM `vid`, after `since`.
pub(crate) fn agent_said(
    log: &Path,
    vid: i32,
    message: &str,
    since: SystemTime,
) -> Option<Duration> {
    let text = std::fs::read_to_string(log).ok()?;
    let base = since.duration_since(UNIX_EPOCH).ok()?.as_secs_f64() % 86_400.0;
    let vm = format!("vm_id={vid}");
    text.lines()
        .filter(|l| l.contains(message) && l.split_whitespace().any(|w| w == vm))
        .filter_map(|l| day_seconds(l.split_whitespace().next()?))
        .map(|at| at - base)
        .find(|d| *d >= 0.0)
        .map(Duration::from_secs_f64)
}

/// When the agent logged `op` `what` ("started", "done") for VM `vid`, after `since`.
pub(crate) fn agent_time(
    log: &Path,
    vid: i32,
    op: &str,
    what: &str,
    since: SystemTime,
) -> Option<Duration> {
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

pub(crate) fn delete_app(rest: &Rest, client: &Client, app: &str) -> Result<()> {
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
pub(crate) const PARTS: [(&str, &str, &str); 13] = [
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
        "build script (no virtualenv nor pip: requirements.txt lists nothing) until the container's init ends (agent's log)",
        "build running",
        "build ended",
    ),
    (
        "init ended → agent's report → nubod sees POWEROFF → DISKSAVEAS asked (agent's log)",
        "build ended",
        "build saveas",
    ),
    (
        "DISKSAVEAS on the agent (unmount, qcow2 of the /app disk, upload to nubod)",
        "build saveas",
        "build saved",
    ),
    (
        "slug image READY seen, SHA-256, release → `succeeded`",
        "build saved",
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
        "port open → instance `up` (the reconciler's next 100 ms round)",
        "port",
        "up",
    ),
    ("`up` → first 200 through the router", "up", "first_200"),
];

pub(crate) fn event(t: &Timeline, name: &str) -> Option<Duration> {
    match name {
        "start" => Some(Duration::ZERO),
        n if n.starts_with("log:") => t.log_line(&n[4..]),
        n => t.get(n),
    }
}

pub(crate) fn deploy_report(runs: &[Timeline], r: &mut Report) {
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
        "Each deploy, ms after the POST of the build:\n\n| run | building | log lines (ms) | build container RUNNING | its init ended | DISKSAVEAS asked | DISKSAVEAS done | succeeded | instance allocated | its PROLOG | its DEPLOY done | RUNNING seen | port open | `up` | first 200 |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
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
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            i + 1,
            f("building"),
            lines,
            f("build running"),
            f("build ended"),
            f("build saveas"),
            f("build saved"),
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
pub(crate) fn short(line: &str) -> String {
    let cut = line.find(" (").unwrap_or(line.len());
    line[..cut].chars().take(40).collect()
}
