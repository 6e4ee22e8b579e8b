//! What an agent tells nubod on its own: a hello when it starts (where nubod reaches it)
//! and its monitoring report, pushed on an interval and whenever its guests change. Both
//! are signed with the host's secret and answered signed by nubod.

use nubo_driver::HostReport;

use crate::client::{Answer, send};
use crate::images::{HostIdentity, split_url};

/// Says hello to nubod at `front` (its host API, `http://ADDR:PORT`).
pub async fn hello(who: &HostIdentity, front: &str, hello: &crate::Hello) -> Result<(), String> {
    let body = serde_json::to_vec(hello).map_err(|e| e.to_string())?;
    post(who, front, crate::HELLO_PATH, body).await
}

/// Pushes the host's report to nubod at `front`.
pub async fn push_report(
    who: &HostIdentity,
    front: &str,
    report: &HostReport,
) -> Result<(), String> {
    let body = serde_json::to_vec(report).map_err(|e| e.to_string())?;
    post(who, front, crate::MONITOR_PATH, body).await
}

async fn post(who: &HostIdentity, front: &str, path: &str, body: Vec<u8>) -> Result<(), String> {
    let url = format!("{}{path}", front.trim_end_matches('/'));
    let (endpoint, path) = split_url(&url)?;
    let (signature, response) =
        send(&endpoint, &who.name, &who.secret, "POST", &path, body, &[]).await?;
    Answer::from_nubod(response, &who.secret, &signature, &url)
        .await?
        .ok(&url)
}
