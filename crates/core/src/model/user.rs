//! A user: credentials, group membership, login tokens, EC2 access keys and quotas.

use std::collections::BTreeSet;

use nubo_template::Template;
use nubo_types::{ObjectKind, Oid};
use serde::{Deserialize, Serialize};

use super::{PoolObject, Quotas};
use crate::state::{Pool, State};

/// A user (`USER` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    pub id: Oid,
    /// Primary group.
    pub gid: Oid,
    /// Primary group name.
    pub gname: String,
    /// Every group the user belongs to, the primary one included.
    pub groups: BTreeSet<Oid>,
    /// Login name.
    pub name: String,
    /// For the `core` driver the lowercase sha256 hex of the password; otherwise as given.
    pub password: String,
    /// Authentication driver (`core`, `server_cipher`, `public`, ...).
    pub auth_driver: String,
    /// Whether the user may log in.
    pub enabled: bool,
    /// Login tokens.
    pub login_tokens: Vec<LoginToken>,
    /// EC2 access keys (their secrets sealed, see `auth::ec2_secret`).
    #[serde(default)]
    pub ec2_keys: Vec<Ec2Key>,
    /// User template.
    pub template: Template,
    /// Quotas and their usage.
    pub quotas: Quotas,
}

/// A login token made by `user.login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginToken {
    /// The token (a sha256 hex string or the caller's choice).
    pub token: String,
    /// Expiry in epoch seconds; -1 never expires.
    pub expiration_time: i64,
    /// The effective group of sessions opened with it; -1 for none.
    pub egid: Oid,
}

/// An EC2 access key of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ec2Key {
    /// The access key id (public; it names the key in signed requests).
    pub access_key_id: String,
    /// The secret access key, sealed under a key that lives outside the database.
    pub sealed_secret: String,
    /// When it was made (epoch seconds).
    pub created: i64,
}

impl PoolObject for User {
    const KIND: ObjectKind = ObjectKind::User;
    fn oid(&self) -> Oid {
        self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn uid(&self) -> Oid {
        self.id
    }
    fn gid(&self) -> Oid {
        self.gid
    }
    fn pool(state: &State) -> &Pool<Self> {
        &state.users
    }
    fn pool_mut(state: &mut State) -> &mut Pool<Self> {
        &mut state.users
    }
}
