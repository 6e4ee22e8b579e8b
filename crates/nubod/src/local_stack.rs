//! The local host's container stack as the PaaS's stack: once image `debian-12` (which the
//! local host registers when the stack file appears) is READY, it is registered as the
//! ACTIVE stack `debian-12` unless a stack of that name exists.

use std::time::Duration;

use nubo_types::ONEADMIN_UID;
use nubo_types::states::ImageState;

use crate::local_host::STACK_IMAGE;

/// How often the image is looked for.
const POLL: Duration = Duration::from_secs(2);

/// Registers the stack in the background, as oneadmin.
pub fn register_when_ready(core: nubo_core::Core, paas: nubo_paas::Paas) {
    tokio::spawn(async move {
        loop {
            match try_register(&core, &paas).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot register the local stack with the PaaS")
                }
            }
            tokio::time::sleep(POLL).await;
        }
    });
}

/// Whether the stack is registered now.
async fn try_register(core: &nubo_core::Core, paas: &nubo_paas::Paas) -> anyhow::Result<bool> {
    let admin = core.read(|s| {
        let user = s.get::<nubo_core::model::User>(ONEADMIN_UID)?;
        nubo_core::auth::caller_of(s, user)
    })?;
    if paas.stack_get(&admin, STACK_IMAGE).is_ok() {
        return Ok(true);
    }
    let image = core.read(|s| {
        Ok(s.images
            .values()
            .find(|i| i.meta.name == STACK_IMAGE && i.meta.uid == ONEADMIN_UID)
            .map(|i| (i.meta.id, i.state)))
    })?;
    let Some((id, ImageState::Ready)) = image else {
        return Ok(false);
    };
    paas.stack_create(
        &admin,
        nubo_paas::NewStack {
            name: STACK_IMAGE.to_owned(),
            version: "1".to_owned(),
            image: id,
            description: "Debian 12 (bookworm): python3 with venv, nodejs and npm, tini".to_owned(),
        },
    )
    .await?;
    tracing::info!(image = id, "registered the local stack with the PaaS");
    Ok(true)
}
