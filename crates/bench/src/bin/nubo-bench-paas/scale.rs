//! Part 2: scale `web` 1 → N until all are up, and back.

use super::*;

/// When each thing was seen, after the call.
pub(crate) type Marks = BTreeMap<&'static str, Duration>;

/// Scales `web` to `n` until all are up, then back to 1 until the others are gone.
pub(crate) fn scale(
    args: &Args,
    rest: &Rest,
    client: &Client,
    app: &str,
    n: u32,
) -> Result<(Marks, Marks)> {
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

pub(crate) fn scale_report(n: u32, r: &mut Report) {
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
