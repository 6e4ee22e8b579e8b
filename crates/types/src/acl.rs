//! ACL rule encoding, exactly as OpenNebula's `AclRule`: 64-bit user, resource, rights and
//! zone specs; their text form (`@1 VM+IMAGE/* CREATE *`) both ways; and rule validation.

use crate::ObjectKind;

/// The id part of a user or resource spec: an individual id (`#id`).
pub const INDIVIDUAL_ID: u64 = 0x0000_0001_0000_0000;
/// The id part: a group id (`@gid`).
pub const GROUP_ID: u64 = 0x0000_0002_0000_0000;
/// The id part: everyone / every object (`*`).
pub const ALL_ID: u64 = 0x0000_0004_0000_0000;
/// The id part: a cluster id (`%cid`).
pub const CLUSTER_ID: u64 = 0x0000_0008_0000_0000;
/// Mask of the four id-kind bits.
pub const ID_KIND_MASK: u64 = 0x0000_000F_0000_0000;
/// Mask of the 32-bit id value.
pub const ID_VALUE_MASK: u64 = 0x0000_0000_FFFF_FFFF;
/// Mask of the resource-kind bits.
pub const RESOURCE_MASK: u64 = 0xFFFF_FFF0_0000_0000;

/// Right: USE.
pub const USE: u64 = 0x1;
/// Right: MANAGE.
pub const MANAGE: u64 = 0x2;
/// Right: ADMIN.
pub const ADMIN: u64 = 0x4;
/// Right: CREATE.
pub const CREATE: u64 = 0x8;

const RIGHTS: [(u64, &str); 4] = [
    (USE, "USE"),
    (MANAGE, "MANAGE"),
    (ADMIN, "ADMIN"),
    (CREATE, "CREATE"),
];

/// Why a rule is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    /// The user spec is wrong.
    #[error("Malformed user spec: {0}")]
    User(String),
    /// The resource spec is wrong.
    #[error("Malformed resource spec: {0}")]
    Resource(String),
    /// The rights are wrong.
    #[error("Malformed rights: {0}")]
    Rights(String),
    /// The zone spec is wrong.
    #[error("Malformed zone spec: {0}")]
    Zone(String),
    /// The text form does not have 3 or 4 space-separated parts.
    #[error("Malformed ACL rule \"{0}\": expected USER RESOURCE RIGHTS [ZONE]")]
    Shape(String),
}

fn id_kinds(spec: u64) -> u32 {
    (spec & ID_KIND_MASK).count_ones()
}

/// Checks a rule's four specs as OpenNebula's `AclRule::malformed` does.
pub fn validate(user: u64, resource: u64, rights: u64, zone: u64) -> Result<(), AclError> {
    if id_kinds(user) != 1 || user & RESOURCE_MASK != 0 {
        return Err(AclError::User(
            "it must have exactly one of #, @, %, *".into(),
        ));
    }
    if user & ALL_ID != 0 && user & ID_VALUE_MASK != 0 {
        return Err(AclError::User("* takes no id".into()));
    }
    if id_kinds(resource) != 1 {
        return Err(AclError::Resource(
            "it must have exactly one of #, @, %, *".into(),
        ));
    }
    if resource & RESOURCE_MASK == 0 {
        return Err(AclError::Resource("no resource kind".into()));
    }
    let known: u64 = ObjectKind::ALL
        .iter()
        .map(|k| k.acl_bit())
        .fold(0, |a, b| a | b);
    if resource & RESOURCE_MASK & !known != 0 {
        return Err(AclError::Resource("unknown resource kind".into()));
    }
    if resource & ALL_ID != 0 && resource & ID_VALUE_MASK != 0 {
        return Err(AclError::Resource("* takes no id".into()));
    }
    if rights == 0 || rights & !(USE | MANAGE | ADMIN | CREATE) != 0 {
        return Err(AclError::Rights(format!("{rights:#x}")));
    }
    if (zone & ID_KIND_MASK != INDIVIDUAL_ID && zone & ID_KIND_MASK != ALL_ID)
        || zone & RESOURCE_MASK != 0
        || (zone & ALL_ID != 0 && zone & ID_VALUE_MASK != 0)
    {
        return Err(AclError::Zone("it must be #id or *".into()));
    }
    Ok(())
}

fn format_id(spec: u64) -> String {
    let id = spec & ID_VALUE_MASK;
    if spec & INDIVIDUAL_ID != 0 {
        format!("#{id}")
    } else if spec & GROUP_ID != 0 {
        format!("@{id}")
    } else if spec & CLUSTER_ID != 0 {
        format!("%{id}")
    } else if spec & ALL_ID != 0 {
        "*".to_string()
    } else {
        "??".to_string()
    }
}

/// The text form of a rule, e.g. `@1 VM+IMAGE/* CREATE *`.
pub fn format_rule(user: u64, resource: u64, rights: u64, zone: u64) -> String {
    let kinds: Vec<&str> = ObjectKind::ALL
        .iter()
        .filter(|k| k.acl_bit() != 0 && resource & k.acl_bit() != 0)
        .map(|k| k.acl_name())
        .collect();
    let rights_text: Vec<&str> = RIGHTS
        .iter()
        .filter(|(bit, _)| rights & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    format!(
        "{} {}/{} {} {}",
        format_id(user),
        kinds.join("+"),
        format_id(resource),
        rights_text.join("+"),
        format_id(zone)
    )
}

fn parse_id(text: &str) -> Option<u64> {
    let value = |t: &str| t.parse::<u32>().ok().map(u64::from);
    match text.chars().next()? {
        '*' if text == "*" => Some(ALL_ID),
        '#' => value(&text[1..]).map(|v| INDIVIDUAL_ID | v),
        '@' => value(&text[1..]).map(|v| GROUP_ID | v),
        '%' => value(&text[1..]).map(|v| CLUSTER_ID | v),
        _ => None,
    }
}

/// Parses the text form `USER RESOURCE RIGHTS [ZONE]` into its four specs; the zone
/// defaults to `#0`.
pub fn parse_rule(text: &str) -> Result<(u64, u64, u64, u64), AclError> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    if !(3..=4).contains(&parts.len()) {
        return Err(AclError::Shape(text.to_string()));
    }
    let user = parse_id(parts[0]).ok_or_else(|| AclError::User(parts[0].to_string()))?;
    let (kinds, id) = parts[1]
        .split_once('/')
        .ok_or_else(|| AclError::Resource(parts[1].to_string()))?;
    let mut resource = parse_id(id).ok_or_else(|| AclError::Resource(id.to_string()))?;
    for kind in kinds.split('+') {
        let k = ObjectKind::from_acl_name(kind)
            .ok_or_else(|| AclError::Resource(format!("unknown kind {kind}")))?;
        resource |= k.acl_bit();
    }
    let mut rights = 0;
    for right in parts[2].split('+') {
        rights |= RIGHTS
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(right))
            .map(|(b, _)| *b)
            .ok_or_else(|| AclError::Rights(right.to_string()))?;
    }
    let zone = match parts.get(3) {
        Some(z) => parse_id(z).ok_or_else(|| AclError::Zone((*z).to_string()))?,
        None => INDIVIDUAL_ID,
    };
    validate(user, resource, rights, zone)?;
    Ok((user, resource, rights, zone))
}

/// Parses one spec of `acl.addrule`: a hex number, with or without `0x`.
pub fn parse_hex(text: &str) -> Option<u64> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    u64::from_str_radix(t, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rule_round_trips() {
        let text = "@1 VM+IMAGE+TEMPLATE+DOCUMENT+SECGROUP+VMGROUP/* CREATE *";
        let (u, r, ri, z) = parse_rule(text).expect("valid");
        assert_eq!(u, GROUP_ID | 1);
        assert_eq!(ri, CREATE);
        assert_eq!(z, ALL_ID);
        assert_eq!(format_rule(u, r, ri, z), text);
    }

    #[test]
    fn malformed_rules_are_refused() {
        assert!(parse_rule("#1 FOO/* USE").is_err());
        assert!(parse_rule("#1 VM/* JUMP").is_err());
        assert!(parse_rule("#1 VM/*").is_err());
        assert!(
            validate(
                INDIVIDUAL_ID | GROUP_ID,
                ObjectKind::Vm.acl_bit() | ALL_ID,
                USE,
                ALL_ID
            )
            .is_err()
        );
        assert!(validate(INDIVIDUAL_ID, ALL_ID, USE, ALL_ID).is_err());
        assert_eq!(parse_hex("0x100000001"), Some(INDIVIDUAL_ID | 1));
        assert_eq!(parse_hex("zz"), None);
    }
}
