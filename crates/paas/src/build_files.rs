//! What the PaaS writes into a checkout before it becomes a build's `/app`: under `.nubo/`,
//! the build script ([`crate::buildpack`], which writes the launcher), and the host's CA bundle and
//! pip and npm settings, so that builds reach the package registries the way the host does
//! (the build script removes these when it is done).

use std::collections::BTreeMap;
use std::path::Path;

use crate::buildpack::{self, BuildSettings, Plan};
use crate::config::PaasConfig;

/// Writes the build's files into the checkout `dir`.
pub async fn write(
    dir: &Path,
    plan: &Plan,
    config_vars: &BTreeMap<String, String>,
    config: &PaasConfig,
) -> std::io::Result<()> {
    let nubo = dir.join(".nubo");
    if tokio::fs::symlink_metadata(&nubo).await.is_ok() {
        // The app's own .nubo (a file, a link, a directory) gives way to the platform's.
        let _ = tokio::fs::remove_dir_all(&nubo).await;
        let _ = tokio::fs::remove_file(&nubo).await;
    }
    tokio::fs::create_dir(&nubo).await?;
    let mut settings = BuildSettings {
        config: config_vars.clone(),
        ..BuildSettings::default()
    };
    let copies = [
        (&config.ca_bundle, "ca.crt"),
        (&config.pip_conf, "pip.conf"),
        (&config.npmrc, "npmrc"),
    ];
    for (host_file, name) in copies {
        let Some(host_file) = host_file else { continue };
        tokio::fs::copy(host_file, nubo.join(name)).await?;
        let inside = format!("{}/{name}", buildpack::NUBO_DIR);
        match name {
            "ca.crt" => settings.ca_file = Some(inside),
            "pip.conf" => settings.pip_config = Some(inside),
            _ => settings.npm_config = Some(inside),
        }
    }
    tokio::fs::write(
        dir.join(relative(buildpack::BUILD_SCRIPT_PATH)),
        buildpack::build_script(plan, &settings),
    )
    .await?;
    tokio::fs::write(
        dir.join(relative(buildpack::LAUNCH_SCRIPT_PATH)),
        buildpack::launch_script(plan),
    )
    .await?;
    Ok(())
}

/// `/app/x` as `x`.
fn relative(path: &str) -> &str {
    path.strip_prefix(buildpack::APP_DIR)
        .unwrap_or(path)
        .trim_start_matches('/')
}
