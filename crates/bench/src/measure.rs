//! The measurements, each through the public XML-RPC interface.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use nubo_client::Client;
use nubo_xmlrpc::Value;

use crate::nubod::Nubod;

/// Seconds of CPU time the hypervisor gave to other guests (steal, all CPUs), from
/// `/proc/stat`: a busy neighbour slows every figure, and this says how much.
pub fn steal_seconds() -> f64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(8))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |ticks| ticks / 100.0)
}

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
/// them are RUNNING. Progress is read in windows of the new ids, oldest first, so the
/// polling itself stays small next to the work it waits for.
pub fn instantiate_to_running(
    client: &Client,
    tid: i32,
    n: usize,
    clients: usize,
) -> Result<Duration> {
    let t = Instant::now();
    let c = client.clone();
    let ids = Arc::new(std::sync::Mutex::new(Vec::with_capacity(n)));
    let sink = ids.clone();
    parallel(n, clients, move |_| {
        let id = c.call_id(
            "one.template.instantiate",
            vec![
                Value::Int(tid),
                Value::from(""),
                Value::Bool(false),
                Value::from(""),
                Value::Bool(false),
            ],
        )?;
        sink.lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .push(id);
        Ok(())
    })?;
    let mut ids = std::mem::take(&mut *ids.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    ids.sort_unstable();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut next = 0;
    while next < ids.len() {
        let last = ids[(next + 499).min(ids.len() - 1)];
        let xml = client.call_string(
            "one.vmpool.info",
            vec![
                Value::Int(-2),
                Value::Int(ids[next]),
                Value::Int(last),
                Value::Int(-1),
            ],
        )?;
        let running: std::collections::HashSet<i32> = xml
            .split("<VM>")
            .skip(1)
            .filter(|vm| vm.contains("<LCM_STATE>3</LCM_STATE>"))
            .filter_map(|vm| {
                let from = vm.find("<ID>")? + 4;
                let to = from + vm[from..].find('<')?;
                vm[from..to].parse().ok()
            })
            .collect();
        while next < ids.len() && running.contains(&ids[next]) {
            next += 1;
        }
        if Instant::now() > deadline {
            bail!("only {next} of {} VMs RUNNING after 600 s", ids.len());
        }
        if next < ids.len() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Ok(t.elapsed())
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

/// Median time (ms) until the last byte of a pool call's reply has arrived, over raw
/// HTTP: the server's work and the transfer, without any client decoding.
pub fn wire_latency(daemon: &Nubod, method: &str, runs: usize) -> Result<f64> {
    use std::io::{Read, Write};
    let (endpoint, session) = daemon.endpoint();
    let addr = endpoint
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let body = nubo_xmlrpc::write_call(&nubo_xmlrpc::MethodCall {
        method: method.to_string(),
        params: vec![
            Value::from(session),
            Value::Int(-2),
            Value::Int(-1),
            Value::Int(-1),
            Value::Int(-1),
        ],
    });
    let request = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/xml\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let mut stream = std::net::TcpStream::connect(&addr)?;
        stream.write_all(request.as_bytes())?;
        let mut reply = Vec::with_capacity(64 << 20);
        stream.read_to_end(&mut reply)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if !reply.starts_with(b"HTTP/1.1 200") {
            bail!("{method} did not answer 200");
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
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
