//! `Idempotency-Key` on the API's creates (IETF draft-ietf-httpapi-idempotency-key-header,
//! as Stripe and others do it): a POST with a JSON body and the header is carried out once;
//! the same key again, from the same credentials with the same body, gets the first answer
//! back (`Idempotency-Replayed: true`) for 24 hours; with another body, 422; while the first
//! is still being answered, 409. Answers of 5xx are not kept (the client may try again),
//! nor answers marked `Cache-Control: no-store` (they hold a secret shown once).
//! Answers are kept in memory (at most [`KEYS_MAX`], the oldest forgotten first) and in the
//! store (`replays`, also at most [`KEYS_MAX`], older than 24 hours swept) before they are
//! sent, so a retry after a restart of nubod gets the first answer too. (A nubod killed
//! between carrying a request out and keeping its answer carries the retry out again.)

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use nubo_store::{Replay, Store};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::problem::ApiError;

/// How long an answer is kept.
const KEEP: Duration = Duration::from_secs(24 * 3600);
/// The most keys kept.
pub const KEYS_MAX: usize = 10_000;
/// The longest key.
const KEY_MAX: usize = 255;
/// The largest body (and answer) kept.
const BODY_MAX: usize = 1024 * 1024;

const HEADER: &str = "idempotency-key";

/// What is known of one key.
#[derive(Debug, Clone)]
enum Entry {
    /// The first request is being answered.
    Pending,
    /// Its answer.
    Done {
        body: [u8; 32],
        status: StatusCode,
        headers: Vec<(HeaderName, HeaderValue)>,
        answer: Bytes,
        at: Instant,
    },
}

/// A key's scope: the SHA-256 of the credentials, the path and the key.
type Scope = [u8; 32];

/// The keys seen, and the order they came in (to forget the oldest).
#[derive(Debug, Default)]
struct Seen {
    entries: HashMap<Scope, Entry>,
    order: VecDeque<Scope>,
}

/// The keys seen, by scope, and the store that keeps their answers across restarts.
#[derive(Debug, Clone)]
pub struct Keys {
    seen: Arc<Mutex<Seen>>,
    store: Store,
    /// Answers kept in the store since start (every [`SWEEP_EVERY`]th sweeps old ones).
    kept: Arc<AtomicU64>,
}

/// How often (in answers kept) the store's old answers are swept.
const SWEEP_EVERY: u64 = 256;

/// An answer as the store keeps it.
#[derive(Debug, Serialize, Deserialize)]
struct StoredAnswer {
    status: u16,
    headers: Vec<(String, String)>,
    /// The body, base64.
    body: String,
}

/// The middleware.
pub async fn layer(keys: axum::extract::State<Keys>, req: Request, next: Next) -> Response {
    let Some(key) = req.headers().get(HEADER).cloned() else {
        return next.run(req).await;
    };
    if req.method() != Method::POST || !is_json(req.headers()) {
        return next.run(req).await;
    }
    if key.is_empty() || key.len() > KEY_MAX || key.to_str().is_err() {
        return ApiError::bad_request(format!(
            "Idempotency-Key is 1 to {KEY_MAX} printable characters"
        ))
        .into_response();
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_MAX).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the body is too large",
        )
        .into_response();
    };
    let scope = scope_of(&parts.headers, parts.uri.path(), key.as_bytes());
    let body_hash: [u8; 32] = Sha256::digest(&bytes).into();
    keys.recall(scope).await;
    if let Some(response) = keys.begin(scope, body_hash) {
        return response;
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    keys.finish(scope, body_hash, response).await
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// The key's scope: who (their credentials), where, which key.
fn scope_of(headers: &HeaderMap, path: &str, key: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(
        headers
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes())
            .unwrap_or_default(),
    );
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(key);
    h.finalize().into()
}

impl Keys {
    /// Keys whose answers `store` keeps too.
    pub fn new(store: Store) -> Self {
        Keys {
            seen: Arc::default(),
            store,
            kept: Arc::default(),
        }
    }

    /// Brings the store's answer for `scope` into memory, when memory does not know the
    /// key (nubod restarted, or forgot it) and the store kept one within [`KEEP`].
    async fn recall(&self, scope: Scope) {
        let store = &self.store;
        if self
            .seen
            .lock()
            .map_or(true, |seen| seen.entries.contains_key(&scope))
        {
            return;
        }
        let stored = match store.replay_get(&hex::encode(scope)).await {
            Ok(Some(stored)) => stored,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read a kept answer");
                return;
            }
        };
        let age = Duration::from_secs((now() - stored.kept).max(0) as u64);
        let (Some(at), Some(body), Some(answer)) = (
            Instant::now().checked_sub(age),
            decode_digest(&stored.request),
            decode_answer(&stored.answer),
        ) else {
            return;
        };
        if age > KEEP {
            return;
        }
        let (status, headers, answer) = answer;
        if let Ok(mut seen) = self.seen.lock()
            && !seen.entries.contains_key(&scope)
        {
            seen.entries.insert(
                scope,
                Entry::Done {
                    body,
                    status,
                    headers,
                    answer,
                    at,
                },
            );
            seen.order.push_back(scope);
        }
    }

    /// Marks the key pending (`None`), or the answer to give from what is known of it.
    fn begin(&self, scope: [u8; 32], body: [u8; 32]) -> Option<Response> {
        let Ok(mut guard) = self.seen.lock() else {
            return None;
        };
        let Seen {
            entries: map,
            order,
        } = &mut *guard;
        match map.get(&scope) {
            Some(Entry::Done { at, .. }) if at.elapsed() > KEEP => {}
            Some(Entry::Pending) => {
                return Some(
                    ApiError::new(
                        StatusCode::CONFLICT,
                        "conflict",
                        "a request with this Idempotency-Key is still being answered",
                    )
                    .into_response(),
                );
            }
            Some(Entry::Done { body: b, .. }) if *b != body => {
                return Some(
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid",
                        "this Idempotency-Key was used for another request",
                    )
                    .into_response(),
                );
            }
            Some(Entry::Done {
                status,
                headers,
                answer,
                ..
            }) => {
                let mut response = (*status, answer.clone()).into_response();
                for (k, v) in headers {
                    response.headers_mut().insert(k.clone(), v.clone());
                }
                response
                    .headers_mut()
                    .insert("idempotency-replayed", HeaderValue::from_static("true"));
                return Some(response);
            }
            None => {}
        }
        map.insert(scope, Entry::Pending);
        order.push_back(scope);
        while order.len() > KEYS_MAX {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
        None
    }

    /// Keeps the answer (unless a 5xx, `no-store` or too large) and gives it back.
    async fn finish(&self, scope: [u8; 32], body: [u8; 32], response: Response) -> Response {
        let (parts, answer) = response.into_parts();
        let no_store = parts
            .headers
            .get(header::CACHE_CONTROL)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"no-store"));
        let keep = !parts.status.is_server_error() && !no_store;
        let Ok(bytes) = axum::body::to_bytes(answer, BODY_MAX).await else {
            self.forget(scope);
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the answer is too large to keep",
            )
            .into_response();
        };
        let headers: Vec<(HeaderName, HeaderValue)> = parts
            .headers
            .iter()
            .filter(|(k, _)| [header::CONTENT_TYPE, header::LOCATION, header::ETAG].contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if keep {
            // Durable before it is sent: a retry after a restart gets it back.
            self.keep_in_store(scope, body, parts.status, &headers, &bytes)
                .await;
        }
        if let Ok(mut guard) = self.seen.lock() {
            if keep {
                guard.entries.insert(
                    scope,
                    Entry::Done {
                        body,
                        status: parts.status,
                        headers,
                        answer: bytes.clone(),
                        at: Instant::now(),
                    },
                );
            } else {
                guard.entries.remove(&scope);
            }
        }
        Response::from_parts(parts, Body::from(bytes))
    }

    async fn keep_in_store(
        &self,
        scope: Scope,
        body: [u8; 32],
        status: StatusCode,
        headers: &[(HeaderName, HeaderValue)],
        answer: &Bytes,
    ) {
        let store = &self.store;
        let stored = StoredAnswer {
            status: status.as_u16(),
            headers: headers
                .iter()
                .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_owned())))
                .collect(),
            body: base64::engine::general_purpose::STANDARD.encode(answer),
        };
        let Ok(answer) = serde_json::to_string(&stored) else {
            return;
        };
        let replay = Replay {
            scope: hex::encode(scope),
            request: hex::encode(body),
            answer,
            kept: now(),
        };
        if let Err(e) = store.replay_put(&replay).await {
            tracing::warn!(error = %e, "cannot keep an answer for replay");
        }
        if self
            .kept
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            let before = now() - KEEP.as_secs() as i64;
            if let Err(e) = store.replay_expire(before, KEYS_MAX as i64).await {
                tracing::warn!(error = %e, "cannot sweep old answers kept for replay");
            }
        }
    }

    fn forget(&self, scope: [u8; 32]) {
        if let Ok(mut guard) = self.seen.lock() {
            guard.entries.remove(&scope);
        }
    }
}

/// Seconds since the epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn decode_digest(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok()?.try_into().ok()
}

/// An answer's status, the headers replayed with it, and its body.
type Answer = (StatusCode, Vec<(HeaderName, HeaderValue)>, Bytes);

/// A stored answer.
fn decode_answer(text: &str) -> Option<Answer> {
    let stored: StoredAnswer = serde_json::from_str(text).ok()?;
    let status = StatusCode::from_u16(stored.status).ok()?;
    let headers = stored
        .headers
        .into_iter()
        .filter_map(|(k, v)| {
            Some((
                HeaderName::from_bytes(k.as_bytes()).ok()?,
                HeaderValue::from_str(&v).ok()?,
            ))
        })
        .collect();
    let body = base64::engine::general_purpose::STANDARD
        .decode(stored.body)
        .ok()?;
    Some((status, headers, Bytes::from(body)))
}
