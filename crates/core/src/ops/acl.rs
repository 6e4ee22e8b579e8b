//! ACL rule operations: add, delete, list. Only administrators manage ACLs.

use std::sync::Arc;

use nubo_types::acl::{INDIVIDUAL_ID, format_rule, parse_hex, validate};
use nubo_types::{Error, ObjectKind, Oid, Result};

use crate::Core;
use crate::auth::Caller;
use crate::model::AclRule;

fn require_admin(caller: &Caller, op: &str) -> Result<()> {
    if caller.is_admin() {
        return Ok(());
    }
    Err(Error::Authorization {
        uid: caller.uid,
        op: op.into(),
        object: "ACL".into(),
    })
}

fn spec(text: &str, what: &str) -> Result<u64> {
    parse_hex(text).ok_or_else(|| {
        Error::api(format!(
            "Error parsing rule: {what} \"{text}\" is not a hex number"
        ))
    })
}

impl Core {
    /// Adds a rule from its hex specs; an empty zone means this zone (#0).
    pub async fn acl_addrule(
        &self,
        caller: &Caller,
        user: &str,
        resource: &str,
        rights: &str,
        zone: &str,
    ) -> Result<Oid> {
        require_admin(caller, "MANAGE")?;
        let user = spec(user, "user")?;
        let resource = spec(resource, "resource")?;
        let rights = spec(rights, "rights")?;
        let zone = if zone.trim().is_empty() {
            INDIVIDUAL_ID
        } else {
            spec(zone, "zone")?
        };
        // AclManager::add_rule's wording: "Rule <text> is malformed: <why>", "Rule <text>
        // already exists" (INTERNAL).
        let text = format_rule(user, resource, rights, zone);
        validate(user, resource, rights, zone)
            .map_err(|e| Error::internal(format!("Rule {text} is malformed: {e}")))?;
        self.write(move |tx| {
            if tx.state.acls.values().any(|r| {
                r.user == user && r.resource == resource && r.rights == rights && r.zone == zone
            }) {
                return Err(Error::internal(format!("Rule {text} already exists")));
            }
            let id = tx.next_oid(ObjectKind::Acl);
            tx.put(AclRule {
                id,
                user,
                resource,
                rights,
                zone,
            })?;
            Ok(id)
        })
        .await
    }

    /// Deletes a rule.
    pub async fn acl_delrule(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        require_admin(caller, "MANAGE")?;
        self.write(|tx| {
            if !tx.state.acls.contains_key(&id) {
                // AclManager::del_rule's wording.
                return Err(Error::internal(format!("Rule {id} does not exist")));
            }
            tx.delete::<AclRule>(id);
            Ok(id)
        })
        .await
    }

    /// Every rule (administrators only).
    pub fn acl_info(&self, caller: &Caller) -> Result<Vec<Arc<AclRule>>> {
        require_admin(caller, "USE")?;
        self.read(|state| Ok(state.acls.values().cloned().collect()))
    }
}
