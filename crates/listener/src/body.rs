//! Request bodies read into memory within bounds: the front end's size limit (a declared
//! length over it is refused before anything is read), a deadline for the whole body and
//! for each gap in it, and one process-wide [`BodyBudget`] for the memory of all large
//! bodies in flight together.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::StatusCode;
use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Bodies up to this size are not counted against the budget: the connection limit
/// already bounds their memory.
const SMALL_BODY: usize = 64 * 1024;

/// The budget counts in units of this many bytes.
const UNIT: usize = 1024;

/// The memory all large request bodies in flight may take together, shared by every
/// listener of a process. A body that would pass it is refused ([`BodyError::Busy`]).
#[derive(Debug, Clone)]
pub struct BodyBudget {
    units: Arc<Semaphore>,
}

impl BodyBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> Self {
        let units = (bytes / UNIT).clamp(1, Semaphore::MAX_PERMITS);
        BodyBudget {
            units: Arc::new(Semaphore::new(units)),
        }
    }

    /// Takes room for `bytes` more, or `None` when the budget has none left.
    fn take(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        let units = u32::try_from(bytes.div_ceil(UNIT)).ok()?;
        self.units.clone().try_acquire_many_owned(units).ok()
    }
}

impl Default for BodyBudget {
    /// 256 MiB.
    fn default() -> Self {
        BodyBudget::new(256 * 1024 * 1024)
    }
}

/// How one front end reads request bodies.
#[derive(Debug, Clone)]
pub struct BodyRules {
    /// Largest body, in bytes.
    pub limit: usize,
    /// Longest gap between two pieces of a body.
    pub idle: Duration,
    /// Longest time for a whole body.
    pub total: Duration,
    /// The process's budget.
    pub budget: BodyBudget,
}

impl BodyRules {
    /// Bodies up to `limit` bytes, 20 s gaps, two minutes in all, the default budget.
    pub fn new(limit: usize) -> Self {
        BodyRules {
            limit,
            idle: Duration::from_secs(20),
            total: Duration::from_secs(120),
            budget: BodyBudget::default(),
        }
    }

    /// Reads `body` whole within these rules.
    pub async fn read(&self, body: Body) -> Result<Received, BodyError> {
        let declared = HttpBody::size_hint(&body).exact();
        let declared = declared.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let too_large = BodyError::TooLarge { limit: self.limit };
        if declared.is_some_and(|n| n > self.limit) {
            return Err(too_large);
        }
        let mut held: Option<OwnedSemaphorePermit> = None;
        let mut room = SMALL_BODY;
        if let Some(n) = declared.filter(|n| *n > SMALL_BODY) {
            held = Some(self.budget.take(n).ok_or(BodyError::Busy)?);
            room = n;
        }
        let deadline = Instant::now() + self.total;
        let mut data = Vec::with_capacity(declared.unwrap_or(0).min(room));
        let mut stream = body.into_data_stream();
        loop {
            let gap_end = (Instant::now() + self.idle).min(deadline);
            let next = tokio::time::timeout_at(gap_end, stream.next())
                .await
                .map_err(|_| BodyError::TimedOut)?;
            let chunk = match next {
                None => break,
                Some(Ok(chunk)) => chunk,
                Some(Err(_)) => return Err(BodyError::Truncated),
            };
            let size = data.len().saturating_add(chunk.len());
            if size > self.limit {
                return Err(too_large);
            }
            if size > room {
                // An undeclared length: take room as the body grows, doubling.
                let want = size.max(room.saturating_mul(2)).min(self.limit);
                let more = self
                    .budget
                    .take(want - room.min(want))
                    .ok_or(BodyError::Busy)?;
                match held.as_mut() {
                    Some(h) => h.merge(more),
                    None => held = Some(more),
                }
                room = want;
            }
            data.extend_from_slice(&chunk);
        }
        Ok(Received {
            bytes: Bytes::from(data),
            _held: held,
        })
    }
}

/// A body read whole; its share of the budget is given back when it is dropped.
#[derive(Debug)]
pub struct Received {
    bytes: Bytes,
    _held: Option<OwnedSemaphorePermit>,
}

impl std::ops::Deref for Received {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// It is (or says it is) larger than the limit.
    #[error("the request body is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The client broke off before the body was complete.
    #[error("the request body ended before it was complete")]
    Truncated,
    /// The body stalled, or took longer than allowed.
    #[error("the request body did not arrive in time")]
    TimedOut,
    /// Too many large bodies are in flight.
    #[error("the server is receiving too many large requests; try again later")]
    Busy,
}

impl BodyError {
    /// The HTTP status that says it.
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Truncated => StatusCode::BAD_REQUEST,
            BodyError::TimedOut => StatusCode::REQUEST_TIMEOUT,
            BodyError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: Vec<Result<&'static [u8], &'static str>>) -> Body {
        Body::from_stream(futures_util::stream::iter(
            parts
                .into_iter()
                .map(|p| p.map(Bytes::from_static).map_err(std::io::Error::other)),
        ))
    }

    #[tokio::test]
    async fn bodies_within_the_rules_are_read_whole() {
        let rules = BodyRules::new(10);
        let got = rules
            .read(chunks(vec![Ok(b"hello"), Ok(b" you")]))
            .await
            .expect("read");
        assert_eq!(&*got, b"hello you");
        let got = rules.read(Body::from("0123456789")).await.expect("read");
        assert_eq!(got.len(), 10);
    }

    #[tokio::test]
    async fn limits_and_breaks_have_their_own_errors() {
        let rules = BodyRules::new(10);
        assert_eq!(
            rules.read(Body::from("0123456789a")).await.err(),
            Some(BodyError::TooLarge { limit: 10 })
        );
        assert_eq!(
            rules
                .read(chunks(vec![Ok(b"01234"), Ok(b"56789"), Ok(b"x")]))
                .await
                .err(),
            Some(BodyError::TooLarge { limit: 10 })
        );
        assert_eq!(
            rules.read(chunks(vec![Ok(b"01"), Err("cut")])).await.err(),
            Some(BodyError::Truncated)
        );
    }

    #[tokio::test]
    async fn a_stalled_body_times_out() {
        let mut rules = BodyRules::new(10);
        rules.idle = Duration::from_millis(50);
        let stalled = Body::from_stream(
            futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"a"))])
                .chain(futures_util::stream::pending()),
        );
        assert_eq!(rules.read(stalled).await.err(), Some(BodyError::TimedOut));
    }

    #[tokio::test]
    async fn large_bodies_share_one_budget() {
        let budget = BodyBudget::new(300 * 1024);
        let rules = BodyRules {
            budget,
            ..BodyRules::new(1024 * 1024)
        };
        let big = || Body::from(vec![b'x'; 200 * 1024]);
        let first = rules.read(big()).await.expect("fits the budget");
        assert_eq!(rules.read(big()).await.err(), Some(BodyError::Busy));
        // Small bodies do not count.
        rules.read(Body::from("small")).await.expect("small");
        drop(first);
        rules.read(big()).await.expect("room again");
        // Undeclared lengths take room as they grow.
        let streamed = || {
            Body::from_stream(futures_util::stream::iter(
                (0..30).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 8 * 1024]))),
            ))
        };
        let held = rules.read(streamed()).await.expect("240 KiB fits");
        assert_eq!(held.len(), 240 * 1024);
        assert_eq!(rules.read(big()).await.err(), Some(BodyError::Busy));
        drop(held);
        rules.read(big()).await.expect("room again");
    }
}
