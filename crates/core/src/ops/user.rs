//! User operations: allocate, delete, passwords and auth drivers, groups, quotas, enable,
//! login tokens.

use std::sync::Arc;

use nubo_template::Template;
use nubo_types::{
    AuthOp, Error, ONEADMIN_UID, ObjectKind, Oid, Result, SERVERADMIN_UID, USERS_GID,
};

use super::generic::check_name;
use super::quota::{apply_quota_template, parse_quota_template};
use crate::auth::{Caller, authorize, authorize_create, hash_password, random_hex};
use crate::model::{Group, LoginToken, Quotas, User};
use crate::state::{ATTR_DEFAULT_USER_QUOTAS, State};
use crate::tx::Tx;
use crate::{Core, now};

/// The auth drivers a user may have: OpenNebula's `AUTH_MAD` authn list (oned.conf).
pub const AUTH_DRIVERS: [&str; 7] = [
    "core",
    "public",
    "ssh",
    "x509",
    "ldap",
    "server_cipher",
    "server_x509",
];

/// Fails unless `driver` is one of [`AUTH_DRIVERS`] (exactly: driver names are lower case).
fn check_driver(driver: &str) -> Result<()> {
    if AUTH_DRIVERS.contains(&driver) {
        return Ok(());
    }
    Err(Error::api(format!(
        "Unknown auth driver \"{}\", it must be one of: {}",
        driver.escape_debug(),
        AUTH_DRIVERS.join(", ")
    )))
}

/// Stores `password` the way `driver` keeps it.
fn stored_password(driver: &str, password: &str) -> String {
    match driver {
        "core" | "server_cipher" | "server_x509" => hash_password(password),
        _ => password.to_string(),
    }
}

fn check_password(driver: &str, password: &str) -> Result<()> {
    if driver == "core" && password.is_empty() {
        return Err(Error::api("Invalid password, it cannot be empty"));
    }
    // User::pass_is_valid names the first blank it finds
    if let Some(c) = password.chars().find(|c| c.is_whitespace()) {
        return Err(Error::api(format!(
            "Invalid password, character '{c}' is not allowed"
        )));
    }
    Ok(())
}

/// User `id` (-1: the caller), if the caller may do `op` on it.
pub(crate) fn user_of(state: &State, caller: &Caller, id: Oid, op: AuthOp) -> Result<User> {
    let id = if id == -1 { caller.uid } else { id };
    let user = state.get::<User>(id)?;
    authorize(state, caller, user.as_ref(), op)?;
    Ok((**user).clone())
}

fn group_with(tx: &Tx, gid: Oid, f: impl FnOnce(&mut Group)) -> Result<Group> {
    let mut group = (**tx.state.get::<Group>(gid)?).clone();
    f(&mut group);
    Ok(group)
}

impl Core {
    /// Creates a user. With no `gids` the user joins `users` when the caller is an
    /// administrator, otherwise the caller's group.
    pub async fn user_allocate(
        &self,
        caller: &Caller,
        name: &str,
        password: &str,
        driver: &str,
        gids: &[Oid],
    ) -> Result<Oid> {
        let driver = if driver.is_empty() { "core" } else { driver }.to_string();
        // UserPool::allocate: PoolObjectSQL::name_is_valid with User::INVALID_NAME_CHARS,
        // then "."
        if let Some(c) = name.chars().find(|c| " :\t\n\u{b}\u{c}\r".contains(*c)) {
            return Err(Error::allocate(
                ObjectKind::User,
                format!("Invalid NAME, char '{c}' is not allowed."),
            ));
        }
        check_driver(&driver)
            .and_then(|()| check_password(&driver, password))
            .map_err(|e| Error::allocate(ObjectKind::User, e.to_string()))?;
        let gids: Vec<Oid> = if gids.is_empty() {
            vec![if caller.is_admin() {
                USERS_GID
            } else {
                caller.gid
            }]
        } else {
            gids.to_vec()
        };
        let (name, password) = (name.to_string(), password.to_string());
        self.write(move |tx| {
            let state = tx.state;
            authorize_create(state, caller, ObjectKind::User)?;
            check_name::<User>(state, &name, -1, None)
                .map_err(|e| Error::allocate(ObjectKind::User, e.to_string()))?;
            for gid in &gids {
                let group = state.get::<Group>(*gid)?;
                authorize(state, caller, group.as_ref(), AuthOp::Manage)?;
            }
            let id = tx.next_oid(ObjectKind::User);
            let primary = gids[0];
            let mut template = Template::new();
            template.set("TOKEN_PASSWORD", random_hex(32)?);
            let user = User {
                id,
                gid: primary,
                gname: state.get::<Group>(primary)?.name.clone(),
                groups: gids.iter().copied().collect(),
                name: name.clone(),
                password: stored_password(&driver, &password),
                auth_driver: driver.clone(),
                enabled: true,
                login_tokens: Vec::new(),
                ec2_keys: Vec::new(),
                template,
                quotas: Quotas::default(),
            };
            for gid in &gids {
                let group = group_with(tx, *gid, |g| {
                    g.users.insert(id);
                })?;
                tx.put(group)?;
            }
            tx.put(user)?;
            Ok(id)
        })
        .await
    }

    /// The user `id` (-1: the caller).
    pub fn user_info(&self, caller: &Caller, id: Oid) -> Result<Arc<User>> {
        let id = if id == -1 { caller.uid } else { id };
        self.info::<User>(caller, id)
    }

    /// Deletes a user; oneadmin and serveradmin cannot be deleted.
    pub async fn user_delete(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        self.write(|tx| {
            let user = user_of(tx.state, caller, id, AuthOp::Admin)?;
            if id == ONEADMIN_UID || id == SERVERADMIN_UID {
                // UserAPI::drop in SharedAPI::delete_object's "Cannot delete user. "
                return Err(Error::action(format!(
                    "Cannot delete user. {} cannot be deleted.",
                    if id == ONEADMIN_UID {
                        "oneadmin"
                    } else {
                        "serveradmin"
                    }
                )));
            }
            for gid in &user.groups {
                if tx.state.groups.contains_key(gid) {
                    let group = group_with(tx, *gid, |g| {
                        g.users.remove(&id);
                        g.admins.remove(&id);
                    })?;
                    tx.put(group)?;
                }
            }
            tx.delete::<User>(id);
            Ok(id)
        })
        .await
    }

    /// Sets a user's password.
    pub async fn user_passwd(&self, caller: &Caller, id: Oid, password: &str) -> Result<Oid> {
        let password = password.to_string();
        self.write(move |tx| {
            let mut user = user_of(tx.state, caller, id, AuthOp::Manage)?;
            check_password(&user.auth_driver, &password)
                .map_err(|e| Error::action(e.to_string()))?;
            user.password = stored_password(&user.auth_driver, &password);
            tx.put(user)?;
            Ok(id)
        })
        .await
    }

    /// Changes a user's auth driver (one of [`AUTH_DRIVERS`]; otherwise an ACTION error)
    /// and, if given, password.
    pub async fn user_chauth(
        &self,
        caller: &Caller,
        id: Oid,
        driver: &str,
        password: &str,
    ) -> Result<Oid> {
        let (driver, password) = (driver.to_string(), password.to_string());
        self.write(move |tx| {
            let mut user = user_of(tx.state, caller, id, AuthOp::Admin)?;
            if driver.is_empty() {
                return Err(Error::api("The auth driver cannot be empty"));
            }
            check_driver(&driver).map_err(|e| Error::action(e.to_string()))?;
            if !password.is_empty() {
                check_password(&driver, &password)?;
                user.password = stored_password(&driver, &password);
            }
            user.auth_driver = driver;
            tx.put(user)?;
            Ok(id)
        })
        .await
    }

    /// Makes `gid` the user's primary group (leaving the old primary group).
    pub async fn user_chgrp(&self, caller: &Caller, id: Oid, gid: Oid) -> Result<Oid> {
        self.write(|tx| {
            // oned's order: the group id, the user, the group, oneadmin, then the rights
            if gid < 0 {
                return Err(Error::api("Wrong group ID"));
            }
            let id = if id == -1 { caller.uid } else { id };
            tx.state.get::<User>(id)?;
            let group = tx.state.get::<Group>(gid)?.clone();
            if id == ONEADMIN_UID {
                return Err(Error::internal(
                    "user [0] oneadmin cannot be moved outside of the group [0] oneadmin",
                ));
            }
            let mut user = user_of(tx.state, caller, id, AuthOp::Manage)?;
            authorize(tx.state, caller, group.as_ref(), AuthOp::Use)?;
            if user.gid == gid {
                return Ok(id);
            }
            let old = user.gid;
            // As OpenNebula: the old primary group stays a secondary one when the new
            // group already was a secondary one; otherwise the user leaves it.
            let leaves_old = user.groups.insert(gid);
            if leaves_old {
                user.groups.remove(&old);
            }
            user.gid = gid;
            user.gname = group.name.clone();
            if leaves_old && tx.state.groups.contains_key(&old) {
                let old_group = group_with(tx, old, |g| {
                    g.users.remove(&id);
                    g.admins.remove(&id);
                })?;
                tx.put(old_group)?;
            }
            let new_group = group_with(tx, gid, |g| {
                g.users.insert(id);
            })?;
            tx.put(new_group)?;
            tx.put(user)?;
            Ok(id)
        })
        .await
    }

    /// Adds the user to a secondary group.
    pub async fn user_addgroup(&self, caller: &Caller, id: Oid, gid: Oid) -> Result<Oid> {
        self.write(|tx| {
            let mut user = user_of(tx.state, caller, id, AuthOp::Manage)?;
            let group = tx.state.get::<Group>(gid)?.clone();
            authorize(tx.state, caller, group.as_ref(), AuthOp::Manage)?;
            if !user.groups.insert(gid) {
                return Err(Error::action("User is already in this group"));
            }
            let group = group_with(tx, gid, |g| {
                g.users.insert(id);
            })?;
            tx.put(group)?;
            tx.put(user)?;
            Ok(id)
        })
        .await
    }

    /// Removes the user from a secondary group.
    pub async fn user_delgroup(&self, caller: &Caller, id: Oid, gid: Oid) -> Result<Oid> {
        self.write(|tx| {
            let mut user = user_of(tx.state, caller, id, AuthOp::Manage)?;
            let group = tx.state.get::<Group>(gid)?.clone();
            authorize(tx.state, caller, group.as_ref(), AuthOp::Manage)?;
            if user.gid == gid {
                return Err(Error::action("Cannot remove user from the primary group"));
            }
            if !user.groups.remove(&gid) {
                return Err(Error::action("User is not part of this group"));
            }
            let group = group_with(tx, gid, |g| {
                g.users.remove(&id);
                g.admins.remove(&id);
            })?;
            tx.put(group)?;
            tx.put(user)?;
            Ok(id)
        })
        .await
    }

    /// Sets quota limits of a user.
    pub async fn user_quota(&self, caller: &Caller, id: Oid, text: &str) -> Result<Oid> {
        let template = parse_quota_template(text)?;
        self.write(move |tx| {
            let mut user = user_of(tx.state, caller, id, AuthOp::Admin)?;
            if id == ONEADMIN_UID {
                return Err(Error::action("Cannot set quotas for oneadmin user"));
            }
            apply_quota_template(&mut user.quotas, &template)?;
            tx.put(user)?;
            Ok(id)
        })
        .await
    }

    /// Enables or disables a user.
    pub async fn user_enable(&self, caller: &Caller, id: Oid, enable: bool) -> Result<Oid> {
        self.write(|tx| {
            let mut user = user_of(tx.state, caller, id, AuthOp::Manage)?;
            if id == ONEADMIN_UID && !enable {
                return Err(Error::action("Cannot enable/disable oneadmin user"));
            }
            user.enabled = enable;
            tx.put(user)?;
            Ok(id)
        })
        .await
    }

    /// Creates, refreshes or revokes a login token; returns the token.
    pub async fn user_login(
        &self,
        caller: &Caller,
        username: &str,
        token: &str,
        valid: i64,
        egid: Oid,
    ) -> Result<String> {
        let (username, token) = (username.to_string(), token.to_string());
        self.write(move |tx| {
            let state = tx.state;
            let user =
                state
                    .users
                    .values()
                    .find(|u| u.name == username)
                    .ok_or(Error::NoExists {
                        kind: ObjectKind::User,
                        id: -1,
                    })?;
            authorize(state, caller, user.as_ref(), AuthOp::Manage)?;
            let mut user = (**user).clone();
            let now = now();
            user.login_tokens
                .retain(|t| t.expiration_time == -1 || t.expiration_time > now);
            if valid == 0 {
                if token.is_empty() {
                    user.login_tokens.clear();
                } else if user.login_tokens.iter().any(|t| t.token == token) {
                    user.login_tokens.retain(|t| t.token != token);
                } else {
                    return Err(Error::api(format!("Could not find token: {token}")));
                }
                let name = user.name.clone();
                tx.put(user)?;
                // Never an empty string: pyone reads the first character of string replies.
                return Ok(if token.is_empty() { name } else { token });
            }
            if valid < -1 {
                return Err(Error::api("Wrong valid period for token"));
            }
            if egid >= 0 && !user.groups.contains(&egid) {
                // UserAPI::login (RPC_API)
                return Err(Error::api("EGID is not in user group list"));
            }
            let expiration_time = if valid == -1 { -1 } else { now + valid };
            let token = if token.is_empty() {
                random_hex(32)?
            } else {
                token
            };
            user.login_tokens.retain(|t| t.token != token);
            user.login_tokens.push(LoginToken {
                token: token.clone(),
                expiration_time,
                egid: if egid < 0 { -1 } else { egid },
            });
            tx.put(user)?;
            Ok(token)
        })
        .await
    }

    /// The default user quotas.
    pub fn default_user_quotas(&self) -> Result<Quotas> {
        self.read(|state| Ok(state.default_user_quotas.clone()))
    }

    /// Sets default user quota limits (administrators only); returns the new defaults.
    pub async fn default_user_quotas_update(&self, caller: &Caller, text: &str) -> Result<Quotas> {
        if !caller.is_admin() {
            // SharedAPI::quota_update
            return Err(Error::restricted(
                caller.uid,
                "The default quotas can only be updated by users in the oneadmin group",
            ));
        }
        let template = parse_quota_template(text)?;
        self.write(move |tx| {
            let mut quotas = tx.state.default_user_quotas.clone();
            crate::ops::quota::apply_default_quota_template(&mut quotas, &template)?;
            let stored = quotas.clone();
            tx.set_attribute(ATTR_DEFAULT_USER_QUOTAS, &quotas, move |s| {
                s.default_user_quotas = stored;
            })?;
            Ok(quotas)
        })
        .await
    }
}
