//! The host side of a VM's NICs: a Linux bridge per network (made when missing, with the
//! 802.1Q sub-interface of the physical device for VLAN networks, or a VXLAN interface on
//! it for `vxlan` networks) and a tap per NIC on it.
//! NICs without a bridge use QEMU's user-mode network and need nothing here.

use nubo_driver::NicSpec;

use crate::error::KvmError;
use crate::tools;

async fn link_exists(name: &str) -> bool {
    tools::run("ip", ["link", "show", "dev", name])
        .await
        .is_ok()
}

/// A Linux interface name: at most 15 bytes of letters, digits, `-`, `_` and `.`.
fn check_name(name: &str) -> Result<(), KvmError> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(KvmError::BadRequest(format!(
            "\"{name}\" is not a valid interface name"
        )))
    }
}

/// Makes the bridge (and VLAN sub-interface) of every NIC and its tap.
pub async fn plug(nics: &[NicSpec]) -> Result<(), KvmError> {
    for nic in nics {
        let Some(bridge) = &nic.bridge else { continue };
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
                            "link", "add", "link", phydev, "name", &sub, "type", "vlan", "id",
                            &id_text,
                        ],
                    )
                    .await?;
                }
            }
            tools::run("ip", ["link", "set", &sub, "master", bridge, "up"]).await?;
        }
        if !link_exists(&nic.target).await {
            tools::run("ip", ["tuntap", "add", "dev", &nic.target, "mode", "tap"]).await?;
        }
        tools::run("ip", ["link", "set", &nic.target, "master", bridge, "up"]).await?;
    }
    Ok(())
}

/// Removes the taps of the NICs and their firewall rules (bridges stay: other VMs may use
/// them).
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
    }
}
