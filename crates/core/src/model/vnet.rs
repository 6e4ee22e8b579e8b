//! A virtual network: bridge/VLAN settings, clusters and its address ranges.

use std::collections::BTreeSet;

use nubo_template::Template;
use nubo_types::{ObjectKind, Oid, states::VnetState};
use serde::{Deserialize, Serialize};

use super::{AddressRange, Meta, owned_object};

/// A virtual network (`VNET` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vnet {
    /// Id, name, owner, permissions, lock.
    pub meta: Meta,
    /// Clusters it belongs to.
    pub clusters: BTreeSet<Oid>,
    /// Host bridge name.
    pub bridge: String,
    /// Bridge implementation (`linux`, `openvswitch`, `none`).
    pub bridge_type: String,
    /// State.
    pub state: VnetState,
    /// Previous state.
    pub prev_state: VnetState,
    /// The network this one was reserved from (-1 for none).
    pub parent_network_id: Oid,
    /// The vnet template it was instantiated from (-1 for none).
    pub template_id: Oid,
    /// Network driver (`bridge`, `802.1Q`, `vxlan`, `dummy`, ...).
    pub vn_mad: String,
    /// Physical device.
    pub phydev: String,
    /// VLAN id, if any.
    pub vlan_id: Option<String>,
    /// Outer VLAN id, if any.
    pub outer_vlan_id: Option<String>,
    /// Whether the VLAN id was picked automatically.
    pub vlan_id_automatic: bool,
    /// Whether the outer VLAN id was picked automatically.
    pub outer_vlan_id_automatic: bool,
    /// Virtual routers on it.
    pub vrouters: BTreeSet<Oid>,
    /// Network template.
    pub template: Template,
    /// Address ranges.
    pub ars: Vec<AddressRange>,
}

owned_object!(Vnet, ObjectKind::Vnet, vnets, clusters);

impl Vnet {
    /// Leases in use over every range.
    pub fn used_leases(&self) -> usize {
        self.ars.iter().map(AddressRange::used_leases).sum()
    }
}
