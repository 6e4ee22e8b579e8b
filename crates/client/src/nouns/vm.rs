//! Verbs of virtual machines beyond the generic ones: creation, the life cycle
//! (`vm.action`, deploy, migrate, recover) and state-filtered pools. Changes in place live
//! in `vm_devices`.

use nubo_types::states::VmState;
use nubo_xmlrpc::Value;

use super::Vm;
use crate::ClientError;
use crate::resource::{Filter, Resource};

/// The names `vm.action` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmAction {
    /// `terminate`: shut down and end the VM (DONE).
    Terminate,
    /// `terminate-hard`: end it without a clean shutdown.
    TerminateHard,
    /// `undeploy`: shut down and move the disks back to the datastores.
    Undeploy,
    /// `undeploy-hard`.
    UndeployHard,
    /// `poweroff`: shut down, keeping the VM on its host.
    Poweroff,
    /// `poweroff-hard`.
    PoweroffHard,
    /// `reboot`.
    Reboot,
    /// `reboot-hard`: reset.
    RebootHard,
    /// `hold`: keep a pending VM from being scheduled.
    Hold,
    /// `release`: let a held VM be scheduled.
    Release,
    /// `stop`: save the VM to disk and free the host.
    Stop,
    /// `suspend`: pause the VM, memory saved on the host.
    Suspend,
    /// `resume`: run a stopped, suspended, powered-off or undeployed VM again.
    Resume,
    /// `resched`: ask the scheduler to move the VM.
    Resched,
    /// `unresched`: cancel a `resched`.
    Unresched,
}

impl VmAction {
    /// Every action, in the order of the catalogue.
    pub const ALL: [VmAction; 15] = [
        VmAction::Terminate,
        VmAction::TerminateHard,
        VmAction::Undeploy,
        VmAction::UndeployHard,
        VmAction::Poweroff,
        VmAction::PoweroffHard,
        VmAction::Reboot,
        VmAction::RebootHard,
        VmAction::Hold,
        VmAction::Release,
        VmAction::Stop,
        VmAction::Suspend,
        VmAction::Resume,
        VmAction::Resched,
        VmAction::Unresched,
    ];

    /// The name on the wire, e.g. `poweroff-hard`.
    pub fn name(self) -> &'static str {
        match self {
            VmAction::Terminate => "terminate",
            VmAction::TerminateHard => "terminate-hard",
            VmAction::Undeploy => "undeploy",
            VmAction::UndeployHard => "undeploy-hard",
            VmAction::Poweroff => "poweroff",
            VmAction::PoweroffHard => "poweroff-hard",
            VmAction::Reboot => "reboot",
            VmAction::RebootHard => "reboot-hard",
            VmAction::Hold => "hold",
            VmAction::Release => "release",
            VmAction::Stop => "stop",
            VmAction::Suspend => "suspend",
            VmAction::Resume => "resume",
            VmAction::Resched => "resched",
            VmAction::Unresched => "unresched",
        }
    }

    /// The action with this wire name.
    pub fn from_name(name: &str) -> Option<VmAction> {
        VmAction::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// What `vm.recover` does with a VM stuck in a transition or a failure state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoverOp {
    /// Take the pending operation as failed (0).
    Failure,
    /// Take the pending operation as done (1).
    Success,
    /// Retry the pending operation (2).
    Retry,
    /// End the VM (3).
    Delete,
    /// End the VM and create it again, PENDING (4).
    DeleteRecreate,
    /// Drop the VM from the database without driver cleanup (5).
    DeleteDb,
}

impl RecoverOp {
    /// The number `vm.recover` takes.
    pub fn code(self) -> i32 {
        match self {
            RecoverOp::Failure => 0,
            RecoverOp::Success => 1,
            RecoverOp::Retry => 2,
            RecoverOp::Delete => 3,
            RecoverOp::DeleteRecreate => 4,
            RecoverOp::DeleteDb => 5,
        }
    }
}

/// How a cold `vm.migrate` takes the VM off its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MigrateMode {
    /// Save its memory and restore it on the new host (0).
    #[default]
    Save,
    /// Power it off cleanly, boot it on the new host (1).
    Poweroff,
    /// Power it off hard, boot it on the new host (2).
    PoweroffHard,
}

impl MigrateMode {
    /// The number `vm.migrate` takes.
    pub fn code(self) -> i32 {
        match self {
            MigrateMode::Save => 0,
            MigrateMode::Poweroff => 1,
            MigrateMode::PoweroffHard => 2,
        }
    }
}

/// Which VMs a `vmpool.info` listing returns, by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateFilter {
    /// Every VM, DONE ones included (-2).
    Any,
    /// Every VM but the DONE ones (-1).
    #[default]
    NotDone,
    /// Only VMs in this STATE.
    Only(VmState),
}

impl StateFilter {
    /// The number `vmpool.info` takes.
    pub fn code(self) -> i32 {
        match self {
            StateFilter::Any => -2,
            StateFilter::NotDone => -1,
            StateFilter::Only(state) => state.code(),
        }
    }
}

impl Resource<'_, Vm> {
    /// `vm.allocate(tmpl, hold)`: creates a VM, PENDING (HOLD with `hold`). Returns its id.
    pub fn allocate(&self, template: &str, hold: bool) -> Result<i32, ClientError> {
        self.call_id("allocate", vec![Value::from(template), Value::Bool(hold)])
    }

    /// `vm.action(name, id)`; the name comes first on the wire.
    pub fn action(&self, id: i32, action: VmAction) -> Result<(), ClientError> {
        self.call("action", vec![Value::from(action.name()), Value::Int(id)])
            .map(drop)
    }

    /// `vm.deploy(id, host, enforce, ds)`: places the VM on a host (ds -1: the scheduler's
    /// choice of system datastore); `enforce` checks the host's capacity.
    pub fn deploy(&self, id: i32, host: i32, enforce: bool, ds: i32) -> Result<(), ClientError> {
        self.act(
            "deploy",
            id,
            vec![Value::Int(host), Value::Bool(enforce), Value::Int(ds)],
        )
    }

    /// `vm.migrate(id, host, live, enforce, ds, type)`.
    pub fn migrate(
        &self,
        id: i32,
        host: i32,
        live: bool,
        enforce: bool,
        ds: i32,
        mode: MigrateMode,
    ) -> Result<(), ClientError> {
        self.act(
            "migrate",
            id,
            vec![
                Value::Int(host),
                Value::Bool(live),
                Value::Bool(enforce),
                Value::Int(ds),
                Value::Int(mode.code()),
            ],
        )
    }

    /// `vm.recover(id, op)`.
    pub fn recover(&self, id: i32, op: RecoverOp) -> Result<(), ClientError> {
        self.act("recover", id, vec![Value::Int(op.code())])
    }

    /// `vmpool.info(filter, -1, -1, state)`: the short form of each VM, as XML.
    pub fn pool_info_state(
        &self,
        filter: Filter,
        state: StateFilter,
    ) -> Result<String, ClientError> {
        self.pool_call(stated(filter, state))
    }

    /// `vmpool.infoextended(filter, -1, -1, state)`: the full form of each VM, as XML.
    pub fn pool_info_extended(
        &self,
        filter: Filter,
        state: StateFilter,
    ) -> Result<String, ClientError> {
        self.client()
            .call_string("one.vmpool.infoextended", stated(filter, state))
    }

    /// `vmpool.infoset("1,2", extended)`: these VMs, as XML.
    pub fn info_set(&self, ids: &[i32], extended: bool) -> Result<String, ClientError> {
        let list: Vec<String> = ids.iter().map(i32::to_string).collect();
        self.client().call_string(
            "one.vmpool.infoset",
            vec![Value::from(list.join(",").as_str()), Value::Bool(extended)],
        )
    }

    /// `vm.console(id, offset)` (a Nubo extension): what the VM's serial console printed
    /// from byte `offset` on, and the offset to ask for next.
    pub fn console(&self, id: i32, offset: u64) -> Result<(Vec<u8>, u64), ClientError> {
        use base64::Engine;
        let method = Self::method("console");
        let bad = |detail: String| ClientError::Reply {
            method: method.clone(),
            detail,
        };
        let offset = i32::try_from(offset).unwrap_or(i32::MAX);
        let xml = self
            .client()
            .call_string(&method, vec![Value::Int(id), Value::Int(offset)])?;
        let doc = crate::xml::Element::parse(&xml).map_err(|e| bad(e.to_string()))?;
        let next = doc
            .text_of("OFFSET")
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| bad("no OFFSET".into()))?;
        let data = base64::engine::general_purpose::STANDARD
            .decode(doc.text_of("DATA").unwrap_or_default())
            .map_err(|e| bad(e.to_string()))?;
        Ok((data, next))
    }

    /// `vm.monitoring(id)`: the VM's monitoring records, as XML.
    pub fn monitoring(&self, id: i32) -> Result<String, ClientError> {
        self.client()
            .call_string(&Self::method("monitoring"), vec![Value::Int(id)])
    }
}

/// The parameters of `vmpool.info` / `infoextended`.
fn stated(filter: Filter, state: StateFilter) -> Vec<Value> {
    vec![
        Value::Int(filter.code()),
        Value::Int(-1),
        Value::Int(-1),
        Value::Int(state.code()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip() {
        for action in VmAction::ALL {
            assert_eq!(VmAction::from_name(action.name()), Some(action));
        }
        assert_eq!(VmAction::PoweroffHard.name(), "poweroff-hard");
        assert_eq!(VmAction::from_name("explode"), None);
    }

    #[test]
    fn codes_follow_the_catalogue() {
        assert_eq!(RecoverOp::DeleteRecreate.code(), 4);
        assert_eq!(MigrateMode::PoweroffHard.code(), 2);
        assert_eq!(StateFilter::Any.code(), -2);
        assert_eq!(StateFilter::default().code(), -1);
        assert_eq!(StateFilter::Only(VmState::Poweroff).code(), 8);
    }
}
