//! The steady load of parts 4 and 5: an open loop through the router. Requests are due on
//! a fixed schedule (`rate` a second, whatever happens to the ones before), each taken by
//! a free one of `connections` kept-alive connections, and every request's due time,
//! latency (from when it was due, so a wait for a free connection counts), status and
//! answer (the instance that served it) is kept.

use std::io::BufRead;
use std::sync::Mutex;
use std::sync::mpsc;
use std::thread::JoinHandle;

use super::*;

/// One request of the load.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    /// When it was due, since the load began.
    pub(crate) due: Duration,
    /// From when it was due to the end of its answer (or its error).
    pub(crate) took: Duration,
    /// Its status; 0 without an answer (refused, closed, timed out).
    pub(crate) status: u16,
    /// The answer's body (the app says its instance and greeting); empty without one.
    pub(crate) body: String,
}

/// A load running in the background.
pub(crate) struct Steady {
    /// When it began.
    pub(crate) t0: Instant,
    stop: Arc<AtomicBool>,
    dispatcher: Option<JoinHandle<()>>,
    workers: Vec<JoinHandle<Vec<Sample>>>,
}

impl Steady {
    /// `rate` requests a second of `GET /` with `Host: host` to `addr`, on at most
    /// `connections` connections; a request gets `timeout` for each read.
    pub(crate) fn start(
        addr: SocketAddr,
        host: &str,
        rate: u32,
        connections: usize,
        timeout: Duration,
    ) -> Steady {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<Duration>();
        let rx = Arc::new(Mutex::new(rx));
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: nubo-bench\r\n\r\n");
        let t0 = Instant::now();
        let workers = (0..connections.max(1))
            .map(|_| {
                let (rx, request) = (rx.clone(), request.clone());
                std::thread::spawn(move || {
                    let mut out = Vec::new();
                    let mut conn = None;
                    loop {
                        let next = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => break,
                        };
                        let Ok(due) = next else { break };
                        let (status, body) = fetch(&mut conn, addr, &request, timeout)
                            .unwrap_or_else(|_| (0, String::new()));
                        if status != 200 {
                            conn = None;
                        }
                        out.push(Sample {
                            due,
                            took: (t0.elapsed()).saturating_sub(due),
                            status,
                            body,
                        });
                    }
                    out
                })
            })
            .collect();
        let every = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
        let dispatcher = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut due = Duration::ZERO;
                while !stop.load(Ordering::Relaxed) {
                    if let Some(wait) = due.checked_sub(t0.elapsed()) {
                        std::thread::sleep(wait);
                    }
                    if tx.send(due).is_err() {
                        break;
                    }
                    due += every;
                }
            })
        };
        Steady {
            t0,
            stop,
            dispatcher: Some(dispatcher),
            workers,
        }
    }

    /// Since the load began.
    pub(crate) fn now(&self) -> Duration {
        self.t0.elapsed()
    }

    /// Stops sending, waits for the requests under way, and gives every request, by due
    /// time.
    pub(crate) fn finish(mut self) -> Result<Vec<Sample>> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(d) = self.dispatcher.take() {
            d.join()
                .map_err(|_| anyhow::anyhow!("the load's dispatcher panicked"))?;
        }
        let mut all = Vec::new();
        for w in self.workers.drain(..) {
            all.extend(
                w.join()
                    .map_err(|_| anyhow::anyhow!("a load thread panicked"))?,
            );
        }
        all.sort_by_key(|s| s.due);
        Ok(all)
    }
}

impl Drop for Steady {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A failed request, and whether it failed before any byte of an answer came on a kept
/// connection (the router had closed it: a browser sends again, and so do we).
struct Failure {
    stale: bool,
    error: anyhow::Error,
}

/// One request on `conn` (a new connection when there is none, or once more on a new one
/// when a kept one turns out closed): its status and body.
fn fetch(
    conn: &mut Option<BufReader<TcpStream>>,
    addr: SocketAddr,
    request: &str,
    timeout: Duration,
) -> Result<(u16, String)> {
    let reused = conn.is_some();
    match exchange(conn, addr, request, timeout) {
        Ok(answer) => Ok(answer),
        Err(f) if reused && f.stale => {
            *conn = None;
            exchange(conn, addr, request, timeout).map_err(|f| f.error)
        }
        Err(f) => Err(f.error),
    }
}

fn exchange(
    conn: &mut Option<BufReader<TcpStream>>,
    addr: SocketAddr,
    request: &str,
    timeout: Duration,
) -> std::result::Result<(u16, String), Failure> {
    let fail = |stale: bool| {
        move |e: std::io::Error| Failure {
            stale,
            error: e.into(),
        }
    };
    let other = |error: anyhow::Error| Failure {
        stale: false,
        error,
    };
    if conn.is_none() {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(fail(false))?;
        s.set_nodelay(true).map_err(fail(false))?;
        s.set_read_timeout(Some(timeout)).map_err(fail(false))?;
        *conn = Some(BufReader::new(s));
    }
    let r = conn
        .as_mut()
        .ok_or_else(|| other(anyhow::anyhow!("no connection")))?;
    r.get_mut()
        .write_all(request.as_bytes())
        .map_err(fail(true))?;
    let mut line = String::new();
    let n = r.read_line(&mut line).map_err(|e| Failure {
        stale: matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        ),
        error: e.into(),
    })?;
    if n == 0 {
        return Err(Failure {
            stale: true,
            error: anyhow::anyhow!("closed"),
        });
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| other(anyhow::anyhow!("no status in {line:?}")))?;
    let (mut length, mut close, mut chunked) = (0usize, line.starts_with("HTTP/1.0"), false);
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(fail(false))? == 0 {
            return Err(other(anyhow::anyhow!("closed in the headers")));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            let v = v.trim();
            if n.eq_ignore_ascii_case("content-length") {
                length = v.parse().map_err(|e| other(anyhow::Error::from(e)))?;
            } else if n.eq_ignore_ascii_case("connection") {
                close = v.eq_ignore_ascii_case("close");
            } else if n.eq_ignore_ascii_case("transfer-encoding") {
                chunked = true;
            }
        }
    }
    if chunked {
        // Not the app's answers (they have a length): read no further, drop the connection.
        *conn = None;
        return Ok((status, String::new()));
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).map_err(fail(false))?;
    if close {
        *conn = None;
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// The requests due within `[from, to)`: how many, how many failed, and their latency.
#[derive(Debug, Clone, Default)]
pub(crate) struct Window {
    pub(crate) count: usize,
    pub(crate) failed: usize,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) max: Duration,
}

pub(crate) fn window(samples: &[Sample], from: Duration, to: Duration) -> Window {
    let inside: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.due >= from && s.due < to)
        .collect();
    let mut took: Vec<Duration> = inside.iter().map(|s| s.took).collect();
    took.sort();
    let at = |p: f64| {
        took.get(((took.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Window {
        count: inside.len(),
        failed: inside.iter().filter(|s| s.status != 200).count(),
        p50: at(0.5),
        p99: at(0.99),
        max: took.last().copied().unwrap_or_default(),
    }
}

/// Milliseconds with one decimal, for latencies.
pub(crate) fn ms1(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// `median (lo–hi)` of `v` in seconds with two decimals.
pub(crate) fn secs_spread(v: &[Duration]) -> String {
    let (lo, hi) = range(v);
    format!(
        "{:.2} s ({:.2}–{:.2})",
        median(v).as_secs_f64(),
        lo.as_secs_f64(),
        hi.as_secs_f64()
    )
}

/// `median (lo–hi)` of `v` in milliseconds with one decimal.
pub(crate) fn ms_spread(v: &[Duration]) -> String {
    let (lo, hi) = range(v);
    format!("{} ms ({}–{})", ms1(median(v)), ms1(lo), ms1(hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(due_ms: u64, took_ms: u64, status: u16) -> Sample {
        Sample {
            due: Duration::from_millis(due_ms),
            took: Duration::from_millis(took_ms),
            status,
            body: String::new(),
        }
    }

    #[test]
    fn a_window_counts_only_the_requests_due_inside_it() {
        let s: Vec<Sample> = (0..100).map(|i| sample(i * 10, i + 1, 200)).collect();
        let w = window(&s, Duration::from_millis(500), Duration::from_secs(10));
        assert_eq!((w.count, w.failed), (50, 0));
        assert_eq!(w.p50, Duration::from_millis(76));
        assert_eq!(w.max, Duration::from_millis(100));
        let mut s = s;
        s.push(sample(995, 3, 502));
        let w = window(&s, Duration::from_millis(990), Duration::from_secs(1));
        assert_eq!((w.count, w.failed), (2, 1));
    }

    #[test]
    fn an_empty_window_has_no_latency() {
        let w = window(&[], Duration::ZERO, Duration::from_secs(1));
        assert_eq!((w.count, w.p99), (0, Duration::ZERO));
    }
}
