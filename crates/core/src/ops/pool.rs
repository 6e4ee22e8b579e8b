//! Pool listings with OpenNebula's filter flags, id ranges and pagination.

use std::sync::Arc;

use nubo_types::{AuthOp, Error, Oid, Result};

use crate::Core;
use crate::auth::{Caller, may};
use crate::model::PoolObject;
use crate::state::State;

/// Which objects a pool call asks for (`filter`, `start`, `end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolFilter {
    /// -4 primary group, -3 mine, -2 all, -1 mine and my groups, ≥0 that user's.
    pub filter: i32,
    /// First id (-1: no bound), or the offset when paginating.
    pub start: i32,
    /// Last id (-1: no bound); below -1 means "page of -end objects from offset start".
    pub end: i32,
}

impl PoolFilter {
    /// Everything the caller may use.
    pub const ALL: PoolFilter = PoolFilter {
        filter: -2,
        start: -1,
        end: -1,
    };

    /// Checks the filter flag.
    pub fn validate(self) -> Result<Self> {
        if self.filter < -4 {
            // PoolSharedAPI.cc, VirtualMachinePoolAPI.cc
            return Err(Error::api("Incorrect filter_flag"));
        }
        Ok(self)
    }

    fn wants<T: PoolObject>(self, state: &State, caller: &Caller, obj: &T) -> bool {
        let owned = obj.uid() == caller.uid;
        let chosen = match self.filter {
            -4 => obj.gid() == caller.gid,
            -3 => return owned,
            -2 => true,
            -1 => owned || caller.in_group(obj.gid()),
            uid => obj.uid() == uid,
        };
        chosen && may(state, caller, obj, AuthOp::Use)
    }

    fn in_range(self, id: Oid) -> bool {
        (self.start < 0 || id >= self.start) && (self.end < 0 || id <= self.end)
    }
}

/// Lists the objects of kind `T` that `filter` selects for `caller`, in id order.
pub fn list<T: PoolObject>(state: &State, caller: &Caller, filter: PoolFilter) -> Vec<Arc<T>> {
    list_where(state, caller, filter, |_: &T| true)
}

/// Like [`list`], keeping only objects for which `keep` holds (before pagination).
pub fn list_where<T: PoolObject>(
    state: &State,
    caller: &Caller,
    filter: PoolFilter,
    keep: impl Fn(&T) -> bool,
) -> Vec<Arc<T>> {
    let selected = T::pool(state)
        .values()
        .filter(|o| filter.wants(state, caller, o.as_ref()) && keep(o.as_ref()));
    if filter.end < -1 {
        let offset = usize::try_from(filter.start.max(0)).unwrap_or(0);
        let limit = usize::try_from(filter.end.unsigned_abs()).unwrap_or(usize::MAX);
        selected.skip(offset).take(limit).cloned().collect()
    } else {
        selected
            .filter(|o| filter.in_range(o.oid()))
            .cloned()
            .collect()
    }
}

impl Core {
    /// Lists the objects of kind `T` that `filter` selects for `caller`.
    pub fn pool_info<T: PoolObject>(
        &self,
        caller: &Caller,
        filter: PoolFilter,
    ) -> Result<Vec<Arc<T>>> {
        let filter = filter.validate()?;
        self.read(|state| Ok(list(state, caller, filter)))
    }
}
