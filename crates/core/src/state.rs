//! The in-memory copy of every object, kept in step with the store. Reads are served from
//! here; writes go through [`crate::tx::Tx`] and land here only after the store commits.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use nubo_store::{Row, Snapshot};
use nubo_types::{Error, ObjectKind, Oid, Result};

use crate::model::{
    AclRule, Cluster, Datastore, Document, Group, Host, Image, PoolObject, Quotas, SecGroup, User,
    Vm, VmGroup, VmTemplate, VnTemplate, Vnet, Zone,
};

/// Objects of one kind, by id.
pub type Pool<T> = BTreeMap<Oid, Arc<T>>;

/// Every object the core holds.
#[derive(Debug, Default, Clone)]
pub struct State {
    /// Users.
    pub users: Pool<User>,
    /// Groups.
    pub groups: Pool<Group>,
    /// ACL rules.
    pub acls: Pool<AclRule>,
    /// Hosts.
    pub hosts: Pool<Host>,
    /// Clusters.
    pub clusters: Pool<Cluster>,
    /// Datastores.
    pub datastores: Pool<Datastore>,
    /// Images.
    pub images: Pool<Image>,
    /// Virtual networks.
    pub vnets: Pool<Vnet>,
    /// Virtual network templates.
    pub vntemplates: Pool<VnTemplate>,
    /// Security groups.
    pub secgroups: Pool<SecGroup>,
    /// Documents.
    pub documents: Pool<Document>,
    /// Zones.
    pub zones: Pool<Zone>,
    /// VM templates.
    pub templates: Pool<VmTemplate>,
    /// Virtual machines (DONE ones included).
    pub vms: Pool<Vm>,
    /// VM groups.
    pub vmgroups: Pool<VmGroup>,
    /// Last id handed out per kind.
    pub last_oids: HashMap<ObjectKind, Oid>,
    /// Default quotas of users.
    pub default_user_quotas: Quotas,
    /// Default quotas of groups.
    pub default_group_quotas: Quotas,
    /// Whether the groups have been given the default VDC's rules (at bootstrap, or once
    /// on the first start of a cloud made before those rules existed).
    pub default_vdc_granted: bool,
}

/// System attribute holding the default user quotas.
pub const ATTR_DEFAULT_USER_QUOTAS: &str = "DEFAULT_USER_QUOTAS";
/// System attribute holding the default group quotas.
pub const ATTR_DEFAULT_GROUP_QUOTAS: &str = "DEFAULT_GROUP_QUOTAS";
/// System attribute marking that the groups were given the default VDC's rules.
pub const ATTR_DEFAULT_VDC: &str = "DEFAULT_VDC";

impl State {
    /// Rebuilds the state from a store snapshot.
    pub fn from_snapshot(snapshot: Snapshot) -> Result<State> {
        let mut state = State {
            last_oids: snapshot.last_oids,
            ..State::default()
        };
        for row in snapshot.rows {
            state.load_row(row)?;
        }
        if let Some(body) = snapshot.attributes.get(ATTR_DEFAULT_USER_QUOTAS) {
            state.default_user_quotas = decode(ATTR_DEFAULT_USER_QUOTAS, body)?;
        }
        if let Some(body) = snapshot.attributes.get(ATTR_DEFAULT_GROUP_QUOTAS) {
            state.default_group_quotas = decode(ATTR_DEFAULT_GROUP_QUOTAS, body)?;
        }
        state.default_vdc_granted = snapshot.attributes.contains_key(ATTR_DEFAULT_VDC);
        Ok(state)
    }

    fn load_row(&mut self, row: Row) -> Result<()> {
        match row.kind {
            ObjectKind::User => insert::<User>(self, &row),
            ObjectKind::Group => insert::<Group>(self, &row),
            ObjectKind::Acl => insert::<AclRule>(self, &row),
            ObjectKind::Host => insert::<Host>(self, &row),
            ObjectKind::Cluster => insert::<Cluster>(self, &row),
            ObjectKind::Datastore => insert::<Datastore>(self, &row),
            ObjectKind::Image => insert::<Image>(self, &row),
            ObjectKind::Vnet => insert::<Vnet>(self, &row),
            ObjectKind::VnTemplate => insert::<VnTemplate>(self, &row),
            ObjectKind::SecGroup => insert::<SecGroup>(self, &row),
            ObjectKind::Document => insert::<Document>(self, &row),
            ObjectKind::Zone => insert::<Zone>(self, &row),
            ObjectKind::Template => insert::<VmTemplate>(self, &row),
            ObjectKind::Vm => insert::<Vm>(self, &row),
            ObjectKind::VmGroup => insert::<VmGroup>(self, &row),
            other => Err(Error::internal(format!(
                "the store holds {} objects, which this version does not know",
                other.acl_name()
            ))),
        }
    }

    /// The object `id` of kind `T`, or a NO_EXISTS error.
    pub fn get<T: PoolObject>(&self, id: Oid) -> Result<&Arc<T>> {
        T::pool(self).get(&id).ok_or(Error::no_exists(T::KIND, id))
    }

    /// The user called `name`.
    pub fn user_by_name(&self, name: &str) -> Option<&User> {
        self.users
            .values()
            .map(Arc::as_ref)
            .find(|u| u.name == name)
    }

    /// The host called `name` (host agents name themselves), or an ACTION error.
    pub fn host_named(&self, name: &str) -> Result<&Host> {
        self.hosts
            .values()
            .map(Arc::as_ref)
            .find(|h| h.name == name)
            .ok_or_else(|| Error::action(format!("no host named \"{name}\"")))
    }

    /// Whether an object of kind `T` is named `name` (optionally among those owned by `uid`).
    pub fn name_taken<T: PoolObject>(&self, name: &str, uid: Option<Oid>) -> bool {
        T::pool(self)
            .values()
            .any(|o| o.name() == name && uid.is_none_or(|u| o.uid() == u))
    }
}

fn insert<T: PoolObject>(state: &mut State, row: &Row) -> Result<()> {
    let obj: T = decode(T::KIND.table(), &row.body)?;
    T::pool_mut(state).insert(row.oid, Arc::new(obj));
    Ok(())
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, body: &str) -> Result<T> {
    serde_json::from_str(body)
        .map_err(|e| Error::internal(format!("cannot decode a stored {what} object: {e}")))
}
