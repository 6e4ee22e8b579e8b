//! What a container takes from its VM's context (OpenNebula's `context.sh`): the
//! environment of its init (every context variable), its hostname (SET_HOSTNAME,
//! HOSTNAME, else the VM's name), its DNS servers and each NIC's netmask and gateway
//! (`ETHn_MASK`, `ETHn_GATEWAY`, `ETHn_DNS`, `DNS`). The files themselves are mounted
//! read-only at `/context`, as OpenNebula's LXC driver mounts its context.

use std::collections::BTreeMap;

use nubo_driver::ContextSpec;

/// The largest variable passed in the environment; larger ones stay in `/context`.
const ENV_VALUE_LIMIT: usize = 32 * 1024;
/// The most the environment carries in all.
const ENV_TOTAL_LIMIT: usize = 256 * 1024;

/// One NIC's addressing from the context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NicNet {
    /// Prefix length (from ETHn_MASK).
    pub prefix: Option<u8>,
    /// Default gateway (ETHn_GATEWAY).
    pub gateway: Option<String>,
}

/// What the container takes from its context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerContext {
    /// `KEY=value` for the init's environment.
    pub env: Vec<String>,
    /// The hostname, when the context names one.
    pub hostname: Option<String>,
    /// DNS servers.
    pub dns: Vec<String>,
    /// Addressing by NIC_ID.
    pub nics: BTreeMap<i32, NicNet>,
    /// The SSH keys to install (SSH_PUBLIC_KEY).
    pub ssh_keys: Option<String>,
}

/// The variables of a `context.sh` (`KEY='value'` lines, `'\''` for a quote inside).
pub fn parse_context_sh(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let line_end = rest.find('\n').unwrap_or(rest.len());
        let Some(eq) = rest[..line_end].find('=') else {
            rest = rest.get(line_end + 1..).unwrap_or("");
            continue;
        };
        let key = rest[..eq].trim().to_string();
        let mut value = String::new();
        let mut tail = &rest[eq + 1..];
        if let Some(quoted) = tail.strip_prefix('\'') {
            tail = quoted;
            loop {
                match tail.find('\'') {
                    Some(q) => {
                        value.push_str(&tail[..q]);
                        tail = &tail[q + 1..];
                        if let Some(more) = tail.strip_prefix("\\''") {
                            value.push('\'');
                            tail = more;
                        } else {
                            break;
                        }
                    }
                    None => {
                        value.push_str(tail);
                        tail = "";
                        break;
                    }
                }
            }
            rest = match tail.find('\n') {
                Some(n) => &tail[n + 1..],
                None => "",
            };
        } else {
            let end = tail.find('\n').unwrap_or(tail.len());
            value.push_str(tail[..end].trim());
            rest = tail.get(end + 1..).unwrap_or("");
        }
        if !key.is_empty() {
            out.push((key, value));
        }
    }
    out
}

fn env_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The prefix length of a dotted netmask (`255.255.255.0` → 24).
fn prefix_of(mask: &str) -> Option<u8> {
    let bits = u32::from(mask.trim().parse::<std::net::Ipv4Addr>().ok()?);
    let len = bits.leading_ones();
    (bits.checked_shl(len).unwrap_or(0) == 0).then_some(u8::try_from(len).ok()?)
}

/// A hostname as Linux takes it: letters, digits, `-` and `.`, at most 64 bytes.
fn hostname(text: &str) -> Option<String> {
    let t = text.trim();
    let ok = !t.is_empty()
        && t.len() <= 64
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    ok.then(|| t.to_string())
}

/// What the container takes from `context` (none: nothing).
pub fn container_context(context: Option<&ContextSpec>) -> ContainerContext {
    let mut out = ContainerContext::default();
    let Some(text) = context.and_then(|c| c.files.get("context.sh")) else {
        return out;
    };
    let vars = parse_context_sh(text);
    let mut total = 0;
    for (k, v) in &vars {
        if env_name(k) && v.len() <= ENV_VALUE_LIMIT && total + k.len() + v.len() < ENV_TOTAL_LIMIT
        {
            total += k.len() + v.len() + 1;
            out.env.push(format!("{k}={v}"));
        }
    }
    let get = |name: &str| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
    out.hostname = get("SET_HOSTNAME")
        .or_else(|| get("HOSTNAME"))
        .and_then(|h| hostname(h));
    out.ssh_keys = get("SSH_PUBLIC_KEY")
        .filter(|k| !k.trim().is_empty())
        .cloned();
    let mut dns: Vec<String> = Vec::new();
    for (k, v) in &vars {
        let Some(rest) = k.strip_prefix("ETH") else {
            if k == "DNS" {
                dns.extend(v.split_whitespace().map(str::to_string));
            }
            continue;
        };
        let Some((id, what)) = rest.split_once('_') else {
            continue;
        };
        let Ok(id) = id.parse::<i32>() else { continue };
        let nic = out.nics.entry(id).or_default();
        match what {
            "MASK" => nic.prefix = prefix_of(v),
            "GATEWAY" => {
                nic.gateway = v
                    .trim()
                    .parse::<std::net::Ipv4Addr>()
                    .ok()
                    .map(|a| a.to_string())
            }
            "DNS" => dns.extend(v.split_whitespace().map(str::to_string)),
            _ => {}
        }
    }
    for d in dns {
        if d.parse::<std::net::IpAddr>().is_ok() && !out.dns.contains(&d) && out.dns.len() < 3 {
            out.dns.push(d);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_sh_is_read_as_the_core_writes_it() {
        let text = "# Context variables\nHOSTNAME='web1'\nSSH_PUBLIC_KEY='ssh-ed25519 AAAA it'\\''s-me'\nMULTI='a\nb'\nETH0_IP='10.0.0.2'\nETH0_MASK='255.255.255.0'\nETH0_GATEWAY='10.0.0.1'\nETH0_DNS='10.0.0.53 8.8.8.8'\nbad-name='x'\nPLAIN=unquoted\n";
        let vars = parse_context_sh(text);
        assert!(vars.contains(&("SSH_PUBLIC_KEY".into(), "ssh-ed25519 AAAA it's-me".into())));
        assert!(vars.contains(&("MULTI".into(), "a\nb".into())));
        assert!(vars.contains(&("PLAIN".into(), "unquoted".into())));
        let mut files = BTreeMap::new();
        files.insert("context.sh".to_string(), text.to_string());
        let ctx = container_context(Some(&ContextSpec {
            label: "CONTEXT".into(),
            files,
            target: "hda".into(),
        }));
        assert_eq!(ctx.hostname.as_deref(), Some("web1"));
        assert_eq!(ctx.dns, ["10.0.0.53", "8.8.8.8"]);
        assert_eq!(
            ctx.nics.get(&0),
            Some(&NicNet {
                prefix: Some(24),
                gateway: Some("10.0.0.1".into())
            })
        );
        assert!(ctx.env.contains(&"ETH0_IP=10.0.0.2".to_string()));
        assert!(!ctx.env.iter().any(|e| e.starts_with("bad-name")));
        assert_eq!(ctx.ssh_keys.as_deref(), Some("ssh-ed25519 AAAA it's-me"));
    }

    proptest::proptest! {
        #![proptest_config(nubo_testkit::cases(256))]

        /// Whatever a context file holds, reading it ends, keeps within its bounds and
        /// yields only names the environment takes.
        #[test]
        fn any_context_text_reads_within_bounds(text in nubo_testkit::hostile_text(), quotes in "['=\n\\a-zA-Z_0-9 ]{0,200}") {
            for t in [text.as_str(), quotes.as_str()] {
                let mut files = BTreeMap::new();
                files.insert("context.sh".to_string(), t.to_string());
                let ctx = container_context(Some(&ContextSpec { label: "CONTEXT".into(), files, target: "hda".into() }));
                let total: usize = ctx.env.iter().map(String::len).sum();
                proptest::prop_assert!(total <= ENV_TOTAL_LIMIT + ctx.env.len());
                for e in &ctx.env {
                    let name = e.split('=').next().unwrap_or_default();
                    proptest::prop_assert!(env_name(name));
                }
                proptest::prop_assert!(ctx.dns.len() <= 3);
                if let Some(h) = &ctx.hostname {
                    proptest::prop_assert!(hostname(h).is_some());
                }
            }
        }
    }

    #[test]
    fn hostile_context_text_is_harmless() {
        for text in ["'", "=", "A='", "A='x'\\'", "\n\n=\n'", "A=''\\''\\''"] {
            let _ = parse_context_sh(text);
        }
        assert_eq!(prefix_of("255.0.255.0"), None);
        assert_eq!(prefix_of("255.255.255.255"), Some(32));
        assert_eq!(prefix_of("0.0.0.0"), Some(0));
        assert_eq!(hostname("a b"), None);
        assert_eq!(hostname(&"x".repeat(65)), None);
    }
}
