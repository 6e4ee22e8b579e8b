//! EC2 access keys of users: made, listed and deleted by whoever may manage the user, and
//! looked up by the EC2 front end to verify a signed request and act as the key's user.

use nubo_types::{AuthOp, Error, Oid, Result};

use super::user::user_of;
use crate::auth::Caller;
use crate::auth::ec2_secret::{new_access_key_id, new_secret, open, seal};
use crate::model::{Ec2Key, User};
use crate::state::State;
use crate::{Core, now};

/// How many access keys a user may hold at once (as AWS: two, to rotate).
pub const MAX_KEYS_PER_USER: usize = 2;

/// A new access key, the only time its secret is shown.
#[derive(Clone, PartialEq, Eq)]
pub struct NewEc2Key {
    /// The user the key belongs to.
    pub uid: Oid,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret: String,
}

/// An access key as listed (no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ec2KeyInfo {
    /// The user the key belongs to.
    pub uid: Oid,
    /// The user's name.
    pub uname: String,
    /// The access key id.
    pub access_key_id: String,
    /// When it was made (epoch seconds).
    pub created: i64,
}

/// Who a verified access key stands for, and the secret to verify signatures with.
#[derive(Clone)]
pub struct Ec2Credentials {
    /// The key's user, as a caller.
    pub caller: Caller,
    /// The secret access key.
    pub secret: String,
}

impl std::fmt::Debug for NewEc2Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewEc2Key")
            .field("uid", &self.uid)
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"..")
            .finish()
    }
}

impl std::fmt::Debug for Ec2Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ec2Credentials")
            .field("caller", &self.caller)
            .field("secret", &"..")
            .finish()
    }
}

impl Core {
    fn sealing_key(&self) -> Vec<u8> {
        self.config().runtime.host_key.0.clone()
    }

    /// Makes an access key for user `id` (-1: the caller).
    pub async fn ec2_key_create(&self, caller: &Caller, id: Oid) -> Result<NewEc2Key> {
        let master = self.sealing_key();
        self.write(move |tx| {
            let mut user = user_of(tx.state, caller, id, AuthOp::Manage)?;
            if user.ec2_keys.len() >= MAX_KEYS_PER_USER {
                return Err(Error::action(format!(
                    "User {} already has {MAX_KEYS_PER_USER} EC2 access keys; delete one first",
                    user.id
                )));
            }
            let access_key_id = loop {
                let candidate = new_access_key_id()?;
                if find_key(tx.state, &candidate).is_none() {
                    break candidate;
                }
            };
            let secret = new_secret()?;
            user.ec2_keys.push(Ec2Key {
                access_key_id: access_key_id.clone(),
                sealed_secret: seal(&master, &access_key_id, &secret)?,
                created: now(),
            });
            let uid = user.id;
            tx.put(user)?;
            Ok(NewEc2Key {
                uid,
                access_key_id,
                secret,
            })
        })
        .await
    }

    /// The access keys of user `id` (-1: the caller).
    pub fn ec2_key_list(&self, caller: &Caller, id: Oid) -> Result<Vec<Ec2KeyInfo>> {
        self.read(|state| {
            let user = user_of(state, caller, id, AuthOp::Manage)?;
            Ok(user
                .ec2_keys
                .iter()
                .map(|k| Ec2KeyInfo {
                    uid: user.id,
                    uname: user.name.clone(),
                    access_key_id: k.access_key_id.clone(),
                    created: k.created,
                })
                .collect())
        })
    }

    /// Deletes access key `access_key_id` of user `id` (-1: the caller).
    pub async fn ec2_key_delete(
        &self,
        caller: &Caller,
        id: Oid,
        access_key_id: &str,
    ) -> Result<Oid> {
        let access_key_id = access_key_id.to_string();
        self.write(move |tx| {
            let mut user = user_of(tx.state, caller, id, AuthOp::Manage)?;
            let before = user.ec2_keys.len();
            user.ec2_keys.retain(|k| k.access_key_id != access_key_id);
            if user.ec2_keys.len() == before {
                return Err(Error::action(format!(
                    "User {} has no EC2 access key {access_key_id}",
                    user.id
                )));
            }
            let uid = user.id;
            tx.put(user)?;
            Ok(uid)
        })
        .await
    }

    /// The enabled user holding `access_key_id`, and the key's secret. Unknown keys, keys
    /// of disabled users and secrets that cannot be opened are all an authentication error.
    pub fn ec2_credentials(&self, access_key_id: &str) -> Result<Ec2Credentials> {
        let master = self.sealing_key();
        self.read(|state| {
            let (user, key) = find_key(state, access_key_id).ok_or(Error::Authentication)?;
            if !user.enabled {
                return Err(Error::Authentication);
            }
            let secret =
                open(&master, &key.access_key_id, &key.sealed_secret).ok_or_else(|| {
                    tracing::warn!(
                        access_key_id,
                        "an EC2 secret cannot be opened (was DATA_DIR/host.key replaced?)"
                    );
                    Error::Authentication
                })?;
            let caller = crate::auth::caller_of(state, user)?;
            Ok(Ec2Credentials { caller, secret })
        })
    }
}

fn find_key<'a>(state: &'a State, access_key_id: &str) -> Option<(&'a User, &'a Ec2Key)> {
    state.users.values().find_map(|u| {
        u.ec2_keys
            .iter()
            .find(|k| k.access_key_id == access_key_id)
            .map(|k| (u.as_ref(), k))
    })
}
