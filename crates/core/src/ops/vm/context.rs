//! OpenNebula's context variables, replaced in a new VM's CONTEXT once its NICs and disks
//! are taken: `$NAME` (an attribute of the VM's template), `$NAME[KEY]` (a key of its
//! first vector NAME, or of the one that matches: `$NIC[IP, NETWORK="lan"]`), `$USER[KEY]`
//! (the owner's template), `$NETWORK[KEY, NETWORK_ID=3]` or `NETWORK="lan"` (a virtual
//! network's attribute), and `$UID`, `$UNAME`, `$GID`, `$GNAME`, `$VMID`. What names
//! nothing becomes empty, as in OpenNebula.

use nubo_template::Value;

use crate::model::{User, Vm, Vnet};
use crate::state::State;

/// One `$…` reference.
#[derive(Debug, PartialEq, Eq)]
struct Reference {
    name: String,
    key: Option<String>,
    filter: Option<(String, String)>,
}

/// Replaces every reference in the VM's CONTEXT values.
pub(super) fn substitute(state: &State, vm: &mut Vm) {
    let Some(pos) = vm.template.attrs.iter().position(|a| a.name == "CONTEXT") else {
        return;
    };
    let Value::Vector(pairs) = &vm.template.attrs[pos].value else {
        return;
    };
    if !pairs.iter().any(|(_, v)| v.contains('$')) {
        return;
    }
    let replaced: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.clone(), expand(v, &|r| resolve(state, vm, r))))
        .collect();
    vm.template.attrs[pos].value = Value::Vector(replaced);
}

/// `text` with every reference replaced by what `look` finds for it.
fn expand(text: &str, look: &dyn Fn(&Reference) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match parse(after) {
            Some((reference, used)) => {
                out.push_str(&look(&reference).unwrap_or_default());
                rest = &after[used..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Reads `NAME` or `NAME[KEY]` or `NAME[KEY, K=V]` (V quoted or not); the reference and
/// the bytes it took.
fn parse(text: &str) -> Option<(Reference, usize)> {
    let name_len = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    if name_len == 0 {
        return None;
    }
    let name = text[..name_len].to_ascii_uppercase();
    let rest = &text[name_len..];
    if !rest.starts_with('[') {
        return Some((
            Reference {
                name,
                key: None,
                filter: None,
            },
            name_len,
        ));
    }
    let close = rest.find(']')?;
    let inside = &rest[1..close];
    let mut parts = inside.splitn(2, ',');
    let key = parts.next()?.trim().to_ascii_uppercase();
    let filter = parts.next().and_then(|f| {
        let (k, v) = f.split_once('=')?;
        Some((
            k.trim().to_ascii_uppercase(),
            v.trim().trim_matches('"').to_string(),
        ))
    });
    Some((
        Reference {
            name,
            key: Some(key),
            filter,
        },
        name_len + close + 1,
    ))
}

fn resolve(state: &State, vm: &Vm, r: &Reference) -> Option<String> {
    let owner = state.users.get(&vm.meta.uid);
    match (r.name.as_str(), &r.key) {
        ("UID", None) => Some(vm.meta.uid.to_string()),
        ("UNAME", None) => Some(vm.meta.uname.clone()),
        ("GID", None) => Some(vm.meta.gid.to_string()),
        ("GNAME", None) => Some(vm.meta.gname.clone()),
        ("VMID", None) => Some(vm.meta.id.to_string()),
        ("USER", Some(key)) => {
            owner.and_then(|u: &std::sync::Arc<User>| u.template.get(key).map(str::to_string))
        }
        ("NETWORK", Some(key)) => network(state, r.filter.as_ref()?, key),
        (name, None) => vm
            .template
            .get(name)
            .or_else(|| vm.user_template.get(name))
            .map(str::to_string),
        (name, Some(key)) => vm
            .template
            .vectors(name)
            .find(|pairs| {
                r.filter.as_ref().is_none_or(|(k, v)| {
                    pairs
                        .iter()
                        .any(|(pk, pv)| pk.eq_ignore_ascii_case(k) && pv == v)
                })
            })
            .and_then(|pairs| {
                pairs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v.clone())
            }),
    }
}

/// An attribute of the network that `filter` names (NETWORK_ID=n or NETWORK="name").
fn network(state: &State, filter: &(String, String), key: &str) -> Option<String> {
    let net: &Vnet = match filter.0.as_str() {
        "NETWORK_ID" => state.vnets.get(&filter.1.parse().ok()?)?,
        "NETWORK" => state.vnets.values().find(|n| n.meta.name == filter.1)?,
        _ => return None,
    };
    match key {
        "ID" | "NETWORK_ID" => Some(net.meta.id.to_string()),
        "NAME" => Some(net.meta.name.clone()),
        "BRIDGE" => Some(net.bridge.clone()),
        "VN_MAD" => Some(net.vn_mad.clone()),
        "VLAN_ID" => net.vlan_id.clone(),
        other => net.template.get(other).map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(r: &Reference) -> Option<String> {
        match (r.name.as_str(), r.key.as_deref(), &r.filter) {
            ("UNAME", None, None) => Some("alice".into()),
            ("USER", Some("SSH_PUBLIC_KEY"), None) => Some("ssh-ed25519 AAAA".into()),
            ("NIC", Some("IP"), Some((k, v))) if k == "NETWORK" && v == "lan" => {
                Some("10.0.0.2".into())
            }
            _ => None,
        }
    }

    #[test]
    fn references_are_replaced_and_unknown_ones_emptied() {
        assert_eq!(expand("$USER[SSH_PUBLIC_KEY]", &look), "ssh-ed25519 AAAA");
        assert_eq!(expand("hi $UNAME!", &look), "hi alice!");
        assert_eq!(
            expand(r#"ip=$NIC[IP, NETWORK="lan"];"#, &look),
            "ip=10.0.0.2;"
        );
        assert_eq!(expand("$NOPE-x", &look), "-x");
        assert_eq!(expand("cost: 5$ or $", &look), "cost: 5$ or $");
        assert_eq!(expand("no refs", &look), "no refs");
    }

    #[test]
    fn references_parse_with_and_without_a_filter() {
        let (r, used) = parse("NETWORK[DNS, NETWORK_ID=3] rest").expect("parses");
        assert_eq!(used, "NETWORK[DNS, NETWORK_ID=3]".len());
        assert_eq!(r.key.as_deref(), Some("DNS"));
        assert_eq!(r.filter, Some(("NETWORK_ID".into(), "3".into())));
        assert_eq!(
            parse("UID").map(|(r, n)| (r.name, n)),
            Some(("UID".into(), 3))
        );
        assert!(parse("[x]").is_none());
    }
}
