//! Session authentication: `user:secret`, checked against login tokens, then the user's
//! auth driver (`core`: sha256 of the secret, legacy sha1 accepted).

use nubo_types::{Error, Result};

use super::Caller;
use super::password::{hash_password, sha1_password};
use crate::model::User;
use crate::state::State;

/// Authenticates a session string at time `now` (epoch seconds).
pub fn authenticate(state: &State, session: &str, now: i64) -> Result<Caller> {
    let (name, secret) = session.split_once(':').ok_or(Error::Authentication)?;
    let user = state
        .users
        .values()
        .find(|u| u.name == name)
        .ok_or(Error::Authentication)?;
    if !user.enabled {
        return Err(Error::Authentication);
    }
    if let Some(token) = user
        .login_tokens
        .iter()
        .find(|t| t.token == secret && (t.expiration_time == -1 || t.expiration_time > now))
    {
        let egid = (token.egid >= 0).then_some(token.egid);
        return caller(state, user, egid);
    }
    if driver_accepts(user, secret) {
        return caller(state, user, None);
    }
    Err(Error::Authentication)
}

fn driver_accepts(user: &User, secret: &str) -> bool {
    match user.auth_driver.as_str() {
        "core" | "server_cipher" | "server_x509" => {
            let hashed = hash_password(secret);
            user.password == hashed || user.password == sha1_password(secret)
        }
        _ => false,
    }
}

fn caller(state: &State, user: &User, egid: Option<i32>) -> Result<Caller> {
    let (gid, groups) = match egid {
        Some(g) if user.groups.contains(&g) => (g, [g].into_iter().collect()),
        Some(_) => return Err(Error::Authentication),
        None => (user.gid, user.groups.clone()),
    };
    let gname = state
        .groups
        .get(&gid)
        .map(|g| g.name.clone())
        .unwrap_or_default();
    Ok(Caller {
        uid: user.id,
        gid,
        uname: user.name.clone(),
        gname,
        groups,
    })
}
