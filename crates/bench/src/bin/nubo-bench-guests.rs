//! `nubo-bench-guests`: real guests on one host. Starts a release nubod and a nubo-hostd
//! (QEMU driver, local, as root), then measures (1) the time from `template.instantiate`
//! to the guest's first serial line, against plain `qemu-system-x86_64` started by hand
//! with the same kernel, run alternately, and (2) how many 128 MiB guests the host runs at
//! once, booted two at a time. Prints a Markdown report for docs/benchmarks.md.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use nubo_bench::nubod;
use nubo_client::Client;
use nubo_xmlrpc::Value;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "Benchmarks real guests under nubod and nubo-hostd")]
struct Args {
    /// The nubod binary.
    #[arg(long, default_value = "target/release/nubod")]
    nubod: PathBuf,
    /// The nubo-hostd binary.
    #[arg(long, default_value = "target/release/nubo-hostd")]
    hostd: PathBuf,
    /// The test guest (scripts/build-test-guest.sh).
    #[arg(long, default_value = "target/test-guest")]
    guest: PathBuf,
    /// Boots measured each way.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Guests to run at once for the density measurement.
    #[arg(long, default_value_t = 30)]
    density: usize,
}

const CMDLINE: &str = "console=ttyS0 quiet no_timer_check panic=-1";

struct Hostd {
    child: Child,
    state: tempfile::TempDir,
}

impl Drop for Hostd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Guests outlive the agent: stop the ones left.
        let _ = Command::new("pkill")
            .args(["-9", "-f", &self.state.path().display().to_string()])
            .status();
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let guest = std::fs::canonicalize(&args.guest)
        .with_context(|| format!("no test guest in {}", args.guest.display()))?;
    let daemon = nubod::Nubod::start(&args.nubod)?;
    let client = daemon.client();
    let name = "bench-host";
    let secret = Command::new(&args.nubod)
        .arg("--data-dir")
        .arg(daemon.data_dir())
        .args(["host-secret", name])
        .output()?;
    let state = tempfile::tempdir()?;
    let secret_file = state.path().join("secret");
    std::fs::write(&secret_file, &secret.stdout)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let hostd = Hostd {
        child: Command::new(&args.hostd)
            .args(["--name", name, "--listen", &format!("127.0.0.1:{port}")])
            .arg("--secret-file")
            .arg(&secret_file)
            .arg("--state-dir")
            .arg(state.path().join("state"))
            .args(["--driver", "kvm", "--log-level", "warn"])
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", args.hostd.display()))?,
        state,
    };
    let hid = client.call_id(
        "one.host.allocate",
        vec![
            Value::from(name),
            Value::from("kvm"),
            Value::from("kvm"),
            Value::Int(-1),
        ],
    )?;
    client.call(
        "one.host.update",
        vec![
            Value::Int(hid),
            Value::from(format!("HOSTD_ENDPOINT=\"http://127.0.0.1:{port}\"")),
            Value::Int(1),
        ],
    )?;
    wait(Duration::from_secs(60), "the host MONITORED", || {
        Ok(client
            .call_string("one.host.info", vec![Value::Int(hid)])?
            .contains("<STATE>2</STATE>"))
    })?;
    let host_xml = client.call_string("one.host.info", vec![Value::Int(hid)])?;
    let accel = between(&host_xml, "<ACCELERATION><![CDATA[", "]]>").unwrap_or("?");
    let tid = client.call_id(
        "one.template.allocate",
        vec![Value::from(format!(
            "NAME=\"tiny\"\nCPU=\"0.01\"\nVCPU=\"1\"\nMEMORY=\"128\"\n\
             OS=[KERNEL=\"{0}/vmlinuz\", INITRD=\"{0}/initramfs.gz\", KERNEL_CMD=\"{CMDLINE}\"]\n\
             SCHED_REQUIREMENTS=\"ID = {hid}\"",
            guest.display()
        ))],
    )?;
    let vms_dir = hostd.state.path().join("state").join("vms");

    let mut plain = Vec::new();
    let mut nubo = Vec::new();
    for _ in 0..args.runs {
        plain.push(plain_qemu(&guest)?);
        let t = Instant::now();
        let vid = instantiate(&client, tid)?;
        wait_line(
            &vms_dir.join(vid.to_string()).join("serial.log"),
            "GUEST-UP",
        )?;
        nubo.push(t.elapsed());
        terminate(&client, vid)?;
    }
    let (p, n) = (median(&mut plain), median(&mut nubo));
    let target = p.mul_f64(1.5) + Duration::from_millis(200);
    println!("| measurement | result |\n|---|---|");
    println!("| acceleration | {accel} |");
    println!(
        "| plain qemu-system-x86_64, start to first serial line (median of {}) | {:.2} s |",
        args.runs,
        p.as_secs_f64()
    );
    println!(
        "| template.instantiate to first serial line through nubod + nubo-hostd (median of {}) | {:.2} s ({:.2}×; target ≤ {:.2} s) |",
        args.runs,
        n.as_secs_f64(),
        n.as_secs_f64() / p.as_secs_f64(),
        target.as_secs_f64()
    );

    // Density: boot two at a time until `density` guests run.
    let free_before = mem_available_kib()?;
    let t = Instant::now();
    let mut running = Vec::new();
    for _ in 0..args.density {
        let vid = instantiate(&client, tid)?;
        running.push(vid);
        if running.len() >= 2 {
            let waiting = running[running.len() - 2];
            wait_line(
                &vms_dir.join(waiting.to_string()).join("serial.log"),
                "GUEST-READY",
            )?;
        }
    }
    if let Some(last) = running.last() {
        wait_line(
            &vms_dir.join(last.to_string()).join("serial.log"),
            "GUEST-READY",
        )?;
    }
    let booted = t.elapsed();
    std::thread::sleep(Duration::from_secs(10));
    let (cpu_before, at) = (host_cpu_seconds()?, Instant::now());
    std::thread::sleep(Duration::from_secs(10));
    let idle_cpu = (host_cpu_seconds()? - cpu_before) / at.elapsed().as_secs_f64() * 100.0;
    let used_mib = (free_before.saturating_sub(mem_available_kib()?)) / 1024;
    let alive = running
        .iter()
        .filter(|v| {
            client
                .call_string("one.vm.info", vec![Value::Int(**v)])
                .is_ok_and(|x| {
                    x.contains("<STATE>3</STATE>") && x.contains("<LCM_STATE>3</LCM_STATE>")
                })
        })
        .count();
    println!(
        "| 128 MiB guests running at once (booted two at a time) | {alive} of {} RUNNING, all GUEST-READY after {:.0} s |",
        args.density,
        booted.as_secs_f64()
    );
    println!(
        "| memory they use | {used_mib} MiB ({} MiB per guest) |",
        used_mib / u64::try_from(args.density.max(1)).unwrap_or(1)
    );
    println!("| CPU of the whole machine with them idle | {idle_cpu:.0} % of one core |");
    for vid in running {
        terminate(&client, vid)?;
    }
    drop(hostd);
    Ok(())
}

fn instantiate(client: &Client, tid: i32) -> Result<i32> {
    Ok(client.call_id(
        "one.template.instantiate",
        vec![
            Value::Int(tid),
            Value::from(""),
            Value::Bool(false),
            Value::from(""),
            Value::Bool(false),
        ],
    )?)
}

fn terminate(client: &Client, vid: i32) -> Result<()> {
    client.call(
        "one.vm.action",
        vec![Value::from("terminate-hard"), Value::Int(vid)],
    )?;
    wait(Duration::from_secs(120), "a VM DONE", || {
        Ok(client
            .call_string("one.vm.info", vec![Value::Int(vid)])?
            .contains("<STATE>6</STATE>"))
    })
}

/// Seconds from starting a plain QEMU (as one would by hand) to its first serial line.
fn plain_qemu(guest: &Path) -> Result<Duration> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("serial.log");
    let t = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args([
            "-accel", "tcg", "-cpu", "max", "-machine", "q35", "-m", "128M", "-smp", "1",
        ])
        .args(["-nodefaults", "-display", "none", "-no-reboot"])
        .arg("-kernel")
        .arg(guest.join("vmlinuz"))
        .arg("-initrd")
        .arg(guest.join("initramfs.gz"))
        .args(["-append", CMDLINE, "-serial"])
        .arg(format!("file:{}", log.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .context("cannot start qemu-system-x86_64")?;
    let result = wait_line(&log, "GUEST-UP").map(|()| t.elapsed());
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn wait_line(log: &Path, needle: &str) -> Result<()> {
    wait(Duration::from_secs(180), needle, || {
        Ok(std::fs::read_to_string(log).is_ok_and(|t| t.contains(needle)))
    })
}

fn wait(timeout: Duration, what: &str, mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !done()? {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    Some(&text[from..from + text[from..].find(end)?])
}

fn mem_available_kib() -> Result<u64> {
    let text = std::fs::read_to_string("/proc/meminfo")?;
    text.lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no MemAvailable")
}

/// CPU seconds the whole machine spent busy (user + nice + system, all cores).
fn host_cpu_seconds() -> Result<f64> {
    let text = std::fs::read_to_string("/proc/stat")?;
    let line = text.lines().next().context("empty /proc/stat")?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect();
    Ok(v.iter().sum::<f64>() / 100.0)
}
