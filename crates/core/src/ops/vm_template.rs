//! VM template operations: allocate, delete, clone and instantiate (`one.template.*`).
//! Update, rename, chmod, chown and locks are the generic ones.

use nubo_template::Template;
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::generic::{check_name, fetch_for, parse_template};
use super::owner::new_meta;
use super::vm::create_vm;
use crate::auth::{Caller, authorize_create};
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
            .ok_or_else(|| alloc(Error::api("No NAME in template for VM Template.")))?;
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
        let (vm_id, follow) = self
            .write(move |tx| {
                let source = fetch_for::<VmTemplate>(tx.state, caller, id, AuthOp::Use)?;
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
