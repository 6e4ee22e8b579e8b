//! Security groups on the host, with nftables. Bridged IPv4 traffic passes the `inet`
//! hooks (br_netfilter), where connection tracking lets answers through: table `inet nubo`
//! has a forward chain that accepts established traffic and sends what goes to or comes
//! from a filtered NIC's address to that NIC's chains (`vm_<tap>_in`, `vm_<tap>_out`),
//! which accept what its rules allow and drop the rest. NICs without an IP lease are not
//! filtered.

use nubo_driver::{FirewallRule, NicSpec};

use crate::error::KvmError;

/// One change of the ruleset at a time on this host.
static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const BASE: &str = "add table inet nubo
add chain inet nubo forward { type filter hook forward priority 0 ; policy accept ; }
add map inet nubo to_vm { type ipv4_addr : verdict ; }
add map inet nubo from_vm { type ipv4_addr : verdict ; }
";

const BASE_RULES: &str = "add rule inet nubo forward ct state established,related accept
add rule inet nubo forward ip daddr vmap @to_vm
add rule inet nubo forward ip saddr vmap @from_vm
";

fn chain(nic: &NicSpec, direction: &str) -> String {
    format!("vm_{}_{direction}", nic.target.replace(['-', '.'], "_"))
}

/// An nftables set or single value from a port list (`22,80,1000:2000`).
fn ports(text: &str) -> Result<String, KvmError> {
    let mut items = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let item = match part.split_once(':') {
            Some((a, b)) => {
                let (a, b): (u16, u16) = (num(a, text)?, num(b, text)?);
                format!("{a}-{b}")
            }
            None => num::<u16>(part, text)?.to_string(),
        };
        items.push(item);
    }
    Ok(format!("{{ {} }}", items.join(", ")))
}

fn num<T: std::str::FromStr>(s: &str, whole: &str) -> Result<T, KvmError> {
    s.trim()
        .parse()
        .map_err(|_| KvmError::BadRequest(format!("bad port range \"{whole}\"")))
}

/// An nftables set of addresses; each must be an IPv4 address, CIDR or range.
fn addresses(list: &[String]) -> Result<String, KvmError> {
    for a in list {
        let ok = a
            .split(['/', '-'])
            .all(|p| p.parse::<std::net::Ipv4Addr>().is_ok() || p.parse::<u8>().is_ok());
        if !ok {
            return Err(KvmError::BadRequest(format!("bad address \"{a}\"")));
        }
    }
    Ok(format!("{{ {} }}", list.join(", ")))
}

/// The nftables statement of one rule (without its chain), or none for rules this
/// firewall leaves out (IPv6).
fn statement(rule: &FirewallRule) -> Result<Option<String>, KvmError> {
    let inbound = rule.direction.eq_ignore_ascii_case("inbound");
    let mut s = String::new();
    if !rule.addresses.is_empty() {
        let dir = if inbound { "saddr" } else { "daddr" };
        s.push_str(&format!("ip {dir} {} ", addresses(&rule.addresses)?));
    }
    match rule.protocol.to_ascii_uppercase().as_str() {
        "ALL" | "" => {}
        p @ ("TCP" | "UDP") => {
            let p = p.to_ascii_lowercase();
            match &rule.ports {
                Some(r) if !r.trim().is_empty() => s.push_str(&format!("{p} dport {} ", ports(r)?)),
                _ => s.push_str(&format!("meta l4proto {p} ")),
            }
        }
        "ICMP" => match rule.icmp_type {
            Some(t) => s.push_str(&format!("icmp type {t} ")),
            None => s.push_str("meta l4proto icmp "),
        },
        "IPSEC" => s.push_str("meta l4proto { esp, ah } "),
        "ICMPV6" => return Ok(None),
        other => {
            return Err(KvmError::BadRequest(format!(
                "unknown security group protocol \"{other}\""
            )));
        }
    }
    s.push_str("accept");
    Ok(Some(s))
}

/// The script that (re)makes a NIC's chains and hooks them to its address.
fn nic_script(nic: &NicSpec, ip: &str) -> Result<String, KvmError> {
    let (cin, cout) = (chain(nic, "in"), chain(nic, "out"));
    let mut s = String::new();
    for c in [&cin, &cout] {
        s.push_str(&format!(
            "add chain inet nubo {c}\nflush chain inet nubo {c}\n"
        ));
    }
    for rule in &nic.rules {
        if let Some(st) = statement(rule)? {
            let c = if rule.direction.eq_ignore_ascii_case("inbound") {
                &cin
            } else {
                &cout
            };
            s.push_str(&format!("add rule inet nubo {c} {st}\n"));
        }
    }
    for c in [&cin, &cout] {
        s.push_str(&format!("add rule inet nubo {c} drop\n"));
    }
    s.push_str(&format!(
        "add element inet nubo to_vm {{ {ip} : jump {cin} }}\nadd element inet nubo from_vm {{ {ip} : jump {cout} }}\n"
    ));
    Ok(s)
}

/// Runs an nftables script.
pub(crate) async fn nft(script: &str) -> Result<(), KvmError> {
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| KvmError::Tool {
            program: "nft".into(),
            message: e.to_string(),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .await
            .map_err(|e| KvmError::Tool {
                program: "nft".into(),
                message: e.to_string(),
            })?;
    }
    let out = child.wait_with_output().await.map_err(|e| KvmError::Tool {
        program: "nft".into(),
        message: e.to_string(),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(KvmError::Tool {
            program: "nft".into(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

async fn ensure_base() -> Result<(), KvmError> {
    // Bridged traffic reaches the inet hooks only with this switched on.
    let knob = "/proc/sys/net/bridge/bridge-nf-call-iptables";
    if !tokio::fs::read_to_string(knob)
        .await
        .is_ok_and(|v| v.trim() == "1")
    {
        tokio::fs::write(knob, b"1")
            .await
            .map_err(|e| KvmError::Tool {
                program: "br_netfilter".into(),
                message: format!("security groups need {knob} = 1: {e}"),
            })?;
    }
    if crate::tools::run("nft", ["list", "chain", "inet", "nubo", "forward"])
        .await
        .is_ok()
    {
        return Ok(());
    }
    nft(&format!("{BASE}{BASE_RULES}")).await
}

/// Applies the security groups of the filtered NICs among `nics`.
pub async fn apply(nics: &[NicSpec]) -> Result<(), KvmError> {
    let filtered: Vec<(&NicSpec, &str)> = nics
        .iter()
        .filter(|n| n.filtered && n.bridge.is_some())
        .filter_map(|n| n.ip.as_deref().map(|ip| (n, ip)))
        .collect();
    if filtered.is_empty() {
        return Ok(());
    }
    let _guard = LOCK.lock().await;
    ensure_base().await?;
    for (nic, ip) in filtered {
        ip.parse::<std::net::Ipv4Addr>()
            .map_err(|_| KvmError::BadRequest(format!("bad NIC address \"{ip}\"")))?;
        remove_one(nic).await;
        nft(&nic_script(nic, ip)?).await?;
    }
    Ok(())
}

/// Applies a NIC's security groups again after they changed (also when it is no longer
/// filtered at all).
pub async fn refresh(nic: &NicSpec) -> Result<(), KvmError> {
    {
        let _guard = LOCK.lock().await;
        remove_one(nic).await;
    }
    apply(std::slice::from_ref(nic)).await
}

/// Removes the chains of `nics` (nothing when they were not filtered).
pub async fn remove(nics: &[NicSpec]) {
    if !nics.iter().any(|n| n.filtered) {
        return;
    }
    let _guard = LOCK.lock().await;
    for nic in nics.iter().filter(|n| n.filtered) {
        remove_one(nic).await;
    }
}

async fn remove_one(nic: &NicSpec) {
    let Some(ip) = nic.ip.as_deref() else { return };
    if ip.parse::<std::net::Ipv4Addr>().is_err() {
        return;
    }
    // Each piece may be missing; each is removed on its own.
    let _ = nft(&format!("delete element inet nubo to_vm {{ {ip} }}\n")).await;
    let _ = nft(&format!("delete element inet nubo from_vm {{ {ip} }}\n")).await;
    for c in [chain(nic, "in"), chain(nic, "out")] {
        let _ = nft(&format!("delete chain inet nubo {c}\n")).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(direction: &str, protocol: &str, ports: Option<&str>) -> FirewallRule {
        FirewallRule {
            direction: direction.into(),
            protocol: protocol.into(),
            ports: ports.map(str::to_string),
            ..FirewallRule::default()
        }
    }

    #[test]
    fn rules_become_nftables_statements() {
        let tcp = rule("inbound", "TCP", Some("22,80,1000:2000"));
        assert_eq!(
            statement(&tcp).expect("ok").as_deref(),
            Some("tcp dport { 22, 80, 1000-2000 } accept")
        );
        let mut icmp = rule("outbound", "ICMP", None);
        icmp.addresses = vec!["10.0.0.0/24".into(), "10.1.0.5-10.1.0.9".into()];
        assert_eq!(
            statement(&icmp).expect("ok").as_deref(),
            Some("ip daddr { 10.0.0.0/24, 10.1.0.5-10.1.0.9 } meta l4proto icmp accept")
        );
        assert_eq!(
            statement(&rule("inbound", "ALL", None))
                .expect("ok")
                .as_deref(),
            Some("accept")
        );
        assert!(
            statement(&rule("inbound", "ICMPV6", None))
                .expect("ok")
                .is_none()
        );
        assert!(statement(&rule("inbound", "TCP", Some("22;rm"))).is_err());
        let mut bad = rule("inbound", "ALL", None);
        bad.addresses = vec!["10.0.0.1; flush ruleset".into()];
        assert!(statement(&bad).is_err());
    }

    #[test]
    fn a_nic_gets_two_chains_ending_in_drop_and_map_entries() {
        let nic = NicSpec {
            target: "one-7-0".into(),
            filtered: true,
            rules: vec![rule("inbound", "TCP", Some("80"))],
            ..NicSpec::default()
        };
        let s = nic_script(&nic, "10.0.0.7").expect("script");
        assert!(s.contains("add rule inet nubo vm_one_7_0_in tcp dport { 80 } accept\n"));
        assert!(s.contains("add rule inet nubo vm_one_7_0_in drop\n"));
        assert!(s.contains("add rule inet nubo vm_one_7_0_out drop\n"));
        assert!(s.contains("to_vm { 10.0.0.7 : jump vm_one_7_0_in }"));
    }
}
