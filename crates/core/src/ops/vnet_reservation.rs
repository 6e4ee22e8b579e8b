//! Reservations (`one.vn.reserve`): the request, where its block of the parent comes
//! from, the reservation network it fills, and giving a reservation's addresses back to the
//! parent (on `free_ar`, `rm_ar` or delete of the reservation).
//!
//! A reserved block is one run of the parent's leases (`model::Leases`), whatever its size,
//! and one request takes at most [`MAX_RESERVATION_SIZE`] addresses. OpenNebula sets no
//! limit; without one, a single call could make the parent hold, store and list millions of
//! leases. The addresses count against the owner's NETWORK `LEASES` quota of the parent.

use std::collections::BTreeSet;

use nubo_template::Template;
use nubo_types::states::VnetState;
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::address_range::{self as ars, AddrQuery};
use super::generic::{check_name, fetch_for, parse_template};
use super::owner::new_meta;
use super::quota::charge_owners;
use super::vnet::no_range;
use crate::auth::Caller;
use crate::model::{AddressRange, LeaseOwner, QuotaKind, Vnet};
use crate::tx::Tx;

/// The most addresses one `reserve` call may take (65,536: a /16 of IPv4).
pub const MAX_RESERVATION_SIZE: u32 = 65_536;

/// Charges (or with a negative `delta`, releases) NETWORK leases quota of `vnet` to a
/// user and group.
pub(super) fn charge_leases(tx: &mut Tx, uid: Oid, gid: Oid, vnet: Oid, delta: f64) -> Result<()> {
    charge_owners(tx, uid, gid, QuotaKind::Network, vnet, &[("LEASES", delta)])
}

/// Gives the addresses of a reservation's ranges back to the parent network, releasing the
/// owner's quota.
pub(super) fn return_to_parent(tx: &mut Tx, child: &Vnet, ranges: &[AddressRange]) -> Result<()> {
    let Some(parent) = tx.state.vnets.get(&child.parent_network_id) else {
        return Ok(());
    };
    let mut parent = (**parent).clone();
    let owner = LeaseOwner::Vnet(child.meta.id);
    let mut freed = 0usize;
    for range in ranges {
        let Some(par) = range
            .parent_network_ar_id
            .and_then(|pid| parent.ars.iter_mut().find(|a| a.id == pid))
        else {
            continue;
        };
        let (start, size) = match ars::index_of(par, AddrQuery::Mac(range.mac)) {
            Some(start) => (start, range.size),
            None => (0, par.size),
        };
        freed += ars::free_owned(par, owner, start, size);
    }
    let parent_id = parent.meta.id;
    tx.put(parent)?;
    charge_leases(
        tx,
        child.meta.uid,
        child.meta.gid,
        parent_id,
        -(freed as f64),
    )
}

/// Settings of `reserve`.
#[derive(Debug)]
pub(super) struct ReserveRequest {
    /// How many addresses (1 to [`MAX_RESERVATION_SIZE`]).
    pub(super) size: u32,
    target: Option<Oid>,
    name: Option<String>,
    ar_id: Option<Oid>,
    start: Option<AddrQuery>,
}

fn reserve_int(t: &Template, key: &str) -> Result<Option<i64>> {
    t.get(key)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| Error::action(format!("{key} must be an integer, not \"{s}\"")))
        })
        .transpose()
}

pub(super) fn parse_reserve(text: &str, parent: Oid) -> Result<ReserveRequest> {
    let t = parse_template(text).map_err(|e| Error::action(e.to_string()))?;
    let size = reserve_int(&t, "SIZE")?
        .and_then(|s| u32::try_from(s).ok())
        .filter(|s| *s > 0)
        .ok_or_else(|| Error::action("Reservation SIZE must be a greater than 0"))?;
    if size > MAX_RESERVATION_SIZE {
        return Err(Error::action(format!(
            "Reservation SIZE {size} is too large: one reservation may take at most \
             {MAX_RESERVATION_SIZE} addresses"
        )));
    }
    let target = match reserve_int(&t, "NETWORK_ID")? {
        Some(r) if r < 0 => {
            return Err(Error::action("NETWORK_ID must be equal or greater than 0"));
        }
        Some(r) if r == i64::from(parent) => {
            return Err(Error::action(
                "Cannot add a reservation from the same network",
            ));
        }
        Some(r) => Some(Oid::try_from(r).map_err(|_| Error::action("NETWORK_ID is out of range"))?),
        None => None,
    };
    let name = t
        .get("NAME")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    if name.is_none() && target.is_none() {
        return Err(Error::action("NAME for reservation has to be set"));
    }
    let ar_id = match reserve_int(&t, "AR_ID")? {
        Some(a) if a < 0 => return Err(Error::action("AR_ID must be equal or greater than 0")),
        Some(a) => Some(Oid::try_from(a).map_err(|_| Error::action("AR_ID is out of range"))?),
        None => None,
    };
    let singles: Vec<(String, String)> = ["MAC", "IP", "IP6"]
        .iter()
        .filter_map(|k| t.get(k).map(|v| ((*k).to_string(), v.to_string())))
        .collect();
    let start = AddrQuery::from_pairs(&singles).map_err(|e| Error::action(e.to_string()))?;
    if start.is_some() && ar_id.is_none() {
        return Err(Error::action(
            "AR_ID must be specified for IP/MAC based reservations",
        ));
    }
    Ok(ReserveRequest {
        size,
        target,
        name,
        ar_id,
        start,
    })
}

/// Where a reservation's addresses come from: the range position and first index.
pub(super) fn pick_block(parent: &Vnet, req: &ReserveRequest) -> Result<(usize, u32)> {
    let not_enough = || Error::action("Not enough free addresses in an address range");
    let Some(ar_id) = req.ar_id else {
        return parent
            .ars
            .iter()
            .enumerate()
            .find_map(|(pos, ar)| ars::free_block(ar, req.size).map(|i| (pos, i)))
            .ok_or_else(not_enough);
    };
    let pos = parent
        .ars
        .iter()
        .position(|a| a.id == ar_id)
        .ok_or_else(|| no_range(ar_id))?;
    let ar = &parent.ars[pos];
    let first = match req.start {
        Some(query) => ars::index_of(ar, query).filter(|i| ars::block_is_free(ar, *i, req.size)),
        None => ars::free_block(ar, req.size),
    };
    first.map(|i| (pos, i)).ok_or_else(not_enough)
}

/// A new, empty reservation network of `parent` named `name`, owned by `caller`.
fn reservation_of(parent: &Vnet, caller: &Caller, id: Oid, name: String) -> Vnet {
    Vnet {
        meta: new_meta(caller, id, name),
        clusters: parent.clusters.clone(),
        bridge: parent.bridge.clone(),
        bridge_type: parent.bridge_type.clone(),
        state: VnetState::Ready,
        prev_state: VnetState::Ready,
        parent_network_id: parent.meta.id,
        template_id: -1,
        vn_mad: parent.vn_mad.clone(),
        phydev: parent.phydev.clone(),
        vlan_id: parent.vlan_id.clone(),
        outer_vlan_id: parent.outer_vlan_id.clone(),
        vlan_id_automatic: parent.vlan_id_automatic,
        outer_vlan_id_automatic: parent.outer_vlan_id_automatic,
        vrouters: BTreeSet::new(),
        template: parent.template.clone(),
        ars: Vec::new(),
    }
}

/// The reservation network a `reserve` fills: an existing one of `parent`, or a new one.
pub(super) fn reservation_target(
    tx: &mut Tx,
    caller: &Caller,
    parent: &Vnet,
    req: &ReserveRequest,
) -> Result<(Vnet, bool)> {
    let state = tx.state;
    if let Some(rid) = req.target {
        let existing = state.get::<Vnet>(rid)?;
        if existing.parent_network_id == -1 {
            return Err(Error::action(
                "Cannot add reservations to a non-reservation VNET",
            ));
        }
        if existing.parent_network_id != parent.meta.id {
            return Err(Error::action(format!(
                "New reservations for virtual network {rid} have to be from network {}",
                existing.parent_network_id
            )));
        }
        let existing = fetch_for::<Vnet>(state, caller, rid, AuthOp::Manage)?;
        return Ok(((*existing).clone(), false));
    }
    let name = req.name.clone().unwrap_or_default();
    check_name::<Vnet>(state, &name, caller.uid, None)?;
    let id = tx.next_oid(ObjectKind::Vnet);
    Ok((reservation_of(parent, caller, id, name), true))
}
