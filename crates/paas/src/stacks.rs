//! Stacks: named, versioned base root filesystems, each a Nubo image, with the states of
//! Cloud Foundry's stacks. Everyone may list them; only the oneadmin group registers them
//! and changes their state.

use nubo_core::Caller;
use nubo_types::{AuthOp, Oid};

use crate::Paas;
use crate::error::{PaasError, Result};
use crate::model::{Stack, StackState};
use crate::state::{Op, STACK};

/// A stack to register.
#[derive(Debug, Clone)]
pub struct NewStack {
    /// Name, e.g. `debian-12` (a DNS label).
    pub name: String,
    /// Version, e.g. `2026.12`.
    pub version: String,
    /// The image holding its root filesystem.
    pub image: Oid,
    /// Free text.
    pub description: String,
}

impl Paas {
    /// Every stack, oldest first.
    pub fn stack_list(&self, _caller: &Caller) -> Result<Vec<Stack>> {
        self.read(|state| Ok(state.stacks.values().cloned().collect()))
    }

    /// The stack named `name`.
    pub fn stack_get(&self, _caller: &Caller, name: &str) -> Result<Stack> {
        self.read(|state| {
            state
                .stack_by_name(name)
                .cloned()
                .ok_or_else(|| PaasError::not_found("stack", name))
        })
    }

    /// Registers a stack (oneadmin group only); the image must exist.
    pub async fn stack_create(&self, caller: &Caller, new: NewStack) -> Result<Stack> {
        require_admin(caller, "STACK", "register a stack")?;
        crate::names::check_app_name(&new.name).map_err(|_| {
            PaasError::Invalid(format!("stack name {:?} is not a DNS label", new.name))
        })?;
        check_version(&new.version)?;
        if new.description.len() > 1024 {
            return Err(PaasError::Invalid(
                "a stack description is at most 1024 bytes".into(),
            ));
        }
        self.core()
            .info::<nubo_core::model::Image>(caller, new.image)?;
        let now = nubo_core::now();
        self.write(|staged| {
            if staged.state.stack_by_name(&new.name).is_some() {
                return Err(PaasError::Conflict(format!("stack {} exists", new.name)));
            }
            let stack = Stack {
                id: staged.new_id(STACK),
                name: new.name,
                version: new.version,
                image: new.image,
                state: StackState::Active,
                description: new.description,
                created: now,
                previous: Vec::new(),
            };
            staged.push(Op::PutStack(stack.clone()));
            Ok(stack)
        })
        .await
    }

    /// Changes a stack's state (oneadmin group only).
    pub async fn stack_set_state(
        &self,
        caller: &Caller,
        name: &str,
        to: StackState,
    ) -> Result<Stack> {
        require_admin(caller, "STACK", "change a stack")?;
        self.write(|staged| {
            let mut stack = staged
                .state
                .stack_by_name(name)
                .cloned()
                .ok_or_else(|| PaasError::not_found("stack", name))?;
            stack.state = to;
            staged.push(Op::PutStack(stack.clone()));
            Ok(stack)
        })
        .await
    }
}

/// Refuses a stack version that is not 1 to 64 printable characters.
pub(crate) fn check_version(version: &str) -> Result<()> {
    if version.is_empty() || version.len() > 64 || version.chars().any(char::is_control) {
        return Err(PaasError::Invalid(
            "a stack version is 1 to 64 printable characters".into(),
        ));
    }
    Ok(())
}

/// Refuses `caller` unless in the oneadmin group; `object` and `what` say what was asked,
/// e.g. `STACK`, `register a stack`.
pub(crate) fn require_admin(caller: &Caller, object: &str, what: &str) -> Result<()> {
    if caller.is_admin() {
        return Ok(());
    }
    Err(PaasError::Core(nubo_types::Error::Authorization {
        uid: caller.uid,
        op: AuthOp::Admin.name().to_string(),
        object: format!("{object} (only the oneadmin group may {what})"),
    }))
}
