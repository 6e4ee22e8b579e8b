//! Anti-spoofing on the host, with nftables: a NIC whose network says
//! `FILTER_MAC_SPOOFING="YES"` may only send frames (and ARP) from its own MAC, one whose
//! network says `FILTER_IP_SPOOFING="YES"` only IPv4 packets and ARP from its lease (or
//! 0.0.0.0, which DHCP and ARP probes use). Table `bridge nubo` has a prerouting chain
//! that sends each such tap's frames to that tap's chain (`spoof_<tap>`) through a map
//! keyed by interface name.

use nubo_driver::NicSpec;

use crate::error::KvmError;
use crate::firewall::nft;

/// One change of the ruleset at a time on this host.
static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const BASE: &str = "add table bridge nubo
add chain bridge nubo prerouting { type filter hook prerouting priority -300 ; policy accept ; }
add map bridge nubo from_tap { type ifname : verdict ; }
add rule bridge nubo prerouting iifname vmap @from_tap
";

fn guarded(nic: &NicSpec) -> bool {
    (nic.filter_mac || nic.filter_ip) && plain_name(&nic.target)
}

fn plain_name(tap: &str) -> bool {
    !tap.is_empty()
        && tap
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

fn chain(nic: &NicSpec) -> String {
    format!("spoof_{}", nic.target.replace(['-', '.'], "_"))
}

/// The script that (re)makes a NIC's chain and hooks it to its tap.
fn nic_script(nic: &NicSpec) -> Result<String, KvmError> {
    let tap = &nic.target;
    if !plain_name(tap) {
        return Err(KvmError::BadRequest(format!("bad tap name \"{tap}\"")));
    }
    let c = chain(nic);
    let mut s = format!("add chain bridge nubo {c}\nflush chain bridge nubo {c}\n");
    if nic.filter_mac {
        let mac = crate::firewall::mac_of(nic)?;
        s.push_str(&format!(
            "add rule bridge nubo {c} ether saddr != {mac} drop\n\
             add rule bridge nubo {c} arp saddr ether != {mac} drop\n"
        ));
    }
    if nic.filter_ip {
        let ip = nic
            .ip
            .as_deref()
            .ok_or_else(|| {
                KvmError::BadRequest("IP spoofing filter on a NIC without an IPv4 lease".into())
            })?
            .parse::<std::net::Ipv4Addr>()
            .map_err(|_| KvmError::BadRequest("bad NIC address".into()))?;
        // The NIC has no IPv6 lease, and tagged frames would carry anything past the
        // checks: both are dropped.
        s.push_str(&format!(
            "add rule bridge nubo {c} ether type ip ip saddr != {{ {ip}, 0.0.0.0 }} drop\n\
             add rule bridge nubo {c} ether type arp arp saddr ip != {{ {ip}, 0.0.0.0 }} drop\n\
             add rule bridge nubo {c} ether type {{ 0x86dd, 0x8100, 0x88a8 }} drop\n"
        ));
    }
    s.push_str(&format!(
        "add element bridge nubo from_tap {{ \"{tap}\" : jump {c} }}\n"
    ));
    Ok(s)
}

/// Applies the anti-spoofing filters of `nics` (their taps must exist).
pub async fn apply(nics: &[NicSpec]) -> Result<(), KvmError> {
    let guarded: Vec<&NicSpec> = nics.iter().filter(|n| guarded(n)).collect();
    if guarded.is_empty() {
        return Ok(());
    }
    let _guard = LOCK.lock().await;
    if crate::tools::run("nft", ["list", "chain", "bridge", "nubo", "prerouting"])
        .await
        .is_err()
    {
        nft(BASE).await?;
    }
    // Each NIC's chain is flushed and filled again in one atomic script: no moment
    // without its filter.
    for nic in guarded {
        nft(&nic_script(nic)?).await?;
    }
    Ok(())
}

/// Removes the filters of `nics`.
pub async fn remove(nics: &[NicSpec]) {
    if !nics.iter().any(guarded) {
        return;
    }
    let _guard = LOCK.lock().await;
    for nic in nics.iter().filter(|n| guarded(n)) {
        remove_one(nic).await;
    }
}

async fn remove_one(nic: &NicSpec) {
    // Each piece may be missing; each is removed on its own.
    let _ = nft(&format!(
        "delete element bridge nubo from_tap {{ \"{}\" }}\n",
        nic.target
    ))
    .await;
    let _ = nft(&format!("delete chain bridge nubo {}\n", chain(nic))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guarded_nic_may_send_only_from_its_mac_and_lease() {
        let nic = NicSpec {
            target: "one-3-0".into(),
            mac: "02:00:0A:63:05:0A".into(),
            ip: Some("10.99.5.10".into()),
            filter_mac: true,
            filter_ip: true,
            ..NicSpec::default()
        };
        let s = nic_script(&nic).expect("script");
        assert!(s.contains("spoof_one_3_0 ether saddr != 02:00:0a:63:05:0a drop"));
        assert!(s.contains("ip saddr != { 10.99.5.10, 0.0.0.0 } drop"));
        assert!(s.contains("arp saddr ip != { 10.99.5.10, 0.0.0.0 } drop"));
        assert!(s.contains("ether type { 0x86dd, 0x8100, 0x88a8 } drop"));
        assert!(s.contains("from_tap { \"one-3-0\" : jump spoof_one_3_0 }"));
        let mut bad = nic.clone();
        bad.mac = "02:00:0a:63:05:0a drop; flush ruleset".into();
        assert!(nic_script(&bad).is_err());
        let mut no_lease = nic.clone();
        no_lease.ip = None;
        assert!(nic_script(&no_lease).is_err());
        let mut only_mac = nic;
        only_mac.filter_ip = false;
        assert!(!nic_script(&only_mac).expect("script").contains("ip saddr"));
    }
}
