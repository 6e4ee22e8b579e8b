//! One-off runs (Heroku's `run`, Dokku's `run`): a command in a fresh container of the
//! app's current release — its slug, its config vars, on the apps' network — whose output
//! is kept as the run's log and whose exit status is the run's result. The container goes
//! when the command ends, or when the run's time (an hour) is up.

use std::time::Duration;

use base64::Engine;
use nubo_core::Caller;
use nubo_types::AuthOp;
use tokio::time::Instant;

use crate::Paas;
use crate::build_runner::Failure;
use crate::console_watch::Ended;
use crate::error::{PaasError, Result};
use crate::logs;
use crate::model::{Run, RunStatus};
use crate::state::{Op, RUN};

/// The longest command.
pub const COMMAND_MAX: usize = 16 * 1024;
/// How long a run may take.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(3600);

impl Paas {
    /// Starts `command` in a fresh container of the app's current release (MANAGE).
    pub async fn run_create(&self, caller: &Caller, name: &str, command: &str) -> Result<Run> {
        if command.trim().is_empty() || command.len() > COMMAND_MAX || command.contains('\0') {
            return Err(PaasError::Invalid(format!(
                "a command is 1 to {COMMAND_MAX} bytes, without NUL"
            )));
        }
        let now = nubo_core::now();
        let run = self
            .write(|staged| {
                let app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
                let release = staged.state.releases.get(&(app.id, app.release));
                let built = release
                    .and_then(|r| r.build)
                    .and_then(|b| staged.state.builds.get(&b))
                    .is_some_and(|b| b.slug.is_some());
                if !built {
                    return Err(PaasError::Conflict(format!(
                        "app {} has no built release to run in yet: deploy a build first",
                        app.name
                    )));
                }
                let run = Run {
                    id: staged.new_id(RUN),
                    app: app.id,
                    uid: caller.uid,
                    command: command.to_owned(),
                    release: app.release,
                    status: RunStatus::Starting,
                    exit_code: None,
                    reason: None,
                    created: now,
                    finished: 0,
                    vm: None,
                    console_offset: 0,
                };
                staged.push(Op::PutRun(run.clone()));
                Ok(run)
            })
            .await?;
        self.start_run(run.id);
        Ok(run)
    }

    /// Run `id` of the app (USE).
    pub fn run_get(&self, caller: &Caller, name: &str, id: i64) -> Result<Run> {
        self.read(|state| {
            let app = self.app_for(state, caller, name, AuthOp::Use)?;
            state
                .runs
                .get(&id)
                .filter(|r| r.app == app.id)
                .cloned()
                .ok_or_else(|| PaasError::NotFound {
                    what: format!("run {id} of app {name}"),
                })
        })
    }

    /// What run `id`'s output holds from `offset` on, the next offset, and the run (USE).
    pub async fn run_log(
        &self,
        caller: &Caller,
        name: &str,
        id: i64,
        offset: u64,
    ) -> Result<(Vec<u8>, u64, Run)> {
        let run = self.run_get(caller, name, id)?;
        let data = logs::read_from(&self.run_log_path(id), offset, crate::LOG_CHUNK_MAX).await?;
        let next = offset + data.len() as u64;
        Ok((data, next, run))
    }

    fn run_log_path(&self, id: i64) -> std::path::PathBuf {
        self.config()
            .work_dir
            .join("logs")
            .join(format!("run-{id}.log"))
    }

    /// Goes on with the runs a previous nubod left unfinished.
    pub(crate) fn resume_runs(&self) {
        let open: Vec<i64> = self
            .read(|s| {
                Ok(s.runs
                    .values()
                    .filter(|r| !r.status.is_final())
                    .map(|r| r.id)
                    .collect())
            })
            .unwrap_or_default();
        for id in open {
            self.start_run(id);
        }
    }

    fn start_run(&self, id: i64) {
        let paas = self.clone();
        tokio::spawn(async move {
            let outcome = paas.run_steps(id).await;
            let Ok(Some(vm)) = paas.read(|s| Ok(s.runs.get(&id).map(|r| r.vm))) else {
                // Its app was deleted: its container is swept.
                paas.sweep_leftovers();
                return;
            };
            if let Err(Failure(reason)) = outcome {
                let _ = paas
                    .update_run(id, |r| {
                        r.status = RunStatus::Failed;
                        r.reason = Some(reason);
                        r.finished = nubo_core::now();
                    })
                    .await;
            }
            if let Some(vm) = vm
                && let Ok(Some(uid)) = paas.read(|s| {
                    Ok(s.runs
                        .get(&id)
                        .and_then(|r| s.apps.get(&r.app))
                        .map(|a| a.uid))
                })
                && let Ok(owner) = paas.caller_of_uid(uid)
            {
                let _ = paas.core().vm_action(&owner, "terminate-hard", vm).await;
            }
        });
    }

    async fn run_steps(&self, id: i64) -> Result<(), Failure> {
        let (run, app, release, slug) = self.read(|s| {
            let run = s
                .runs
                .get(&id)
                .cloned()
                .ok_or_else(|| PaasError::not_found("run", id))?;
            let app = s
                .apps
                .get(&run.app)
                .cloned()
                .ok_or_else(|| PaasError::not_found("app", run.app))?;
            let release = s
                .releases
                .get(&(app.id, run.release))
                .cloned()
                .ok_or_else(|| PaasError::not_found("release", run.release))?;
            let slug = release
                .build
                .and_then(|b| s.builds.get(&b))
                .and_then(|b| b.slug.clone())
                .ok_or_else(|| PaasError::Conflict("the release has no slug".into()))?;
            Ok((run, app, release, slug))
        })?;
        let owner = self.caller_of_uid(app.uid)?;
        let vm = match run.vm {
            Some(vm) => vm,
            None => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(&run.command);
                let template = self.slug_container_template(
                    &app,
                    &release,
                    slug.image,
                    crate::slug_container::SlugContainer {
                        name: &format!("{}-run-{id}", app.name),
                        launch_arg: "--run",
                        context: &format!("NUBO_RUN=\"{encoded}\""),
                        tags: &format!("NUBO_RUN_ID=\"{id}\"\n"),
                        avoid_hosts: &[],
                    },
                )?;
                let vm = self.core().vm_allocate(&owner, &template, false).await?;
                self.update_run(id, |r| {
                    r.vm = Some(vm);
                    r.status = RunStatus::Running;
                })
                .await?;
                vm
            }
        };
        let deadline = Instant::now()
            + RUN_TIMEOUT.saturating_sub(Duration::from_secs(
                (nubo_core::now() - run.created).max(0) as u64,
            ));
        let log = self.run_log_path(id);
        let save = |offset| async move {
            self.update_run(id, |r| r.console_offset = offset)
                .await
                .map(drop)
        };
        let ended = self
            .follow_console(
                &owner,
                vm,
                crate::console_watch::Follow {
                    log: &log,
                    offset: run.console_offset,
                    deadline,
                    what: "run",
                },
                save,
            )
            .await?;
        if let Ended::TimedOut = ended {
            return Err(Failure(format!(
                "the run took more than {} s and was stopped",
                RUN_TIMEOUT.as_secs()
            )));
        }
        let tail = logs::tail(&log, 5).await;
        let code = tail
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix(crate::buildpack::RUN_EXIT_LINE)?.parse::<i32>().ok())
            .ok_or_else(|| Failure("the command ended without an exit status (the release's launcher may predate runs: deploy again)".into()))?;
        self.update_run(id, |r| {
            r.exit_code = Some(code);
            r.status = if code == 0 {
                RunStatus::Succeeded
            } else {
                RunStatus::Failed
            };
            r.finished = nubo_core::now();
        })
        .await?;
        Ok(())
    }

    async fn update_run(&self, id: i64, edit: impl FnOnce(&mut Run)) -> Result<Run> {
        self.write(|staged| {
            let mut run = staged
                .state
                .runs
                .get(&id)
                .cloned()
                .ok_or_else(|| PaasError::not_found("run", id))?;
            edit(&mut run);
            staged.push(Op::PutRun(run.clone()));
            Ok(run)
        })
        .await
    }
}
