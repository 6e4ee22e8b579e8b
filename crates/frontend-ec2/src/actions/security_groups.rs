//! Security groups are Nubo security groups; an IpPermission is one `RULE` per address
//! range or group (`RULE_TYPE` inbound for ingress, outbound for egress; `PROTOCOL`;
//! `RANGE` of ports; `IP`/`SIZE` from a CIDR (`0.0.0.0/0` is 2^32 - 1 addresses from
//! 0.0.0.0, `::/0` 2^128 - 1 from ::, the most `SIZE` says: every address of the family),
//! or `REMOTE_GROUP_ID` for a group pair; `ICMP_TYPE`). A rule without `IP` lets in every
//! address, so EC2 shows it as both `0.0.0.0/0` and `::/0` (an ICMP rule only as the
//! first, an ICMPv6 one only as the second), and revoking one of them leaves a rule for
//! the other. A new group allows all egress, as on EC2. Changes reach the
//! group's VMs at once (the group is committed).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use nubo_core::PoolFilter;
use nubo_core::model::SecGroup;
use nubo_core::ops::secgroup::REMOTE_GROUP_ID;
use nubo_template::{Attribute, Template};
use nubo_types::AuthOp;

use crate::error::{Ec2Error, Ec2Result, state_refused};
use crate::filters::{Facts, Filters, tag_facts};
use crate::ids::{self, SECURITY_GROUP};
use crate::paging::Page;
use crate::params::Params;
use crate::tags;
use crate::xml::Xml;

use super::{Ctx, tag_specifications};

/// (ipProtocol, fromPort, toPort) of an IpPermission.
type Ports = (String, Option<i64>, Option<i64>);

/// One Nubo rule, as the fields EC2 can express.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    outbound: bool,
    /// TCP, UDP, ICMP, ICMPV6 or ALL.
    protocol: String,
    /// `RANGE` (`22`, `1000:2000`), none for every port.
    range: Option<String>,
    /// `ICMP_TYPE` / `ICMPV6_TYPE`.
    icmp_type: Option<String>,
    /// Whom the rule lets in (or out to).
    peer: Peer,
    description: String,
}

/// The other end of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Peer {
    /// Any address, IPv4 or IPv6 (no `IP`).
    Any,
    /// `IP` and `SIZE`, a CIDR block of either family (/0 is [`Family::all`] addresses
    /// from the family's first address).
    Range(IpAddr, u128),
    /// The VMs of another group (`REMOTE_GROUP_ID`).
    Group(i32),
}

impl Rule {
    /// The rule, when EC2 can express it: only the keys below, an `IP` with its `SIZE`.
    /// Other rules (a `NETWORK_ID`, say) are left alone by every EC2 call.
    fn from_pairs(pairs: &[(String, String)]) -> Option<Rule> {
        const KNOWN: &[&str] = &[
            "PROTOCOL",
            "RULE_TYPE",
            "RANGE",
            "ICMP_TYPE",
            "ICMPV6_TYPE",
            "IP",
            "SIZE",
            REMOTE_GROUP_ID,
            "DESCRIPTION",
        ];
        if pairs
            .iter()
            .any(|(k, _)| !KNOWN.iter().any(|n| n.eq_ignore_ascii_case(k)))
        {
            return None;
        }
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        // Only whole CIDR blocks: other ranges would be shown as something else.
        let peer = match (get("IP"), get("SIZE"), get(REMOTE_GROUP_ID)) {
            (Some(ip), Some(size), None) => {
                let ip: IpAddr = ip.parse().ok()?;
                let size: u128 = size.parse().ok()?;
                let all = Family::of(&ip).all();
                let whole = size == all && ip.is_unspecified();
                let block = size <= all && size.is_power_of_two() && number(ip) & (size - 1) == 0;
                (whole || block).then_some(Peer::Range(ip, size))?
            }
            (None, None, Some(group)) => Peer::Group(group.parse().ok()?),
            (None, None, None) => Peer::Any,
            _ => return None,
        };
        Some(Rule {
            outbound: get("RULE_TYPE")?.eq_ignore_ascii_case("outbound"),
            protocol: get("PROTOCOL")?.to_ascii_uppercase(),
            range: get("RANGE"),
            icmp_type: get("ICMP_TYPE").or_else(|| get("ICMPV6_TYPE")),
            peer,
            description: get("DESCRIPTION").unwrap_or_default(),
        })
    }

    fn to_attribute(&self) -> Attribute {
        let mut pairs = vec![
            ("PROTOCOL".to_string(), self.protocol.clone()),
            (
                "RULE_TYPE".to_string(),
                if self.outbound { "outbound" } else { "inbound" }.to_string(),
            ),
        ];
        if let Some(r) = &self.range {
            pairs.push(("RANGE".into(), r.clone()));
        }
        if let Some(t) = &self.icmp_type {
            let key = if self.protocol == "ICMPV6" {
                "ICMPV6_TYPE"
            } else {
                "ICMP_TYPE"
            };
            pairs.push((key.into(), t.clone()));
        }
        match self.peer {
            Peer::Any => {}
            Peer::Range(ip, size) => {
                pairs.push(("IP".into(), ip.to_string()));
                pairs.push(("SIZE".into(), size.to_string()));
            }
            Peer::Group(id) => pairs.push((REMOTE_GROUP_ID.into(), id.to_string())),
        }
        if !self.description.is_empty() {
            pairs.push(("DESCRIPTION".into(), self.description.clone()));
        }
        Attribute::vector("RULE", pairs)
    }

    /// The rule as EC2 sees it: a rule for any address is one for all IPv4 addresses and
    /// one for all IPv6 addresses, but for the one family its protocol has (ICMP is
    /// IPv4's, ICMPv6 IPv6's).
    fn shown(&self) -> Vec<Rule> {
        let families: &[Peer] = match self.protocol.as_str() {
            "ICMP" => &[ANY_V4],
            "ICMPV6" => &[ANY_V6],
            _ => &[ANY_V4, ANY_V6],
        };
        match self.peer {
            Peer::Any => families
                .iter()
                .cloned()
                .map(|peer| Rule {
                    peer,
                    ..self.clone()
                })
                .collect(),
            _ => vec![self.clone()],
        }
    }

    /// Same rule, descriptions aside.
    fn same(&self, other: &Rule) -> bool {
        Rule {
            description: String::new(),
            ..self.clone()
        } == Rule {
            description: String::new(),
            ..other.clone()
        }
    }

    /// (ipProtocol, fromPort, toPort) of the rule.
    fn ports(&self) -> Ports {
        let proto = match self.protocol.as_str() {
            "TCP" => "tcp",
            "UDP" => "udp",
            "ICMP" => "icmp",
            "ICMPV6" => "icmpv6",
            _ => "-1",
        }
        .to_string();
        match self.protocol.as_str() {
            "TCP" | "UDP" => match self
                .range
                .as_deref()
                .map(|r| r.split_once(':').unwrap_or((r, r)))
            {
                Some((a, b)) => (proto, a.trim().parse().ok(), b.trim().parse().ok()),
                None => (proto, Some(0), Some(65535)),
            },
            "ICMP" | "ICMPV6" => {
                let t = self
                    .icmp_type
                    .as_deref()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(-1);
                (proto, Some(t), Some(-1))
            }
            _ => (proto, None, None),
        }
    }

    /// The rule's CIDR, if it names addresses.
    fn cidr(&self) -> Option<String> {
        let Peer::Range(ip, size) = self.peer else {
            return None;
        };
        // The prefix whose block is the smallest holding `size` addresses.
        let bits = (size.max(1) - 1).leading_zeros() - (128 - Family::of(&ip).bits());
        Some(format!("{ip}/{bits}"))
    }

    /// Whether the rule names IPv6 addresses.
    fn is_v6(&self) -> bool {
        matches!(self.peer, Peer::Range(IpAddr::V6(_), _))
    }

    /// The rule's peer as a message names it: a CIDR or a group id.
    fn peer_text(&self) -> String {
        match self.peer {
            Peer::Group(id) => SECURITY_GROUP.id(id),
            _ => self.cidr().unwrap_or_default(),
        }
    }
}

/// Every IPv4 address (0.0.0.0/0).
const ANY_V4: Peer = Peer::Range(IpAddr::V4(Ipv4Addr::UNSPECIFIED), u32::MAX as u128);
/// Every IPv6 address (::/0).
const ANY_V6: Peer = Peer::Range(IpAddr::V6(Ipv6Addr::UNSPECIFIED), u128::MAX);

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn of(ip: &IpAddr) -> Family {
        if ip.is_ipv4() { Family::V4 } else { Family::V6 }
    }

    /// Bits of an address.
    fn bits(self) -> u32 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    /// The most addresses `SIZE` says (2^32 - 1 or 2^128 - 1): from the family's first
    /// address, every address.
    fn all(self) -> u128 {
        u128::MAX >> (128 - self.bits())
    }

    /// The address `n`.
    fn address(self, n: u128) -> IpAddr {
        match self {
            Family::V4 => Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)).into(),
            Family::V6 => Ipv6Addr::from(n).into(),
        }
    }
}

/// An address as a number.
fn number(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a).into(),
        IpAddr::V6(a) => a.into(),
    }
}

/// The group's rules as EC2 sees them (see [`Rule::shown`]).
fn rules_of(t: &Template) -> Vec<Rule> {
    t.vectors("RULE")
        .filter_map(Rule::from_pairs)
        .flat_map(|r| r.shown())
        .collect()
}

fn malformed(message: impl Into<String>) -> Ec2Error {
    Ec2Error::client("InvalidParameterValue", message)
}

/// A CIDR of `family` as (network address, number of addresses; /0 is every address of
/// the family, [`Family::all`] from its first).
fn parse_cidr(cidr: &str, family: Family) -> Ec2Result<(IpAddr, u128)> {
    let name = if family == Family::V4 { "IPv4" } else { "IPv6" };
    let bad = || malformed(format!("Invalid {name} CIDR '{cidr}'"));
    let (ip, bits) = cidr.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = ip
        .parse()
        .ok()
        .filter(|ip| Family::of(ip) == family)
        .ok_or_else(bad)?;
    let bits: u32 = bits
        .parse()
        .ok()
        .filter(|b| *b <= family.bits())
        .ok_or_else(bad)?;
    if bits == 0 {
        return Ok((family.address(0), family.all()));
    }
    let host = family.bits() - bits;
    Ok((family.address(number(ip) >> host << host), 1u128 << host))
}

/// The rules an `IpPermissions.N` (or the legacy flat parameters) asks for; `group` finds
/// the group a `Groups.M` pair names (by `GroupId` or `GroupName`).
fn requested_rules(
    p: &Params,
    outbound: bool,
    group: &dyn Fn(&Params) -> Ec2Result<i32>,
) -> Ec2Result<Vec<Rule>> {
    let mut perms = p.structs("IpPermissions");
    if perms.is_empty() && p.get("IpProtocol").is_some() {
        // The legacy form: IpProtocol, FromPort, ToPort, CidrIp.
        let mut pairs = Vec::new();
        for k in ["IpProtocol", "FromPort", "ToPort"] {
            if let Some(v) = p.get(k) {
                pairs.push((k.to_string(), v.to_string()));
            }
        }
        if let Some(c) = p.get("CidrIp") {
            pairs.push(("IpRanges.1.CidrIp".into(), c.to_string()));
        }
        perms.push(Params::from_pairs(pairs));
    }
    if perms.is_empty() {
        return Err(Ec2Error::missing("IpPermissions"));
    }
    let mut out = Vec::new();
    for perm in perms {
        if !perm.structs("PrefixListIds").is_empty() {
            return Err(malformed(
                "Rules that name prefix lists are not supported; use CIDR ranges",
            ));
        }
        let proto_text = perm
            .required("IpProtocol")
            .map_err(|_| Ec2Error::missing("IpPermissions.N.IpProtocol"))?;
        let protocol = match proto_text.to_ascii_lowercase().as_str() {
            "tcp" | "6" => "TCP",
            "udp" | "17" => "UDP",
            "icmp" | "1" => "ICMP",
            "icmpv6" | "58" => "ICMPV6",
            "-1" | "all" => "ALL",
            other => return Err(malformed(format!("Invalid IP protocol '{other}'"))),
        };
        let from = perm.int("FromPort")?;
        let to = perm.int("ToPort")?;
        let (range, icmp_type) = match protocol {
            "TCP" | "UDP" => {
                let (from, to) = match (from, to) {
                    (Some(f), Some(t)) => (f, t),
                    _ => return Err(Ec2Error::missing("IpPermissions.N.FromPort and ToPort")),
                };
                if !(0..=65535).contains(&from) || !(0..=65535).contains(&to) || from > to {
                    if from == -1 && to == -1 {
                        (None, None)
                    } else {
                        return Err(malformed(format!("Invalid port range {from}-{to}")));
                    }
                } else if from == 0 && to == 65535 {
                    (None, None)
                } else if from == to {
                    (Some(from.to_string()), None)
                } else {
                    (Some(format!("{from}:{to}")), None)
                }
            }
            "ICMP" | "ICMPV6" => match from {
                Some(t) if t >= 0 => (None, Some(t.to_string())),
                _ => (None, None),
            },
            _ => (None, None),
        };
        let mut peers: Vec<(Peer, String)> = Vec::new();
        let ranges = [
            ("IpRanges", "CidrIp", Family::V4),
            ("Ipv6Ranges", "CidrIpv6", Family::V6),
        ];
        for (list, key, family) in ranges {
            for r in perm.structs(list) {
                let cidr = r
                    .required(key)
                    .map_err(|_| Ec2Error::missing(&format!("{list}.N.{key}")))?;
                let (ip, size) = parse_cidr(cidr, family)?;
                peers.push((
                    Peer::Range(ip, size),
                    r.get("Description").unwrap_or("").to_string(),
                ));
            }
        }
        for g in perm.structs("Groups") {
            peers.push((
                Peer::Group(group(&g)?),
                g.get("Description").unwrap_or("").to_string(),
            ));
        }
        if peers.is_empty() {
            // As EC2's legacy form: no CidrIp is 0.0.0.0/0.
            peers.push((ANY_V4, String::new()));
        }
        for (peer, description) in peers {
            out.push(Rule {
                outbound,
                protocol: protocol.to_string(),
                range: range.clone(),
                icmp_type: icmp_type.clone(),
                peer,
                description,
            });
        }
    }
    Ok(out)
}

struct Group {
    sg: Arc<SecGroup>,
    tags: Vec<(String, String)>,
}

impl Group {
    fn description(&self) -> &str {
        self.sg.template.get("DESCRIPTION").unwrap_or("")
    }
}

impl Facts for Group {
    fn facts(&self, name: &str) -> Option<Vec<String>> {
        Some(match name {
            "group-id" => vec![SECURITY_GROUP.id(self.sg.meta.id)],
            "group-name" => vec![self.sg.meta.name.clone()],
            "description" => vec![self.description().to_string()],
            "owner-id" => vec![ids::account(self.sg.meta.uid)],
            n => return tag_facts(&self.tags, n),
        })
    }
}

fn visible(ctx: &Ctx) -> Ec2Result<Vec<Group>> {
    Ok(seen(ctx)?
        .into_iter()
        .map(|sg| Group {
            tags: tags::read(&sg.template),
            sg,
        })
        .collect())
}

/// `InvalidGroup.NotFound` for `what` (an id or a name).
pub fn not_found(what: &str) -> Ec2Error {
    SECURITY_GROUP.unknown_id(what)
}

/// Every group the caller sees.
fn seen(ctx: &Ctx) -> Ec2Result<Vec<Arc<SecGroup>>> {
    Ok(ctx
        .core
        .pool_info::<SecGroup>(&ctx.caller, PoolFilter::ALL)?)
}

/// The group a request names by `GroupId` or `GroupName` (the caller's own first), among
/// `groups`.
fn target(ctx: &Ctx, groups: &[Arc<SecGroup>], p: &Params) -> Ec2Result<Arc<SecGroup>> {
    if let Some(text) = p.get("GroupId").filter(|g| !g.is_empty()) {
        return by_id(groups, text).cloned();
    }
    let name = p
        .get("GroupName")
        .filter(|g| !g.is_empty())
        .ok_or_else(|| Ec2Error::missing("GroupId"))?;
    by_name(ctx, groups, name).cloned()
}

/// The group `text` (`sg-…`) among `groups`.
fn by_id<'a>(groups: &'a [Arc<SecGroup>], text: &str) -> Ec2Result<&'a Arc<SecGroup>> {
    let id = SECURITY_GROUP.parse(text)?;
    groups
        .iter()
        .find(|g| g.meta.id == id)
        .ok_or_else(|| not_found(text))
}

/// The group called `name` among `groups` that the caller means: its own first, then the
/// oldest.
fn by_name<'a>(ctx: &Ctx, groups: &'a [Arc<SecGroup>], name: &str) -> Ec2Result<&'a Arc<SecGroup>> {
    groups
        .iter()
        .filter(|g| g.meta.name == name)
        .min_by_key(|g| (g.meta.uid != ctx.caller.uid, g.meta.id))
        .ok_or_else(|| not_found(name))
}

/// The groups a launch names by `SecurityGroupId.N` (ids) and `SecurityGroup.N` (names),
/// which the caller must be able to use.
pub fn requested_ids(ctx: &Ctx, p: &Params) -> Ec2Result<Vec<i32>> {
    let groups = seen(ctx)?;
    let mut out = Vec::new();
    for text in p.list("SecurityGroupId") {
        out.push(by_id(&groups, text)?.meta.id);
    }
    for name in p.list("SecurityGroup") {
        out.push(by_name(ctx, &groups, name)?.meta.id);
    }
    out.dedup();
    Ok(out)
}

/// The group a rule's `Groups.M` pair names by `GroupId` or `GroupName`: to be added, one
/// the caller may use; to be removed, any id (a rule may outlive the caller's access to
/// the group it names).
fn peer_group(ctx: &Ctx, groups: &[Arc<SecGroup>], pair: &Params, adding: bool) -> Ec2Result<i32> {
    if !adding && let Some(text) = pair.get("GroupId").filter(|t| !t.is_empty()) {
        return SECURITY_GROUP.parse(text);
    }
    let id = match (pair.get("GroupId"), pair.get("GroupName")) {
        (Some(text), _) if !text.is_empty() => by_id(groups, text)?.meta.id,
        (_, Some(name)) if !name.is_empty() => by_name(ctx, groups, name)?.meta.id,
        _ => return Err(Ec2Error::missing("IpPermissions.N.Groups.M.GroupId")),
    };
    if adding {
        ctx.may::<SecGroup>(id, AuthOp::Use)?;
    }
    Ok(id)
}

/// CreateSecurityGroup.
pub async fn create(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let name = p.required("GroupName")?;
    let description = p.required("GroupDescription")?;
    if name.len() > 255 || description.len() > 255 {
        return Err(malformed(
            "GroupName and GroupDescription must be at most 255 characters",
        ));
    }
    if visible(ctx)?
        .iter()
        .any(|g| g.sg.meta.name == name && g.sg.meta.uid == ctx.caller.uid)
    {
        return Err(Ec2Error::client(
            "InvalidGroup.Duplicate",
            format!("The security group '{name}' already exists"),
        ));
    }
    let mut t = Template::new();
    t.set("NAME", name);
    t.set("DESCRIPTION", description);
    t.push(
        Rule {
            outbound: true,
            protocol: "ALL".into(),
            range: None,
            icmp_type: None,
            peer: Peer::Any,
            description: String::new(),
        }
        .to_attribute(),
    );
    let tags = tag_specifications(p, "security-group")?;
    tags::add(&mut t, &tags)?;
    ctx.proceed()?;
    let id = ctx
        .core
        .secgroup_allocate(&ctx.caller, &t.to_text())
        .await
        .map_err(|e| match e {
            nubo_types::Error::Allocate { message, .. }
                if message.contains("already") || message.contains("taken") =>
            {
                Ec2Error::client(
                    "InvalidGroup.Duplicate",
                    format!("The security group '{name}' already exists"),
                )
            }
            other => other.into(),
        })?;
    x.text("groupId", &SECURITY_GROUP.id(id)).tags(&tags);
    Ok(())
}

/// DescribeSecurityGroups.
pub fn describe(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let filters = Filters::parse(p)?;
    filters.check(&|n| {
        n.starts_with("tag:")
            || matches!(
                n,
                "group-id" | "group-name" | "description" | "owner-id" | "tag-key" | "tag-value"
            )
    })?;
    let page = Page::parse(p, 5, 1000)?;
    let groups = visible(ctx)?;
    let names = p.list("GroupName");
    let ids = SECURITY_GROUP.known(
        &p.list("GroupId"),
        |id| groups.iter().any(|g| g.sg.meta.id == id),
        not_found,
    )?;
    for n in &names {
        if !groups.iter().any(|g| g.sg.meta.name == *n) {
            return Err(not_found(n));
        }
    }
    if (!ids.is_empty() || !names.is_empty()) && page.limited() {
        return Err(Ec2Error::client(
            "InvalidParameterCombination",
            "MaxResults cannot be used with GroupIds or GroupNames",
        ));
    }
    let chosen: Vec<&Group> = groups
        .iter()
        .filter(|g| ids.is_empty() || ids.contains(&g.sg.meta.id))
        .filter(|g| names.is_empty() || names.contains(&g.sg.meta.name.as_str()))
        .filter(|g| filters.matches(*g))
        .collect();
    let owners: HashMap<i32, i32> = groups
        .iter()
        .map(|g| (g.sg.meta.id, g.sg.meta.uid))
        .collect();
    let (chosen, next) = page.cut(chosen);
    x.list("securityGroupInfo", chosen, |x, g| {
        let rules = rules_of(&g.sg.template);
        x.text("ownerId", &ids::account(g.sg.meta.uid))
            .text("groupId", &SECURITY_GROUP.id(g.sg.meta.id))
            .text("groupName", &g.sg.meta.name)
            .text("groupDescription", g.description());
        write_permissions(
            x,
            "ipPermissions",
            rules.iter().filter(|r| !r.outbound),
            &owners,
        );
        write_permissions(
            x,
            "ipPermissionsEgress",
            rules.iter().filter(|r| r.outbound),
            &owners,
        );
        x.tags(&g.tags);
    });
    x.opt("nextToken", next.as_deref());
    Ok(())
}

/// Rules grouped by (protocol, ports) into IpPermissions with their ranges and groups
/// (`owners`: the owner of each group the caller sees).
fn write_permissions<'a>(
    x: &mut Xml,
    name: &str,
    rules: impl Iterator<Item = &'a Rule>,
    owners: &HashMap<i32, i32>,
) {
    let mut perms: Vec<(Ports, Vec<&Rule>)> = Vec::new();
    for r in rules {
        let key = r.ports();
        match perms.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(r),
            None => perms.push((key, vec![r])),
        }
    }
    x.list(name, perms, |x, ((proto, from, to), members)| {
        x.text("ipProtocol", &proto);
        if let Some(f) = from {
            x.num("fromPort", f);
        }
        if let Some(t) = to {
            x.num("toPort", t);
        }
        let (groups, ranges): (Vec<&Rule>, Vec<&Rule>) = members
            .into_iter()
            .partition(|r| matches!(r.peer, Peer::Group(_)));
        let (ranges6, ranges): (Vec<&Rule>, Vec<&Rule>) =
            ranges.into_iter().partition(|r| r.is_v6());
        x.list("groups", groups, |x, r| {
            if let Peer::Group(id) = r.peer {
                x.opt(
                    "userId",
                    owners.get(&id).map(|uid| ids::account(*uid)).as_deref(),
                )
                .text("groupId", &SECURITY_GROUP.id(id));
            }
            if !r.description.is_empty() {
                x.text("description", &r.description);
            }
        })
        .list("ipRanges", ranges, |x, r| {
            x.text("cidrIp", &r.cidr().unwrap_or_default());
            if !r.description.is_empty() {
                x.text("description", &r.description);
            }
        })
        .list("ipv6Ranges", ranges6, |x, r| {
            x.text("cidrIpv6", &r.cidr().unwrap_or_default());
            if !r.description.is_empty() {
                x.text("description", &r.description);
            }
        })
        .empty("prefixListIds");
    });
}

/// What an edit does to a group's rules.
enum RuleEdit {
    /// Add these, none of which may exist already.
    Add(Vec<Rule>),
    /// Remove these, each of which must exist.
    Remove(Vec<Rule>),
}

/// Edits the group's rules in one write, then brings its VMs up to date.
async fn edit_rules(ctx: &Ctx, id: i32, change: RuleEdit) -> Ec2Result<()> {
    ctx.edit::<SecGroup, _>(id, move |t| apply(t, change))
        .await?;
    ctx.core.secgroup_commit(&ctx.caller, id, false).await?;
    Ok(())
}

/// Applies `change` to a group's template. Only rules EC2 can express are matched; every
/// other `RULE` stays as it is. Revoking one family from a rule for any address leaves a
/// rule for the other.
fn apply(t: &mut Template, change: RuleEdit) -> Ec2Result<()> {
    // Index by index as `remove("RULE")` gives them back below.
    let existing: Vec<Option<Rule>> = t
        .get_all("RULE")
        .map(|a| a.value.as_vector().and_then(Rule::from_pairs))
        .collect();
    let mut gone = vec![false; existing.len()];
    let mut added: Vec<Rule> = Vec::new();
    match change {
        RuleEdit::Add(rules) => {
            for r in rules {
                let shown = existing.iter().flatten().flat_map(Rule::shown);
                if shown.chain(added.iter().cloned()).any(|e| e.same(&r)) {
                    return Err(Ec2Error::client(
                        "InvalidPermission.Duplicate",
                        format!(
                            "the specified rule \"peer: {}, {}, ALLOW\" already exists",
                            r.peer_text(),
                            r.protocol
                        ),
                    ));
                }
                added.push(r);
            }
        }
        RuleEdit::Remove(rules) => {
            for r in rules {
                // What is left of a rule for any address, revoked before.
                if let Some(n) = added.iter().position(|a| a.same(&r)) {
                    added.remove(n);
                    continue;
                }
                let at = existing.iter().enumerate().find_map(|(n, e)| {
                    e.as_ref()
                        .filter(|e| !gone[n] && e.shown().iter().any(|s| s.same(&r)))
                        .map(|e| (n, e))
                });
                match at {
                    Some((n, e)) => {
                        gone[n] = true;
                        added.extend(e.shown().into_iter().filter(|s| !s.same(&r)));
                    }
                    None => {
                        return Err(Ec2Error::client(
                            "InvalidPermission.NotFound",
                            format!(
                                "The specified rule does not exist in this security group ({} {})",
                                r.protocol,
                                r.peer_text()
                            ),
                        ));
                    }
                }
            }
        }
    }
    let kept: Vec<Attribute> = t
        .remove("RULE")
        .into_iter()
        .zip(gone)
        .filter_map(|(a, g)| (!g).then_some(a))
        .collect();
    for a in kept.into_iter().chain(added.iter().map(Rule::to_attribute)) {
        t.push(a);
    }
    Ok(nubo_core::ops::secgroup::check_rules(t)?)
}

/// AuthorizeSecurityGroupIngress / AuthorizeSecurityGroupEgress.
pub async fn authorize(ctx: &Ctx, p: &Params, x: &mut Xml, outbound: bool) -> Ec2Result<()> {
    let groups = seen(ctx)?;
    let sg = target(ctx, &groups, p)?;
    let wanted = requested_rules(p, outbound, &|g| peer_group(ctx, &groups, g, true))?;
    ctx.may::<SecGroup>(sg.meta.id, AuthOp::Manage)?;
    ctx.proceed()?;
    let shown = wanted.clone();
    let owners: HashMap<i32, i32> = groups.iter().map(|g| (g.meta.id, g.meta.uid)).collect();
    edit_rules(ctx, sg.meta.id, RuleEdit::Add(wanted)).await?;
    x.flag("return", true).list(
        "securityGroupRuleSet",
        shown.iter().enumerate(),
        |x, (n, r)| {
            let (proto, from, to) = r.ports();
            x.text(
                "securityGroupRuleId",
                &format!("sgr-{:08}{n:02}", sg.meta.id),
            )
            .text("groupId", &SECURITY_GROUP.id(sg.meta.id))
            .text("groupOwnerId", &ids::account(sg.meta.uid))
            .flag("isEgress", r.outbound)
            .text("ipProtocol", &proto);
            if let Some(f) = from {
                x.num("fromPort", f);
            }
            if let Some(t) = to {
                x.num("toPort", t);
            }
            match r.peer {
                Peer::Group(id) => {
                    x.open("referencedGroupInfo")
                        .text("groupId", &SECURITY_GROUP.id(id))
                        .opt(
                            "userId",
                            owners.get(&id).map(|uid| ids::account(*uid)).as_deref(),
                        )
                        .close("referencedGroupInfo");
                }
                _ if r.is_v6() => {
                    x.text("cidrIpv6", &r.cidr().unwrap_or_default());
                }
                _ => {
                    x.text("cidrIpv4", &r.cidr().unwrap_or_default());
                }
            }
        },
    );
    Ok(())
}

/// RevokeSecurityGroupIngress / RevokeSecurityGroupEgress.
pub async fn revoke(ctx: &Ctx, p: &Params, x: &mut Xml, outbound: bool) -> Ec2Result<()> {
    let groups = seen(ctx)?;
    let sg = target(ctx, &groups, p)?;
    let wanted = requested_rules(p, outbound, &|g| peer_group(ctx, &groups, g, false))?;
    ctx.may::<SecGroup>(sg.meta.id, AuthOp::Manage)?;
    ctx.proceed()?;
    edit_rules(ctx, sg.meta.id, RuleEdit::Remove(wanted)).await?;
    x.flag("return", true);
    Ok(())
}

/// DeleteSecurityGroup.
pub async fn delete(ctx: &Ctx, p: &Params, x: &mut Xml) -> Ec2Result<()> {
    let sg = target(ctx, &seen(ctx)?, p)?;
    ctx.may::<SecGroup>(sg.meta.id, AuthOp::Manage)?;
    ctx.proceed()?;
    ctx.core
        .secgroup_delete(&ctx.caller, sg.meta.id)
        .await
        .map_err(state_refused("DependencyViolation"))?;
    x.flag("return", true)
        .text("groupId", &SECURITY_GROUP.id(sg.meta.id));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_cidr4(cidr: &str) -> Ec2Result<(IpAddr, u128)> {
        parse_cidr(cidr, Family::V4)
    }

    fn parse_cidr6(cidr: &str) -> Ec2Result<(IpAddr, u128)> {
        parse_cidr(cidr, Family::V6)
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        Ipv4Addr::new(a, b, c, d).into()
    }

    #[test]
    fn cidrs_become_ip_and_size_and_back() {
        assert_eq!(
            parse_cidr4("0.0.0.0/0").expect("any"),
            (v4(0, 0, 0, 0), u32::MAX.into())
        );
        assert_eq!(
            parse_cidr4("10.1.2.3/24").expect("net"),
            (v4(10, 1, 2, 0), 256)
        );
        assert_eq!(
            parse_cidr4("10.1.2.3/32").expect("one"),
            (v4(10, 1, 2, 3), 1)
        );
        assert!(parse_cidr4("10.1.2.3").is_err());
        assert!(parse_cidr4("10.1.2.3/33").is_err());
        let (net, size) = parse_cidr6("2001:db8::1/64").expect("a /64");
        assert_eq!((net.to_string(), size), ("2001:db8::".into(), 1u128 << 64));
        assert_eq!(
            parse_cidr6("::/0").expect("any"),
            (Ipv6Addr::UNSPECIFIED.into(), u128::MAX)
        );
        assert!(parse_cidr6("2001:db8::/129").is_err() && parse_cidr6("10.0.0.0/8").is_err());
        let pairs = |ip: &str, size: &str| {
            [
                ("PROTOCOL", "TCP"),
                ("RULE_TYPE", "inbound"),
                ("IP", ip),
                ("SIZE", size),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
        };
        // Ranges that are not whole CIDR blocks are not EC2's to show.
        assert!(Rule::from_pairs(&pairs("2001:db8::5", "3")).is_none());
        assert!(Rule::from_pairs(&pairs("10.0.0.0", "1000")).is_none());
        assert!(Rule::from_pairs(&pairs("10.0.0.4", "8")).is_none());
        assert!(Rule::from_pairs(&pairs("10.0.0.8", "8")).is_some());
        assert!(Rule::from_pairs(&pairs("10.0.0.0", "4294967295")).is_none());
        for text in ["0.0.0.0/0", "10.1.2.0/24", "10.1.2.3/32", "128.0.0.0/1"] {
            let (ip, size) = parse_cidr4(text).expect("a CIDR");
            let r = Rule::from_pairs(&pairs(&ip.to_string(), &size.to_string()));
            assert_eq!(r.expect("a rule").cidr().as_deref(), Some(text));
        }
        for text in ["2001:db8::/64", "::/0", "2001:db8::1/128", "fe80::/10"] {
            let (ip, size) = parse_cidr6(text).expect("a CIDR");
            let r = Rule {
                outbound: false,
                protocol: "ALL".into(),
                range: None,
                icmp_type: None,
                peer: Peer::Range(ip, size),
                description: String::new(),
            };
            assert_eq!(r.cidr().as_deref(), Some(text));
        }
        let r = Rule {
            outbound: false,
            protocol: "TCP".into(),
            range: Some("22".into()),
            icmp_type: None,
            peer: Peer::Range(v4(10, 1, 2, 0), 256),
            description: String::new(),
        };
        assert_eq!(r.cidr().as_deref(), Some("10.1.2.0/24"));
        assert_eq!(r.ports(), ("tcp".into(), Some(22), Some(22)));
    }

    #[test]
    fn permissions_become_rules() {
        let p = Params::from_pairs(
            [
                ("IpPermissions.1.IpProtocol", "tcp"),
                ("IpPermissions.1.FromPort", "1000"),
                ("IpPermissions.1.ToPort", "2000"),
                ("IpPermissions.1.IpRanges.1.CidrIp", "10.0.0.0/8"),
                ("IpPermissions.1.IpRanges.2.CidrIp", "0.0.0.0/0"),
                ("IpPermissions.2.IpProtocol", "icmp"),
                ("IpPermissions.2.FromPort", "8"),
                ("IpPermissions.2.ToPort", "-1"),
                ("IpPermissions.3.IpProtocol", "tcp"),
                ("IpPermissions.3.FromPort", "5432"),
                ("IpPermissions.3.ToPort", "5432"),
                ("IpPermissions.3.Groups.1.GroupId", "sg-00000005"),
                ("IpPermissions.4.IpProtocol", "-1"),
                ("IpPermissions.4.Ipv6Ranges.1.CidrIpv6", "2001:db8::/48"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let rules = requested_rules(&p, false, &|_| Ok(5)).expect("rules");
        assert_eq!(rules.len(), 5);
        assert_eq!(rules[3].peer, Peer::Group(5));
        assert_eq!(rules[4].cidr().as_deref(), Some("2001:db8::/48"));
        assert_eq!(rules[0].range.as_deref(), Some("1000:2000"));
        assert_eq!(rules[1].peer, ANY_V4);
        assert_eq!(rules[2].icmp_type.as_deref(), Some("8"));
        let mut t = Template::new();
        for r in &rules {
            t.push(r.to_attribute());
        }
        nubo_core::ops::secgroup::check_rules(&t).expect("valid Nubo rules");
        assert_eq!(rules_of(&t), rules);
    }

    #[test]
    fn a_rule_for_any_address_is_shown_for_both_families() {
        let any = Rule {
            outbound: true,
            protocol: "ALL".into(),
            range: None,
            icmp_type: None,
            peer: Peer::Any,
            description: "all".into(),
        };
        let mut t = Template::new();
        t.push(any.to_attribute());
        let shown = rules_of(&t);
        assert_eq!(
            shown.iter().map(|r| r.peer.clone()).collect::<Vec<_>>(),
            vec![ANY_V4, ANY_V6]
        );
        assert_eq!(shown[0].cidr().as_deref(), Some("0.0.0.0/0"));
        assert_eq!(shown[1].cidr().as_deref(), Some("::/0"));
        assert!(shown.iter().all(|r| r.description == "all" && r.outbound));
        // It is already there for either family; revoking one family leaves the other.
        let v4 = Rule {
            peer: ANY_V4,
            ..any.clone()
        };
        let v6 = Rule {
            peer: ANY_V6,
            ..any.clone()
        };
        let code = |e: Ec2Error| e.code;
        let dup = apply(&mut t.clone(), RuleEdit::Add(vec![v6.clone()])).map_err(code);
        assert_eq!(dup.err().as_deref(), Some("InvalidPermission.Duplicate"));
        let mut both = t.clone();
        apply(&mut both, RuleEdit::Remove(vec![v4.clone(), v6.clone()])).expect("revoked");
        assert_eq!(both.vectors("RULE").count(), 0);
        apply(&mut t, RuleEdit::Remove(vec![v4.clone()])).expect("revoked");
        assert_eq!(rules_of(&t), vec![v6.clone()]);
        let rule = t.vectors("RULE").next().expect("one rule").to_vec();
        assert!(rule.contains(&("IP".to_string(), "::".to_string())));
        let gone = apply(&mut t.clone(), RuleEdit::Remove(vec![v4.clone()])).map_err(code);
        assert_eq!(gone.err().as_deref(), Some("InvalidPermission.NotFound"));
        apply(&mut t, RuleEdit::Remove(vec![v6])).expect("revoked");
        apply(&mut t, RuleEdit::Add(vec![v4.clone()])).expect("authorized");
        assert_eq!(rules_of(&t), vec![v4]);
        // ICMP is IPv4's alone: the rule is shown, and revoked, as 0.0.0.0/0 only.
        let icmp = Rule {
            protocol: "ICMP".into(),
            ..any.clone()
        };
        let mut t = Template::new();
        t.push(icmp.to_attribute());
        let shown = rules_of(&t);
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].cidr().as_deref(), Some("0.0.0.0/0"));
        apply(&mut t, RuleEdit::Remove(shown)).expect("revoked");
        assert_eq!(t.vectors("RULE").count(), 0);
    }
}
