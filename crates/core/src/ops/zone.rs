//! Zone operations. Nubo is a standalone front-end: one zone (0), which can be renamed,
//! updated and given HA servers; new zones are refused as a non-federated oned does.

use nubo_template::Template;
use nubo_types::states::ZoneState;
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::generic::{fetch_for, parse_template};
use crate::Core;
use crate::auth::Caller;
use crate::model::{Zone, ZoneServer};

impl Core {
    /// Refuses to create a zone: as a standalone OpenNebula front-end (no federation),
    /// Nubo serves exactly zone 0, and oned refuses new zones before anything else.
    pub async fn zone_allocate(&self, _caller: &Caller, _text: &str) -> Result<Oid> {
        Err(Error::allocate(
            ObjectKind::Zone,
            "New zones can only be created at federation master",
        ))
    }

    /// Deletes a zone other than zone 0.
    pub async fn zone_delete(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        self.write(|tx| {
            fetch_for::<Zone>(tx.state, caller, id, AuthOp::Admin)?;
            if id == 0 {
                return Err(Error::action("The local zone 0 cannot be deleted"));
            }
            tx.delete::<Zone>(id);
            Ok(id)
        })
        .await
    }

    /// Enables or disables a zone.
    pub async fn zone_enable(&self, caller: &Caller, id: Oid, enable: bool) -> Result<Oid> {
        self.write(|tx| {
            let mut zone = (*fetch_for::<Zone>(tx.state, caller, id, AuthOp::Admin)?).clone();
            zone.state = if enable {
                ZoneState::Enabled
            } else {
                ZoneState::Disabled
            };
            tx.put(zone)?;
            Ok(id)
        })
        .await
    }

    /// Adds an HA server (`SERVER=[NAME=..,ENDPOINT=..]`) to a zone.
    pub async fn zone_addserver(&self, caller: &Caller, id: Oid, text: &str) -> Result<Oid> {
        let template: Template = parse_template(text)?;
        let server = template
            .vectors("SERVER")
            .next()
            .ok_or_else(|| Error::api("No SERVER vector in template"))?;
        let get = |k: &str| {
            server
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let (name, endpoint) = (get("NAME"), get("ENDPOINT"));
        if name.is_empty() || endpoint.is_empty() {
            return Err(Error::api("SERVER needs NAME and ENDPOINT"));
        }
        self.write(move |tx| {
            let mut zone = (*fetch_for::<Zone>(tx.state, caller, id, AuthOp::Admin)?).clone();
            let sid = zone.servers.iter().map(|s| s.id + 1).max().unwrap_or(0);
            zone.servers.push(ZoneServer {
                id: sid,
                name,
                endpoint,
            });
            tx.put(zone)?;
            Ok(sid)
        })
        .await
    }

    /// Removes an HA server from a zone.
    pub async fn zone_delserver(&self, caller: &Caller, id: Oid, server: Oid) -> Result<Oid> {
        self.write(|tx| {
            let mut zone = (*fetch_for::<Zone>(tx.state, caller, id, AuthOp::Admin)?).clone();
            let before = zone.servers.len();
            zone.servers.retain(|s| s.id != server);
            if zone.servers.len() == before {
                return Err(Error::action(format!("Zone {id} has no server {server}")));
            }
            tx.put(zone)?;
            Ok(id)
        })
        .await
    }

    /// Sets zone 0's ENDPOINT to the XML-RPC URL nubod serves (the bound address, or the
    /// configured public endpoint), as oned writes its own at bootstrap; called at each
    /// start, it writes only when the URL changed.
    pub async fn set_zone_endpoint(&self, url: &str) -> Result<()> {
        let url = url.to_string();
        self.write(move |tx| {
            let Ok(zone) = tx.get::<Zone>(0) else {
                return Ok(());
            };
            if zone.template.get("ENDPOINT") != Some(url.as_str()) {
                let mut zone = (*zone).clone();
                zone.template.set("ENDPOINT", url);
                tx.put(zone)?;
            }
            Ok(())
        })
        .await
    }

    /// Checks that a zone server exists (a single-server zone has no log to reset).
    pub fn zone_resetserver(&self, caller: &Caller, id: Oid, server: Oid) -> Result<Oid> {
        self.read(|state| {
            let zone = state.get::<Zone>(id)?;
            crate::auth::authorize(state, caller, zone.as_ref(), AuthOp::Admin)?;
            if !zone.servers.iter().any(|s| s.id == server) {
                return Err(Error::action(format!("Zone {id} has no server {server}")));
            }
            Ok(id)
        })
    }
}
