//! Part 4: rolling deploys under load. An app of its own (the bench's app with `/health`,
//! `/die` and `/hang`, saying its instance and greeting) scaled to `--rollout` `web`
//! instances; for each `--max-in-flight`, `--rollout-runs` times: the steady load through
//! the router, `--baseline` seconds of it, then a config change (a new release: a rolling
//! deployment) and the newest deployment read every 20 ms until it is no longer
//! `DEPLOYING`. Measured: PATCH → `DEPLOYED`, failed requests, and the latency of the
//! requests due during the rollout against those due in the seconds before it.

use super::*;
use crate::steady::{Sample, Steady, Window, ms_spread, ms1, secs_spread, window};

/// The app of parts 4 and 5: as [`APP_PY`], and its answer says which instance and which
/// greeting (config var `GREETING`) served it; `GET /die` ends the process at once
/// (`os._exit(1)`), `GET /hang` makes every request from then on, `/health` too, wait
/// forever while the port still accepts connections.
pub(crate) const ROLLOUT_APP_PY: &str = r#"import os, socket, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

WHO = "{} {} {}".format(os.environ.get("NUBO_INSTANCE", "?"),
                        os.environ.get("GREETING", "g0"), socket.gethostname())
BODY = (WHO + "\n").encode()
HUNG = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1
    disable_nagle_algorithm = True

    def do_GET(self):
        if self.path == "/die":
            os._exit(1)
        if self.path == "/hang":
            HUNG.set()
        while HUNG.is_set():
            time.sleep(3600)
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

/// The app's name in parts 4 and 5.
pub(crate) const ROLLOUT_APP: &str = "rollout";

/// One rolling deploy.
#[derive(Debug, Clone)]
pub(crate) struct RolloutRun {
    pub(crate) in_flight: u32,
    /// PATCH → the deployment no longer `DEPLOYING`.
    pub(crate) took: Duration,
    /// Its end state, and reason when it has one.
    pub(crate) state: String,
    pub(crate) reason: Option<String>,
    /// The requests due in the baseline seconds before the PATCH, and during the rollout.
    pub(crate) base: Window,
    pub(crate) during: Window,
    /// Failed requests over the whole load (before, during and after).
    pub(crate) failed: usize,
    /// Answers of the old greeting among the requests due after `DEPLOYED`.
    pub(crate) old_after: usize,
}

/// An app `name` of [`ROLLOUT_APP_PY`], built from its tarball and up (one instance).
pub(crate) fn rollout_app(
    args: &Args,
    daemon: &Daemon,
    rest: &Rest,
    client: &Client,
    work: &Path,
    name: &str,
) -> Result<String> {
    let dir = work.join("rollout-app");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("app.py"), ROLLOUT_APP_PY)?;
    std::fs::write(dir.join("Procfile"), PROCFILE)?;
    std::fs::write(dir.join("requirements.txt"), "")?;
    let file = work.join("rollout-app.tar.gz");
    sh(&format!(
        "tar -C {} -czf {} app.py Procfile requirements.txt",
        dir.display(),
        file.display()
    ))?;
    let tarball = std::fs::read(file)?;
    let app = name.to_string();
    let (status, body) = rest.send(
        "POST",
        "/apps",
        "application/json",
        json!({"name": app}).to_string().as_bytes(),
    )?;
    if status != 201 {
        bail!("POST /apps answered {status}: {body}");
    }
    let t = deploy(args, daemon, rest, client, &app, &tarball)?;
    eprintln!("{app} deployed: {}", t.summary());
    Ok(app)
}

/// `PATCH` with a JSON body, wanting 200.
pub(crate) fn patch(rest: &Rest, path: &str, body: serde_json::Value) -> Result<()> {
    let (status, text) = rest.send(
        "PATCH",
        path,
        "application/json",
        body.to_string().as_bytes(),
    )?;
    if status != 200 {
        bail!("PATCH {path} answered {status}: {text}");
    }
    Ok(())
}

/// The app's newest deployment (the highest id).
pub(crate) fn newest_deployment(rest: &Rest, app: &str) -> Result<serde_json::Value> {
    let list = rest.get_json(&format!("/apps/{app}/deployments"))?;
    list.as_array()
        .into_iter()
        .flatten()
        .max_by_key(|d| d["id"].as_i64().unwrap_or(-1))
        .cloned()
        .context("no deployment")
}

/// Scales `web` to `n` and waits until exactly `n` instances are listed, all `up`, the
/// newest deployment is not `DEPLOYING` and no other VM of the app is left.
pub(crate) fn scale_to(rest: &Rest, client: &Client, app: &str, n: u32) -> Result<()> {
    patch(rest, &format!("/apps/{app}/formation"), json!({"web": n}))?;
    settle(rest, client, app, n, Duration::from_secs(600))
}

/// Waits until the app has `n` `web` instances, all `up`, nothing deploying and no other
/// VM of it.
pub(crate) fn settle(
    rest: &Rest,
    client: &Client,
    app: &str,
    n: u32,
    timeout: Duration,
) -> Result<()> {
    let prefix = format!("{app}-web-");
    wait_every(
        timeout,
        &format!("{n} web instances of {app} up, alone"),
        || {
            let list = rest.get_json(&format!("/apps/{app}/instances"))?;
            let all = list.as_array().map_or(0, Vec::len);
            let up = list
                .as_array()
                .into_iter()
                .flatten()
                .filter(|i| i["type"] == "web" && i["state"] == "up")
                .count();
            if all != n as usize || up != n as usize {
                return Ok(false);
            }
            if newest_deployment(rest, app)?["state"] == "DEPLOYING" {
                return Ok(false);
            }
            let vms = pool_vms(client)?
                .iter()
                .filter(|(_, name, _)| name.starts_with(&prefix))
                .count();
            Ok(vms == n as usize)
        },
    )
}

/// One rolling deploy under load, with `greeting` as the new release's config.
pub(crate) fn rollout_once(
    args: &Args,
    daemon: &Daemon,
    rest: &Rest,
    app: &str,
    in_flight: u32,
    greeting: &str,
) -> Result<RolloutRun> {
    patch(
        rest,
        &format!("/apps/{app}/rollout"),
        json!({"strategy": "rolling", "max_in_flight": in_flight}),
    )?;
    let before = newest_deployment(rest, app)?["id"].as_i64().unwrap_or(-1);
    let old = newest_greeting(rest, app)?;
    let host = format!("{app}.{DOMAIN}");
    let load = Steady::start(
        daemon.router,
        &host,
        args.load_rate,
        args.load_connections,
        Duration::from_secs(35),
    );
    let baseline = Duration::from_secs(args.baseline.max(1));
    std::thread::sleep(Duration::from_secs(1) + baseline);
    let patched = load.now();
    patch(
        rest,
        &format!("/apps/{app}/config-vars"),
        json!({"GREETING": greeting}),
    )?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let (ended, d) = loop {
        let d = newest_deployment(rest, app)?;
        let at = load.now();
        if d["id"].as_i64().unwrap_or(-1) > before && d["state"] != "DEPLOYING" {
            break (at, d);
        }
        if Instant::now() > deadline {
            bail!("the deployment of {greeting} still DEPLOYING after 600 s: {d}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_secs(1));
    let samples = load.finish()?;
    let state = d["state"].as_str().unwrap_or("?").to_string();
    let reason = d["reason"].as_str().map(str::to_string);
    let run = RolloutRun {
        in_flight,
        took: ended.saturating_sub(patched),
        state,
        reason,
        base: window(&samples, patched.saturating_sub(baseline), patched),
        during: window(&samples, patched, ended),
        failed: samples.iter().filter(|s| s.status != 200).count(),
        old_after: samples
            .iter()
            .filter(|s| s.due > ended && greeting_of(s) == Some(old.as_str()))
            .count(),
    };
    if run.failed > 0 {
        let first: Vec<String> = samples
            .iter()
            .filter(|s| s.status != 200)
            .take(5)
            .map(|s| {
                format!(
                    "due {} ms after the PATCH: {} {:?}",
                    ms(s.due.saturating_sub(patched)),
                    s.status,
                    s.body.trim()
                )
            })
            .collect();
        eprintln!("  failed requests: {}", first.join("; "));
    }
    Ok(run)
}

/// The greeting the app's instances say now (`g0` before any).
fn newest_greeting(rest: &Rest, app: &str) -> Result<String> {
    let vars = rest.get_json(&format!("/apps/{app}/config-vars"))?;
    Ok(vars["GREETING"].as_str().unwrap_or("g0").to_string())
}

/// The greeting in an answer (`web.3 g2 host`).
pub(crate) fn greeting_of(s: &Sample) -> Option<&str> {
    s.body.split_whitespace().nth(1)
}

/// Part 4: every `--max-in-flight`, `--rollout-runs` times each.
pub(crate) fn rollouts(
    args: &Args,
    daemon: &Daemon,
    rest: &Rest,
    client: &Client,
    app: &str,
    r: &mut Report,
) -> Result<()> {
    scale_to(rest, client, app, args.rollout)?;
    let mut runs = Vec::new();
    let mut seq = 0;
    for &k in &args.max_in_flight {
        for i in 1..=args.rollout_runs.max(1) {
            seq += 1;
            let run = rollout_once(args, daemon, rest, app, k, &format!("g{seq}"))?;
            eprintln!(
                "rollout max_in_flight {k}, run {i}: {} in {} ms; {} failed; p50/p99 {} / {} ms before, {} / {} ms during ({} requests){}",
                run.state,
                ms(run.took),
                run.failed,
                ms1(run.base.p50),
                ms1(run.base.p99),
                ms1(run.during.p50),
                ms1(run.during.p99),
                run.during.count,
                run.reason
                    .as_deref()
                    .map_or(String::new(), |r| format!(": {r}"))
            );
            runs.push(run);
            settle(rest, client, app, args.rollout, Duration::from_secs(300))?;
        }
    }
    rollout_report(args, &runs, r);
    Ok(())
}

fn rollout_report(args: &Args, runs: &[RolloutRun], r: &mut Report) {
    let n = args.rollout;
    for &k in &args.max_in_flight {
        let these: Vec<&RolloutRun> = runs.iter().filter(|x| x.in_flight == k).collect();
        if these.is_empty() {
            continue;
        }
        let pick = |f: fn(&RolloutRun) -> Duration| these.iter().map(|x| f(x)).collect::<Vec<_>>();
        let states: Vec<&str> = these.iter().map(|x| x.state.as_str()).collect();
        let failed: Vec<String> = these.iter().map(|x| x.failed.to_string()).collect();
        let requests: usize = these.iter().map(|x| x.during.count).sum();
        r.row(
            format!("4. rolling deploy of {n} `web`, max_in_flight {k}: PATCH config-vars → `DEPLOYED` ({} runs)", these.len()),
            format!("{} ({})", secs_spread(&pick(|x| x.took)), states.join(", ")),
        );
        r.row(
            format!(
                "4. max_in_flight {k}: failed requests (non-200 or no answer) per run, whole load"
            ),
            format!(
                "{} ({requests} requests due during the rollouts); target 0: {}",
                failed.join(", "),
                if these.iter().all(|x| x.failed == 0) {
                    "met"
                } else {
                    "**missed**"
                }
            ),
        );
        r.row(
            format!(
                "4. max_in_flight {k}: latency p50, {} s before → during the rollout",
                args.baseline
            ),
            format!(
                "{} → {}",
                ms_spread(&pick(|x| x.base.p50)),
                ms_spread(&pick(|x| x.during.p50))
            ),
        );
        r.row(
            format!("4. max_in_flight {k}: latency p99, before → during"),
            format!(
                "{} → {}",
                ms_spread(&pick(|x| x.base.p99)),
                ms_spread(&pick(|x| x.during.p99))
            ),
        );
        let old: usize = these.iter().map(|x| x.old_after).sum();
        if old > 0 {
            r.row(
                format!("4. max_in_flight {k}: answers from the old release after `DEPLOYED`"),
                old.to_string(),
            );
        }
    }
    let mut table = format!(
        "Each rolling deploy ({n} `web` instances; load: {} requests/s due on a schedule over at most {} kept-alive connections to the router; latency from when a request was due):\n\n\
         | max_in_flight | PATCH → end | state | requests before / during | failed during / whole load | p50 before → during | p99 before → during | max during |\n|---|---|---|---|---|---|---|---|\n",
        args.load_rate, args.load_connections
    );
    for x in runs {
        table.push_str(&format!(
            "| {} | {:.2} s | {}{} | {} / {} | {} / {} | {} → {} ms | {} → {} ms | {} ms |\n",
            x.in_flight,
            x.took.as_secs_f64(),
            x.state,
            x.reason
                .as_deref()
                .map_or(String::new(), |r| format!(" ({r})")),
            x.base.count,
            x.during.count,
            x.during.failed,
            x.failed,
            ms1(x.base.p50),
            ms1(x.during.p50),
            ms1(x.base.p99),
            ms1(x.during.p99),
            ms1(x.during.max),
        ));
    }
    r.tables.push(table);
}
