//! Session authentication: `user:secret`, checked against login tokens, then the user's
//! auth driver (`core`: sha256 of the secret, legacy sha1 accepted; `server_cipher`: a
//! server user acting for another user with an encrypted token).

use nubo_types::{Error, Result};

use super::Caller;
use super::password::{hash_password, sha1_password};
use super::server_cipher;
use crate::model::User;
use crate::state::State;

/// How long a verified session is trusted without checking it again, as OpenNebula's
/// `SESSION_EXPIRATION_TIME`.
pub const SESSION_EXPIRATION_TIME: i64 = 900;

/// A verified session: who it is, and until when (epoch seconds) it may be cached.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The caller the session stands for.
    pub caller: Caller,
    /// Until when the verification may be reused.
    pub valid_until: i64,
}

/// Authenticates a session string at time `now` (epoch seconds).
pub fn authenticate(state: &State, session: &str, now: i64) -> Result<Verified> {
    let (name, secret) = session.split_once(':').ok_or(Error::Authentication)?;
    let user = enabled_user(state, name)?;
    let cache_until = now + SESSION_EXPIRATION_TIME;
    if let Some(token) = user
        .login_tokens
        .iter()
        .find(|t| t.token == secret && (t.expiration_time == -1 || t.expiration_time > now))
    {
        let egid = (token.egid >= 0).then_some(token.egid);
        let until = match token.expiration_time {
            -1 => cache_until,
            t => t.min(cache_until),
        };
        return verified(state, user, egid, until);
    }
    if user.auth_driver == "server_cipher" && secret.contains(':') {
        let grant = server_cipher::verify(&user.name, &user.password, secret, now)
            .ok_or(Error::Authentication)?;
        let target = enabled_user(state, &grant.target)?;
        return verified(state, target, grant.egid, cache_until);
    }
    if driver_accepts(user, secret) {
        return verified(state, user, None, cache_until);
    }
    Err(Error::Authentication)
}

fn enabled_user<'a>(state: &'a State, name: &str) -> Result<&'a User> {
    let user = state.user_by_name(name).ok_or(Error::Authentication)?;
    if !user.enabled {
        return Err(Error::Authentication);
    }
    Ok(user)
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

/// The caller that user `user` is when acting with all of its groups (as an EC2 access key
/// does).
pub fn caller_of(state: &State, user: &User) -> Result<Caller> {
    Ok(verified(state, user, None, 0)?.caller)
}

fn verified(state: &State, user: &User, egid: Option<i32>, valid_until: i64) -> Result<Verified> {
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
    Ok(Verified {
        caller: Caller {
            uid: user.id,
            gid,
            uname: user.name.clone(),
            gname,
            groups,
        },
        valid_until,
    })
}
