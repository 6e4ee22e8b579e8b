//! The local host's apps network (`--local-host`): a Nubo virtual network whose containers
//! reach the outside world the way the host does and which nubod itself reaches.
//!
//! On start nubod, acting as oneadmin through the core's own operations, makes network
//! [`APPS_NETWORK`] unless oneadmin owns one of that name: VN_MAD `bridge` on bridge
//! [`APPS_BRIDGE`], one range of [`AR_SIZE`] IPv4 addresses from `.2` of
//! [`DEFAULT_SUBNET`]/24, `GATEWAY` `.1`, `DNS` the host's own nameservers (from
//! `/etc/resolv.conf`, else systemd-resolved's upstream list; loopback ones skipped, as a
//! container cannot reach them), MAC and IP anti-spoofing on, permissions 604 (every user
//! may put NICs on it). An existing network keeps its addresses (the host is set up for
//! its `BRIDGE`, `GATEWAY` and `NETWORK_MASK`, so updating those moves it) and gets the
//! host's current nameservers as `DNS`.
//!
//! Then, when nubod runs as root, the host: the bridge exists (made when missing; the
//! agents' drivers leave an existing bridge as it is), is up and holds the gateway address;
//! `net.ipv4.ip_forward` is 1; and nftables table `ip` [`NAT_TABLE`], replaced whole by one
//! `nft -f -` script at every start, masquerades the subnet's traffic leaving through any
//! other interface and drops new connections forwarded into the subnet from elsewhere.
//! Nothing is undone when nubod stops: the containers keep running.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use nubo_core::model::Vnet;
use nubo_core::{Caller, Core};
use nubo_types::{ONEADMIN_UID, Oid};

/// The apps network's name.
pub const APPS_NETWORK: &str = "local-apps";
/// The apps network's bridge (at most 15 bytes, as every Linux interface name).
pub const APPS_BRIDGE: &str = "nubo-apps";
/// The nftables table (family `ip`) nubod owns for the apps network.
pub const NAT_TABLE: &str = "nubo-local-nat";
/// The subnet a new apps network gets, with [`DEFAULT_PREFIX`]; the test labs use 10.213.x.
pub const DEFAULT_SUBNET: Ipv4Addr = Ipv4Addr::new(10, 247, 0, 0);
/// The new network's prefix length.
const DEFAULT_PREFIX: u8 = 24;
/// How many addresses the new network's range holds, from the subnet's `.2`.
const AR_SIZE: u32 = 250;
/// Where the host's nameservers are read, in order: the first with a usable one wins.
const RESOLV_CONFS: [&str; 2] = ["/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"];

/// Why the apps network could not be made or set up on the host.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The core refused an operation.
    #[error("{0}")]
    Core(#[from] nubo_types::Error),
    /// The existing network cannot be set up on the host.
    #[error("network {APPS_NETWORK} (id {id}) has {what}; fix or delete it")]
    Unusable {
        /// The network's id.
        id: Oid,
        /// What is wrong with it.
        what: String,
    },
    /// A command setting up the host failed.
    #[error("cannot set up the apps network on the host: {command}: {message}")]
    Command {
        /// The command line.
        command: String,
        /// Its error output, or why it did not run.
        message: String,
    },
}

type Result<T> = std::result::Result<T, NetworkError>;

/// The apps network as the host must carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppsNetwork {
    /// The network's id.
    pub id: Oid,
    /// Its bridge.
    pub bridge: String,
    /// The gateway, the bridge's address on the host.
    pub gateway: Ipv4Addr,
    /// The subnet's prefix length.
    pub prefix: u8,
}

impl AppsNetwork {
    /// The subnet's first address.
    pub fn subnet(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.gateway) & mask(self.prefix))
    }

    /// What the network's template says, or why it is unusable.
    fn of(vnet: &Vnet) -> Result<Self> {
        let attr = |name: &str| vnet.template.get(name).map(str::trim).unwrap_or("");
        Self::from_attrs(
            vnet.meta.id,
            &vnet.bridge,
            attr("GATEWAY"),
            attr("NETWORK_MASK"),
        )
    }

    /// The network of id `id` from its BRIDGE, GATEWAY and NETWORK_MASK.
    fn from_attrs(id: Oid, bridge: &str, gateway: &str, netmask: &str) -> Result<Self> {
        let unusable = |what: String| NetworkError::Unusable { id, what };
        if !valid_interface_name(bridge) {
            return Err(unusable(format!(
                "BRIDGE \"{bridge}\", not an interface name"
            )));
        }
        let gateway: Ipv4Addr = gateway
            .parse()
            .map_err(|_| unusable(format!("GATEWAY \"{gateway}\", not an IPv4 address")))?;
        let prefix = prefix_of(netmask)
            .ok_or_else(|| unusable(format!("NETWORK_MASK \"{netmask}\", not an IPv4 netmask")))?;
        if !(8..=30).contains(&prefix) {
            return Err(unusable(format!("a /{prefix} netmask (8 to 30 are taken)")));
        }
        let net = Self {
            id,
            bridge: bridge.to_string(),
            gateway,
            prefix,
        };
        let broadcast = Ipv4Addr::from(u32::from(net.subnet()) | !mask(prefix));
        if gateway == net.subnet() || gateway == broadcast {
            return Err(unusable(format!(
                "GATEWAY {gateway}, the subnet's network or broadcast address"
            )));
        }
        Ok(net)
    }
}

/// The netmask of a prefix length.
fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

/// The prefix length of a contiguous dotted netmask.
fn prefix_of(netmask: &str) -> Option<u8> {
    let bits = u32::from(netmask.parse::<Ipv4Addr>().ok()?);
    let prefix = bits.leading_ones();
    (bits.checked_shl(prefix).unwrap_or(0) == 0).then_some(prefix as u8)
}

/// A Linux interface name: 1 to 15 bytes of letters, digits, `-`, `_` and `.`, no leading
/// dot (what the agents' drivers accept).
fn valid_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The IPv4 nameservers of a resolv.conf a container can reach (loopback ones are the
/// host's own, which the container's packets never get to).
fn nameservers(resolv_conf: &str) -> Vec<Ipv4Addr> {
    resolv_conf
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next())?
        })
        .filter_map(|word| match word.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) if !ip.is_loopback() && !ip.is_unspecified() => Some(ip),
            _ => None,
        })
        .fold(Vec::new(), |mut all, ip| {
            if !all.contains(&ip) {
                all.push(ip);
            }
            all
        })
}

/// The host's nameservers containers can use: the first of [`RESOLV_CONFS`] naming any.
fn host_nameservers() -> Vec<Ipv4Addr> {
    RESOLV_CONFS
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|text| nameservers(&text))
        .find(|found| !found.is_empty())
        .unwrap_or_default()
}

/// The template of a new apps network.
fn new_template(dns: &[Ipv4Addr]) -> String {
    let net = u32::from(DEFAULT_SUBNET);
    let ip = |host: u32| Ipv4Addr::from(net + host);
    let netmask = Ipv4Addr::from(mask(DEFAULT_PREFIX));
    let mut t = format!(
        "NAME=\"{APPS_NETWORK}\"\nVN_MAD=\"bridge\"\nBRIDGE=\"{APPS_BRIDGE}\"\n\
         NETWORK_ADDRESS=\"{DEFAULT_SUBNET}\"\nNETWORK_MASK=\"{netmask}\"\nGATEWAY=\"{}\"\n\
         FILTER_IP_SPOOFING=\"YES\"\nFILTER_MAC_SPOOFING=\"YES\"\n\
         DESCRIPTION=\"The local host's apps network: outbound traffic is masqueraded by \
         the host (nftables table ip {NAT_TABLE})\"\n\
         AR=[TYPE=\"IP4\", IP=\"{}\", SIZE=\"{AR_SIZE}\"]\n",
        ip(1),
        ip(2),
    );
    if !dns.is_empty() {
        t.push_str(&format!("DNS=\"{}\"\n", join(dns)));
    }
    t
}

fn join(ips: &[Ipv4Addr]) -> String {
    ips.iter()
        .map(Ipv4Addr::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Makes the apps network unless oneadmin has one, brings its DNS up to date with the
/// host's nameservers, and returns what the host must carry.
pub async fn ensure(core: &Core, caller: &Caller) -> Result<AppsNetwork> {
    let dns = host_nameservers();
    if dns.is_empty() {
        tracing::warn!(
            "no nameserver in /etc/resolv.conf a container can reach (only loopback ones, \
             or none): containers on {APPS_NETWORK} get no DNS servers from it"
        );
    }
    // oneadmin's only: a user's network of that name is theirs to keep
    let existing = core.read(|state| {
        Ok(state
            .vnets
            .values()
            .find(|v| v.meta.name == APPS_NETWORK && v.meta.uid == ONEADMIN_UID)
            .map(|v| (**v).clone()))
    })?;
    let id = match existing {
        Some(vnet) => {
            let wanted = join(&dns);
            if !dns.is_empty() && vnet.template.get("DNS") != Some(wanted.as_str()) {
                core.vnet_update(caller, vnet.meta.id, &format!("DNS=\"{wanted}\""), 1)
                    .await?;
                tracing::info!(
                    network = APPS_NETWORK,
                    dns = %wanted,
                    "updated the apps network's DNS"
                );
            }
            vnet.meta.id
        }
        None => {
            let id = core.vnet_allocate(caller, &new_template(&dns), -1).await?;
            // u m a / u m a / u m a: the owner uses and manages, everyone uses
            core.chmod::<Vnet>(caller, id, [1, 1, 0, 0, 0, 0, 1, 0, 0])
                .await?;
            tracing::info!(network = APPS_NETWORK, id, "created the apps network");
            id
        }
    };
    let vnet = core.read(|state| Ok(state.get::<Vnet>(id)?.clone()))?;
    AppsNetwork::of(&vnet)
}

/// The nftables script that replaces table `ip` [`NAT_TABLE`] in one transaction (the
/// empty declaration makes the delete succeed when the table is not there yet).
fn nft_script(net: &AppsNetwork) -> String {
    let (bridge, subnet, prefix) = (&net.bridge, net.subnet(), net.prefix);
    format!(
        "table ip {NAT_TABLE} {{}}\n\
         delete table ip {NAT_TABLE}\n\
         table ip {NAT_TABLE} {{\n\
         \tchain postrouting {{\n\
         \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\tip saddr {subnet}/{prefix} oifname != \"{bridge}\" masquerade\n\
         \t}}\n\
         \tchain forward {{\n\
         \t\ttype filter hook forward priority filter; policy accept;\n\
         \t\tip daddr {subnet}/{prefix} iifname != \"{bridge}\" \
         ct state != {{ established, related }} drop\n\
         \t}}\n\
         }}\n"
    )
}

/// Runs `program` with `args` (and `input` on its standard input); its error output when
/// it fails.
async fn run(program: &str, args: &[&str], input: Option<&str>) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let command = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let failed = |message: String| NetworkError::Command {
        command: command.clone(),
        message,
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .await
            .map_err(|e| failed(e.to_string()))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(failed(if stderr.is_empty() {
            out.status.to_string()
        } else {
            stderr
        }))
    }
}

/// Sets the host up for the network: the bridge (made when missing) up with the gateway's
/// address, IPv4 forwarding on, and the NAT table replaced.
pub async fn set_up_host(net: &AppsNetwork) -> Result<()> {
    let bridge = net.bridge.as_str();
    if !Path::new("/sys/class/net").join(bridge).exists() {
        run(
            "ip",
            &["link", "add", "name", bridge, "type", "bridge"],
            None,
        )
        .await?;
        tracing::info!(bridge, "created the apps network's bridge");
    }
    let address = format!("{}/{}", net.gateway, net.prefix);
    run("ip", &["addr", "replace", &address, "dev", bridge], None).await?;
    run("ip", &["link", "set", "dev", bridge, "up"], None).await?;
    let forward = Path::new("/proc/sys/net/ipv4/ip_forward");
    if !std::fs::read_to_string(forward).is_ok_and(|v| v.trim() == "1") {
        std::fs::write(forward, "1\n").map_err(|e| NetworkError::Command {
            command: "sysctl net.ipv4.ip_forward=1".to_string(),
            message: e.to_string(),
        })?;
        tracing::info!("turned IPv4 forwarding on (net.ipv4.ip_forward=1)");
    }
    run("nft", &["-f", "-"], Some(&nft_script(net))).await?;
    tracing::info!(
        network = APPS_NETWORK,
        bridge,
        gateway = %net.gateway,
        subnet = %format!("{}/{}", net.subnet(), net.prefix),
        table = %format!("ip {NAT_TABLE}"),
        "the apps network's bridge and NAT are set up"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_skip_loopback_ipv6_and_repeats() {
        let text = "# generated\nnameserver 127.0.0.53\nnameserver 10.255.255.53\n\
                    nameserver ::1\nnameserver 2001:db8::1\nsearch example\n\
                    nameserver 10.255.255.53\nnameserver  192.0.2.9 \nnameserver\n";
        assert_eq!(
            nameservers(text),
            vec![Ipv4Addr::new(10, 255, 255, 53), Ipv4Addr::new(192, 0, 2, 9)]
        );
        assert!(nameservers("nameserver 127.0.0.53\noptions edns0\n").is_empty());
    }

    #[test]
    fn netmasks_become_prefixes() {
        assert_eq!(prefix_of("255.255.255.0"), Some(24));
        assert_eq!(prefix_of("255.255.0.0"), Some(16));
        assert_eq!(prefix_of("255.255.255.252"), Some(30));
        assert_eq!(prefix_of("0.0.0.0"), Some(0));
        assert_eq!(prefix_of("255.0.255.0"), None);
        assert_eq!(prefix_of("24"), None);
        assert_eq!(mask(24), 0xFFFF_FF00);
        assert_eq!(mask(0), 0);
    }

    #[test]
    fn a_network_is_taken_with_a_usable_bridge_gateway_and_mask() {
        let net =
            AppsNetwork::from_attrs(3, "nubo-apps", "10.9.8.1", "255.255.255.0").expect("usable");
        assert_eq!((net.id, net.prefix), (3, 24));
        assert_eq!(net.subnet(), Ipv4Addr::new(10, 9, 8, 0));
        for (bridge, gateway, netmask) in [
            ("a-very-long-name-x", "10.9.8.1", "255.255.255.0"),
            ("nubo-apps", "", "255.255.255.0"),
            ("nubo-apps", "10.9.8.1", ""),
            ("nubo-apps", "10.9.8.1", "255.255.255.255"),
            ("nubo-apps", "10.9.8.0", "255.255.255.0"),
            ("nubo-apps", "10.9.8.255", "255.255.255.0"),
        ] {
            let e = AppsNetwork::from_attrs(3, bridge, gateway, netmask).expect_err("unusable");
            assert!(e.to_string().contains("fix or delete it"), "{e}");
        }
    }

    #[test]
    fn the_bridge_name_fits_an_interface() {
        assert!(valid_interface_name(APPS_BRIDGE));
        assert!(!valid_interface_name("a-very-long-name-x"));
        assert!(!valid_interface_name("x; rm"));
    }

    #[test]
    fn a_new_network_is_the_default_subnet_with_the_dns_given() {
        let t = nubo_template::Template::parse(&new_template(&[Ipv4Addr::new(10, 0, 0, 53)]))
            .expect("a template");
        assert_eq!(t.get("NAME"), Some(APPS_NETWORK));
        assert_eq!(t.get("VN_MAD"), Some("bridge"));
        assert_eq!(t.get("BRIDGE"), Some(APPS_BRIDGE));
        assert_eq!(t.get("NETWORK_ADDRESS"), Some("10.247.0.0"));
        assert_eq!(t.get("NETWORK_MASK"), Some("255.255.255.0"));
        assert_eq!(t.get("GATEWAY"), Some("10.247.0.1"));
        assert_eq!(t.get("DNS"), Some("10.0.0.53"));
        let ar = t.vectors("AR").next().expect("an AR");
        assert!(ar.contains(&("IP".to_string(), "10.247.0.2".to_string())));
        assert!(ar.contains(&("SIZE".to_string(), "250".to_string())));
        assert_eq!(
            nubo_template::Template::parse(&new_template(&[]))
                .expect("a template")
                .get("DNS"),
            None
        );
    }

    #[test]
    fn the_nft_script_replaces_the_table_for_the_subnet() {
        let net = AppsNetwork {
            id: 0,
            bridge: APPS_BRIDGE.to_string(),
            gateway: Ipv4Addr::new(10, 247, 0, 1),
            prefix: 24,
        };
        assert_eq!(net.subnet(), DEFAULT_SUBNET);
        let script = nft_script(&net);
        assert!(script.starts_with(
            "table ip nubo-local-nat {}\ndelete table ip nubo-local-nat\ntable ip nubo-local-nat {"
        ));
        assert!(script.contains("ip saddr 10.247.0.0/24 oifname != \"nubo-apps\" masquerade"));
        assert!(script.contains(
            "ip daddr 10.247.0.0/24 iifname != \"nubo-apps\" \
             ct state != { established, related } drop\n"
        ));
    }
}
