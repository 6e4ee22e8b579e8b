//! Group commit. A write stages its changes, applies them to memory at once (writers are
//! serialised, so memory always moves in commit order) and queues them here; one task
//! commits everything queued in a single store transaction and then tells each writer. A
//! writer answers its caller only after that, so an acknowledged change is durable, and
//! many writers share one fsync.
//!
//! If a commit fails, memory is ahead of the store: the writers of that batch and of
//! every batch queued behind it (staged on top of it) are failed, and memory is reloaded
//! from the store while no writer can stage.

use std::sync::Arc;

use nubo_store::Change;
use nubo_types::{Error, Result};
use tokio::sync::{mpsc, oneshot};

use crate::Inner;
use crate::state::State;

/// Changes waiting to be committed, and who to tell.
#[derive(Debug)]
pub(crate) struct Pending {
    pub changes: Vec<Change>,
    pub done: oneshot::Sender<Result<()>>,
}

/// The most writes committed in one transaction.
const BATCH: usize = 4096;

/// Commits queued changes until every sender is gone.
pub(crate) async fn run(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let mut pending = std::mem::take(&mut batch);
        let changes: Vec<Change> = pending
            .iter_mut()
            .flat_map(|p| std::mem::take(&mut p.changes))
            .collect();
        let outcome = if changes.is_empty() {
            Ok(())
        } else {
            inner.store.commit(&changes).await
        };
        match outcome {
            Ok(()) => {
                for p in pending {
                    let _ = p.done.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "commit failed; reloading the state from the store");
                let _writers = inner.writer.lock().await;
                while let Ok(p) = rx.try_recv() {
                    pending.push(p);
                }
                reload(&inner).await;
                for p in pending {
                    let _ = p.done.send(Err(Error::internal(format!(
                        "cannot commit to the store: {e}"
                    ))));
                }
            }
        }
    }
}

async fn reload(inner: &Inner) {
    let state = match inner.store.load_all().await {
        Ok(snapshot) => State::from_snapshot(snapshot),
        Err(e) => Err(Error::internal(format!("cannot load the store: {e}"))),
    };
    match (state, inner.state.write()) {
        (Ok(state), Ok(mut current)) => *current = state,
        (Err(e), _) => tracing::error!(error = %e, "cannot reload the state"),
        (_, Err(_)) => tracing::error!("the state lock is poisoned"),
    }
    inner.sessions.clear();
}
