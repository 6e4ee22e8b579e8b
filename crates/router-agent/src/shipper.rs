//! The router's request lines on their way to the apps' logs: a bounded queue (a line that
//! finds it full is dropped and counted) emptied every second into `POST /router/log`
//! calls of at most [`BATCH_LINES`] lines and about [`BATCH_BYTES`] bytes. Lines are the
//! log's, not the requests': a call that fails loses its lines (counted, warned of once
//! per streak of failures) rather than holding the router's memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::api::{ApiClient, LogLine};

/// Lines waiting at most.
pub const QUEUE_LINES: usize = 10_000;
/// Lines per call at most (the API's limit).
pub const BATCH_LINES: usize = 1000;
/// Bytes of line text per call, about (the API reads bodies up to 1 MiB).
pub const BATCH_BYTES: usize = 512 * 1024;
/// The longest line sent (the API's limit); longer ones are cut.
pub const LINE_MAX: usize = 8 * 1024;
/// How often lines are sent.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// The sending end, kept by the routes.
#[derive(Debug, Clone)]
pub struct LogQueue {
    tx: mpsc::Sender<LogLine>,
    dropped: Arc<AtomicU64>,
}

impl LogQueue {
    /// A queue of [`QUEUE_LINES`] and its receiving end.
    pub fn new() -> (LogQueue, mpsc::Receiver<LogLine>) {
        let (tx, rx) = mpsc::channel(QUEUE_LINES);
        (
            LogQueue {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            rx,
        )
    }

    /// Queues a line of `app`, cut to [`LINE_MAX`] bytes; dropped when the queue is full.
    pub fn push(&self, app: &str, mut line: String) {
        if line.len() > LINE_MAX {
            let mut end = LINE_MAX;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            line.truncate(end);
        }
        let line = LogLine {
            app: app.to_owned(),
            line,
        };
        if self.tx.try_send(line).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Lines dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Splits `lines` into calls of at most [`BATCH_LINES`] lines and about [`BATCH_BYTES`].
pub fn batches(lines: Vec<LogLine>) -> Vec<Vec<LogLine>> {
    let mut out = Vec::new();
    let mut batch: Vec<LogLine> = Vec::new();
    let mut bytes = 0;
    for line in lines {
        let size = line.app.len() + line.line.len() + 32;
        if !batch.is_empty() && (batch.len() >= BATCH_LINES || bytes + size > BATCH_BYTES) {
            out.push(std::mem::take(&mut batch));
            bytes = 0;
        }
        bytes += size;
        batch.push(line);
    }
    if !batch.is_empty() {
        out.push(batch);
    }
    out
}

/// Sends the queued lines.
#[derive(Debug)]
pub struct Shipper {
    client: ApiClient,
    rx: mpsc::Receiver<LogLine>,
    queue: LogQueue,
    /// Lines lost because a call failed.
    lost: u64,
    /// Drops last reported.
    reported: u64,
    failing: bool,
}

impl Shipper {
    /// Sends what `queue` (received on `rx`) gets with `client`.
    pub fn new(client: ApiClient, queue: LogQueue, rx: mpsc::Receiver<LogLine>) -> Shipper {
        Shipper {
            client,
            rx,
            queue,
            lost: 0,
            reported: 0,
            failing: false,
        }
    }

    /// Sends every line queued now; how many were sent.
    pub async fn flush(&mut self) -> usize {
        let mut lines = Vec::new();
        while lines.len() < QUEUE_LINES {
            match self.rx.try_recv() {
                Ok(line) => lines.push(line),
                Err(_) => break,
            }
        }
        let mut sent = 0;
        for batch in batches(lines) {
            match self.client.send_log(&batch).await {
                Ok(()) => {
                    sent += batch.len();
                    if self.failing {
                        tracing::info!("router lines can be sent again");
                        self.failing = false;
                    }
                }
                Err(e) => {
                    self.lost += batch.len() as u64;
                    if !self.failing {
                        tracing::warn!(error = %e, lost = self.lost, "cannot send router lines to the apps' logs");
                        self.failing = true;
                    }
                }
            }
        }
        let dropped = self.queue.dropped();
        if dropped > self.reported {
            tracing::warn!(
                dropped,
                "router lines dropped: more came than could be queued"
            );
            self.reported = dropped;
        }
        sent
    }

    /// Sends lines every [`INTERVAL`] until `stop`, then once more.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
            self.flush().await;
        }
        self.flush().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize) -> LogLine {
        LogLine {
            app: "shop".into(),
            line: "x".repeat(n),
        }
    }

    #[test]
    fn batches_stay_within_the_apis_limits() {
        assert!(batches(vec![]).is_empty());
        let many = batches((0..2500).map(|_| line(10)).collect());
        assert_eq!(
            many.iter().map(Vec::len).collect::<Vec<_>>(),
            [1000, 1000, 500]
        );
        let big = batches((0..200).map(|_| line(LINE_MAX)).collect());
        assert!(big.len() >= 3, "{}", big.len());
        for b in &big {
            let bytes: usize = b.iter().map(|l| l.line.len()).sum();
            assert!(bytes <= BATCH_BYTES, "{bytes}");
        }
        assert_eq!(big.iter().map(Vec::len).sum::<usize>(), 200);
    }

    #[test]
    fn long_lines_are_cut_and_a_full_queue_drops() {
        let (queue, mut rx) = LogQueue::new();
        queue.push("shop", "é".repeat(LINE_MAX));
        let got = rx.try_recv().expect("a line");
        assert!(got.line.len() <= LINE_MAX && got.line.len() >= LINE_MAX - 1);
        for _ in 0..QUEUE_LINES + 5 {
            queue.push("shop", "GET /".into());
        }
        assert_eq!(queue.dropped(), 5);
    }
}
