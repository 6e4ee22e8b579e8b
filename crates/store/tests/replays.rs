//! Answers kept for Idempotency-Key replays, on SQLite and (with `NUBO_TEST_POSTGRES`)
//! PostgreSQL: kept across a reopen, replaced, expired by age and by count, NUL refused.

#[macro_use]
mod support;

use nubo_store::{Replay, StoreError};
use support::Ctx;

on_both_backends!(answers_are_kept_replaced_and_expired, nul_is_refused);

fn replay(scope: &str, kept: i64) -> Replay {
    Replay {
        scope: scope.into(),
        request: format!("digest-of-{scope}"),
        answer: format!("{{\"status\":201,\"body\":\"{}\"}}", "ü".repeat(1000)),
        kept,
    }
}

async fn answers_are_kept_replaced_and_expired(ctx: Ctx) {
    let store = ctx.open().await;
    assert_eq!(store.replay_get("a").await.expect("get"), None);
    for (i, scope) in ["a", "b", "c", "d"].iter().enumerate() {
        store
            .replay_put(&replay(scope, 100 + i as i64))
            .await
            .expect("put");
    }
    let mut newer = replay("a", 200);
    newer.answer = "{}".into();
    store.replay_put(&newer).await.expect("replace");
    drop(store);
    let store = ctx.open().await;
    assert_eq!(store.replay_get("a").await.expect("get"), Some(newer));
    assert_eq!(
        store.replay_get("b").await.expect("get"),
        Some(replay("b", 101))
    );
    // b (101) is too old; of a (200), c (102), d (103) two are kept: a and d.
    assert_eq!(store.replay_expire(102, 2).await.expect("expire"), 2);
    assert!(store.replay_get("b").await.expect("get").is_none());
    assert!(store.replay_get("c").await.expect("get").is_none());
    assert!(store.replay_get("a").await.expect("get").is_some());
    assert!(store.replay_get("d").await.expect("get").is_some());
    assert_eq!(store.replay_expire(0, 0).await.expect("expire all"), 2);
}

async fn nul_is_refused(ctx: Ctx) {
    let store = ctx.open().await;
    let mut bad = replay("n", 1);
    bad.answer = "a\0b".into();
    assert!(matches!(
        store.replay_put(&bad).await,
        Err(StoreError::ReplayNul)
    ));
    assert!(store.replay_get("n").await.expect("get").is_none());
}
