//! Part 6: how fast the autoscaler reacts to load. Each run a new app of part 4's code (so
//! no earlier traffic is in its figures) at one `web` instance, a policy of 1 to
//! `--autoscale` instances at `--autoscale-target` requests a second each, then the steady
//! load (`--load-rate`): the formation read every 100 ms until the autoscaler has asked for
//! every instance the load needs (or 240 s), then until they are all `up`.

use super::*;
use crate::rollout::{patch, rollout_app, settle};
use crate::steady::{Steady, secs_spread};

/// One reaction, after the load began.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScaleRun {
    /// The formation's first change (above 1).
    pub(crate) first: Option<Duration>,
    /// Its size then.
    pub(crate) first_to: u32,
    /// The formation reached what the load needs.
    pub(crate) wanted: Option<Duration>,
    /// That many instances `up`.
    pub(crate) up: Option<Duration>,
    /// Failed requests of the load.
    pub(crate) failed: usize,
    /// The formation's steps (seconds after the load began, size).
    pub(crate) steps: Vec<(Duration, u32)>,
}

fn web_formation(rest: &Rest, app: &str) -> Result<u32> {
    let f = rest.get_json(&format!("/apps/{app}/formation"))?;
    Ok(f["web"].as_u64().unwrap_or(0) as u32)
}

fn web_up(rest: &Rest, app: &str) -> Result<u32> {
    let list = rest.get_json(&format!("/apps/{app}/instances"))?;
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "web" && i["state"] == "up")
        .count() as u32)
}

fn autoscale_once(
    args: &Args,
    work: &Path,
    daemon: &Daemon,
    rest: &Rest,
    client: &Client,
    app: &str,
) -> Result<ScaleRun> {
    rollout_app(args, daemon, rest, client, work, app)?;
    settle(rest, client, app, 1, Duration::from_secs(120))?;
    patch(
        rest,
        &format!("/apps/{app}/autoscaling"),
        json!({"web": {"min": 1, "max": args.autoscale, "metric": "requests", "target": args.autoscale_target}}),
    )?;
    let needed = args
        .load_rate
        .div_ceil(args.autoscale_target.max(1))
        .clamp(1, args.autoscale);
    let load = Steady::start(
        daemon.router,
        &format!("{app}.{DOMAIN}"),
        args.load_rate,
        args.load_connections,
        Duration::from_secs(35),
    );
    let mut run = ScaleRun::default();
    let mut last = 1;
    let deadline = Duration::from_secs(240);
    while load.now() < deadline {
        let n = web_formation(rest, app)?;
        let at = load.now();
        if n != last {
            run.steps.push((at, n));
            last = n;
        }
        if n > 1 && run.first.is_none() {
            run.first = Some(at);
            run.first_to = n;
        }
        if n >= needed && run.wanted.is_none() {
            run.wanted = Some(at);
        }
        if run.wanted.is_some() && web_up(rest, app)? >= needed {
            run.up = Some(load.now());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let samples = load.finish()?;
    run.failed = samples.iter().filter(|s| s.status != 200).count();
    delete_app(rest, client, app)?;
    Ok(run)
}

/// Part 6: `--autoscale-runs` reactions, a new app each.
pub(crate) fn autoscaling(
    args: &Args,
    work: &Path,
    daemon: &Daemon,
    rest: &Rest,
    client: &Client,
    r: &mut Report,
) -> Result<()> {
    let needed = args
        .load_rate
        .div_ceil(args.autoscale_target.max(1))
        .clamp(1, args.autoscale);
    let mut runs = Vec::new();
    for i in 1..=args.autoscale_runs.max(1) {
        let run = autoscale_once(args, work, daemon, rest, client, &format!("scale{i}"))?;
        eprintln!(
            "autoscale {i}: first change after {:?} (to {}), {needed} asked for after {:?}, up after {:?}; steps {:?}; {} failed",
            run.first, run.first_to, run.wanted, run.up, run.steps, run.failed
        );
        runs.push(run);
    }
    let pick = |f: fn(&ScaleRun) -> Option<Duration>| -> Vec<Duration> {
        runs.iter().filter_map(f).collect()
    };
    let label = format!(
        "6. autoscaling (requests, target {} /s per instance, 1–{}), load {} requests/s from nothing",
        args.autoscale_target, args.autoscale, args.load_rate
    );
    r.row(
        format!("{label}: load → the first scale-up ({} runs)", runs.len()),
        secs_spread(&pick(|x| x.first)),
    );
    r.row(
        format!("{label}: load → formation web={needed}"),
        secs_spread(&pick(|x| x.wanted)),
    );
    r.row(
        format!("{label}: load → {needed} instances `up`"),
        secs_spread(&pick(|x| x.up)),
    );
    let mut table = String::from(
        "Each autoscaling reaction (seconds after the load began):\n\n| run | formation steps | all `up` | failed requests |\n|---|---|---|---|\n",
    );
    for (i, x) in runs.iter().enumerate() {
        let steps = x
            .steps
            .iter()
            .map(|(t, n)| format!("{n} at {:.1} s", t.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ");
        table.push_str(&format!(
            "| {} | {steps} | {} | {} |\n",
            i + 1,
            x.up.map_or("–".into(), |d| format!("{:.1} s", d.as_secs_f64())),
            x.failed
        ));
    }
    r.tables.push(table);
    Ok(())
}
