//! A zone. Nubo runs one zone (0); its servers list is kept for API compatibility.

use nubo_template::Template;
use nubo_types::{ObjectKind, Oid, states::ZoneState};
use serde::{Deserialize, Serialize};

use super::PoolObject;
use crate::state::{Pool, State};

/// A zone (`ZONE` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Zone {
    /// Zone id.
    pub id: Oid,
    /// Zone name.
    pub name: String,
    /// State.
    pub state: ZoneState,
    /// Zone template (holds `ENDPOINT`).
    pub template: Template,
    /// HA servers of the zone.
    pub servers: Vec<ZoneServer>,
}

/// A server of a zone (`SERVER_POOL/SERVER`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneServer {
    /// Server id.
    pub id: Oid,
    /// Server name.
    pub name: String,
    /// Its XML-RPC endpoint.
    pub endpoint: String,
}

impl PoolObject for Zone {
    const KIND: ObjectKind = ObjectKind::Zone;
    fn oid(&self) -> Oid {
        self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn uid(&self) -> Oid {
        -1
    }
    fn gid(&self) -> Oid {
        -1
    }
    fn pool(state: &State) -> &Pool<Self> {
        &state.zones
    }
    fn pool_mut(state: &mut State) -> &mut Pool<Self> {
        &mut state.zones
    }
}
