//! The measurements, each through the public XML-RPC interface.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use nubo_client::Client;
use nubo_xmlrpc::Value;

use crate::nubod::Nubod;

/// Lines of the report.
#[derive(Debug, Default)]
pub struct Report {
    lines: Vec<(String, String)>,
}

impl Report {
    /// Records and echoes one result.
    pub fn line(&mut self, what: &str, value: String) {
        eprintln!("{what}: {value}");
        self.lines.push((what.to_string(), value));
    }

    /// Prints the Markdown table.
    pub fn print(&self, command: &str) {
        println!("Command: `{command}`\n");
        println!("| measurement | result |\n|---|---|");
        for (w, v) in &self.lines {
            println!("| {w} | {v} |");
        }
    }
}

fn pool_count(client: &Client, state: i32) -> Result<usize> {
    let xml = client.call_string(
        "one.vmpool.info",
        vec![
            Value::Int(-2),
            Value::Int(-1),
            Value::Int(-1),
            Value::Int(state),
        ],
    )?;
    Ok(xml.matches("<VM>").count())
}

/// Waits until `n` hosts are MONITORED.
pub fn wait_hosts_monitored(client: &Client, n: usize) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let xml = client.call_string("one.hostpool.info", vec![])?;
        if xml.matches("<STATE>2</STATE>").count() >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("hosts did not reach MONITORED");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `f(i)` for `i in 0..n` over `clients` threads.
fn parallel(
    n: usize,
    clients: usize,
    f: impl Fn(usize) -> Result<()> + Send + Sync + 'static,
) -> Result<()> {
    let f = Arc::new(f);
    let next = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let (f, next) = (f.clone(), next.clone());
            std::thread::spawn(move || -> Result<()> {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= n {
                        return Ok(());
                    }
                    f(i)?;
                }
            })
        })
        .collect();
    for h in handles {
        match h.join() {
            Ok(r) => r?,
            Err(_) => bail!("a client thread panicked"),
        }
    }
    Ok(())
}

/// Instantiates `n` VMs (over `clients` connections) and returns the time until all of
/// them are RUNNING.
pub fn instantiate_to_running(
    client: &Client,
    tid: i32,
    n: usize,
    clients: usize,
) -> Result<Duration> {
    let running_before = pool_count(client, 3)?;
    let t = Instant::now();
    let c = client.clone();
    parallel(n, clients, move |_| {
        c.call_id(
            "one.template.instantiate",
            vec![
                Value::Int(tid),
                Value::from(""),
                Value::Bool(false),
                Value::from(""),
                Value::Bool(false),
            ],
        )?;
        Ok(())
    })?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let xml = client.call_string(
            "one.vmpool.info",
            vec![
                Value::Int(-2),
                Value::Int(-1),
                Value::Int(-1),
                Value::Int(3),
            ],
        )?;
        let running = xml.matches("<LCM_STATE>3</LCM_STATE>").count();
        if running >= running_before + n {
            return Ok(t.elapsed());
        }
        if Instant::now() > deadline {
            bail!("only {running} VMs RUNNING after 600 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Allocates `n` VMs on hold.
pub fn allocate_on_hold(client: &Client, n: usize, clients: usize) -> Result<()> {
    let c = client.clone();
    parallel(n, clients, move |_| {
        c.call_id(
            "one.vm.allocate",
            vec![
                Value::from("CPU=\"0.1\"\nMEMORY=\"64\"\nLABEL=\"bench\""),
                Value::Bool(true),
            ],
        )?;
        Ok(())
    })
}

/// Median latency (ms) of a pool call over `runs`, and the reply size.
pub fn latency(client: &Client, method: &str, runs: usize) -> Result<(f64, usize)> {
    let mut times = Vec::with_capacity(runs);
    let mut size = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let xml = client.call_string(
            method,
            vec![
                Value::Int(-2),
                Value::Int(-1),
                Value::Int(-1),
                Value::Int(-1),
            ],
        )?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        size = xml.len();
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], size))
}

/// Calls `method(id)` for ids in `0..ids` from `clients` threads for `secs`; calls/s.
pub fn call_rate(
    daemon: &Nubod,
    method: &str,
    ids: usize,
    clients: usize,
    secs: Duration,
) -> Result<f64> {
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..clients.max(1))
        .map(|k| {
            let c = daemon.client();
            let (done, method) = (done.clone(), method.to_string());
            std::thread::spawn(move || -> Result<()> {
                let mut i = k;
                while start.elapsed() < secs {
                    let id = (i % ids.max(1)) as i32;
                    c.call_string(&method, vec![Value::Int(id)])?;
                    done.fetch_add(1, Ordering::Relaxed);
                    i += clients;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        match h.join() {
            Ok(r) => r?,
            Err(_) => bail!("a client thread panicked"),
        }
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}
