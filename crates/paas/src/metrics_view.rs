//! The PaaS as nubod's metrics count it, over every app whoever scrapes: the number of
//! apps and each app's instances (process type and state) as the app's owner sees them
//! through [`Paas::instances`]. Read-only.

use std::collections::BTreeSet;

use nubo_types::states::VmState;

use crate::Paas;
use crate::error::Result;

/// One instance as the metrics count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceState {
    /// Its app's name.
    pub app: String,
    /// Its process type.
    pub process_type: String,
    /// What it does (`starting`, `up`, `crashed`, …, as the APIs say).
    pub state: String,
}

impl Paas {
    /// How many apps there are, and the instances of all of them. An app that goes away
    /// meanwhile, or whose owner does, is left out. Only apps some VM is tagged with are
    /// asked for their instances (each ask reads every VM).
    pub fn metrics_view(&self) -> Result<(usize, Vec<InstanceState>)> {
        let tagged: BTreeSet<String> = self.core().read(|s| {
            Ok(s.vms
                .values()
                .filter(|vm| vm.state != VmState::Done)
                .filter_map(|vm| vm.user_template.get("NUBO_APP").map(str::to_owned))
                .collect())
        })?;
        let (count, apps): (usize, Vec<(String, nubo_types::Oid)>) = self.read(|s| {
            Ok((
                s.apps.len(),
                s.apps
                    .values()
                    .filter(|a| tagged.contains(&a.id.to_string()))
                    .map(|a| (a.name.clone(), a.uid))
                    .collect(),
            ))
        })?;
        let mut out = Vec::new();
        for (name, uid) in &apps {
            let Ok(owner) = self.caller_of_uid(*uid) else {
                continue;
            };
            let Ok(instances) = self.instances(&owner, name) else {
                continue;
            };
            out.extend(instances.into_iter().map(|i| InstanceState {
                app: name.clone(),
                process_type: i.process_type,
                state: i.state,
            }));
        }
        Ok((count, out))
    }
}
