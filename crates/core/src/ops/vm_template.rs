//! VM template operations: allocate, delete, clone and instantiate (`one.template.*`).
//! Update, rename, chmod, chown and locks are the generic ones.

use nubo_template::Template;
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::generic::{check_name, fetch_for, parse_template};
use super::owner::new_meta;
use super::vm::create_vm;
use crate::auth::{Caller, RestrictedKind, authorize_create};
use crate::model::VmTemplate;
use crate::tx::Tx;
use crate::{Core, now};

fn alloc(e: Error) -> Error {
    Error::allocate(ObjectKind::Template, e.to_string())
}

fn store_new(tx: &mut Tx, caller: &Caller, name: String, template: Template) -> Result<Oid> {
    authorize_create(tx.state, caller, ObjectKind::Template)?;
    check_name::<VmTemplate>(tx.state, &name, caller.uid, None).map_err(alloc)?;
    let id = tx.next_oid(ObjectKind::Template);
    tx.put(VmTemplate {
        meta: new_meta(caller, id, name),
        regtime: now(),
        template,
    })?;
    Ok(id)
}

impl Core {
    /// Creates a VM template; NAME is required and stays in the template, as in oned.
    pub async fn template_allocate(&self, caller: &Caller, text: &str) -> Result<Oid> {
        let template = parse_template(text).map_err(alloc)?;
        let name = template
            .get("NAME")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            // VMTemplatePool::allocate's PoolObjectSQL::name_is_valid.
            .ok_or_else(|| alloc(Error::api("Invalid NAME, it cannot be empty")))?;
        self.config()
            .restricted
            .check(caller, RestrictedKind::Vm, &template, None)?;
        self.write(move |tx| store_new(tx, caller, name, template))
            .await
    }

    /// Deletes a VM template (`recursive` would delete its images too; images are kept
    /// when they are in use).
    pub async fn template_delete(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        self.write(|tx| {
            fetch_for::<VmTemplate>(tx.state, caller, id, AuthOp::Manage)?;
            tx.delete::<VmTemplate>(id);
            Ok(id)
        })
        .await
    }

    /// Copies a template under a new name, owned by the caller.
    pub async fn template_clone(&self, caller: &Caller, id: Oid, name: &str) -> Result<Oid> {
        let name = name.trim().to_string();
        self.write(move |tx| {
            let source = fetch_for::<VmTemplate>(tx.state, caller, id, AuthOp::Use)?;
            let mut template = source.template.clone();
            template.set("NAME", name.clone());
            store_new(tx, caller, name, template)
        })
        .await
    }

    /// Creates a VM from template `id` merged with `extra`, named `name` (or the
    /// template's NAME with the VM id), on hold if `hold`. Returns the VM's id.
    pub async fn template_instantiate(
        &self,
        caller: &Caller,
        id: Oid,
        name: &str,
        hold: bool,
        extra: &str,
    ) -> Result<Oid> {
        let extra = parse_template(extra)?;
        let name = name.trim().to_string();
        let restricted = &self.config().restricted;
        let (vm_id, follow) = self
            .write(move |tx| {
                let source = fetch_for::<VmTemplate>(tx.state, caller, id, AuthOp::Use)?;
                // TemplateAPI::merge's wording.
                restricted.check_worded(
                    caller,
                    RestrictedKind::Vm,
                    "User Template",
                    &extra,
                    Some(&source.template),
                )?;
                let mut template = source.template.clone();
                template.merge(&extra);
                template.remove("NAME");
                if !name.is_empty() {
                    template.set("NAME", name);
                }
                template.set("TEMPLATE_ID", id.to_string());
                create_vm(tx, caller, template, hold, Some(&source.meta.name))
            })
            .await?;
        self.follow_up(follow);
        Ok(vm_id)
    }
}

/// VMs to create together from one template (EC2's RunInstances): one extra template per
/// VM, at most; at least `min` of them, else none.
#[derive(Debug, Clone)]
pub struct InstantiateBatch {
    /// Merged into the template, one per VM (their number is the most VMs made).
    pub extras: Vec<String>,
    /// The fewest VMs worth creating.
    pub min: usize,
    /// An idempotency token: a user attribute name and value that every VM of the batch
    /// carries. When VMs of the caller already carry it, they are the answer and nothing
    /// is created.
    pub token: Option<(String, String)>,
}

/// What [`Core::template_instantiate_batch`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    /// The batch's VMs, in creation order.
    pub ids: Vec<Oid>,
    /// False when the token named an earlier batch, which is returned instead.
    pub created: bool,
}

/// The VMs of `caller` (terminated ones too, while they are kept) whose user template has
/// `attr` = `value`: the launch a client token names.
fn launched_with(
    state: &crate::state::State,
    caller: &Caller,
    attr: &str,
    value: &str,
) -> Vec<Oid> {
    state
        .vms
        .values()
        .filter(|vm| vm.meta.uid == caller.uid && vm.user_template.get(attr) == Some(value))
        .map(|vm| vm.meta.id)
        .collect()
}

impl Core {
    /// The VMs an earlier batch made with token `attr` = `value`, if there was one.
    pub fn batch_launched_with(
        &self,
        caller: &Caller,
        attr: &str,
        value: &str,
    ) -> Result<Vec<Oid>> {
        self.read(|state| Ok(launched_with(state, caller, attr, value)))
    }

    /// Creates as many VMs of `batch` as quotas allow, between `min` and the number of
    /// extras, from template `id`, each in one all-or-nothing write; or returns the earlier
    /// batch that carries the same token.
    pub async fn template_instantiate_batch(
        &self,
        caller: &Caller,
        id: Oid,
        batch: InstantiateBatch,
    ) -> Result<BatchOutcome> {
        let extras = batch
            .extras
            .iter()
            .map(|e| parse_template(e))
            .collect::<Result<Vec<_>>>()?;
        let max = extras.len();
        if batch.min == 0 || batch.min > max {
            return Err(Error::api(format!(
                "Cannot create between {} and {max} VMs",
                batch.min
            )));
        }
        // The most VMs that fit: a batch that succeeds is committed, so try the largest
        // first and step down while quotas refuse, to the minimum.
        let mut count = max;
        loop {
            match self
                .instantiate_n(caller, id, &extras[..count], batch.token.clone())
                .await
            {
                Err(Error::Quota { .. }) if count > batch.min => count -= 1,
                other => return other,
            }
        }
    }

    async fn instantiate_n(
        &self,
        caller: &Caller,
        id: Oid,
        extras: &[Template],
        token: Option<(String, String)>,
    ) -> Result<BatchOutcome> {
        let extras = extras.to_vec();
        let restricted = &self.config().restricted;
        let (outcome, follow) = self
            .write(move |tx| {
                if let Some((attr, value)) = &token {
                    let earlier = launched_with(tx.state, caller, attr, value);
                    if !earlier.is_empty() {
                        let outcome = BatchOutcome {
                            ids: earlier,
                            created: false,
                        };
                        return Ok((outcome, crate::ops::vm::Followup::default()));
                    }
                }
                let source = fetch_for::<VmTemplate>(tx.state, caller, id, AuthOp::Use)?;
                for extra in &extras {
                    restricted.check(caller, RestrictedKind::Vm, extra, Some(&source.template))?;
                }
                let mut ids = Vec::new();
                let mut follow = crate::ops::vm::Followup::default();
                for extra in &extras {
                    let mut template = source.template.clone();
                    template.merge(extra);
                    // A NAME only from the extra; otherwise the VM gets the template's name
                    // and its id, as template.instantiate does.
                    let name = extra.get("NAME").map(|n| n.trim().to_string());
                    template.remove("NAME");
                    if let Some(name) = name.filter(|n| !n.is_empty()) {
                        template.set("NAME", name);
                    }
                    template.set("TEMPLATE_ID", id.to_string());
                    if let Some((attr, value)) = &token {
                        template.set(attr, value.clone());
                    }
                    let (vm_id, more) =
                        create_vm(tx, caller, template, false, Some(&source.meta.name))?;
                    ids.push(vm_id);
                    follow.extend(more);
                }
                Ok((BatchOutcome { ids, created: true }, follow))
            })
            .await?;
        self.follow_up(follow);
        Ok(outcome)
    }
}
