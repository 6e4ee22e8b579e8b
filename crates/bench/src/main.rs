//! `nubo-bench`: starts a real nubod (SQLite in a temporary directory, simulated hosts with
//! zero delay) and measures it through XML-RPC, as OpenNebula's clients would:
//! hosts and VMs at scale, pool listing latency, info call rates with concurrent clients,
//! time from instantiate to RUNNING, and nubod's peak memory. Prints a Markdown report.

mod measure;
use nubo_bench::nubod;

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use nubo_xmlrpc::Value;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "Benchmarks a real nubod over XML-RPC")]
struct Args {
    /// The nubod binary (build it with `cargo build --release -p nubo-nubod`).
    #[arg(long, default_value = "target/release/nubod")]
    nubod: std::path::PathBuf,
    /// Simulated hosts.
    #[arg(long, default_value_t = 1250)]
    hosts: usize,
    /// VMs instantiated and timed to RUNNING.
    #[arg(long, default_value_t = 10_000)]
    burst: usize,
    /// VMs in the pool for the listing and info measurements.
    #[arg(long, default_value_t = 20_000)]
    vms: usize,
    /// VMs in the pool for the memory measurement.
    #[arg(long, default_value_t = 100_000)]
    big_pool: usize,
    /// Concurrent clients for the call-rate measurements.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Seconds each call-rate measurement runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let daemon = nubod::Nubod::start(&args.nubod)?;
    let (started, steal_before) = (Instant::now(), measure::steal_seconds());
    let client = daemon.client();
    let mut report = measure::Report::default();

    let t = Instant::now();
    for i in 0..args.hosts {
        client.call_id(
            "one.host.allocate",
            vec![
                Value::from(format!("sim{i:05}")),
                Value::from("dummy"),
                Value::from("dummy"),
                Value::Int(-1),
            ],
        )?;
    }
    measure::wait_hosts_monitored(&client, args.hosts)?;
    report.line(
        "hosts created and MONITORED",
        format!("{} in {:.1} s", args.hosts, t.elapsed().as_secs_f64()),
    );

    let tid = client.call_id(
        "one.template.allocate",
        vec![Value::from(
            "NAME=\"bench\"\nCPU=\"0.1\"\nVCPU=\"1\"\nMEMORY=\"64\"",
        )],
    )?;

    let cpu_before = daemon.cpu_seconds()?;
    let burst = measure::instantiate_to_running(&client, tid, args.burst, args.clients)?;
    report.line(
        &format!("{} VMs from template.instantiate to RUNNING", args.burst),
        format!(
            "{:.2} s, {:.1} s of nubod CPU (target ≤ 10 s)",
            burst.as_secs_f64(),
            daemon.cpu_seconds()? - cpu_before
        ),
    );

    if args.vms > args.burst {
        measure::instantiate_to_running(&client, tid, args.vms - args.burst, args.clients)?;
    }
    let total = args.vms.max(args.burst);
    let wire_ms = measure::wire_latency(&daemon, "one.vmpool.info", 10)?;
    report.line(
        &format!("vmpool.info of {total} VMs, call to last byte of the reply (median of 10)"),
        format!("{wire_ms:.0} ms (target ≤ 150 ms)"),
    );
    let (info_ms, body) = measure::latency(&client, "one.vmpool.info", 10)?;
    report.line(
        &format!("vmpool.info of {total} VMs, decoded by the Rust client (median of 10)"),
        format!("{info_ms:.0} ms, {:.1} MB of XML", body as f64 / 1e6),
    );
    let wire_ms = measure::wire_latency(&daemon, "one.vmpool.infoextended", 5)?;
    let (ext_ms, body) = measure::latency(&client, "one.vmpool.infoextended", 5)?;
    report.line(
        &format!("vmpool.infoextended of {total} VMs (median of 5)"),
        format!(
            "{wire_ms:.0} ms to last byte, {ext_ms:.0} ms decoded, {:.1} MB of XML",
            body as f64 / 1e6
        ),
    );
    let secs = Duration::from_secs(args.seconds);
    let rate = measure::call_rate(&daemon, "one.vm.info", total, args.clients, secs)?;
    report.line(
        &format!("vm.info with {} clients", args.clients),
        format!("{rate:.0} calls/s (target ≥ 5,000)"),
    );
    let rate = measure::call_rate(&daemon, "one.host.info", args.hosts, args.clients, secs)?;
    report.line(
        &format!("host.info with {} clients", args.clients),
        format!("{rate:.0} calls/s"),
    );
    report.line(
        &format!("nubod peak RSS with {total} VMs"),
        format!("{:.0} MiB", daemon.peak_rss_kib()? as f64 / 1024.0),
    );

    if args.big_pool > total {
        let t = Instant::now();
        measure::allocate_on_hold(&client, args.big_pool - total, args.clients)?;
        report.line(
            &format!("{} more VMs allocated (on hold)", args.big_pool - total),
            format!("{:.1} s", t.elapsed().as_secs_f64()),
        );
        report.line(
            &format!("nubod peak RSS with {} VMs", args.big_pool),
            format!(
                "{:.0} MiB (target ≤ 1024 MiB)",
                daemon.peak_rss_kib()? as f64 / 1024.0
            ),
        );
    }
    let (info_ms, body) = measure::latency(&client, "one.vmpool.info", 3).context("final")?;
    report.line(
        &format!(
            "vmpool.info of {} VMs (median of 3)",
            args.big_pool.max(total)
        ),
        format!("{info_ms:.0} ms, {:.1} MB", body as f64 / 1e6),
    );
    report.line(
        "CPU time stolen by the hypervisor during the run (all CPUs)",
        format!(
            "{:.0} s in {:.0} s",
            measure::steal_seconds() - steal_before,
            started.elapsed().as_secs_f64()
        ),
    );
    report.print(&args_line(&args));
    Ok(())
}

fn args_line(a: &Args) -> String {
    format!(
        "nubo-bench --hosts {} --burst {} --vms {} --big-pool {} --clients {} --seconds {}",
        a.hosts, a.burst, a.vms, a.big_pool, a.clients, a.seconds
    )
}
