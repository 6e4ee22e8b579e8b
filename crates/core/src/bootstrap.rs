//! First start: creates what OpenNebula creates in an empty cloud — oneadmin and
//! serveradmin, the oneadmin and users groups, the default cluster, the system, default and
//! files datastores, zone 0, the default security group and the default ACL rules.

use std::collections::BTreeSet;

use nubo_template::{Attribute, Template};
use nubo_types::acl::{ALL_ID, CREATE, GROUP_ID, INDIVIDUAL_ID, USE};
use nubo_types::states::{DatastoreState, DatastoreType, DiskType, ZoneState};
use nubo_types::{ObjectKind, Oid, Permissions, Result, USERS_GID};

use crate::Core;
use crate::auth::{hash_password, random_hex};
use crate::model::{AclRule, Cluster, Datastore, Group, Meta, Quotas, SecGroup, User, Zone};
use crate::state::ATTR_DEFAULT_VDC;
use crate::tx::Tx;

/// What to create on first start.
#[derive(Debug, Clone, Default)]
pub struct BootstrapConfig {
    /// oneadmin's password; generated when None.
    pub admin_password: Option<String>,
}

/// What the bootstrap did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Whether the cloud was empty and has just been created.
    pub first_start: bool,
    /// oneadmin's password, when it was created by this start (given or generated).
    pub admin_password: Option<String>,
    /// Whether that password was generated (and so must be shown once).
    pub generated: bool,
    /// serveradmin's password, when created by this start.
    pub serveradmin_password: Option<String>,
}

pub(crate) async fn run(core: &Core) -> Result<Outcome> {
    if !core.read(|s| Ok(s.users.is_empty()))? {
        if !core.read(|s| Ok(s.default_vdc_granted))? {
            core.write(grant_default_vdc).await?;
        }
        return Ok(Outcome::default());
    }
    let (admin_password, generated) = match &core.config().bootstrap.admin_password {
        Some(p) => (p.clone(), false),
        None => (random_hex(16)?, true),
    };
    let server_password = random_hex(16)?;
    let base = core.config().datastore_base.clone();
    let (a, s) = (admin_password.clone(), server_password.clone());
    core.write(move |tx| create_all(tx, &a, &s, &base)).await?;
    Ok(Outcome {
        first_start: true,
        admin_password: Some(admin_password),
        generated,
        serveradmin_password: Some(server_password),
    })
}

fn user(id: Oid, name: &str, password: &str, driver: &str) -> User {
    let mut template = Template::new();
    if let Ok(token) = random_hex(16) {
        template.set("TOKEN_PASSWORD", token);
    }
    User {
        id,
        gid: 0,
        gname: "oneadmin".into(),
        groups: BTreeSet::from([0]),
        name: name.into(),
        password: hash_password(password),
        auth_driver: driver.into(),
        enabled: true,
        login_tokens: Vec::new(),
        ec2_keys: Vec::new(),
        template,
        quotas: Quotas::default(),
    }
}

fn datastore(id: Oid, name: &str, ds_type: DatastoreType, base: &std::path::Path) -> Datastore {
    let mut template = Template::new();
    let ds_mad = if ds_type == DatastoreType::System {
        "-"
    } else {
        "fs"
    };
    template.set("DS_MAD", ds_mad);
    template.set("TM_MAD", "qcow2");
    template.set("TYPE", ds_type.name());
    template.set("SHARED", "YES");
    template.set("ALLOW_ORPHANS", "YES");
    Datastore {
        meta: Meta::of_oneadmin(id, name, Permissions::from_octal(0o640)),
        ds_mad: ds_mad.into(),
        tm_mad: "qcow2".into(),
        base_path: base.join(id.to_string()).to_string_lossy().into_owned(),
        ds_type,
        disk_type: DiskType::File,
        state: DatastoreState::Ready,
        clusters: BTreeSet::from([0]),
        total_mb: 0,
        free_mb: 0,
        used_mb: 0,
        images: BTreeSet::new(),
        template,
    }
}

/// Security group 0, `default`: every network gets it; it lets all traffic in and out.
fn default_secgroup() -> SecGroup {
    let mut template = Template::new();
    template.set("DESCRIPTION", "The default security group is added to every network. Use it to add default filter rules for your networks. You may remove any rule from this security group");
    for rule_type in ["OUTBOUND", "INBOUND"] {
        template.push(Attribute::vector(
            "RULE",
            [("PROTOCOL", "ALL"), ("RULE_TYPE", rule_type)],
        ));
    }
    SecGroup {
        meta: Meta::of_oneadmin(0, "default", Permissions::from_octal(0o644)),
        updated_vms: BTreeSet::new(),
        outdated_vms: BTreeSet::new(),
        updating_vms: BTreeSet::new(),
        error_vms: BTreeSet::new(),
        template,
    }
}

fn create_all(tx: &mut Tx, admin: &str, server: &str, base: &std::path::Path) -> Result<()> {
    tx.put(user(0, "oneadmin", admin, "core"))?;
    tx.put(user(1, "serveradmin", server, "server_cipher"))?;
    tx.set_last_oid(ObjectKind::User, 1);
    for (id, name, users) in [(0, "oneadmin", vec![0, 1]), (1, "users", vec![])] {
        tx.put(Group {
            id,
            name: name.into(),
            template: Template::new(),
            users: users.into_iter().collect(),
            admins: BTreeSet::new(),
            quotas: Quotas::default(),
            vlan_rules: Vec::new(),
        })?;
    }
    tx.set_last_oid(ObjectKind::Group, 99);
    tx.put(Cluster {
        id: 0,
        name: "default".into(),
        hosts: BTreeSet::new(),
        datastores: BTreeSet::from([0, 1, 2]),
        vnets: BTreeSet::new(),
        template: crate::ops::cluster::new_cluster_template(),
    })?;
    tx.set_last_oid(ObjectKind::Cluster, 99);
    tx.put(datastore(0, "system", DatastoreType::System, base))?;
    tx.put(datastore(1, "default", DatastoreType::Image, base))?;
    tx.put(datastore(2, "files", DatastoreType::File, base))?;
    tx.set_last_oid(ObjectKind::Datastore, 99);
    let mut zone_template = Template::new();
    zone_template.set("ENDPOINT", "http://localhost:2633/RPC2");
    tx.put(Zone {
        id: 0,
        name: "OpenNebula".into(),
        state: ZoneState::Enabled,
        template: zone_template,
        servers: Vec::new(),
    })?;
    tx.set_last_oid(ObjectKind::Zone, 99);
    tx.put(default_secgroup())?;
    tx.set_last_oid(ObjectKind::SecGroup, 99);
    let bits = |kinds: &[ObjectKind]| kinds.iter().fold(0u64, |acc, k| acc | k.acl_bit());
    let rules = [
        (
            GROUP_ID | 1,
            bits(&[
                ObjectKind::Vm,
                ObjectKind::Image,
                ObjectKind::Template,
                ObjectKind::Document,
                ObjectKind::SecGroup,
                ObjectKind::VmGroup,
            ]) | ALL_ID,
            CREATE,
        ),
        (ALL_ID, bits(&[ObjectKind::Zone]) | ALL_ID, USE),
        (
            ALL_ID,
            bits(&[ObjectKind::Market, ObjectKind::MarketApp]) | ALL_ID,
            USE,
        ),
    ];
    let everywhere = rules.into_iter().map(|(user, resource, rights)| AclRule {
        id: 0,
        user,
        resource,
        rights,
        zone: ALL_ID,
    });
    let mut last = -1;
    for (id, rule) in (0..).zip(everywhere.chain(default_vdc_rules(USERS_GID))) {
        tx.put(AclRule { id, ..rule })?;
        last = id;
    }
    tx.set_last_oid(ObjectKind::Acl, last);
    mark_default_vdc_granted(tx)?;
    Ok(())
}

/// The rules the default VDC gives a group (OpenNebula adds the users group, and every new
/// group, to it): with oned.conf's DEFAULT_VDC_CLUSTER_NET_ACL and
/// DEFAULT_VDC_CLUSTER_DATASTORE_ACL ("USE"), its members may use every network and
/// datastore of zone 0. (DEFAULT_VDC_CLUSTER_HOST_ACL's MANAGE is left out: Nubo's users
/// do not manage hosts.) The ids are left to the caller.
pub(crate) fn default_vdc_rules(gid: Oid) -> [AclRule; 2] {
    let rule = |kind: ObjectKind| AclRule {
        id: 0,
        user: GROUP_ID | gid as u64,
        resource: kind.acl_bit() | ALL_ID,
        rights: USE,
        zone: INDIVIDUAL_ID,
    };
    [rule(ObjectKind::Vnet), rule(ObjectKind::Datastore)]
}

/// Once, on the first start of a cloud made before the default VDC's rules existed: the
/// users group and every group created since get them (as each would have at its
/// creation), unless an identical rule is already there. Rules an operator deletes later
/// stay deleted: the grant is recorded and never repeated.
fn grant_default_vdc(tx: &mut Tx) -> Result<()> {
    let groups: Vec<Oid> = tx
        .state
        .groups
        .keys()
        .copied()
        .filter(|&gid| gid == USERS_GID || gid >= ObjectKind::Group.first_user_oid())
        .collect();
    for gid in groups {
        for rule in default_vdc_rules(gid) {
            let exists = tx.state.acls.values().any(|r| {
                (r.user, r.resource, r.rights, r.zone)
                    == (rule.user, rule.resource, rule.rights, rule.zone)
            });
            if !exists {
                let id = tx.next_oid(ObjectKind::Acl);
                tx.put(AclRule { id, ..rule })?;
            }
        }
    }
    mark_default_vdc_granted(tx)
}

fn mark_default_vdc_granted(tx: &mut Tx) -> Result<()> {
    tx.set_attribute(ATTR_DEFAULT_VDC, &true, |state| {
        state.default_vdc_granted = true;
    })
}
