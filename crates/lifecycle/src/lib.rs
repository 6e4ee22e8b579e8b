//! The VM state machine, pure. A VM's phase is OpenNebula's `(STATE, LCM_STATE)` pair;
//! [`next`] maps a phase and an [`Event`] (a user action, a driver outcome, a recover op, a
//! scheduler decision, a monitoring report) to a [`Transition`]: the new phase, the HISTORY
//! action to record, and the [`Effect`]s the core carries out after committing it.

mod events;
mod table;

pub use events::{
    DriverOp, Effect, Event, MigrateKind, Origin, Reconfig, RecoverOp, Transition, UserAction,
};
pub use table::{next, pending_op};

use nubo_types::states::{LcmState, VmState};

/// A VM's phase: STATE and, for ACTIVE VMs, LCM_STATE (LCM_INIT otherwise).
pub type Phase = (VmState, LcmState);

/// Why an event does not apply to a phase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The event is not allowed in this phase.
    #[error("wrong state {state}/{lcm}")]
    WrongState {
        /// STATE name.
        state: &'static str,
        /// LCM_STATE name.
        lcm: &'static str,
    },
}

/// An ACTIVE phase.
pub(crate) fn active(lcm: LcmState) -> Phase {
    (VmState::Active, lcm)
}

/// A non-active phase (LCM_INIT).
pub(crate) fn plain(state: VmState) -> Phase {
    (state, LcmState::LcmInit)
}
