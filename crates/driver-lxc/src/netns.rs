//! A container's network: the network namespace the runtime made with the container (owned
//! by the container's user namespace, so its /sys shows its own devices), named for the
//! agent with `ip netns attach` before the init starts, with loopback up and one veth per
//! NIC whose host end joins the network's bridge under the NIC's tap name (security groups
//! and anti-spoofing then filter it as a VM's tap) and whose inner end is `eth<NIC_ID>`
//! with the NIC's MAC, its lease's address (prefix from the context's `ETHn_MASK`, else
//! /24) and the context's gateway as default route. The container keeps no NET_ADMIN
//! capability to change them; were it to, the anti-spoofing filters still hold.

use std::path::PathBuf;

use nubo_driver::NicSpec;
use nubo_driver_kvm::{firewall, network, spoofing, tools};

use crate::context::ContainerContext;
use crate::error::LxcError;
use crate::layout::ContainerDir;

/// The prefix length of a lease when the context gives no netmask.
const DEFAULT_PREFIX: u8 = 24;

/// Where the container's namespace is bound.
pub fn path(dir: &ContainerDir) -> PathBuf {
    PathBuf::from("/var/run/netns").join(dir.netns())
}

fn inner_name(nic: &NicSpec) -> String {
    format!("eth{}", nic.nic_id)
}

/// Names the network namespace of the container whose init is `pid` and plugs its NICs,
/// filtered as the VM's taps would be.
pub async fn adopt(
    dir: &ContainerDir,
    pid: u32,
    nics: &[NicSpec],
    ctx: &ContainerContext,
) -> Result<(), LxcError> {
    let ns = dir.netns();
    if tokio::fs::metadata(path(dir)).await.is_ok() {
        // Left by an earlier run of this container: it names a namespace gone with it.
        tools::run("ip", ["netns", "del", &ns]).await?;
    }
    tools::run("ip", ["netns", "attach", &ns, &pid.to_string()]).await?;
    tools::run("ip", ["-n", &ns, "link", "set", "lo", "up"]).await?;
    for nic in nics {
        attach(dir, nic, ctx).await?;
    }
    Ok(())
}

/// Plugs one NIC into the namespace and applies its filters.
pub async fn attach(
    dir: &ContainerDir,
    nic: &NicSpec,
    ctx: &ContainerContext,
) -> Result<(), LxcError> {
    let (ns, vm_id) = (dir.netns(), dir.vm_id);
    let inner = inner_name(nic);
    if !network::plug_veth(nic, &ns, &inner).await? {
        tracing::warn!(
            vm_id,
            nic = nic.nic_id,
            "a NIC without a bridge gives a container no network"
        );
        return Ok(());
    }
    if !nic.mac.is_empty() {
        tools::run(
            "ip",
            ["-n", &ns, "link", "set", &inner, "address", &nic.mac],
        )
        .await?;
    }
    tools::run("ip", ["-n", &ns, "link", "set", &inner, "up"]).await?;
    let net = ctx.nics.get(&nic.nic_id).cloned().unwrap_or_default();
    if let Some(ip) = nic.ip.as_deref() {
        let ip: std::net::Ipv4Addr = ip
            .parse()
            .map_err(|_| LxcError::BadRequest(format!("bad NIC address \"{ip}\"")))?;
        let cidr = format!("{ip}/{}", net.prefix.unwrap_or(DEFAULT_PREFIX));
        tools::run("ip", ["-n", &ns, "addr", "add", &cidr, "dev", &inner]).await?;
        if let Some(gw) = net.gateway.as_deref() {
            // The first NIC with a gateway gives the default route.
            let _ = tools::run(
                "ip",
                [
                    "-n", &ns, "route", "add", "default", "via", gw, "dev", &inner,
                ],
            )
            .await;
        }
    }
    firewall::apply(std::slice::from_ref(nic)).await?;
    spoofing::apply(std::slice::from_ref(nic)).await?;
    Ok(())
}

/// Unplugs one NIC (its veth pair and filters).
pub async fn detach(nic: &NicSpec) {
    network::unplug(std::slice::from_ref(nic)).await;
}

/// Removes the NICs and the namespace.
pub async fn remove(dir: &ContainerDir, nics: &[NicSpec]) {
    network::unplug(nics).await;
    if tokio::fs::metadata(path(dir)).await.is_ok()
        && let Err(e) = tools::run("ip", ["netns", "del", &dir.netns()]).await
    {
        tracing::warn!(vm_id = dir.vm_id, error = %e, "cannot remove the container's network namespace");
    }
}
