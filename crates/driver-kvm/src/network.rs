//! The host side of a VM's NICs: a Linux bridge per network (made when missing, with the
//! 802.1Q sub-interface of the physical device for VLAN networks) and a tap per NIC on it.
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
        if let (Some(vlan), Some(phydev)) = (nic.vlan_id, &nic.phydev) {
            check_name(phydev)?;
            let sub = format!("{phydev}.{vlan}");
            check_name(&sub)?;
            if !link_exists(&sub).await {
                tools::run(
                    "ip",
                    [
                        "link",
                        "add",
                        "link",
                        phydev,
                        "name",
                        &sub,
                        "type",
                        "vlan",
                        "id",
                        &vlan.to_string(),
                    ],
                )
                .await?;
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

/// Removes the taps of the NICs (bridges stay: other VMs may use them).
pub async fn unplug(nics: &[NicSpec]) {
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
