//! The store suite: every test function runs against SQLite and, when `NUBO_TEST_POSTGRES`
//! is set, PostgreSQL (`support`).

#[macro_use]
mod support;

use std::collections::HashMap;

use nubo_store::{Change, Row, SCHEMA_VERSION, Snapshot, Store, StoreError};
use nubo_types::ObjectKind;
use sqlx::Connection;
use support::{Backend, Ctx};

on_both_backends!(
    open_is_idempotent,
    concurrent_opens_migrate_once,
    many_concurrent_opens_wait_their_turn,
    put_replace_delete_round_trip,
    last_oid_is_upserted,
    a_failing_commit_applies_nothing,
    nul_characters_are_refused,
    data_survives_close_and_reopen,
    large_and_unicode_bodies_round_trip,
    integer_extremes_round_trip,
    every_kind_has_a_working_table,
    load_all_orders_by_kind_then_oid,
    concurrent_commits_all_land,
    empty_commit_touches_nothing,
    a_newer_schema_is_refused,
);

fn row(kind: ObjectKind, oid: i32, name: &str, body: &str) -> Row {
    Row {
        kind,
        oid,
        name: name.to_owned(),
        uid: 0,
        gid: 1,
        body: body.to_owned(),
    }
}

async fn load(store: &Store) -> Snapshot {
    store.load_all().await.expect("load_all")
}

async fn commit(store: &Store, changes: &[Change]) {
    store.commit(changes).await.expect("commit");
}

async fn open_is_idempotent(ctx: Ctx) {
    let store = ctx.open().await;
    let expected = match ctx.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgresql",
    };
    assert_eq!(store.backend_name(), expected);
    assert_eq!(
        store.schema_version().await.expect("version"),
        SCHEMA_VERSION
    );
    let vm = row(ObjectKind::Vm, 0, "one", "{}");
    commit(&store, &[Change::Put(vm.clone())]).await;
    store.close().await;

    let store = ctx.open().await;
    assert_eq!(
        store.schema_version().await.expect("version"),
        SCHEMA_VERSION
    );
    assert_eq!(load(&store).await.rows, vec![vm]);
    store.close().await;

    // Each migration is recorded once, however often the store is opened.
    let recorded = ctx
        .raw_i64("SELECT CAST(COUNT(*) AS BIGINT) FROM schema_version")
        .await;
    assert_eq!(recorded, i64::from(SCHEMA_VERSION));
}

async fn concurrent_opens_migrate_once(ctx: Ctx) {
    let (a, b, c) = tokio::join!(
        Store::open(&ctx.url),
        Store::open(&ctx.url),
        Store::open(&ctx.url)
    );
    let stores = [a, b, c].map(|s| s.expect("open concurrently"));
    for store in &stores {
        assert_eq!(
            store.schema_version().await.expect("version"),
            SCHEMA_VERSION
        );
        store.close().await;
    }
    let recorded = ctx
        .raw_i64("SELECT CAST(COUNT(*) AS BIGINT) FROM schema_version")
        .await;
    assert_eq!(recorded, i64::from(SCHEMA_VERSION));
}

/// Opening one database from many places at once waits its turn: nobody sees "database is
/// locked" (SQLite switches a new file to WAL under a lock that busy waits do not cover), and
/// the migrations are recorded once. Each round opens a fresh SQLite file (PostgreSQL: the same
/// database) from `TASKS` tasks released together.
async fn many_concurrent_opens_wait_their_turn(ctx: Ctx) {
    const ROUNDS: usize = 100;
    const TASKS: usize = 8;
    for round in 0..ROUNDS {
        let url = match ctx.backend {
            Backend::Sqlite => format!("{}.{round}", ctx.url),
            Backend::Postgres => ctx.url.clone(),
        };
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(TASKS));
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let url = url.clone();
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    let store = Store::open(&url)
                        .await
                        .map_err(|err| format!("round {round}, task {task}: {}", chain(&err)))?;
                    let version = store.schema_version().await.map_err(|err| {
                        format!("round {round}, task {task}, version: {}", chain(&err))
                    })?;
                    store.close().await;
                    if version == SCHEMA_VERSION {
                        Ok(())
                    } else {
                        Err(format!("round {round}: schema version {version}"))
                    }
                })
            })
            .collect();
        for task in tasks {
            if let Err(err) = task.await.expect("open task") {
                panic!("concurrent open failed: {err}");
            }
        }
        let recorded = Ctx {
            backend: ctx.backend,
            url,
        }
        .raw_i64("SELECT CAST(COUNT(*) AS BIGINT) FROM schema_version")
        .await;
        assert_eq!(recorded, i64::from(SCHEMA_VERSION), "round {round}");
    }
}

/// An error and its sources, on one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn put_replace_delete_round_trip(ctx: Ctx) {
    let store = ctx.open().await;
    assert!(load(&store).await.rows.is_empty());

    let a = row(ObjectKind::Vm, 1, "a", r#"{"state":1}"#);
    let b = row(ObjectKind::Vm, 2, "b", r#"{"state":1}"#);
    commit(&store, &[Change::Put(a.clone()), Change::Put(b.clone())]).await;
    assert_eq!(load(&store).await.rows, vec![a.clone(), b.clone()]);

    let a2 = Row {
        name: "a-renamed".into(),
        uid: 5,
        gid: 6,
        body: r#"{"state":3}"#.into(),
        ..a.clone()
    };
    commit(&store, &[Change::Put(a2.clone())]).await;
    assert_eq!(load(&store).await.rows, vec![a2.clone(), b.clone()]);

    commit(
        &store,
        &[Change::Delete {
            kind: ObjectKind::Vm,
            oid: 2,
        }],
    )
    .await;
    assert_eq!(load(&store).await.rows, vec![a2.clone()]);

    // Deleting what is not there is fine; a delete in another pool leaves this one alone.
    commit(
        &store,
        &[
            Change::Delete {
                kind: ObjectKind::Vm,
                oid: 2,
            },
            Change::Delete {
                kind: ObjectKind::Host,
                oid: 1,
            },
        ],
    )
    .await;
    assert_eq!(load(&store).await.rows, vec![a2.clone()]);

    // Changes of one commit apply in order.
    let a3 = Row {
        body: "{}".into(),
        ..a2.clone()
    };
    commit(
        &store,
        &[
            Change::Delete {
                kind: ObjectKind::Vm,
                oid: 1,
            },
            Change::Put(a3.clone()),
            Change::Put(b.clone()),
            Change::Delete {
                kind: ObjectKind::Vm,
                oid: 2,
            },
        ],
    )
    .await;
    assert_eq!(load(&store).await.rows, vec![a3]);
    store.close().await;
}

async fn last_oid_is_upserted(ctx: Ctx) {
    let store = ctx.open().await;
    assert!(load(&store).await.last_oids.is_empty());
    commit(
        &store,
        &[Change::LastOid {
            kind: ObjectKind::Vm,
            last_oid: 5,
        }],
    )
    .await;
    commit(
        &store,
        &[
            Change::LastOid {
                kind: ObjectKind::Vm,
                last_oid: 9,
            },
            Change::LastOid {
                kind: ObjectKind::Group,
                last_oid: 100,
            },
        ],
    )
    .await;
    let snapshot = load(&store).await;
    assert_eq!(
        snapshot.last_oids,
        HashMap::from([(ObjectKind::Vm, 9), (ObjectKind::Group, 100)])
    );
    assert!(snapshot.rows.is_empty());
    // OpenNebula's table keeps the pool's table name.
    store.close().await;
    let vm_pool = ctx
        .raw_i64("SELECT CAST(last_oid AS BIGINT) FROM pool_control WHERE tablename = 'vm_pool'")
        .await;
    assert_eq!(vm_pool, 9);
}

/// Installs a trigger that makes inserting a host named `boom` fail inside the database.
async fn install_failing_trigger(ctx: &Ctx) {
    let sql = match ctx.backend {
        Backend::Sqlite => {
            "CREATE TRIGGER reject_boom BEFORE INSERT ON host_pool WHEN NEW.name = 'boom' \
             BEGIN SELECT RAISE(ABORT, 'boom refused'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION reject_boom() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.name = 'boom' THEN RAISE EXCEPTION 'boom refused'; END IF; \
             RETURN NEW; END $$; \
             CREATE TRIGGER reject_boom BEFORE INSERT ON host_pool \
             FOR EACH ROW EXECUTE FUNCTION reject_boom();"
        }
    };
    ctx.raw(sql).await;
}

async fn a_failing_commit_applies_nothing(ctx: Ctx) {
    let store = ctx.open().await;
    let keep = row(ObjectKind::Vm, 1, "keep", r#"{"v":1}"#);
    commit(
        &store,
        &[
            Change::Put(keep.clone()),
            Change::LastOid {
                kind: ObjectKind::Vm,
                last_oid: 1,
            },
        ],
    )
    .await;
    let before = load(&store).await;
    install_failing_trigger(&ctx).await;

    let doomed = [
        Change::Put(row(ObjectKind::Vm, 2, "new", "{}")),
        Change::Put(Row {
            body: r#"{"v":2}"#.into(),
            ..keep.clone()
        }),
        Change::Delete {
            kind: ObjectKind::Vm,
            oid: 1,
        },
        Change::LastOid {
            kind: ObjectKind::Vm,
            last_oid: 2,
        },
        Change::Put(row(ObjectKind::Host, 0, "boom", "{}")),
        Change::Put(row(ObjectKind::Image, 0, "after", "{}")),
    ];
    let err = store
        .commit(&doomed)
        .await
        .expect_err("the trigger fails the commit");
    assert!(
        matches!(err, StoreError::Commit { changes: 6, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "cannot commit 6 changes to the {} store",
            store.backend_name()
        )
    );
    let source = std::error::Error::source(&err).map(ToString::to_string);
    assert!(
        source.is_some_and(|s| s.contains("boom refused")),
        "the driver error is the source"
    );

    let after = load(&store).await;
    assert_eq!(after.rows, before.rows);
    assert_eq!(after.last_oids, before.last_oids);

    // The store stays usable after a failed commit.
    let host = row(ObjectKind::Host, 0, "fine", "{}");
    commit(&store, &[Change::Put(host.clone())]).await;
    assert_eq!(load(&store).await.rows, vec![keep, host]);
    store.close().await;
}

async fn nul_characters_are_refused(ctx: Ctx) {
    let store = ctx.open().await;
    let err = store
        .commit(&[
            Change::Put(row(ObjectKind::Vm, 1, "ok", "{}")),
            Change::Put(row(ObjectKind::Vm, 2, "bad\0name", "{}")),
        ])
        .await
        .expect_err("NUL refused");
    assert!(
        matches!(
            err,
            StoreError::NulCharacter {
                kind: ObjectKind::Vm,
                oid: 2,
                field: "name"
            }
        ),
        "{err:?}"
    );
    // JSON escapes NUL as \u0000, which is fine.
    let escaped = row(ObjectKind::Vm, 3, "ok", r#"{"s":"a\u0000b"}"#);
    commit(&store, &[Change::Put(escaped.clone())]).await;
    assert_eq!(load(&store).await.rows, vec![escaped]);
    store.close().await;
}

async fn data_survives_close_and_reopen(ctx: Ctx) {
    let rows = vec![
        row(ObjectKind::Vm, 0, "vm0", r#"{"a":0}"#),
        row(ObjectKind::Vm, 7, "vm7", r#"{"a":7}"#),
        row(ObjectKind::User, 0, "oneadmin", r#"{"password":"x"}"#),
        row(ObjectKind::Acl, 3, "", "{}"),
    ];
    {
        let store = ctx.open().await;
        let mut changes: Vec<Change> = rows.iter().cloned().map(Change::Put).collect();
        changes.push(Change::LastOid {
            kind: ObjectKind::Vm,
            last_oid: 7,
        });
        commit(&store, &changes).await;
        store.close().await;
    }
    let store = ctx.open().await;
    let snapshot = load(&store).await;
    assert_eq!(snapshot.rows, rows);
    assert_eq!(snapshot.last_oids, HashMap::from([(ObjectKind::Vm, 7)]));
    store.close().await;

    if ctx.backend == Backend::Sqlite {
        let wal = match sqlx::SqliteConnection::connect(&ctx.url).await {
            Ok(mut conn) => {
                let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                    .fetch_one(&mut conn)
                    .await
                    .expect("journal mode");
                mode
            }
            Err(err) => panic!("raw connection: {err}"),
        };
        assert_eq!(wal, "wal");
    }
}

async fn large_and_unicode_bodies_round_trip(ctx: Ctx) {
    let store = ctx.open().await;
    let tricky = "quotes ' \" `, backslash \\ \\\\, percent %s %1 $1 ?, \
                  '); DROP TABLE vm_pool; --, tab\tnewline\ncr\r, ctrl \u{1}\u{1f}, \
                  é ñ ß, 日本語, 한국어, עברית, العربية, emoji 🦀👩‍👩‍👧, combining e\u{301}, \
                  bmp edge \u{fffd}\u{ffff}, astral \u{10ffff}";
    let unicode = row(ObjectKind::Template, 1, "名前 ☁ ' \"", tricky);
    // A multi-megabyte JSON-ish body of mixed-width characters.
    let mut big_body = String::with_capacity(9 << 20);
    big_body.push('[');
    let mut i = 0u32;
    while big_body.len() < 8 << 20 {
        big_body.push_str(&format!("\"{i} ☁ é 🦀 日本\","));
        i += 1;
    }
    big_body.push_str("0]");
    let big = row(ObjectKind::Vm, 2, "big", &big_body);
    commit(
        &store,
        &[Change::Put(unicode.clone()), Change::Put(big.clone())],
    )
    .await;
    let snapshot = load(&store).await;
    assert_eq!(snapshot.rows.len(), 2);
    assert!(snapshot.rows[0] == big, "the large body round-trips");
    assert_eq!(snapshot.rows[1], unicode);
    store.close().await;
}

async fn integer_extremes_round_trip(ctx: Ctx) {
    let store = ctx.open().await;
    let rows = [
        Row {
            uid: i32::MIN,
            gid: -1,
            ..row(ObjectKind::Vm, -1, "minus one", "{}")
        },
        Row {
            uid: i32::MAX,
            gid: i32::MIN,
            ..row(ObjectKind::Vm, i32::MAX, "max", "{}")
        },
    ];
    let mut changes: Vec<Change> = rows.iter().cloned().map(Change::Put).collect();
    changes.push(Change::LastOid {
        kind: ObjectKind::Vm,
        last_oid: i32::MAX,
    });
    changes.push(Change::LastOid {
        kind: ObjectKind::Host,
        last_oid: -1,
    });
    commit(&store, &changes).await;
    let snapshot = load(&store).await;
    assert_eq!(snapshot.rows, rows);
    assert_eq!(
        snapshot.last_oids,
        HashMap::from([(ObjectKind::Vm, i32::MAX), (ObjectKind::Host, -1)])
    );
    store.close().await;
}

async fn every_kind_has_a_working_table(ctx: Ctx) {
    let store = ctx.open().await;
    let rows: Vec<Row> = ObjectKind::ALL
        .into_iter()
        .map(|kind| row(kind, 7, kind.table(), &format!(r#"{{"kind":"{kind:?}"}}"#)))
        .collect();
    let mut changes: Vec<Change> = rows.iter().cloned().map(Change::Put).collect();
    changes.extend(
        ObjectKind::ALL
            .into_iter()
            .enumerate()
            .map(|(i, kind)| Change::LastOid {
                kind,
                last_oid: i as i32,
            }),
    );
    commit(&store, &changes).await;

    let snapshot = load(&store).await;
    assert_eq!(snapshot.rows, rows);
    assert_eq!(snapshot.last_oids.len(), ObjectKind::ALL.len());
    for (i, kind) in ObjectKind::ALL.into_iter().enumerate() {
        assert_eq!(snapshot.last_oids.get(&kind), Some(&(i as i32)), "{kind:?}");
    }

    // Replacing and deleting work in every table, and touch only that table.
    for (done, kind) in ObjectKind::ALL.into_iter().enumerate() {
        commit(
            &store,
            &[
                Change::Put(row(kind, 7, "replaced", "[]")),
                Change::Delete { kind, oid: 7 },
            ],
        )
        .await;
        let left = load(&store).await.rows;
        assert!(left.iter().all(|r| r.kind != kind), "{kind:?} row deleted");
        assert_eq!(left.len(), rows.len() - done - 1);
    }
    assert!(load(&store).await.rows.is_empty());
    store.close().await;
}

async fn load_all_orders_by_kind_then_oid(ctx: Ctx) {
    let store = ctx.open().await;
    // Insert in reverse kind order, with oids that sort differently as text.
    let oids = [10, 2, 100, 0, 1, 25];
    let mut changes = Vec::new();
    for kind in ObjectKind::ALL.into_iter().rev() {
        for oid in oids {
            changes.push(Change::Put(row(kind, oid, &format!("{oid}"), "{}")));
        }
    }
    // Spread over several commits too.
    for chunk in changes.chunks(17) {
        commit(&store, chunk).await;
    }
    let mut sorted_oids = oids;
    sorted_oids.sort_unstable();
    let expected: Vec<(ObjectKind, i32)> = ObjectKind::ALL
        .into_iter()
        .flat_map(|kind| sorted_oids.into_iter().map(move |oid| (kind, oid)))
        .collect();
    let got: Vec<(ObjectKind, i32)> = load(&store)
        .await
        .rows
        .iter()
        .map(|r| (r.kind, r.oid))
        .collect();
    assert_eq!(got, expected);
    store.close().await;
}

async fn concurrent_commits_all_land(ctx: Ctx) {
    let store = ctx.open().await;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                let oid = t * 100 + i;
                store
                    .commit(&[
                        Change::Put(row(ObjectKind::Vm, oid, "c", "{}")),
                        Change::LastOid {
                            kind: ObjectKind::Vm,
                            last_oid: oid,
                        },
                    ])
                    .await
                    .expect("concurrent commit");
            }
        }));
    }
    // A reader alongside the writers.
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            for _ in 0..10 {
                store.load_all().await.expect("concurrent load");
            }
        })
    };
    for task in tasks {
        task.await.expect("writer task");
    }
    reader.await.expect("reader task");
    let snapshot = load(&store).await;
    assert_eq!(snapshot.rows.len(), 160);
    assert!(snapshot.last_oids.contains_key(&ObjectKind::Vm));
    store.close().await;
}

async fn empty_commit_touches_nothing(ctx: Ctx) {
    let store = ctx.open().await;
    commit(&store, &[]).await;
    assert!(load(&store).await.rows.is_empty());
    store.close().await;
    // No transaction is started, so even a closed store accepts an empty batch.
    commit(&store, &[]).await;
}

async fn a_newer_schema_is_refused(ctx: Ctx) {
    let store = ctx.open().await;
    store.close().await;
    ctx.raw(&format!(
        "INSERT INTO schema_version (version, description) VALUES ({}, 'from the future')",
        SCHEMA_VERSION + 1
    ))
    .await;
    let err = Store::open(&ctx.url)
        .await
        .expect_err("a newer schema is refused");
    assert!(
        matches!(
            err,
            StoreError::SchemaTooNew { found, supported }
                if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "the store's schema is at version {}, newer than version {} that this build knows; refusing to open it",
            SCHEMA_VERSION + 1,
            SCHEMA_VERSION
        )
    );
}
