//! VM files between agents (cold migration). As the host a VM leaves, the agent offers
//! the VM's files under its own address with a token only it can mint
//! ([`nubo_hostapi::transfer`]) and serves `GET /v1/transfer/<VM>/<FILE>` to whoever
//! shows a valid, unexpired token for that VM; as the host the VM goes to, it fetches them.
//! It also sends nubod the disks VMs save as new images.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use nubo_driver::BoxFuture;
use nubo_driver_kvm::cold_migration::{self, FileTransport};
use nubo_driver_kvm::error::KvmError;
use nubo_driver_kvm::layout::VmDir;
use nubo_hostapi::transfer::{self as wire, TRANSFER_PATH};

use crate::server::plain;

/// This agent's side of VM file transfers.
#[derive(Debug, Clone)]
pub struct Transfers {
    /// The host's name (uploads to nubod are signed as this host).
    pub name: String,
    /// The host's secret (tokens are minted and checked with it).
    pub secret: String,
    /// Where other agents reach this one (`http://HOST:PORT`).
    pub address: String,
    /// The driver's state directory.
    pub state_dir: PathBuf,
}

impl FileTransport for Transfers {
    fn offer_location(&self, vm_id: i32) -> Result<(String, String), KvmError> {
        let base = format!(
            "{}{TRANSFER_PATH}{vm_id}",
            self.address.trim_end_matches('/')
        );
        Ok((
            base,
            wire::offer_query(&self.secret, vm_id, nubo_hostapi::now()),
        ))
    }

    fn fetch<'a>(
        &'a self,
        url: &'a str,
        dest: &'a Path,
    ) -> BoxFuture<'a, Result<String, KvmError>> {
        Box::pin(async move {
            wire::download(url, dest)
                .await
                .map_err(|message| KvmError::Tool {
                    program: "file transfer".into(),
                    message,
                })
        })
    }

    fn upload<'a>(&'a self, url: &'a str, file: &'a Path) -> BoxFuture<'a, Result<(), KvmError>> {
        Box::pin(async move {
            let who = nubo_hostapi::images::HostIdentity {
                name: self.name.clone(),
                secret: self.secret.clone(),
            };
            nubo_hostapi::images::upload(&who, url, file)
                .await
                .map_err(|message| KvmError::Tool {
                    program: "image upload".into(),
                    message,
                })
        })
    }
}

impl Transfers {
    /// Serves one file of a VM to another agent (`path` is under [`TRANSFER_PATH`]).
    pub async fn serve(&self, path: &str, query: Option<&str>) -> Response {
        let Some((vm, name)) = path
            .strip_prefix(TRANSFER_PATH)
            .and_then(|rest| rest.split_once('/'))
        else {
            return plain(StatusCode::NOT_FOUND, "no such call".into());
        };
        let Ok(vm_id) = vm.parse::<i32>() else {
            return plain(StatusCode::BAD_REQUEST, format!("bad VM id \"{vm}\""));
        };
        let Some((expires, token)) = query.and_then(wire::parse_query) else {
            return plain(
                StatusCode::UNAUTHORIZED,
                "a transfer needs expires and token".into(),
            );
        };
        if let Err(e) = wire::check_token(&self.secret, vm_id, expires, &token, nubo_hostapi::now())
        {
            tracing::warn!(vm_id, file = name, error = %e, "refused a transfer");
            return plain(StatusCode::UNAUTHORIZED, format!("bad transfer token: {e}"));
        }
        if !cold_migration::moves(name) {
            return plain(
                StatusCode::NOT_FOUND,
                format!("\"{name}\" is not a VM file"),
            );
        }
        let file = VmDir::new(&self.state_dir, vm_id).root.join(name);
        let handle = match tokio::fs::File::open(&file).await {
            Ok(h) => h,
            Err(e) => return plain(StatusCode::NOT_FOUND, format!("VM {vm_id} {name}: {e}")),
        };
        tracing::info!(vm_id, file = name, "sending a VM file to another host");
        let stream = nubo_hostapi::files::file_chunks(handle);
        Response::builder()
            .status(StatusCode::OK)
            .body(Body::from_stream(stream))
            .unwrap_or_else(|_| Response::new(Body::empty()))
    }
}
