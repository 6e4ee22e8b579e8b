//! What builds and one-off runs leave behind when nubod is killed, or their app deleted,
//! while they clean up after themselves: build containers, run containers, source images
//! and slugs. Each of these carries the id of its build or run as a tag (`NUBO_BUILD`,
//! `NUBO_RUN_ID`); one whose build or run is gone or has ended is removed by a sweep the
//! reconciler runs every [`SWEEP_EVERY`].
//!
//! An image is only taken for one of ours when its name is the one the PaaS gave it
//! (`build-<app>-<build>-source`, `slug-<app>-<build>`) as well as its tags: a user's own
//! image that happens to carry the tag is left alone.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nubo_core::model::{Image, Vm};
use nubo_types::Oid;
use nubo_types::states::{LcmState, VmState};

use crate::Paas;
use crate::state::PaasState;

/// How often the sweep runs.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// How long a sweep waits for the containers it ended before it removes their images.
const VM_END_WAIT: Duration = Duration::from_secs(120);

/// The tags a build's source image and slug carry (appended to their templates).
pub(crate) fn build_image_tags(app: &str, build: i64) -> String {
    format!("NUBO_APP=\"{app}\"\nNUBO_BUILD=\"{build}\"\n")
}

/// The name of build `build`'s source image.
pub(crate) fn source_image_name(app: &str, build: i64) -> String {
    format!("build-{app}-{build}-source")
}

/// The name of build `build`'s slug.
pub(crate) fn slug_name(app: &str, build: i64) -> String {
    format!("slug-{app}-{build}")
}

/// Objects to remove: (id, owner).
type Found = Vec<(Oid, Oid)>;

impl Paas {
    /// Removes every leftover container and image (see the module's doc), in the
    /// background; one sweep at a time.
    pub(crate) fn sweep_leftovers(&self) {
        if self.inner.sweeping.swap(true, Ordering::AcqRel) {
            return;
        }
        let paas = self.clone();
        tokio::spawn(async move {
            paas.sweep().await;
            paas.inner.sweeping.store(false, Ordering::Release);
        });
    }

    async fn sweep(&self) {
        let Ok((vms, _)) = self.read(|s| Ok(self.find_leftovers(s))) else {
            return;
        };
        for (vm, uid) in &vms {
            if let Ok(owner) = self.caller_of_uid(*uid) {
                tracing::info!(vm, "removing a container a build or run left behind");
                let _ = self.core().vm_action(&owner, "terminate-hard", *vm).await;
            }
        }
        // Their images are free once they are gone.
        let deadline = Instant::now() + VM_END_WAIT;
        while Instant::now() < deadline && vms.iter().any(|(vm, _)| self.vm_lives(*vm)) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let Ok((_, images)) = self.read(|s| Ok(self.find_leftovers(s))) else {
            return;
        };
        for (image, uid) in images {
            if let Ok(owner) = self.caller_of_uid(uid) {
                tracing::info!(image, "removing an image a build left behind");
                if let Err(e) = self.core().image_delete(&owner, image, false).await {
                    tracing::debug!(image, error = %e, "cannot remove a leftover image yet");
                }
            }
        }
    }

    /// Whether VM `vm` exists and has not ended.
    fn vm_lives(&self, vm: Oid) -> bool {
        self.core()
            .read(|s| Ok(s.vms.get(&vm).is_some_and(|v| v.state != VmState::Done)))
            .unwrap_or(false)
    }

    /// The (id, owner) of leftover containers and of leftover images not in use.
    fn find_leftovers(&self, paas: &PaasState) -> (Found, Found) {
        // Builds and runs still going on (not ended): their containers and images are theirs.
        let building = |id: Option<i64>| {
            id.and_then(|id| paas.builds.get(&id))
                .is_some_and(|b| !b.status.is_final())
        };
        let running = |id: Option<i64>| {
            id.and_then(|id| paas.runs.get(&id))
                .is_some_and(|r| !r.status.is_final())
        };
        let slug_kept = |id: Option<i64>| {
            id.and_then(|id| paas.builds.get(&id))
                .is_some_and(|b| b.slug.is_some())
        };
        self.core()
            .read(|s| {
                let vms = s
                    .vms
                    .values()
                    .filter(|vm| vm.state != VmState::Done && !going(vm))
                    .filter(|vm| {
                        let tags = &vm.user_template;
                        let build = tag(tags.get("NUBO_BUILD"));
                        let run = tag(tags.get("NUBO_RUN_ID"));
                        (build.is_some() && !building(build)) || (run.is_some() && !running(run))
                    })
                    .map(|vm| (vm.meta.id, vm.meta.uid))
                    .collect();
                let images = s
                    .images
                    .values()
                    .filter(|i| i.running_vms == 0 && i.vms.is_empty())
                    .filter_map(|i| Some((i, ours(i)?)))
                    .filter(|(_, (kind, build))| match kind {
                        Kind::Source => !building(Some(*build)),
                        Kind::Slug => !building(Some(*build)) && !slug_kept(Some(*build)),
                    })
                    .map(|(i, _)| (i.meta.id, i.meta.uid))
                    .collect();
                Ok((vms, images))
            })
            .unwrap_or_default()
    }
}

/// Which of a build's images one is.
enum Kind {
    Source,
    Slug,
}

/// The kind and build of an image the PaaS made (its name and tags agree), else `None`.
fn ours(image: &Image) -> Option<(Kind, i64)> {
    let tags = &image.template;
    let app = tags.get("NUBO_APP")?;
    let build = tag(tags.get("NUBO_BUILD"))?;
    let name = &image.meta.name;
    if *name == source_image_name(app, build) {
        Some((Kind::Source, build))
    } else if *name == slug_name(app, build) {
        Some((Kind::Slug, build))
    } else {
        None
    }
}

/// A numeric tag's value.
fn tag(value: Option<&str>) -> Option<i64> {
    value?.parse().ok()
}

/// Whether a VM is already on its way out.
fn going(vm: &Vm) -> bool {
    matches!(
        vm.lcm_state,
        LcmState::Shutdown | LcmState::CleanupDelete | LcmState::Epilog
    )
}
