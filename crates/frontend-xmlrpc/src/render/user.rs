//! `USER`, `USER_POOL` and `DEFAULT_USER_QUOTAS`.

use std::sync::Arc;

use nubo_core::model::{Quotas, User};

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
