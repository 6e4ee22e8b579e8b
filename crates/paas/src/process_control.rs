//! Restarting, stopping and starting an app's processes, all of them or one type (Heroku's
//! `ps:restart`, `ps:stop`, `ps:start`): a restart replaces each instance by a new one
//! (the old serving until its successor is up); a stop takes the type's instances away
//! and keeps its quantity for the start.

use nubo_core::Caller;
use nubo_types::AuthOp;

use crate::Paas;
use crate::error::{PaasError, Result};
use crate::model::App;

/// What to do with the processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessAction {
    /// Replace every instance by a fresh one.
    Restart,
    /// Take the instances away (the quantities are kept).
    Stop,
    /// Bring stopped types back.
    Start,
}

impl ProcessAction {
    fn verb(self) -> &'static str {
        match self {
            ProcessAction::Restart => "Restarted",
            ProcessAction::Stop => "Stopped",
            ProcessAction::Start => "Started",
        }
    }
}

impl Paas {
    /// Restarts, stops or starts the app's processes of `kind`, or all of them (MANAGE).
    pub async fn processes(
        &self,
        caller: &Caller,
        name: &str,
        action: ProcessAction,
        kind: Option<&str>,
    ) -> Result<App> {
        let now = nubo_core::now();
        let app = self
            .write(|staged| {
                let mut app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
                let declared: Vec<String> = staged
                    .state
                    .releases
                    .get(&(app.id, app.release))
                    .map(|r| r.process_types.keys().cloned().collect())
                    .unwrap_or_default();
                let kinds: Vec<String> = match kind {
                    Some(k) if declared.iter().any(|d| d == k) => vec![k.to_owned()],
                    Some(k) => {
                        return Err(PaasError::Invalid(format!(
                            "app {} has no process type {k}",
                            app.name
                        )));
                    }
                    None => declared,
                };
                for k in kinds {
                    match action {
                        ProcessAction::Restart => *app.generations.entry(k).or_insert(0) += 1,
                        ProcessAction::Stop => {
                            app.stopped.insert(k);
                        }
                        ProcessAction::Start => {
                            app.stopped.remove(&k);
                        }
                    }
                }
                let built = staged
                    .state
                    .releases
                    .get(&(app.id, app.release))
                    .is_some_and(|r| r.build.is_some());
                if action == ProcessAction::Restart && built {
                    // A restart replaces instances as a deployment does, a few at a time.
                    crate::deployments::stage_deployment(
                        staged,
                        &app,
                        caller.uid,
                        format!("Restart of {}", kind.unwrap_or("all processes")),
                        app.release,
                        now,
                    );
                }
                staged.put_changed_app(&mut app, now);
                Ok(app)
            })
            .await?;
        self.clear_failed(app.id);
        self.wake();
        let what = kind.unwrap_or("all processes");
        self.app_event(
            app.id,
            &format!("{} {what} by {}", action.verb(), caller.uname),
        )
        .await;
        Ok(app)
    }
}
