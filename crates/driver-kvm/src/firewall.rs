//! Security groups on the host, with nftables. Bridged traffic passes the `inet` hooks
//! (br_netfilter), where connection tracking lets answers through: table `inet nubo` has a
//! forward chain that accepts established traffic and sends IPv4 that goes to or comes
//! from a filtered NIC's lease to that NIC's chains (`vm_<tap>_in`, `vm_<tap>_out`), and
//! IPv6 addressed to or sent from its MAC to its IPv6 chains (`vm6_<tap>_in`,
//! `vm6_<tap>_out`); each accepts what its rules allow and drops the rest. IPv6 neighbour
//! and router discovery always pass. A rule with remote addresses applies to the family
//! of those addresses only.

use nubo_driver::{FirewallRule, NicSpec};

use std::sync::atomic::{AtomicBool, Ordering};

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

const BASE6: &str = "add map inet nubo to_vm6 { type ether_addr : verdict ; }
add map inet nubo from_vm6 { type ether_addr : verdict ; }
add rule inet nubo forward icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert, nd-redirect } accept
add rule inet nubo forward meta nfproto ipv6 ether daddr vmap @to_vm6
add rule inet nubo forward meta nfproto ipv6 ether saddr vmap @from_vm6
";

fn chain(nic: &NicSpec, direction: &str) -> String {
    format!("vm_{}_{direction}", nic.target.replace(['-', '.'], "_"))
}

fn chain6(nic: &NicSpec, direction: &str) -> String {
    format!("vm6_{}_{direction}", nic.target.replace(['-', '.'], "_"))
}

/// An IP family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

/// A NIC's MAC in nftables' form, checked.
pub(crate) fn mac_of(nic: &NicSpec) -> Result<String, KvmError> {
    let mac = nic.mac.to_ascii_lowercase();
    let valid = mac.len() == 17
        && mac
            .split(':')
            .all(|b| b.len() == 2 && b.chars().all(|c| c.is_ascii_hexdigit()));
    if valid {
        Ok(mac)
    } else {
        Err(KvmError::BadRequest(format!("bad NIC MAC \"{}\"", nic.mac)))
    }
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

/// The family of one address, CIDR or range (`a`, `a/n`, `a-b`), if it is one.
fn family_of(a: &str) -> Option<Family> {
    let mut parts = a.splitn(2, ['/', '-']);
    let first = parts.next()?;
    let rest = parts.next();
    let family = match first.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(_) => Family::V4,
        std::net::IpAddr::V6(_) => Family::V6,
    };
    let ok = match (rest, a.contains('/')) {
        (None, _) => true,
        (Some(n), true) => n.parse::<u8>().is_ok(),
        (Some(b), false) => match b.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(_)) => family == Family::V4,
            Ok(std::net::IpAddr::V6(_)) => family == Family::V6,
            Err(_) => false,
        },
    };
    ok.then_some(family)
}

/// The rule's addresses of `family` as an nftables set: `Some("")` when the rule names
/// none at all (any address), `None` when it names only the other family's.
fn addresses(list: &[String], family: Family) -> Result<Option<String>, KvmError> {
    let mut mine = Vec::new();
    for a in list {
        match family_of(a) {
            Some(f) if f == family => mine.push(a.as_str()),
            Some(_) => {}
            None => return Err(KvmError::BadRequest(format!("bad address \"{a}\""))),
        }
    }
    if list.is_empty() {
        return Ok(Some(String::new()));
    }
    if mine.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!("{{ {} }}", mine.join(", "))))
}

/// The nftables statement of one rule for `family` (without its chain), or none when the
/// rule does not apply to that family.
fn statement_for(rule: &FirewallRule, family: Family) -> Result<Option<String>, KvmError> {
    let inbound = rule.direction.eq_ignore_ascii_case("inbound");
    let mut s = String::new();
    let Some(set) = addresses(&rule.addresses, family)? else {
        return Ok(None);
    };
    if !set.is_empty() {
        let dir = if inbound { "saddr" } else { "daddr" };
        let proto = if family == Family::V4 { "ip" } else { "ip6" };
        s.push_str(&format!("{proto} {dir} {set} "));
    }
    match (rule.protocol.to_ascii_uppercase().as_str(), family) {
        ("ALL" | "", _) => {}
        (p @ ("TCP" | "UDP"), _) => {
            let p = p.to_ascii_lowercase();
            match &rule.ports {
                Some(r) if !r.trim().is_empty() => s.push_str(&format!("{p} dport {} ", ports(r)?)),
                _ => s.push_str(&format!("meta l4proto {p} ")),
            }
        }
        ("ICMP", Family::V4) => match rule.icmp_type {
            Some(t) => s.push_str(&format!("icmp type {t} ")),
            None => s.push_str("meta l4proto icmp "),
        },
        ("ICMPV6", Family::V6) => match rule.icmp_type {
            Some(t) => s.push_str(&format!("icmpv6 type {t} ")),
            None => s.push_str("meta l4proto ipv6-icmp "),
        },
        ("ICMP", Family::V6) | ("ICMPV6", Family::V4) => return Ok(None),
        ("IPSEC", _) => s.push_str("meta l4proto { esp, ah } "),
        (other, _) => {
            return Err(KvmError::BadRequest(format!(
                "unknown security group protocol \"{other}\""
            )));
        }
    }
    s.push_str("accept");
    Ok(Some(s))
}

/// The script that (re)makes a NIC's chains and hooks them to its IPv4 lease (when it
/// has one) and its MAC.
fn nic_script(nic: &NicSpec, ip: Option<&str>) -> Result<String, KvmError> {
    let mac = mac_of(nic)?;
    let mut s = String::new();
    let families: &[Family] = if ip.is_some() {
        &[Family::V4, Family::V6]
    } else {
        &[Family::V6]
    };
    for &family in families {
        let (cin, cout) = match family {
            Family::V4 => (chain(nic, "in"), chain(nic, "out")),
            Family::V6 => (chain6(nic, "in"), chain6(nic, "out")),
        };
        for c in [&cin, &cout] {
            s.push_str(&format!(
                "add chain inet nubo {c}\nflush chain inet nubo {c}\n"
            ));
        }
        for rule in &nic.rules {
            if let Some(st) = statement_for(rule, family)? {
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
        let (key, to, from) = match family {
            Family::V4 => (ip.unwrap_or_default().to_string(), "to_vm", "from_vm"),
            Family::V6 => (mac.clone(), "to_vm6", "from_vm6"),
        };
        s.push_str(&format!(
            "add element inet nubo {to} {{ {key} : jump {cin} }}\nadd element inet nubo {from} {{ {key} : jump {cout} }}\n"
        ));
    }
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
    // Bridged traffic reaches the inet hooks only with these switched on.
    for knob in [
        "/proc/sys/net/bridge/bridge-nf-call-iptables",
        "/proc/sys/net/bridge/bridge-nf-call-ip6tables",
    ] {
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
    }
    let has = |what: &'static str, name: &'static str| {
        crate::tools::run("nft", ["list", what, "inet", "nubo", name])
    };
    if has("chain", "forward").await.is_err() {
        return nft(&format!("{BASE}{BASE_RULES}{BASE6}")).await;
    }
    // A table made before IPv6 was filtered gets its IPv6 part.
    if has("map", "to_vm6").await.is_err() {
        nft(BASE6).await?;
    }
    Ok(())
}

/// Applies the security groups of the filtered NICs among `nics`.
pub async fn apply(nics: &[NicSpec]) -> Result<(), KvmError> {
    let filtered: Vec<&NicSpec> = nics
        .iter()
        .filter(|n| n.filtered && n.bridge.is_some())
        .collect();
    if filtered.is_empty() {
        return Ok(());
    }
    let _guard = LOCK.lock().await;
    ensure_base_once().await?;
    for nic in filtered {
        let script = nic_script(nic, lease(nic)?.as_deref())?;
        // One transaction: what the NIC had goes, its rules come.
        if nft(&format!("{}{script}", removal_script(nic)))
            .await
            .is_err()
        {
            BASE_READY.store(false, Ordering::SeqCst);
            ensure_base().await?;
            remove_piecewise(nic).await;
            nft(&script).await?;
        }
    }
    Ok(())
}

/// Whether this process has seen the base table in place (checking costs two `nft`
/// runs; a failed transaction makes it check again).
static BASE_READY: AtomicBool = AtomicBool::new(false);

async fn ensure_base_once() -> Result<(), KvmError> {
    if !BASE_READY.load(Ordering::SeqCst) {
        ensure_base().await?;
        BASE_READY.store(true, Ordering::SeqCst);
    }
    Ok(())
}

/// The NIC's IPv4 lease, checked.
fn lease(nic: &NicSpec) -> Result<Option<String>, KvmError> {
    nic.ip
        .as_deref()
        .map(|ip| {
            ip.parse::<std::net::Ipv4Addr>()
                .map(|a| a.to_string())
                .map_err(|_| KvmError::BadRequest(format!("bad NIC address \"{ip}\"")))
        })
        .transpose()
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

/// Replaces the rules of a filtered NIC in one nftables transaction (its chains are
/// flushed and filled at once, so no packet passes unfiltered meanwhile); a NIC no longer
/// filtered loses its chains.
pub async fn replace_rules(nic: &NicSpec) -> Result<(), KvmError> {
    if !(nic.filtered && nic.bridge.is_some()) {
        return refresh(nic).await;
    }
    let script = nic_script(nic, lease(nic)?.as_deref())?;
    let _guard = LOCK.lock().await;
    ensure_base_once().await?;
    nft(&script).await
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

/// A NIC's chains and map elements removed in one transaction: each is added first (a
/// no-op when it is there), so that its deletion cannot fail on a missing piece.
fn removal_script(nic: &NicSpec) -> String {
    let chains = [
        chain(nic, "in"),
        chain(nic, "out"),
        chain6(nic, "in"),
        chain6(nic, "out"),
    ];
    let mut s: String = chains
        .iter()
        .map(|c| format!("add chain inet nubo {c}\n"))
        .collect();
    let mut keys = Vec::new();
    if let Some(ip) = nic.ip.as_deref()
        && let Ok(ip) = ip.parse::<std::net::Ipv4Addr>()
    {
        keys.push((ip.to_string(), "to_vm", "from_vm", &chains[0], &chains[1]));
    }
    if let Ok(mac) = mac_of(nic) {
        keys.push((mac, "to_vm6", "from_vm6", &chains[2], &chains[3]));
    }
    for (key, to, from, cin, cout) in &keys {
        s.push_str(&format!(
            "add element inet nubo {to} {{ {key} : jump {cin} }}\nadd element inet nubo {from} {{ {key} : jump {cout} }}\ndelete element inet nubo {to} {{ {key} }}\ndelete element inet nubo {from} {{ {key} }}\n"
        ));
    }
    for c in &chains {
        s.push_str(&format!("delete chain inet nubo {c}\n"));
    }
    s
}

async fn remove_one(nic: &NicSpec) {
    if nft(&removal_script(nic)).await.is_err() {
        remove_piecewise(nic).await;
    }
}

/// Removes a NIC's pieces one by one (when the transaction failed: a map element of
/// another chain for its key, or no base table).
async fn remove_piecewise(nic: &NicSpec) {
    // Each piece may be missing; each is removed on its own.
    if let Some(ip) = nic.ip.as_deref()
        && ip.parse::<std::net::Ipv4Addr>().is_ok()
    {
        let _ = nft(&format!("delete element inet nubo to_vm {{ {ip} }}\n")).await;
        let _ = nft(&format!("delete element inet nubo from_vm {{ {ip} }}\n")).await;
    }
    if let Ok(mac) = mac_of(nic) {
        let _ = nft(&format!("delete element inet nubo to_vm6 {{ {mac} }}\n")).await;
        let _ = nft(&format!("delete element inet nubo from_vm6 {{ {mac} }}\n")).await;
    }
    for c in [
        chain(nic, "in"),
        chain(nic, "out"),
        chain6(nic, "in"),
        chain6(nic, "out"),
    ] {
        let _ = nft(&format!("delete chain inet nubo {c}\n")).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nics_removal_is_one_transaction_that_cannot_miss_a_piece() {
        let nic = NicSpec {
            target: "one-3-0".into(),
            mac: "02:00:0A:63:05:0A".into(),
            ip: Some("10.99.5.10".into()),
            filtered: true,
            ..NicSpec::default()
        };
        let s = removal_script(&nic);
        let first_delete = s.find("delete").expect("deletes");
        for c in [
            "vm_one_3_0_in",
            "vm_one_3_0_out",
            "vm6_one_3_0_in",
            "vm6_one_3_0_out",
        ] {
            let add = s
                .find(&format!("add chain inet nubo {c}\n"))
                .expect("added");
            assert!(add < first_delete, "{c} is made before anything goes");
            assert!(s.contains(&format!("delete chain inet nubo {c}\n")));
        }
        assert!(s.contains("add element inet nubo to_vm { 10.99.5.10 : jump vm_one_3_0_in }"));
        assert!(s.contains("delete element inet nubo from_vm6 { 02:00:0a:63:05:0a }"));
        // Elements go before the chains they jump to.
        assert!(s.rfind("delete element").expect("e") < s.find("delete chain").expect("c"));
        let no_lease = NicSpec { ip: None, ..nic };
        assert!(!removal_script(&no_lease).contains("to_vm {"));
    }

    fn statement(rule: &FirewallRule) -> Result<Option<String>, KvmError> {
        statement_for(rule, Family::V4)
    }

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
        assert_eq!(
            statement_for(&rule("inbound", "ICMPV6", None), Family::V6)
                .expect("ok")
                .as_deref(),
            Some("meta l4proto ipv6-icmp accept")
        );
        assert!(
            statement_for(&rule("inbound", "ICMP", None), Family::V6)
                .expect("ok")
                .is_none()
        );
        // A rule naming IPv4 addresses says nothing about IPv6, and the other way round.
        let mut v6 = rule("inbound", "TCP", Some("22"));
        v6.addresses = vec!["2001:db8::1-2001:db8::9".into()];
        assert!(statement(&v6).expect("ok").is_none());
        assert_eq!(
            statement_for(&v6, Family::V6).expect("ok").as_deref(),
            Some("ip6 saddr { 2001:db8::1-2001:db8::9 } tcp dport { 22 } accept")
        );
        assert!(statement_for(&icmp, Family::V6).expect("ok").is_none());
        assert!(statement(&rule("inbound", "TCP", Some("22;rm"))).is_err());
        let mut bad = rule("inbound", "ALL", None);
        bad.addresses = vec!["10.0.0.1; flush ruleset".into()];
        assert!(statement(&bad).is_err());
    }

    #[test]
    fn a_nic_gets_two_chains_ending_in_drop_and_map_entries() {
        let nic = NicSpec {
            target: "one-7-0".into(),
            mac: "02:00:0a:00:00:07".into(),
            filtered: true,
            rules: vec![rule("inbound", "TCP", Some("80"))],
            ..NicSpec::default()
        };
        let s = nic_script(&nic, Some("10.0.0.7")).expect("script");
        assert!(s.contains("add rule inet nubo vm6_one_7_0_in tcp dport { 80 } accept\n"));
        assert!(s.contains("add rule inet nubo vm6_one_7_0_in drop\n"));
        assert!(s.contains("to_vm6 { 02:00:0a:00:00:07 : jump vm6_one_7_0_in }"));
        let v6_only = nic_script(&nic, None).expect("script");
        assert!(!v6_only.contains("to_vm {") && v6_only.contains("to_vm6"));
        let mut bad = nic.clone();
        bad.mac = "02:00:0a:00:00:07 } flush ruleset".into();
        assert!(nic_script(&bad, None).is_err());
        assert!(s.contains("add rule inet nubo vm_one_7_0_in tcp dport { 80 } accept\n"));
        assert!(s.contains("add rule inet nubo vm_one_7_0_in drop\n"));
        assert!(s.contains("add rule inet nubo vm_one_7_0_out drop\n"));
        assert!(s.contains("to_vm { 10.0.0.7 : jump vm_one_7_0_in }"));
    }
}
