//! Zone operations. Nubo is one zone (0); more zones can be registered for clients that
//! expect it, but only zone 0 is served.

use nubo_template::Template;
use nubo_types::states::ZoneState;
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::generic::{check_name, fetch_for, parse_template};
use crate::Core;
use crate::auth::{Caller, authorize_create};
use crate::model::{Zone, ZoneServer};

impl Core {
    /// Registers a zone from a template with NAME (and ENDPOINT).
    pub async fn zone_allocate(&self, caller: &Caller, text: &str) -> Result<Oid> {
        let alloc = |m: String| Error::allocate(ObjectKind::Zone, m);
        let mut template = parse_template(text).map_err(|e| alloc(e.to_string()))?;
        let name = template
            .get("NAME")
            .map(str::to_string)
            .ok_or_else(|| alloc("No NAME in template".into()))?;
        template.remove("NAME");
        self.write(move |tx| {
            authorize_create(tx.state, caller, ObjectKind::Zone)?;
            check_name::<Zone>(tx.state, &name, -1, None).map_err(|e| alloc(e.to_string()))?;
            let id = tx.next_oid(ObjectKind::Zone);
            tx.put(Zone {
                id,
                name,
                state: ZoneState::Enabled,
                template,
                servers: Vec::new(),
            })?;
            Ok(id)
        })
        .await
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
