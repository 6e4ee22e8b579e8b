//! The PaaS records of the store, on SQLite and (with `NUBO_TEST_POSTGRES`) PostgreSQL:
//! put, replace, delete, delete an app's records at once, counters, refusals, and a commit
//! that fails applying nothing.

#[macro_use]
mod support;

use nubo_store::{PaasChange, PaasRecord, PaasSnapshot, StoreError};
use support::Ctx;

on_both_backends!(
    records_round_trip,
    an_apps_records_go_together,
    counters_are_upserted,
    bad_changes_apply_nothing,
);

fn record(kind: &str, id: i64, app: i64, body: &str) -> PaasRecord {
    PaasRecord {
        kind: kind.into(),
        id,
        app,
        body: body.into(),
    }
}

async fn records_round_trip(ctx: Ctx) {
    let store = ctx.open().await;
    assert_eq!(
        store.paas_load().await.expect("load"),
        PaasSnapshot::default()
    );
    let body = format!(
        "{{\"name\":\"ünïcode ✓\",\"big\":\"{}\"}}",
        "x".repeat(100_000)
    );
    store
        .paas_commit(&[
            PaasChange::Put(record("app", 1, 1, "{\"v\":1}")),
            PaasChange::Put(record("build", 1, 1, &body)),
            PaasChange::Put(record("app", 2, 2, "{}")),
            PaasChange::Put(record("app", 1, 1, "{\"v\":2}")),
            PaasChange::Delete {
                kind: "app".into(),
                id: 2,
            },
            PaasChange::Delete {
                kind: "app".into(),
                id: 99,
            },
        ])
        .await
        .expect("commit");
    store.close().await;
    let store = ctx.open().await;
    let loaded = store.paas_load().await.expect("load");
    assert_eq!(
        loaded.records,
        vec![
            record("app", 1, 1, "{\"v\":2}"),
            record("build", 1, 1, &body)
        ]
    );
    store.close().await;
}

async fn an_apps_records_go_together(ctx: Ctx) {
    let store = ctx.open().await;
    store
        .paas_commit(&[
            PaasChange::Put(record("app", 1, 1, "{}")),
            PaasChange::Put(record("release", 1, 1, "{}")),
            PaasChange::Put(record("release", 2, 1, "{}")),
            PaasChange::Put(record("app", 2, 2, "{}")),
            PaasChange::Put(record("release", 3, 2, "{}")),
        ])
        .await
        .expect("commit");
    store
        .paas_commit(&[PaasChange::DeleteApp { app: 1 }])
        .await
        .expect("delete app 1");
    let loaded = store.paas_load().await.expect("load");
    assert_eq!(
        loaded.records,
        vec![record("app", 2, 2, "{}"), record("release", 3, 2, "{}")]
    );
    store.close().await;
}

async fn counters_are_upserted(ctx: Ctx) {
    let store = ctx.open().await;
    let last = |kind: &str, last| PaasChange::LastId {
        kind: kind.into(),
        last,
    };
    store
        .paas_commit(&[last("app", 3), last("build", 1), last("app", i64::MAX)])
        .await
        .expect("commit");
    let loaded = store.paas_load().await.expect("load");
    assert_eq!(
        loaded.last_ids.into_iter().collect::<Vec<_>>(),
        vec![("app".to_owned(), i64::MAX), ("build".to_owned(), 1)]
    );
    store.close().await;
}

async fn bad_changes_apply_nothing(ctx: Ctx) {
    let store = ctx.open().await;
    let good = PaasChange::Put(record("app", 1, 1, "{}"));
    let err = store
        .paas_commit(&[good.clone(), PaasChange::Put(record("app", 2, 2, "a\0b"))])
        .await
        .expect_err("a NUL body is refused");
    assert!(matches!(err, StoreError::PaasNul { id: 2, .. }), "{err}");
    let err = store
        .paas_commit(&[
            good.clone(),
            PaasChange::Put(record("Apps; DROP", 2, 2, "{}")),
        ])
        .await
        .expect_err("a bad kind is refused");
    assert!(matches!(err, StoreError::PaasKind { .. }), "{err}");
    // A commit the database refuses half-way (a trigger) applies nothing either.
    let trigger = match ctx.backend {
        support::Backend::Sqlite => {
            "CREATE TRIGGER no_bad BEFORE INSERT ON paas_records WHEN NEW.kind = 'bad' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END;"
        }
        support::Backend::Postgres => {
            "CREATE FUNCTION no_bad() RETURNS trigger AS $$ BEGIN \
             IF NEW.kind = 'bad' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END; \
             $$ LANGUAGE plpgsql; \
             CREATE TRIGGER no_bad BEFORE INSERT ON paas_records FOR EACH ROW \
             EXECUTE FUNCTION no_bad();"
        }
    };
    ctx.raw(trigger).await;
    store
        .paas_commit(&[good, PaasChange::Put(record("bad", 2, 2, "{}"))])
        .await
        .expect_err("the trigger refuses");
    assert_eq!(
        store.paas_load().await.expect("load"),
        PaasSnapshot::default()
    );
    store.close().await;
}
