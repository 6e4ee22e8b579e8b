//! Choosing the system datastore of a placement: among the system datastores of the host's
//! cluster, those that satisfy the VM's `SCHED_DS_REQUIREMENTS`, the best by
//! `SCHED_DS_RANK` (highest first) or, without a rank, the one with the most free space
//! (OpenNebula's striping policy for datastores).

use std::collections::HashMap;

use nubo_template::{Rank, Requirements};
use nubo_types::Oid;
use nubo_types::states::DatastoreType;

use crate::model::{Datastore, Host, Vm};
use crate::state::State;

/// A datastore as expression variables: its figures and its template's single values.
fn vars(ds: &Datastore) -> HashMap<String, Vec<String>> {
    let mut v: HashMap<String, Vec<String>> = ds
        .template
        .attrs
        .iter()
        .filter_map(|a| Some((a.name.clone(), vec![a.value.as_single()?.to_string()])))
        .collect();
    for (k, x) in [
        ("ID", ds.meta.id.to_string()),
        ("NAME", ds.meta.name.clone()),
        ("TM_MAD", ds.tm_mad.clone()),
        ("DS_MAD", ds.ds_mad.clone()),
        ("FREE_MB", ds.free_mb.to_string()),
        ("TOTAL_MB", ds.total_mb.to_string()),
        ("USED_MB", ds.used_mb.to_string()),
    ] {
        v.insert(k.to_string(), vec![x]);
    }
    v.insert(
        "CLUSTER_ID".to_string(),
        ds.clusters.iter().map(|c| c.to_string()).collect(),
    );
    v
}

/// The system datastore for `vm` on `host`, or why there is none.
pub(crate) fn choose(state: &State, host: &Host, vm: &Vm) -> Result<Oid, String> {
    let text = |name: &str| {
        vm.user_template
            .get(name)
            .or_else(|| vm.template.get(name))
            .map(str::trim)
            .filter(|t| !t.is_empty())
    };
    let requirements = match text("SCHED_DS_REQUIREMENTS") {
        Some(t) => Some(
            Requirements::parse(t)
                .map_err(|e| format!("Parse error in SCHED_DS_REQUIREMENTS: {e}"))?,
        ),
        None => None,
    };
    let rank = match text("SCHED_DS_RANK") {
        Some(t) => Some(Rank::parse(t).map_err(|e| format!("Parse error in SCHED_DS_RANK: {e}"))?),
        None => None,
    };
    let mut best: Option<(f64, Oid)> = None;
    for ds in state
        .datastores
        .values()
        .filter(|d| d.ds_type == DatastoreType::System && d.clusters.contains(&host.cluster_id))
    {
        let v = vars(ds);
        if requirements.as_ref().is_some_and(|r| !r.eval(&v)) {
            continue;
        }
        let score = rank.as_ref().map_or(ds.free_mb as f64, |r| r.eval(&v));
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, ds.meta.id));
        }
    }
    match best {
        Some((_, id)) => Ok(id),
        None if requirements.is_some() => Err(format!(
            "No system datastore of host {} matches SCHED_DS_REQUIREMENTS",
            host.id
        )),
        // No system datastore in the host's cluster: datastore 0, as before clusters.
        None => Ok(0),
    }
}
