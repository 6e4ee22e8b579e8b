//! Running a build in the background, as a container of the IaaS owned by the app's owner
//! (so the owner's quotas and the cloud's ACLs apply):
//!
//! 1. fetch the source into `DATA_DIR/paas/builds/<id>` ([`crate::source`]);
//! 2. detect how to build it ([`crate::buildpack`]) and write the build script, the
//!    launcher and the host's CA bundle and registry settings into its `.nubo/`;
//! 3. make the directory an ext4 filesystem (`mke2fs -d`), qcow2 where `qemu-img` is, and
//!    register it as the owner's image (`Core::image_allocate_file`);
//! 4. start a container on the app's stack with that image at `/app`, on the PaaS's network,
//!    running the build script as its init, with the build's CPU and memory;
//! 5. copy its console into the build log until it powers off (or the time limit passes:
//!    then it is stopped and the build fails);
//! 6. on `nubo-build: succeeded`, save its `/app` disk as the slug image, and make a release
//!    of it; the container and the source image are removed either way.
//!
//! Every step is recorded on the build before the next begins, so a nubod killed in the
//! middle resumes the build where it was ([`Paas::resume_builds`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nubo_core::Caller;
use nubo_core::model::{Image, Vm};
use nubo_types::Oid;
use nubo_types::states::{ImageState, VmState};
use tokio::process::Command;

use crate::Paas;
use crate::error::{PaasError, Result};
use crate::logs;
use crate::model::{Build, BuildSource, BuildStatus, Slug};
use crate::source;
use crate::state::Op;

/// How often the build container is looked at (while it ends) and the slug's image (while
/// it is saved): both are in nubod's memory.
const POLL: Duration = Duration::from_millis(50);
/// How long saving the slug may take.
const SAVE_TIMEOUT: Duration = Duration::from_secs(600);
/// The line a successful build script ends with.
const SUCCEEDED: &str = "nubo-build: succeeded";
/// The start of the line a failed build script ends with.
const FAILED: &str = "nubo-build: failed: ";

/// Why a build failed, as its owner reads it.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) String);

impl From<PaasError> for Failure {
    fn from(e: PaasError) -> Self {
        Failure(e.to_string())
    }
}

impl From<nubo_types::Error> for Failure {
    fn from(e: nubo_types::Error) -> Self {
        Failure(e.to_string())
    }
}

impl Paas {
    /// Runs build `id` in the background.
    pub(crate) fn start_build(&self, id: i64) {
        let paas = self.clone();
        tokio::spawn(async move { paas.run_build(id).await });
    }

    /// Goes on with every build a previous nubod left queued or running. (What an ended
    /// build had not yet removed, [`crate::leftovers`] removes.)
    pub(crate) fn resume_builds(&self) {
        let open: Vec<i64> = self
            .read(|s| {
                Ok(s.builds
                    .values()
                    .filter(|b| !b.status.is_final())
                    .map(|b| b.id)
                    .collect())
            })
            .unwrap_or_default();
        for id in open {
            tracing::info!(build = id, "resuming a build");
            self.start_build(id);
        }
    }

    async fn run_build(&self, id: i64) {
        let outcome = self.build_steps(id).await;
        let build = self.read(|s| Ok(s.builds.get(&id).cloned())).ok().flatten();
        let Some(build) = build else {
            // Its app was deleted: what the build made is swept.
            self.sweep_leftovers();
            return;
        };
        if let Err(Failure(reason)) = &outcome {
            self.log(id, &format!("\n-----> Build failed: {reason}\n"))
                .await;
            self.app_event(build.app, &format!("Build {id} failed: {reason}"))
                .await;
            let reason = reason.clone();
            let _ = self
                .update_build(id, |b| {
                    b.status = BuildStatus::Failed;
                    b.reason = Some(reason);
                    b.finished = nubo_core::now();
                })
                .await;
        }
        self.clean_up_build(&build).await;
    }

    async fn build_steps(&self, id: i64) -> Result<(), Failure> {
        let (build, app) = self.read(|s| {
            let build = s
                .builds
                .get(&id)
                .cloned()
                .ok_or_else(|| PaasError::not_found("build", id))?;
            let app = s
                .apps
                .get(&build.app)
                .cloned()
                .ok_or_else(|| PaasError::not_found("app", build.app))?;
            Ok((build, app))
        })?;
        let owner = self.caller_of_uid(app.uid)?;
        let started = if build.started == 0 {
            nubo_core::now()
        } else {
            build.started
        };
        let build = self
            .update_build(id, |b| {
                b.status = BuildStatus::Building;
                b.started = started;
            })
            .await?;
        let deadline = Instant::now()
            + self
                .config()
                .build
                .timeout
                .saturating_sub(Duration::from_secs(
                    (nubo_core::now() - started).max(0) as u64
                ));
        let build = match (build.source_image, build.vm) {
            (None, None) => self.prepare_source(&build, &app, &owner).await?,
            _ => build,
        };
        let build = match build.vm {
            None => self.start_container(&build, &app, &owner).await?,
            Some(_) => build,
        };
        let vm = build
            .vm
            .ok_or_else(|| Failure("the build container is gone".into()))?;
        self.watch_container(id, vm, &owner, deadline).await?;
        let slug = self.save_slug(&build, &app, &owner, vm).await?;
        self.finish_build(id, slug).await?;
        Ok(())
    }

    /// Steps 1 to 3: the source as the owner's image.
    async fn prepare_source(
        &self,
        build: &Build,
        app: &crate::model::App,
        owner: &Caller,
    ) -> Result<Build, Failure> {
        let config = self.config().clone();
        let dir = config.build_dir(build.id);
        let _ = tokio::fs::remove_dir_all(&dir).await;
        if let Some(parent) = dir.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| Failure(format!("cannot make the build directory: {e}")))?;
        }
        let commit = match &build.source {
            BuildSource::Git { url, reference } => {
                let at = reference
                    .as_deref()
                    .map(|r| format!(" at {r}"))
                    .unwrap_or_default();
                self.log(build.id, &format!("-----> Fetching {url}{at}\n"))
                    .await;
                let commit = source::fetch_git(
                    url,
                    reference.as_deref(),
                    &dir,
                    config.build.fetch_timeout,
                    config.build.source_max_bytes,
                )
                .await?;
                self.log(build.id, &format!("       commit {commit}\n"))
                    .await;
                Some(commit)
            }
            BuildSource::Archive { size, sha256 } => {
                self.log(
                    build.id,
                    &format!(
                        "-----> Unpacking the uploaded source ({size} bytes, sha256 {sha256})\n"
                    ),
                )
                .await;
                let archive = config.upload_path(build.id);
                let (from, to) = (archive.clone(), dir.clone());
                let limits = crate::archive::ArchiveLimits {
                    max_bytes: config.build.source_max_bytes,
                    max_entries: 200_000,
                };
                tokio::fs::create_dir_all(&dir)
                    .await
                    .map_err(|e| Failure(format!("cannot make the build directory: {e}")))?;
                tokio::task::spawn_blocking(move || crate::archive::unpack(&from, &to, limits))
                    .await
                    .map_err(|e| Failure(format!("unpacking stopped: {e}")))?
                    .map_err(|e| Failure(format!("the uploaded source: {e}")))?;
                None
            }
        };
        let plan = crate::buildpack::detect(&dir).map_err(|e| Failure(e.to_string()))?;
        crate::build_files::write(&dir, &plan, &app.config, &config)
            .await
            .map_err(|e| Failure(format!("cannot write the build script: {e}")))?;
        let image_file = make_filesystem(&dir, config.build.disk_mb).await?;
        let _ = tokio::fs::remove_dir_all(&dir).await;
        // An image made for this build by a nubod killed before it could record it.
        let name = crate::leftovers::source_image_name(&app.name, build.id);
        if let Some(image) = self.owned_image(&name, owner)? {
            self.core().image_delete(owner, image, false).await?;
        }
        let template = format!(
            "NAME=\"{}\"\nTYPE=\"DATABLOCK\"\nPERSISTENT=\"NO\"\n{}",
            crate::leftovers::source_image_name(&app.name, build.id),
            crate::leftovers::build_image_tags(&app.name, build.id),
        );
        let image = self
            .core()
            .image_allocate_file(owner, &template, config.image_datastore, &image_file)
            .await?;
        let types = plan.process_types.clone();
        let language = plan.language.name().to_owned();
        Ok(self
            .update_build(build.id, |b| {
                b.commit = commit;
                b.buildpack = Some(language);
                b.process_types = types;
                b.source_image = Some(image);
            })
            .await?)
    }

    /// Step 4: the build container.
    async fn start_container(
        &self,
        build: &Build,
        app: &crate::model::App,
        owner: &Caller,
    ) -> Result<Build, Failure> {
        // A container made for this build by a nubod killed before it could record it.
        if let Some(vm) = self.tagged_vm(build.id, owner)? {
            return Ok(self.update_build(build.id, |b| b.vm = Some(vm)).await?);
        }
        let source_image = build
            .source_image
            .ok_or_else(|| Failure("the source image is gone".into()))?;
        let stack = self.read(|s| {
            s.stack_by_name(&build.stack)
                .cloned()
                .ok_or_else(|| PaasError::not_found("stack", &build.stack))
        })?;
        let limits = &self.config().build;
        let nic = self.network_nic()?;
        let template = format!(
            "NAME=\"build-{app}-{id}\"\nCPU=\"{cpu}\"\nVCPU=\"{vcpu}\"\nMEMORY=\"{memory}\"\n\
             DISK=[IMAGE_ID=\"{stack}\",SIZE=\"{root_mb}\"]\n\
             DISK=[IMAGE_ID=\"{source_image}\",TARGET=\"/app\"]\n\
             {nic}OS=[INIT=\"/bin/sh {script}\"]\nCONTEXT=[NETWORK=\"YES\"]\n\
             SCHED_REQUIREMENTS=\"HYPERVISOR=lxc\"\nNUBO_APP=\"{app}\"\nNUBO_BUILD=\"{id}\"\n",
            app = app.name,
            id = build.id,
            cpu = limits.cpu,
            vcpu = limits.vcpu,
            memory = limits.memory_mb,
            stack = stack.image,
            root_mb = limits.root_mb,
            script = crate::buildpack::BUILD_SCRIPT_PATH,
        );
        self.log(build.id, "-----> Starting the build container\n")
            .await;
        let vm = self.core().vm_allocate(owner, &template, false).await?;
        Ok(self
            .update_build(build.id, |b| {
                b.vm = Some(vm);
                b.stack_image = Some(stack.image);
            })
            .await?)
    }

    /// Step 5: the console into the log, until the container powers off or the time is up.
    async fn watch_container(
        &self,
        id: i64,
        vm: Oid,
        owner: &Caller,
        deadline: Instant,
    ) -> Result<(), Failure> {
        let log_path = self.config().build_log(id);
        let offset = self
            .read(|s| Ok(s.builds.get(&id).map(|b| b.console_offset)))?
            .unwrap_or(0);
        let save = |offset| async move {
            self.update_build(id, |b| b.console_offset = offset)
                .await
                .map(drop)
        };
        let ended = self
            .follow_console(
                owner,
                vm,
                crate::console_watch::Follow {
                    log: &log_path,
                    offset,
                    deadline: deadline.into(),
                    what: "build",
                },
                save,
            )
            .await?;
        if let crate::console_watch::Ended::TimedOut = ended {
            return Err(Failure(format!(
                "the build took more than {} s and was stopped",
                self.config().build.timeout.as_secs()
            )));
        }
        let tail = logs::tail(&log_path, 20).await;
        if tail.lines().any(|l| l.trim() == SUCCEEDED) {
            return Ok(());
        }
        let reason = tail
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix(FAILED))
            .map(|step| format!("the build script failed at: {step}"))
            .unwrap_or_else(|| "the build script ended without succeeding".into());
        if tail.contains("No space left on device") {
            let limits = &self.config().build;
            return Err(Failure(format!(
                "{reason}: No space left on device (a build may write {} MB besides /app and \
                 {} MB in /app)",
                limits.root_mb, limits.disk_mb
            )));
        }
        Err(Failure(reason))
    }

    /// Step 6a: the container's `/app` disk saved as the slug image.
    async fn save_slug(
        &self,
        build: &Build,
        app: &crate::model::App,
        owner: &Caller,
        vm: Oid,
    ) -> Result<Slug, Failure> {
        let name = crate::leftovers::slug_name(&app.name, build.id);
        let image = match self.owned_image(&name, owner)? {
            Some(image) => image,
            None => {
                self.log(build.id, "-----> Saving the slug\n").await;
                self.core()
                    .vm_disk_saveas(owner, vm, 1, &name, "", -1)
                    .await?
            }
        };
        // Tagged with its build, so that it is found and removed if the build or its app
        // goes away before the slug is recorded.
        self.core()
            .update_template::<Image>(
                owner,
                image,
                &crate::leftovers::build_image_tags(&app.name, build.id),
                1,
            )
            .await?;
        let deadline = Instant::now() + SAVE_TIMEOUT;
        let path = loop {
            let info = self.core().info::<Image>(owner, image)?;
            match info.state {
                ImageState::Ready => break PathBuf::from(&info.source),
                ImageState::Error => {
                    return Err(Failure("saving the slug failed".into()));
                }
                _ if Instant::now() >= deadline => {
                    return Err(Failure("saving the slug took too long".into()));
                }
                _ => tokio::time::sleep(POLL).await,
            }
        };
        let (size, sha256) = digest(&path).await?;
        self.log(
            build.id,
            &format!("       slug: {size} bytes, sha256 {sha256}\n"),
        )
        .await;
        Ok(Slug {
            image,
            size,
            sha256,
        })
    }

    /// Step 6b: the build succeeded; its release.
    async fn finish_build(&self, id: i64, slug: Slug) -> Result<(), Failure> {
        let now = nubo_core::now();
        let version = self
            .write(|staged| {
                let mut build = staged
                    .state
                    .builds
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| PaasError::not_found("build", id))?;
                let mut app = staged
                    .state
                    .apps
                    .get(&build.app)
                    .cloned()
                    .ok_or_else(|| PaasError::not_found("app", build.app))?;
                let config = app.config.clone();
                let description = match &build.commit {
                    Some(commit) => format!("Deploy {}", &commit[..commit.len().min(8)]),
                    None => format!("Deploy build {id}"),
                };
                if build.process_types.contains_key("web") && !app.formation.contains_key("web") {
                    app.formation.insert("web".into(), 1);
                }
                let version = crate::apps::stage_release(
                    staged,
                    &mut app,
                    build.uid,
                    now,
                    description,
                    config,
                    Some((id, build.process_types.clone())),
                )?;
                build.status = BuildStatus::Succeeded;
                build.finished = now;
                build.slug = Some(slug);
                build.release = Some(version);
                staged.push(Op::PutBuild(build));
                Ok(version)
            })
            .await?;
        self.wake();
        self.retain_releases();
        self.log(id, &format!("-----> Released v{version}\n")).await;
        if let Ok(Some(app)) = self.read(|s| Ok(s.builds.get(&id).map(|b| b.app))) {
            self.app_event(app, &format!("Build {id} succeeded: release v{version}"))
                .await;
        }
        Ok(())
    }

    /// Removes what a build leaves behind: its container, its source image (once the
    /// container is gone), its checkout.
    async fn clean_up_build(&self, build: &Build) {
        let _ = tokio::fs::remove_dir_all(self.config().build_dir(build.id)).await;
        let _ = tokio::fs::remove_file(self.config().upload_path(build.id)).await;
        let Ok(app) = self.read(|s| Ok(s.apps.get(&build.app).cloned())) else {
            return;
        };
        let Some(app) = app else { return };
        let Ok(owner) = self.caller_of_uid(app.uid) else {
            return;
        };
        let build = self
            .read(|s| Ok(s.builds.get(&build.id).cloned()))
            .ok()
            .flatten()
            .unwrap_or_else(|| build.clone());
        if let Some(vm) = build.vm.or(self.tagged_vm(build.id, &owner).ok().flatten()) {
            let _ = self.core().vm_action(&owner, "terminate-hard", vm).await;
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                match self.core().info::<Vm>(&owner, vm) {
                    Ok(v) if v.state != VmState::Done => {
                        if Instant::now() >= deadline {
                            tracing::warn!(
                                build = build.id,
                                vm,
                                "a build's container does not end"
                            );
                            return;
                        }
                        tokio::time::sleep(POLL).await
                    }
                    _ => break,
                }
            }
        }
        let name = crate::leftovers::source_image_name(&app.name, build.id);
        let image = build
            .source_image
            .or(self.owned_image(&name, &owner).ok().flatten());
        if let Some(image) = image
            && let Err(e) = self.core().image_delete(&owner, image, false).await
        {
            tracing::warn!(build = build.id, image, error = %e, "cannot delete a build's source image");
            return;
        }
        // Both gone: recorded, so that a restarted nubod does not look for them again.
        let _ = self
            .update_build(build.id, |b| {
                b.vm = None;
                b.source_image = None;
            })
            .await;
    }

    /// Changes build `id` with `edit`, durably; returns it as it is now.
    pub(crate) async fn update_build(
        &self,
        id: i64,
        edit: impl FnOnce(&mut Build),
    ) -> Result<Build> {
        self.write(|staged| {
            let mut build = staged
                .state
                .builds
                .get(&id)
                .cloned()
                .ok_or_else(|| PaasError::not_found("build", id))?;
            edit(&mut build);
            staged.push(Op::PutBuild(build.clone()));
            Ok(build)
        })
        .await
    }

    async fn log(&self, id: i64, text: &str) {
        if let Err(e) = logs::append(&self.config().build_log(id), text.as_bytes()).await {
            tracing::warn!(build = id, error = %e, "cannot write a build log");
        }
    }

    /// The container a build made, found by its NUBO_BUILD tag among the app owner's VMs
    /// (not yet DONE).
    fn tagged_vm(&self, id: i64, owner: &Caller) -> Result<Option<Oid>> {
        let tag = id.to_string();
        Ok(self.core().read(|s| {
            Ok(s.vms
                .values()
                .find(|vm| {
                    vm.state != VmState::Done
                        && vm.meta.uid == owner.uid
                        && vm.user_template.get("NUBO_BUILD") == Some(tag.as_str())
                })
                .map(|vm| vm.meta.id))
        })?)
    }

    /// The owner's image named `name` (a source image or slug made before a restart).
    fn owned_image(&self, name: &str, owner: &Caller) -> Result<Option<Oid>> {
        Ok(self.core().read(|s| {
            Ok(s.images
                .values()
                .find(|i| i.meta.name == name && i.meta.uid == owner.uid)
                .map(|i| i.meta.id))
        })?)
    }

    /// The NIC line of a PaaS container's template, on the configured network.
    pub(crate) fn network_nic(&self) -> Result<String> {
        let Some(name) = &self.config().network else {
            return Ok(String::new());
        };
        let id = self.core().read(|s| {
            s.vnets
                .values()
                .find(|n| &n.meta.name == name)
                .map(|n| n.meta.id)
                .ok_or_else(|| {
                    nubo_types::Error::action(format!("the PaaS's network {name} does not exist"))
                })
        })?;
        Ok(format!("NIC=[NETWORK_ID=\"{id}\"]\n"))
    }

    /// The core's caller for user `uid` (who owns an app's containers and images).
    pub(crate) fn caller_of_uid(&self, uid: Oid) -> Result<Caller> {
        Ok(self.core().read(|s| {
            let user = s.get::<nubo_core::model::User>(uid)?;
            nubo_core::auth::caller_of(s, user)
        })?)
    }
}

/// Makes `dir` an ext4 filesystem of `size_mb` MB (qcow2 where qemu-img is); returns the
/// file, beside `dir`.
async fn make_filesystem(dir: &Path, size_mb: u32) -> Result<PathBuf, Failure> {
    let raw = dir.with_extension("raw");
    let _ = tokio::fs::remove_file(&raw).await;
    run(Command::new("mke2fs")
        .args([
            "-q",
            "-F",
            "-t",
            "ext4",
            "-O",
            "^has_journal",
            "-L",
            "app",
            "-E",
            "root_owner=0:0",
            "-d",
        ])
        .arg(dir)
        .arg(&raw)
        .arg(format!("{size_mb}M")))
    .await
    .map_err(|e| Failure(format!("cannot make the source filesystem: {e}")))?;
    let qcow2 = dir.with_extension("qcow2");
    let _ = tokio::fs::remove_file(&qcow2).await;
    let converted = run(Command::new("qemu-img")
        .args(["convert", "-q", "-f", "raw", "-O", "qcow2"])
        .arg(&raw)
        .arg(&qcow2))
    .await;
    if converted.is_ok() {
        let _ = tokio::fs::remove_file(&raw).await;
        Ok(qcow2)
    } else {
        Ok(raw)
    }
}

async fn run(cmd: &mut Command) -> std::result::Result<(), String> {
    let out = cmd
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// The size and SHA-256 of a file.
pub(crate) async fn digest(path: &Path) -> Result<(u64, String), Failure> {
    use sha2::Digest;
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path)?;
        let mut hasher = sha2::Sha256::new();
        let size = std::io::copy(&mut file, &mut hasher)?;
        Ok::<_, std::io::Error>((size, hex::encode(hasher.finalize())))
    })
    .await
    .map_err(|e| Failure(format!("cannot digest the slug: {e}")))?
    .map_err(|e| Failure(format!("cannot digest the slug: {e}")))
}
