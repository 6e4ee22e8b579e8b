//! Noticing at once that a container's init ended. Every container's init is watched
//! through a pidfd (`pidfd_open(2)`, readable once the process has ended), from the moment
//! the runtime made it (and, for containers a restarted agent finds running, from the first
//! report that lists them); when one ends, [`InitWatch::ended`] is notified, so that the
//! agent can look at its containers and tell nubod of the powered-off VM at once rather
//! than at its next periodic look.
//!
//! A notification is only a reason to look sooner: the report says what the state is, and a
//! container whose init could not be watched is still seen at the periodic look.
//!
//! Registering a descriptor with tokio's reactor is an `unsafe` call (tokio cannot know that
//! the descriptor stays open); here it is an `OwnedFd` the registration owns, the one
//! `unsafe` block of this module.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

/// A pidfd registered with tokio's reactor, readable once its process has ended.
fn register(pidfd: OwnedFd) -> std::io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: an `OwnedFd` is an open descriptor that it keeps open, and always names the
    // same one, until it is dropped: with the `AsyncFd`, which owns it.
    #[allow(unsafe_code)]
    let registered = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) };
    registered.map_err(std::io::Error::from)
}

/// The containers' inits being watched.
#[derive(Debug, Default)]
pub(crate) struct InitWatch {
    /// Notified (one stored permit) whenever a watched init ends.
    ended: Arc<Notify>,
    /// The init watched for each VM, by its pid on the host.
    watched: Arc<Mutex<HashMap<i32, u32>>>,
}

impl InitWatch {
    /// What is notified when a watched init ends.
    pub(crate) fn ended(&self) -> Arc<Notify> {
        self.ended.clone()
    }

    /// Watches process `pid`, VM `vm_id`'s container's init, unless it is watched already.
    /// Needs a tokio runtime; without one, or when the process is gone, nothing is watched.
    pub(crate) fn watch(&self, vm_id: i32, pid: u32) {
        {
            let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
            if watched.get(&vm_id) == Some(&pid) {
                return;
            }
            watched.insert(vm_id, pid);
        }
        let forget = {
            let watched = self.watched.clone();
            move || {
                let mut watched = watched.lock().unwrap_or_else(|p| p.into_inner());
                if watched.get(&vm_id) == Some(&pid) {
                    watched.remove(&vm_id);
                }
            }
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            forget();
            return;
        };
        let process = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))
            .and_then(|p| {
                rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty())
                    .map_err(std::io::Error::from)
            })
            .and_then(register);
        let process = match process {
            Ok(process) => process,
            Err(e) => {
                // Ended already (the periodic look sees it), or no pidfds on this kernel.
                tracing::debug!(vm_id, pid, error = %e, "cannot watch a container's init");
                forget();
                return;
            }
        };
        let ended = self.ended.clone();
        runtime.spawn(async move {
            let outcome = process.readable().await.map(drop);
            forget();
            match outcome {
                Ok(()) => {
                    tracing::info!(vm_id, pid, "a container's init ended");
                    ended.notify_one();
                }
                Err(e) => tracing::debug!(vm_id, pid, error = %e, "lost a container's init watch"),
            }
        });
    }

    /// Whether VM `vm_id`'s init is being watched.
    #[cfg(test)]
    fn watches(&self, vm_id: i32) -> bool {
        self.watched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&vm_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_ending_process_is_told_once_and_forgotten() {
        let watch = InitWatch::default();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep runs");
        watch.watch(7, child.id());
        watch.watch(7, child.id());
        assert!(watch.watches(7));
        let ended = watch.ended();
        let told = ended.notified();
        child.kill().expect("killed");
        let _ = child.wait();
        told.await;
        // The task forgets the VM right before it notifies.
        assert!(!watch.watches(7));
    }

    #[tokio::test]
    async fn a_process_that_is_gone_is_not_watched() {
        let watch = InitWatch::default();
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("true runs");
        let pid = child.id();
        let _ = child.wait();
        watch.watch(8, pid);
        assert!(!watch.watches(8));
        watch.watch(9, 0);
        assert!(!watch.watches(9));
    }
}
