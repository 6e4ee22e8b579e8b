//! The host side of a VM's NICs: a Linux bridge per network (made when missing, with the
//! 802.1Q sub-interface of the physical device for VLAN networks, or a VXLAN interface on
//! it for `vxlan` networks) and a tap per NIC on it — or, for a container, the host end of
//! a veth pair ([`plug_veth`]), named as the tap would be, so security groups and
//! anti-spoofing filter both alike. NICs without a bridge use QEMU's user-mode network and
//! need nothing here.

use nubo_driver::NicSpec;

use crate::error::KvmError;
use crate::tools;

async fn link_exists(name: &str) -> bool {
    tools::run("ip", ["link", "show", "dev", name])
        .await
        .is_ok()
}

/// Checks a Linux interface name: at most 15 bytes of letters, digits, `-`, `_` and `.`.
pub fn check_name(name: &str) -> Result<(), KvmError> {
    check_word(name, 15, "interface name")
}

/// Checks a network namespace's name (`ip netns`): at most 64 bytes of the same.
fn check_netns_name(name: &str) -> Result<(), KvmError> {
    check_word(name, 64, "network namespace name")
}

/// Checks that `name` is 1 to `max` bytes of letters, digits, `-`, `_` and `.`, not
/// starting with a dot.
fn check_word(name: &str, max: usize, what: &str) -> Result<(), KvmError> {
    let ok = !name.is_empty()
        && name.len() <= max
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(KvmError::BadRequest(format!(
            "\"{name}\" is not a valid {what}"
        )))
    }
}

/// Makes the bridge (and VLAN sub-interface) of every NIC and its tap.
pub async fn plug(nics: &[NicSpec]) -> Result<(), KvmError> {
    for nic in nics {
        let Some(bridge) = bridge(nic).await? else {
            continue;
        };
        if !link_exists(&nic.target).await {
            tools::run("ip", ["tuntap", "add", "dev", &nic.target, "mode", "tap"]).await?;
        }
        tools::run("ip", ["link", "set", &nic.target, "master", &bridge, "up"]).await?;
    }
    Ok(())
}

/// Makes the NIC's bridge (and VLAN sub-interface) and a veth pair: the host end, named
/// as the NIC's tap would be, on the bridge; the other end as `inner` in network namespace
/// `netns`. Nothing for a NIC without a bridge.
pub async fn plug_veth(nic: &NicSpec, netns: &str, inner: &str) -> Result<bool, KvmError> {
    let Some(bridge) = bridge(nic).await? else {
        return Ok(false);
    };
    check_netns_name(netns)?;
    check_name(inner)?;
    if link_exists(&nic.target).await {
        // Left from an attempt that failed half-way.
        tools::run("ip", ["link", "del", "dev", &nic.target]).await?;
    }
    tools::run(
        "ip",
        [
            "link",
            "add",
            &nic.target,
            "type",
            "veth",
            "peer",
            "name",
            inner,
            "netns",
            netns,
        ],
    )
    .await?;
    tools::run("ip", ["link", "set", &nic.target, "master", &bridge, "up"]).await?;
    Ok(true)
}

/// Makes the NIC's bridge (and VLAN sub-interface) when missing; its name, or none for a
/// NIC without a bridge.
async fn bridge(nic: &NicSpec) -> Result<Option<String>, KvmError> {
    let Some(bridge) = &nic.bridge else {
        return Ok(None);
    };
    check_name(bridge)?;
    check_name(&nic.target)?;
    if !link_exists(bridge).await {
        tools::run("ip", ["link", "add", bridge, "type", "bridge"]).await?;
    }
    tools::run("ip", ["link", "set", bridge, "up"]).await?;
    if let (Some(id), Some(phydev)) = (nic.vlan_id, &nic.phydev) {
        check_name(phydev)?;
        let sub = format!("{phydev}.{id}");
        check_name(&sub)?;
        if !link_exists(&sub).await {
            let id_text = id.to_string();
            if nic.vn_mad.eq_ignore_ascii_case("vxlan") {
                // VXLAN over multicast on PHYDEV: group 239.0.0.0 + VNI.
                let group = std::net::Ipv4Addr::from(0xEF00_0000u32 + u32::from(id));
                tools::run(
                    "ip",
                    [
                        "link",
                        "add",
                        &sub,
                        "type",
                        "vxlan",
                        "id",
                        &id_text,
                        "group",
                        &group.to_string(),
                        "dev",
                        phydev,
                        "dstport",
                        "4789",
                    ],
                )
                .await?;
            } else {
                tools::run(
                    "ip",
                    [
                        "link", "add", "link", phydev, "name", &sub, "type", "vlan", "id", &id_text,
                    ],
                )
                .await?;
            }
        }
        tools::run("ip", ["link", "set", &sub, "master", bridge, "up"]).await?;
    }
    Ok(Some(bridge.clone()))
}

/// Removes the taps (or veths) of the NICs and their firewall rules (bridges stay: other
/// VMs may use them).
pub async fn unplug(nics: &[NicSpec]) {
    crate::firewall::remove(nics).await;
    crate::spoofing::remove(nics).await;
    for nic in nics {
        if nic.bridge.is_some()
            && check_name(&nic.target).is_ok()
            && link_exists(&nic.target).await
            && let Err(e) = tools::run("ip", ["link", "del", "dev", &nic.target]).await
        {
            tracing::warn!(tap = %nic.target, error = %e, "cannot remove tap");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_are_checked() {
        assert!(check_name("one-7-0").is_ok());
        assert!(check_name("eth0.100").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a-very-long-name-x").is_err());
        assert!(check_name("x; rm").is_err());
        assert!(check_netns_name("nubo-a02b9922-90005").is_ok());
        assert!(check_netns_name("../x").is_err());
        assert!(check_netns_name(&"n".repeat(65)).is_err());
    }
}
