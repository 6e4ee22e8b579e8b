//! Part 5: how fast a dead or a hung `web` instance stops getting requests. The app of
//! part 4 at `--detect` instances with an `http` health check of `/health` every second
//! (3 failures replace an instance), under the steady load; `--detect-runs` times each:
//!
//! - **dead**: `GET /die` sent straight to one instance (`os._exit(1)`: its process ends,
//!   the port refuses);
//! - **hung**: `GET /hang` (every request, `/health` too, waits forever; the port still
//!   accepts).
//!
//! Meanwhile `GET /router/routes` is read every 10 ms: the time from the kill until the
//! instance's address is no longer listed. A request the router sent to a hung instance
//! waits (until the instance is replaced and killed, or the router's 30 s), so the last
//! slow or failed request due after the hang tells when the router stopped sending there.

use super::*;
use crate::rollout::{patch, scale_to, settle};
use crate::steady::{Sample, Steady, ms1, secs_spread};

/// What the instance is made to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    Dead,
    Hung,
}

impl Fault {
    fn path(self) -> &'static str {
        match self {
            Fault::Dead => "/die",
            Fault::Hung => "/hang",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Fault::Dead => "dead (`/die`: `os._exit(1)`)",
            Fault::Hung => "hung (`/hang`: no answer, the port still accepts)",
        }
    }
}

/// A request slower than this after the fault went to the hung instance.
const SLOW: Duration = Duration::from_millis(900);

/// One fault.
#[derive(Debug, Clone)]
pub(crate) struct DetectRun {
    pub(crate) fault: Fault,
    /// The instance, `web.N`.
    pub(crate) instance: String,
    /// Fault → its address gone from `GET /router/routes`.
    pub(crate) out: Option<Duration>,
    /// Fault → its address listed again (a dead instance started again).
    pub(crate) back: Option<Duration>,
    /// Failed requests (non-200 or no answer), the whole load.
    pub(crate) failed: usize,
    /// Requests due after the fault that were slow (≥ [`SLOW`]) or failed.
    pub(crate) hit: usize,
    /// The last of them, after the fault.
    pub(crate) last_hit: Option<Duration>,
    /// The slowest request due after the fault.
    pub(crate) slowest: Duration,
    /// Requests due in the seconds after the fault.
    pub(crate) requests: usize,
}

/// The backends of `app` in the route table, or `None` when it cannot be read.
fn backends(rest: &Rest, app: &str) -> Option<Vec<String>> {
    let table = rest.get_json("/router/routes").ok()?;
    let found = table["apps"]
        .as_array()?
        .iter()
        .find(|a| a["app"] == app)
        .map(|a| {
            a["backends"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| b.as_str().map(str::to_string))
                .collect()
        });
    Some(found.unwrap_or_default())
}

/// One fault of the instance at `index`, under load.
fn detect_once(
    args: &Args,
    daemon: &Daemon,
    rest: &Rest,
    app: &str,
    fault: Fault,
    index: usize,
) -> Result<DetectRun> {
    let list = rest.get_json(&format!("/apps/{app}/instances"))?;
    let mut up: Vec<&serde_json::Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "web" && i["state"] == "up")
        .collect();
    up.sort_by_key(|i| i["index"].as_u64().unwrap_or(0));
    let victim = up.get(index % up.len().max(1)).context("no instance up")?;
    let ip = victim["ip"].as_str().context("no ip")?;
    let addr = format!("{ip}:{WEB_PORT}");
    let instance = format!("web.{}", victim["index"]);
    let load = Steady::start(
        daemon.router,
        &format!("{app}.{DOMAIN}"),
        args.load_rate,
        args.load_connections,
        Duration::from_secs(35),
    );
    // The route table, every 10 ms, from its own thread.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (stop, rest, app, addr, t0) = (
            stop.clone(),
            Rest {
                addr: rest.addr.clone(),
                auth: rest.auth.clone(),
            },
            app.to_string(),
            addr.clone(),
            load.t0,
        );
        std::thread::spawn(move || {
            let mut seen: Vec<(Duration, bool)> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Some(b) = backends(&rest, &app) {
                    seen.push((t0.elapsed(), b.contains(&addr)));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            seen
        })
    };
    std::thread::sleep(Duration::from_secs(3));
    let at = load.now();
    // The fault, straight to the instance (no answer is expected).
    let _ = http(
        &addr,
        "GET",
        fault.path(),
        &[],
        b"",
        Duration::from_millis(300),
    );
    std::thread::sleep(Duration::from_secs(args.detect_seconds.max(1)));
    stop.store(true, Ordering::Relaxed);
    let samples = load.finish()?;
    let seen = watcher
        .join()
        .map_err(|_| anyhow::anyhow!("the route watcher panicked"))?;
    let out = seen
        .iter()
        .find(|(t, listed)| *t >= at && !listed)
        .map(|(t, _)| *t);
    let back = out.and_then(|o| {
        seen.iter()
            .find(|(t, listed)| *t > o && *listed)
            .map(|(t, _)| t.saturating_sub(at))
    });
    let after: Vec<&Sample> = samples.iter().filter(|s| s.due >= at).collect();
    let hits: Vec<&&Sample> = after
        .iter()
        .filter(|s| s.status != 200 || s.took >= SLOW)
        .collect();
    let failed: Vec<&Sample> = samples.iter().filter(|s| s.status != 200).collect();
    if !failed.is_empty() {
        let first: Vec<String> = failed
            .iter()
            .take(5)
            .map(|s| {
                format!(
                    "due {} ms after the fault, {} ms: {} {:?}",
                    s.due.as_millis() as i128 - at.as_millis() as i128,
                    ms(s.took),
                    s.status,
                    s.body.trim()
                )
            })
            .collect();
        eprintln!("  failed requests: {}", first.join("; "));
    }
    Ok(DetectRun {
        fault,
        instance,
        out: out.map(|o| o.saturating_sub(at)),
        back,
        failed: failed.len(),
        hit: hits.len(),
        last_hit: hits.iter().map(|s| s.due.saturating_sub(at)).max(),
        slowest: after.iter().map(|s| s.took).max().unwrap_or_default(),
        requests: after.len(),
    })
}

/// Part 5: `--detect-runs` dead instances, then as many hung ones.
pub(crate) fn detections(
    args: &Args,
    daemon: &Daemon,
    rest: &Rest,
    client: &Client,
    app: &str,
    r: &mut Report,
) -> Result<()> {
    scale_to(rest, client, app, args.detect)?;
    patch(
        rest,
        &format!("/apps/{app}/health-checks"),
        json!({"web": {"type": "http", "path": "/health", "interval": 1, "failures": 3}}),
    )?;
    // Health checks apply to instances started after them: a redeploy replaces them all.
    let (status, body) = rest.send(
        "POST",
        &format!("/apps/{app}/deployments"),
        "application/json",
        b"{}",
    )?;
    if status != 201 {
        bail!("POST /apps/{app}/deployments answered {status}: {body}");
    }
    settle(rest, client, app, args.detect, Duration::from_secs(300))?;
    let mut runs = Vec::new();
    for fault in [Fault::Dead, Fault::Hung] {
        for i in 0..args.detect_runs.max(1) {
            let run = detect_once(args, daemon, rest, app, fault, i)?;
            eprintln!(
                "{:?} {}: out of the routes after {:?}, back after {:?}; {} failed, {} slow or failed (last due {:?} after), slowest {} ms, of {}",
                fault,
                run.instance,
                run.out,
                run.back,
                run.failed,
                run.hit,
                run.last_hit,
                ms(run.slowest),
                run.requests
            );
            runs.push(run);
            // The dead one started again, the hung one replaced: all up before the next.
            settle(rest, client, app, args.detect, Duration::from_secs(300))?;
        }
    }
    detect_report(args, &runs, r);
    Ok(())
}

fn detect_report(args: &Args, runs: &[DetectRun], r: &mut Report) {
    for fault in [Fault::Dead, Fault::Hung] {
        let these: Vec<&DetectRun> = runs.iter().filter(|x| x.fault == fault).collect();
        if these.is_empty() {
            continue;
        }
        let out: Vec<Duration> = these.iter().filter_map(|x| x.out).collect();
        let met = if out.len() == these.len() && median(&out) <= Duration::from_secs(2) {
            "met"
        } else {
            "**missed**"
        };
        r.row(
            format!(
                "5. {} instance of {}: fault → out of `GET /router/routes` ({} runs)",
                fault.name(),
                args.detect,
                these.len()
            ),
            format!("{}; target ≤ 2 s: {met}", secs_spread(&out)),
        );
        let failed: Vec<String> = these.iter().map(|x| x.failed.to_string()).collect();
        let hit: Vec<String> = these
            .iter()
            .map(|x| {
                format!(
                    "{} (last due {})",
                    x.hit,
                    x.last_hit
                        .map_or("–".into(), |d| format!("{} ms after", ms(d)))
                )
            })
            .collect();
        r.row(
            format!("5. {fault:?}: failed requests per run; requests slow (≥ 0.9 s) or failed after the fault"),
            format!("{}; {}", failed.join(", "), hit.join(", ")),
        );
    }
    let mut table = format!(
        "Each fault ({} `web` instances, an `http` check of `/health` every 1 s, 3 failures replace; load: {} requests/s over at most {} kept-alive connections; the route table read every 10 ms; times after the fault):\n\n\
         | fault | instance | out of the routes | listed again | requests due after | failed | slow or failed | last of them due | slowest |\n|---|---|---|---|---|---|---|---|---|\n",
        args.detect, args.load_rate, args.load_connections
    );
    let opt = |d: Option<Duration>| d.map_or("–".to_string(), |d| format!("{} ms", ms(d)));
    for x in runs {
        table.push_str(&format!(
            "| {:?} | {} | {} | {} | {} | {} | {} | {} | {} ms |\n",
            x.fault,
            x.instance,
            opt(x.out),
            opt(x.back),
            x.requests,
            x.failed,
            x.hit,
            opt(x.last_hit),
            ms1(x.slowest),
        ));
    }
    r.tables.push(table);
}
