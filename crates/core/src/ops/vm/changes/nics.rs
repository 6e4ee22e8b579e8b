//! NIC changes: `vm.attachnic`, `vm.detachnic`, `vm.updatenic`, `vm.attachsg`,
//! `vm.detachsg`.

use super::*;

impl Core {
    /// `vm.attachnic`: adds a NIC (or NIC_ALIAS) taking a lease.
    pub async fn vm_attach_nic(&self, caller: &Caller, id: Oid, text: &str) -> Result<Oid> {
        let (name, mut pairs) = single_vector(text, &["NIC", "NIC_ALIAS"])?;
        self.check_restricted_vector(caller, &name, &pairs, None)?;
        let caller2 = caller.clone();
        self.reconfigure_nic(
            caller,
            id,
            "nic-attach",
            Reconfig::AttachNic,
            false,
            move |tx, vm| {
                let nic_id = next_id(&vm.template, "NIC", "NIC_ID").max(next_id(
                    &vm.template,
                    "NIC_ALIAS",
                    "NIC_ID",
                ));
                let index = usize::try_from(nic_id).unwrap_or(0);
                let taken = &mut Taken::default();
                if name == "NIC_ALIAS" {
                    let parents = resources::parents_in(vm.template.get_all("NIC"));
                    resources::take_alias(tx, &caller2, vm, &parents, &mut pairs, index, taken)
                } else {
                    resources::take_lease(tx, &caller2, vm, &mut pairs, index, taken)
                }
                .map_err(to_action)?;
                set(&mut pairs, "ATTACH", "YES");
                push_system(vm, Attribute::vector(&name, pairs));
                Ok((Some(PendingChange::AttachNic { nic_id }), id))
            },
        )
        .await
    }

    /// `vm.detachnic`: removes a NIC and frees its lease.
    pub async fn vm_detach_nic(&self, caller: &Caller, id: Oid, nic_id: i32) -> Result<Oid> {
        self.reconfigure_nic(
            caller,
            id,
            "nic-detach",
            Reconfig::DetachNic,
            false,
            move |_, vm| {
                let at = find(&vm.template, "NIC", "NIC_ID", nic_id)
                    .or_else(|| find(&vm.template, "NIC_ALIAS", "NIC_ID", nic_id))
                    .ok_or_else(|| no_nic(vm.meta.id, nic_id))?;
                if let Some(p) = vector_mut(&mut vm.template, at) {
                    set(p, "ATTACH", "YES");
                }
                Ok((Some(PendingChange::DetachNic { nic_id }), id))
            },
        )
        .await
    }

    /// Changes NIC `nic_id` by `edit` (attributes or security groups): through the driver
    /// when the VM is RUNNING (or POWEROFF on a COLD_NIC_ATTACH host), at once otherwise;
    /// refused in the other ACTIVE phases and DONE.
    async fn edit_nic(
        &self,
        caller: &Caller,
        id: Oid,
        nic_id: i32,
        what: &'static str,
        edit: impl FnOnce(&mut Tx, Oid, &mut Pairs) -> Result<()> + Send,
    ) -> Result<Oid> {
        let apply = move |tx: &mut Tx, vm: &mut Vm| -> Result<PendingChange> {
            let at = find(&vm.template, "NIC", "NIC_ID", nic_id)
                .ok_or_else(|| no_nic(vm.meta.id, nic_id))?;
            let vm_id = vm.meta.id;
            let p = vector_mut(&mut vm.template, at).ok_or_else(|| no_nic(vm.meta.id, nic_id))?;
            let before = p.clone();
            edit(tx, vm_id, p)?;
            Ok(PendingChange::UpdateNic { nic_id, before })
        };
        self.reconfigure_nic(
            caller,
            id,
            what,
            Reconfig::UpdateNic,
            true,
            move |tx, vm| Ok((Some(apply(tx, vm)?), id)),
        )
        .await
    }

    /// `vm.updatenic`: changes a NIC's attributes (QoS and the like; not its network).
    pub async fn vm_update_nic(
        &self,
        caller: &Caller,
        id: Oid,
        nic_id: i32,
        text: &str,
        append: bool,
    ) -> Result<Oid> {
        let t = parse_template(text)?;
        let new: Pairs = t
            .attrs
            .iter()
            .find(|a| a.name == "NIC")
            .and_then(|a| a.value.as_vector())
            .map(<[_]>::to_vec)
            .unwrap_or_else(|| {
                t.attrs
                    .iter()
                    .filter_map(|a| a.value.as_single().map(|v| (a.name.clone(), v.to_string())))
                    .collect()
            });
        const FIXED: [&str; 9] = [
            "NETWORK_ID",
            "NETWORK",
            "IP",
            "IP6",
            "MAC",
            "AR_ID",
            "NIC_ID",
            "BRIDGE",
            "VN_MAD",
        ];
        if let Some((k, _)) = new.iter().find(|(k, _)| FIXED.contains(&k.as_str())) {
            return Err(Error::action(format!(
                "{k} cannot be changed with updatenic; detach the NIC and attach a new one"
            )));
        }
        // The groups a NIC is in change only through attachsg and detachsg, which check
        // the caller's right to use the group and keep its members.
        if new.iter().any(|(k, _)| k == "SECURITY_GROUPS") {
            return Err(Error::action(
                "SECURITY_GROUPS cannot be changed with updatenic; use vm.attachsg and vm.detachsg",
            ));
        }
        let (core, caller2) = (self.clone(), caller.clone());
        self.edit_nic(caller, id, nic_id, "nic-update", move |_, _, p| {
            core.check_restricted_vector(&caller2, "NIC", &new, Some(p))?;
            if !append {
                const QOS: [&str; 7] = [
                    "INBOUND_AVG_BW",
                    "INBOUND_PEAK_BW",
                    "INBOUND_PEAK_KB",
                    "OUTBOUND_AVG_BW",
                    "OUTBOUND_PEAK_BW",
                    "OUTBOUND_PEAK_KB",
                    "MODEL",
                ];
                p.retain(|(k, _)| !QOS.contains(&k.as_str()));
            }
            for (k, v) in new {
                set(p, &k, v);
            }
            Ok(())
        })
        .await
    }

    /// `vm.attachsg` / `vm.detachsg`: adds or removes a security group of a NIC.
    pub async fn vm_security_group(
        &self,
        caller: &Caller,
        id: Oid,
        nic_id: i32,
        sg: Oid,
        attach: bool,
    ) -> Result<Oid> {
        let caller2 = caller.clone();
        let what = if attach { "sg-attach" } else { "sg-detach" };
        self.edit_nic(caller, id, nic_id, what, move |tx, vm_id, p| {
            let mut groups = resources::security_groups(p);
            if attach {
                fetch_for::<crate::model::SecGroup>(tx.state, &caller2, sg, AuthOp::Use)?;
                if groups.contains(&sg) {
                    return Err(Error::action(format!(
                        "Security group {sg} is already attached to NIC {nic_id}"
                    )));
                }
                groups.push(sg);
                resources::join_group(tx, vm_id, sg)?;
            } else {
                if !groups.contains(&sg) {
                    return Err(Error::action(format!(
                        "Security group {sg} is not attached to NIC {nic_id}"
                    )));
                }
                groups.retain(|g| *g != sg);
                resources::nic_leaves_group(tx, vm_id, nic_id, sg)?;
            }
            let text: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
            set(p, "SECURITY_GROUPS", text.join(","));
            Ok(())
        })
        .await
    }
}
