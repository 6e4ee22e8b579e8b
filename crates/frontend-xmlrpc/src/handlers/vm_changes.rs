//! `one.vm.*` calls that change a VM in place: disk and NIC hotplug, NIC updates and
//! security groups, VM and disk snapshots, disk resize and save-as, resize, updateconf,
//! and 7.4's guest command execution (exec, retryexec, cancelexec).

use nubo_core::Core;

use super::common::{auth, id, on};
use crate::params::{CallResult, Params};

/// The verbs handled here.
const VERBS: [&str; 24] = [
    "attach",
    "detach",
    "attachnic",
    "detachnic",
    "updatenic",
    "attachsg",
    "detachsg",
    "snapshotcreate",
    "snapshotrevert",
    "snapshotdelete",
    "disksnapshotcreate",
    "disksnapshotrevert",
    "disksnapshotdelete",
    "disksnapshotrename",
    "diskresize",
    "disksaveas",
    "resize",
    "updateconf",
    "schedadd",
    "schedupdate",
    "scheddelete",
    "exec",
    "retryexec",
    "cancelexec",
];

/// Handles an in-place VM change; None if the verb is not one.
pub async fn call(core: &Core, verb: &str, p: &Params) -> Option<CallResult> {
    if !VERBS.contains(&verb) {
        return None;
    }
    let c = match auth(core, p) {
        Ok(c) => c,
        Err(e) => return Some(Err(e)),
    };
    let oid = match p.int(1) {
        Ok(oid) => oid,
        Err(e) => return Some(Err(e)),
    };
    let out = async {
        let result = match verb {
            "attach" => core.vm_attach_disk(&c, oid, p.str(2)?).await,
            "detach" => core.vm_detach_disk(&c, oid, p.int(2)?).await,
            "attachnic" => core.vm_attach_nic(&c, oid, p.str(2)?).await,
            "detachnic" => core.vm_detach_nic(&c, oid, p.int(2)?).await,
            "updatenic" => {
                let append = p.int_or(4, 0)? == 1;
                core.vm_update_nic(&c, oid, p.int(2)?, p.str(3)?, append)
                    .await
            }
            "attachsg" => {
                core.vm_security_group(&c, oid, p.int(2)?, p.int(3)?, true)
                    .await
            }
            "detachsg" => {
                core.vm_security_group(&c, oid, p.int(2)?, p.int(3)?, false)
                    .await
            }
            "snapshotcreate" => core.vm_snapshot_create(&c, oid, p.str_or(2, "")?).await,
            "snapshotrevert" => core.vm_snapshot_change(&c, oid, p.int(2)?, false).await,
            "snapshotdelete" => core.vm_snapshot_change(&c, oid, p.int(2)?, true).await,
            "disksnapshotcreate" => {
                core.vm_disk_snapshot_create(&c, oid, p.int(2)?, p.str_or(3, "")?)
                    .await
            }
            "disksnapshotrevert" => {
                core.vm_disk_snapshot_change(&c, oid, p.int(2)?, p.int(3)?, false)
                    .await
            }
            "disksnapshotdelete" => {
                core.vm_disk_snapshot_change(&c, oid, p.int(2)?, p.int(3)?, true)
                    .await
            }
            "disksnapshotrename" => {
                core.vm_disk_snapshot_rename(&c, oid, p.int(2)?, p.int(3)?, p.str(4)?)
                    .await
            }
            "diskresize" => core.vm_disk_resize(&c, oid, p.int(2)?, p.str(3)?).await,
            "disksaveas" => {
                core.vm_disk_saveas(
                    &c,
                    oid,
                    p.int(2)?,
                    p.str(3)?,
                    p.str_or(4, "")?,
                    p.int_or(5, -1)?,
                )
                .await
            }
            "resize" => {
                core.vm_resize(&c, oid, p.str(2)?, p.bool_or(3, true)?)
                    .await
            }
            "updateconf" => {
                let append = p.int_or(3, 0)? == 1;
                core.vm_updateconf(&c, oid, p.str(2)?, append).await
            }
            "schedadd" => sched_id(core.vm_sched_add(&c, oid, p.str(2)?).await),
            "schedupdate" => {
                let sa = i64::from(p.int(2)?);
                sched_id(core.vm_sched_update(&c, oid, sa, p.str(3)?).await)
            }
            "scheddelete" => sched_id(core.vm_sched_delete(&c, oid, i64::from(p.int(2)?)).await),
            "exec" => core.vm_exec(&c, oid, p.str(2)?, p.str(3)?).await,
            "retryexec" => core.vm_exec_retry(&c, oid).await,
            "cancelexec" => core.vm_exec_cancel(&c, oid).await,
            _ => return Ok(None),
        };
        result.map(Some).map_err(on(oid))
    };
    match out.await {
        Ok(Some(v)) => Some(id(v)),
        Ok(None) => None,
        Err(e) => Some(Err(e)),
    }
}

fn sched_id(r: nubo_types::Result<i64>) -> nubo_types::Result<i32> {
    r.map(|v| i32::try_from(v).unwrap_or(i32::MAX))
}
