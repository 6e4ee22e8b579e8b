//! Figures of the machine the benchmarks run on, and small timing helpers.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// MemAvailable from /proc/meminfo, in KiB.
pub fn mem_available_kib() -> Result<u64> {
    meminfo_kib("MemAvailable:")
}

/// One field of /proc/meminfo (`"MemAvailable:"`), in KiB.
pub fn meminfo_kib(field: &str) -> Result<u64> {
    let text = std::fs::read_to_string("/proc/meminfo")?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/meminfo"))
}

/// CPU seconds the whole machine spent busy (user + nice + system + irq + softirq, all
/// cores).
pub fn host_cpu_seconds() -> Result<f64> {
    let text = std::fs::read_to_string("/proc/stat")?;
    let line = text.lines().next().context("empty /proc/stat")?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: f64 = [0, 1, 2, 5, 6].iter().filter_map(|i| v.get(*i)).sum();
    Ok(busy / 100.0)
}

/// The median (the upper one of an even count).
pub fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// The smallest and largest.
pub fn range(v: &[Duration]) -> (Duration, Duration) {
    (
        v.iter().min().copied().unwrap_or_default(),
        v.iter().max().copied().unwrap_or_default(),
    )
}

/// Milliseconds, for reports.
pub fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

/// Polls `done` every `every` until it holds; how long that took.
pub fn wait_every(
    timeout: Duration,
    every: Duration,
    what: &str,
    mut done: impl FnMut() -> Result<bool>,
) -> Result<Duration> {
    let start = Instant::now();
    while !done()? {
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(every);
    }
    Ok(start.elapsed())
}

/// Waits until the file at `log` holds `needle` (looked at every 0.5 ms).
pub fn wait_line(log: &Path, needle: &str, timeout: Duration) -> Result<Duration> {
    let needle = needle.as_bytes();
    wait_every(timeout, Duration::from_micros(500), "a log line", || {
        Ok(std::fs::read(log).is_ok_and(|t| t.windows(needle.len()).any(|w| w == needle)))
    })
}

/// CPU seconds process `pid` and its children it waited for have used (user + system of
/// both: the programs an agent runs count).
pub fn process_tree_cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12, 13, 14]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    Ok(ticks / 100.0)
}

/// Median time to spawn `program` with `args` and wait for it, over `n` runs.
pub fn exec_cost(program: &str, args: &[&str], n: usize) -> Duration {
    let mut v = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let _ = std::process::Command::new(program)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        v.push(t.elapsed());
    }
    median(&v)
}
