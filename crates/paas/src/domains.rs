//! Custom domains: host names an app is served at by the router besides
//! `<app>.<apps domain>`, each taken by one app in the cloud.

use nubo_core::Caller;
use nubo_types::AuthOp;

use crate::Paas;
use crate::error::{PaasError, Result};
use crate::model::App;

/// The most custom domains of one app.
pub const DOMAINS_MAX: usize = 100;

/// A host name as the router compares them: lowercase, without a final dot; checked to be
/// 2 to 127 labels of 1 to 63 of `a-z0-9-` (not starting or ending with `-`), at most 253
/// characters.
pub fn normalize_domain(domain: &str) -> Result<String> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    let ok = d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if ok {
        Ok(d)
    } else {
        Err(PaasError::Invalid(format!(
            "{:?} is not a host name (labels of a-z, 0-9 and -, at least two)",
            domain.chars().take(100).collect::<String>()
        )))
    }
}

impl Paas {
    /// The app a host name routes to: `<app>.<apps domain>`, or a custom domain.
    pub fn app_for_host(&self, host: &str) -> Option<String> {
        let by_name = self
            .config()
            .apps_domain
            .as_deref()
            .and_then(|d| host.strip_suffix(d)?.strip_suffix('.'))
            .filter(|name| !name.contains('.'));
        self.read(|s| {
            Ok(match by_name {
                Some(name) => s.app_by_name(name).map(|a| a.name.clone()),
                None => s.app_by_domain(host).map(|a| a.name.clone()),
            })
        })
        .ok()
        .flatten()
    }

    /// Adds a custom domain to the app (MANAGE).
    pub async fn domain_add(&self, caller: &Caller, name: &str, domain: &str) -> Result<App> {
        let domain = normalize_domain(domain)?;
        if let Some(apps) = &self.config().apps_domain
            && (domain == *apps || domain.ends_with(&format!(".{apps}")))
        {
            return Err(PaasError::Invalid(format!(
                "{domain} is under the apps domain {apps}, which names apps by themselves"
            )));
        }
        let now = nubo_core::now();
        self.write(|staged| {
            let mut app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
            if let Some(other) = staged.state.app_by_domain(&domain) {
                if other.id == app.id {
                    return Ok(app);
                }
                return Err(PaasError::Conflict(format!(
                    "{domain} is taken by another app"
                )));
            }
            if app.domains.len() >= DOMAINS_MAX {
                return Err(PaasError::Invalid(format!(
                    "an app may have at most {DOMAINS_MAX} custom domains"
                )));
            }
            app.domains.push(domain);
            app.domains.sort();
            staged.put_changed_app(&mut app, now);
            Ok(app)
        })
        .await
    }

    /// Removes a custom domain from the app (MANAGE).
    pub async fn domain_remove(&self, caller: &Caller, name: &str, domain: &str) -> Result<App> {
        let domain = normalize_domain(domain)?;
        let now = nubo_core::now();
        self.write(|staged| {
            let mut app = self.app_for(staged.state, caller, name, AuthOp::Manage)?;
            let before = app.domains.len();
            app.domains.retain(|d| *d != domain);
            if app.domains.len() == before {
                return Err(PaasError::NotFound {
                    what: format!("domain {domain} of app {name}"),
                });
            }
            staged.put_changed_app(&mut app, now);
            Ok(app)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_host_names() {
        assert_eq!(
            normalize_domain("WWW.Example.COM.").expect("ok"),
            "www.example.com"
        );
        assert_eq!(normalize_domain("a-1.b").expect("ok"), "a-1.b");
        for bad in [
            "",
            "localhost",
            "a..b",
            "-a.b",
            "a-.b",
            "a b.c",
            "é.fr",
            "a_b.c",
            &format!("{}.c", "a".repeat(64)),
        ] {
            assert!(normalize_domain(bad).is_err(), "{bad:?}");
        }
    }
}
