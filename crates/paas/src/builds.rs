//! Builds as callers see them: asking for one (it is queued and run in the background by
//! [`crate::build_runner`]), listing and showing them, and reading their log.

use nubo_core::Caller;
use nubo_types::AuthOp;

use crate::Paas;
use crate::error::{PaasError, Result};
use crate::model::{Build, BuildSource, StackState};
use crate::source;
use crate::state::{BUILD, Op};

/// The most bytes one read of a build log returns.
pub const LOG_CHUNK_MAX: u64 = 1024 * 1024;

impl Paas {
    /// Queues a build of the app from `source` (MANAGE) and starts it.
    pub async fn build_create(
        &self,
        caller: &Caller,
        name: &str,
        source: BuildSource,
    ) -> Result<Build> {
        match &source {
            BuildSource::Git { url, reference } => {
                source::check_git_url(url)?;
                if let Some(r) = reference {
                    source::check_reference(r)?;
                }
            }
            BuildSource::Archive { .. } => {
                return Err(PaasError::Invalid(
                    "an archive source is given by uploading it".into(),
                ));
            }
        }
        let build = self.queue_build(caller, name, source).await?;
        self.start_build(build.id);
        Ok(build)
    }

    /// Checks that the caller may build the app (MANAGE), before an upload is received.
    pub fn may_build(&self, caller: &Caller, name: &str) -> Result<()> {
        self.read(|state| self.app_for(state, caller, name, AuthOp::Manage).map(drop))
    }

    /// Queues a build of the app from the archive `file` the caller uploaded (MANAGE) and
    /// starts it; the file is kept for the build (and removed when it ends or fails here).
    pub async fn build_create_archive(
        &self,
        caller: &Caller,
        name: &str,
        file: &std::path::Path,
    ) -> Result<Build> {
        let outcome = async {
            let (size, sha256) = crate::build_runner::digest(file)
                .await
                .map_err(|e| PaasError::Invalid(e.0))?;
            let build = self
                .queue_build(caller, name, BuildSource::Archive { size, sha256 })
                .await?;
            tokio::fs::rename(file, self.config().upload_path(build.id))
                .await
                .map_err(|e| {
                    PaasError::Core(nubo_types::Error::internal(format!(
                        "cannot keep the upload: {e}"
                    )))
                })?;
            Ok(build)
        }
        .await;
        match outcome {
            Ok(build) => {
                self.start_build(build.id);
                Ok(build)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(file).await;
                Err(e)
            }
        }
    }

    /// Records a queued build of the app from `source`.
    async fn queue_build(&self, caller: &Caller, name: &str, source: BuildSource) -> Result<Build> {
        let now = nubo_core::now();
        self.write(|staged| {
            let app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
            let stack = staged
                .state
                .stack_by_name(&app.stack)
                .ok_or_else(|| PaasError::not_found("stack", &app.stack))?;
            if stack.state == StackState::Disabled {
                return Err(PaasError::Conflict(format!(
                    "stack {} is DISABLED: nothing builds on it",
                    stack.name
                )));
            }
            let build = Build::queued(
                staged.new_id(BUILD),
                app.id,
                caller.uid,
                source,
                stack.name.clone(),
                now,
            );
            staged.push(Op::PutBuild(build.clone()));
            Ok(build)
        })
        .await
    }

    /// The app's builds, newest first (USE).
    pub fn builds(&self, caller: &Caller, name: &str) -> Result<Vec<Build>> {
        self.read(|state| {
            let app = self.app_for(state, caller, name, AuthOp::Use)?;
            Ok(state.builds_of(app.id).rev().cloned().collect())
        })
    }

    /// Build `id` of the app (USE).
    pub fn build_get(&self, caller: &Caller, name: &str, id: i64) -> Result<Build> {
        self.read(|state| {
            let app = self.app_for(state, caller, name, AuthOp::Use)?;
            state
                .builds
                .get(&id)
                .filter(|b| b.app == app.id)
                .cloned()
                .ok_or_else(|| PaasError::NotFound {
                    what: format!("build {id} of app {name}"),
                })
        })
    }

    /// What build `id`'s log holds from byte `offset` on (at most [`LOG_CHUNK_MAX`]), the
    /// offset to read from next, and the build as it is now (USE).
    pub async fn build_log(
        &self,
        caller: &Caller,
        name: &str,
        id: i64,
        offset: u64,
    ) -> Result<(Vec<u8>, u64, Build)> {
        let build = self.build_get(caller, name, id)?;
        let path = self.config().build_log(id);
        let data = crate::logs::read_from(&path, offset, LOG_CHUNK_MAX).await?;
        let next = offset + data.len() as u64;
        Ok((data, next, build))
    }
}
