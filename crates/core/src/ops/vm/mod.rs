//! Virtual machine operations (`one.vm.*`): creation, the life cycle through the
//! `lifecycle` state machine, placement, and what follows a commit (driver operations,
//! scheduling).

mod accounting;
mod actions;
mod changes;
mod context;
mod create;
mod resources;
mod sched_actions;
mod scheduled;
mod search;
mod system_ds;
mod transition;

pub use accounting::Showback;
pub use actions::RecoverRequest;
pub(crate) use changes::exec::{cancel_on_leave, exec_spec, take_result as take_exec_result};
pub(crate) use create::create_vm;
pub(crate) use resources::security_groups;
pub use resources::{ELASTIC_IP_POOL_ATTR, target_name};
pub use search::VmSearch;
pub(crate) use transition::move_quota;
pub(crate) use transition::{Dispatch, Followup, apply_event, op_hosts};

use std::sync::Arc;

use nubo_types::Result;
use nubo_types::states::VmState;

use crate::Core;
use crate::auth::Caller;
use crate::model::Vm;
use crate::ops::pool::{PoolFilter, list_where};

impl Core {
    /// `vmpool.info`: VMs selected by `filter`, in STATE `state` (-1: any but DONE, -2:
    /// any).
    pub fn vm_pool_info(
        &self,
        caller: &Caller,
        filter: PoolFilter,
        state: i32,
    ) -> Result<Vec<Arc<Vm>>> {
        self.vm_pool_search(caller, filter, state, "")
    }

    /// `vmpool.info` with its search filter (`KEY=VALUE&…`, see [`VmSearch`]): VMs
    /// selected by `filter`, in STATE `state`, that match `query` (empty: all).
    pub fn vm_pool_search(
        &self,
        caller: &Caller,
        filter: PoolFilter,
        state: i32,
        query: &str,
    ) -> Result<Vec<Arc<Vm>>> {
        let filter = filter.validate()?;
        if state < -2 || (state >= 0 && VmState::from_code(state).is_none()) {
            return Err(nubo_types::Error::api(format!("Incorrect state {state}")));
        }
        let search = VmSearch::parse(query)?;
        let in_state = |vm: &Vm| match state {
            -2 => true,
            -1 => vm.state != VmState::Done,
            code => vm.state.code() == code,
        };
        let Some(search) = search else {
            return self.read(|s| Ok(list_where(s, caller, filter, in_state)));
        };
        // Under the state lock, only the VMs the caller may see in that state are taken;
        // they are matched once it is released (a pool read runs on a thread of its own,
        // see frontend-xmlrpc's `reads_a_pool`), and a page is cut from those that match.
        let paged = filter.end < -1;
        let taken = if paged {
            PoolFilter {
                start: -1,
                end: -1,
                ..filter
            }
        } else {
            filter
        };
        let candidates = self.read(|s| Ok(list_where(s, caller, taken, in_state)))?;
        let found = candidates.into_iter().filter(|vm| search.matches(vm));
        Ok(if paged {
            let offset = usize::try_from(filter.start.max(0)).unwrap_or(0);
            let limit = usize::try_from(filter.end.unsigned_abs()).unwrap_or(usize::MAX);
            found.skip(offset).take(limit).collect()
        } else {
            found.collect()
        })
    }

    /// `vmpool.infoset`: the VMs with these ids that the caller may see.
    pub fn vm_pool_set(&self, caller: &Caller, ids: &[i32]) -> Result<Vec<Arc<Vm>>> {
        self.read(|s| {
            Ok(list_where(s, caller, PoolFilter::ALL, |vm: &Vm| {
                ids.contains(&vm.meta.id)
            }))
        })
    }
}
