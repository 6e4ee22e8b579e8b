//! The VM templates of containers that run an app's slug: instances of its process types
//! (tagged with the app, process type, release, index and restart generation) and one-off
//! runs. Each has the stack as its root, the slug at `/app`, the config vars in its context
//! and tini running the slug's launcher as its init.

use base64::Engine;
use nubo_types::Oid;

use crate::Paas;
use crate::buildpack;
use crate::error::Result;
use crate::instances::WEB_PORT;
use crate::model::{App, Release};

/// The longest base64 piece of the environment in one context variable (the container
/// driver passes values up to 32 KiB into the environment).
const ENV_PIECE: usize = 30_000;
/// A container of a slug: its name, its launcher's argument (a process type, or `--run`),
/// more context variables (`K="v",…`), its template's tags (lines) and the hosts it must
/// not be placed on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlugContainer<'a> {
    pub name: &'a str,
    pub launch_arg: &'a str,
    pub context: &'a str,
    pub tags: &'a str,
    pub avoid_hosts: &'a [Oid],
}

/// The release's config vars as the launch script reads them: base64 of an env file.
fn env_base64(release: &Release) -> String {
    base64::engine::general_purpose::STANDARD.encode(buildpack::env_file(&release.config))
}

/// The shell words that join the pieces of the release's config vars, which a slug
/// container has in its environment as `NUBO_ENV_0`, `NUBO_ENV_1`, …, back into the
/// launch script's `NUBO_ENV`: `$NUBO_ENV_0$NUBO_ENV_1`.
pub(crate) fn env_joined(release: &Release) -> String {
    let pieces = env_base64(release).len().div_ceil(ENV_PIECE);
    (0..pieces).map(|i| format!("$NUBO_ENV_{i}")).collect()
}

impl Paas {
    /// The VM template of an instance, kept off the hosts it lost lately
    /// ([`Paas::lost_hosts`]).
    pub(crate) fn instance_template(
        &self,
        app: &App,
        release: &Release,
        slug: Oid,
        kind: &str,
        index: u32,
    ) -> Result<String> {
        let avoid_hosts = self.lost_hosts(app.id, kind, index);
        let generation = app.generations.get(kind).copied().unwrap_or(0);
        let restarted = if generation > 0 {
            format!("-r{generation}")
        } else {
            String::new()
        };
        let mut context = format!("NUBO_PROCESS=\"{kind}\",NUBO_INSTANCE=\"{kind}.{index}\"");
        if kind == "web" {
            context.push_str(&format!(",PORT=\"{WEB_PORT}\""));
        }
        let name = format!(
            "{}-{kind}-{index}-v{}{restarted}",
            app.name, release.version
        );
        let tags = format!(
            "NUBO_APP=\"{}\"\nNUBO_PROCESS=\"{kind}\"\nNUBO_RELEASE=\"{}\"\n\
             NUBO_INDEX=\"{index}\"\nNUBO_GENERATION=\"{generation}\"\n",
            app.id, release.version
        );
        self.slug_container_template(
            app,
            release,
            slug,
            SlugContainer {
                name: &name,
                launch_arg: kind,
                context: &context,
                tags: &tags,
                avoid_hosts: &avoid_hosts,
            },
        )
    }

    /// The VM template of a container running the slug of `release` over the app's stack
    /// (the image the release was made on, see [`Paas::release_image`]), with the config
    /// vars (`NUBO_ENV_*`), as `c` says.
    pub(crate) fn slug_container_template(
        &self,
        app: &App,
        release: &Release,
        slug: Oid,
        c: SlugContainer<'_>,
    ) -> Result<String> {
        let SlugContainer {
            name,
            launch_arg,
            context,
            tags,
            avoid_hosts,
        } = c;
        let away: String = avoid_hosts
            .iter()
            .map(|h| format!(" & ID != {h}"))
            .collect();
        let stack = self.read(|s| {
            s.stack_by_name(&app.stack)
                .cloned()
                .ok_or_else(|| crate::error::PaasError::not_found("stack", &app.stack))
        })?;
        let root = self.release_image(release, stack.image);
        let env = env_base64(release);
        let mut all = String::from("NETWORK=\"YES\",");
        for (i, piece) in env.as_bytes().chunks(ENV_PIECE).enumerate() {
            let piece = std::str::from_utf8(piece).unwrap_or_default();
            all.push_str(&format!("NUBO_ENV_{i}=\"{piece}\","));
        }
        let joined = env_joined(release);
        all.push_str(&format!(
            "NUBO_APP=\"{}\",NUBO_RELEASE=\"v{}\",{context}",
            app.name, release.version
        ));
        // tini as PID 1 (the stack has it): it passes SIGTERM on to the process, which as
        // PID 1 itself would ignore it, and reaps what the process leaves.
        let init = format!(
            "NUBO_ENV={joined} exec /usr/bin/tini -- /bin/sh {} {launch_arg}",
            buildpack::LAUNCH_SCRIPT_PATH
        );
        Ok(format!(
            "NAME=\"{name}\"\nCPU=\"0.1\"\nVCPU=\"1\"\nMEMORY=\"512\"\n\
             DISK=[IMAGE_ID=\"{stack}\",SIZE=\"{root_mb}\"]\n\
             DISK=[IMAGE_ID=\"{slug}\",TARGET=\"/app\"]\n{nic}\
             OS=[INIT=\"{init}\"]\nCONTEXT=[{all}]\nSCHED_REQUIREMENTS=\"HYPERVISOR=lxc{away}\"\n{tags}",
            stack = root,
            root_mb = self.config().instance_root_mb,
            nic = self.network_nic()?,
        ))
    }

    /// The image a container of `release` has as its root: the stack image the release was
    /// made on, so that restarts, scale-ups and a failed deployment's way back run on the
    /// image the release served with; `current` (the stack's image now) for releases made
    /// before stacks were versioned, and for one whose image an administrator deleted.
    pub(crate) fn release_image(&self, release: &Release, current: Oid) -> Oid {
        match release.stack_image {
            Some(image)
                if image != current
                    && self
                        .core()
                        .read(|s| Ok(s.images.contains_key(&image)))
                        .unwrap_or(false) =>
            {
                image
            }
            _ => current,
        }
    }
}
