//! `USER`, `USER_POOL`, `DEFAULT_USER_QUOTAS`, and Nubo's `EC2_KEY` / `EC2_KEYS`.

use std::sync::Arc;

use nubo_core::model::{Quotas, User};
use nubo_core::ops::ec2_keys::{Ec2KeyInfo, NewEc2Key};

use super::common::template;
use super::quota::{pool_quotas, quotas};
use crate::xml::Xml;

fn head(x: &mut Xml, u: &User) {
    x.num("ID", u.id).num("GID", u.gid).ids("GROUPS", &u.groups);
    x.text("GNAME", &u.gname)
        .text("NAME", &u.name)
        .text("PASSWORD", &u.password)
        .text("AUTH_DRIVER", &u.auth_driver)
        .flag("ENABLED", u.enabled);
    for t in &u.login_tokens {
        x.open("LOGIN_TOKEN")
            .text("TOKEN", &t.token)
            .num("EXPIRATION_TIME", t.expiration_time)
            .num("EGID", t.egid)
            .close("LOGIN_TOKEN");
    }
    template(x, "TEMPLATE", &u.template);
}

fn defaults(x: &mut Xml, q: &Quotas) {
    x.open("DEFAULT_USER_QUOTAS");
    quotas(x, q);
    x.close("DEFAULT_USER_QUOTAS");
}

/// One user, with quotas and the default quotas.
pub fn user(u: &User, default_quotas: &Quotas) -> String {
    let mut x = Xml::new();
    x.open("USER");
    head(&mut x, u);
    quotas(&mut x, &u.quotas);
    defaults(&mut x, default_quotas);
    x.close("USER");
    x.finish()
}

/// The user pool: users, then their quotas, then the defaults.
pub fn user_pool(users: &[Arc<User>], default_quotas: &Quotas) -> String {
    let mut x = Xml::new();
    x.open("USER_POOL");
    for u in users {
        x.open("USER");
        head(&mut x, u);
        x.close("USER");
    }
    for u in users {
        pool_quotas(&mut x, u.id, &u.quotas);
    }
    defaults(&mut x, default_quotas);
    x.close("USER_POOL");
    x.finish()
}

/// `DEFAULT_USER_QUOTAS` alone (userquota.info).
pub fn user_quota_defaults(q: &Quotas) -> String {
    let mut x = Xml::new();
    defaults(&mut x, q);
    x.finish()
}

/// A new EC2 access key with its secret (the only time the secret is shown).
pub fn ec2_key_new(k: &NewEc2Key) -> String {
    let mut x = Xml::new();
    x.open("EC2_KEY")
        .num("USER_ID", k.uid)
        .text("ACCESS_KEY_ID", &k.access_key_id)
        .text("SECRET_ACCESS_KEY", &k.secret)
        .close("EC2_KEY");
    x.finish()
}

/// A user's EC2 access keys, without secrets.
pub fn ec2_keys(keys: &[Ec2KeyInfo]) -> String {
    let mut x = Xml::new();
    x.open("EC2_KEYS");
    for k in keys {
        x.open("EC2_KEY")
            .num("USER_ID", k.uid)
            .text("USER_NAME", &k.uname)
            .text("ACCESS_KEY_ID", &k.access_key_id)
            .num("CREATED", k.created)
            .close("EC2_KEY");
    }
    x.close("EC2_KEYS");
    x.finish()
}
