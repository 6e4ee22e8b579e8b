//! Address-range logic, pure: parsing `AR=[..]` vectors into [`AddressRange`]s (as
//! OpenNebula's `AddressRange::from_attr` does), checking ranges against each other, and
//! finding, taking and giving back leases. No state, no I/O: the vnet operations call these.

use std::net::{Ipv4Addr, Ipv6Addr};

use nubo_types::{Error, Oid, Result};

use crate::model::{AddressRange, ArType, LeaseOwner, Leases, format_mac, parse_mac};

/// OpenNebula's default `MAC_PREFIX` (`02:00`), the upper 16 bits of generated MACs.
pub const MAC_PREFIX: u64 = 0x0200;

/// The largest MAC.
const MAC_MAX: u64 = 0xFFFF_FFFF_FFFF;

/// Attributes the parser consumes or that are computed for output: never kept in `attrs`.
const INTERNAL: &[&str] = &[
    "TYPE",
    "SIZE",
    "MAC",
    "IP",
    "GLOBAL_PREFIX",
    "ULA_PREFIX",
    "IP6",
    "PREFIX_LENGTH",
    "AR_ID",
    "ALLOCATED",
    "USED_LEASES",
    "LEASES",
    "PARENT_NETWORK_AR_ID",
    "PARENT_NETWORK",
    "NEXT_INDEX",
    "MAC_END",
    "IP_END",
    "IP6_END",
    "IP6_ULA",
    "IP6_ULA_END",
    "IP6_GLOBAL",
    "IP6_GLOBAL_END",
];

/// The value of `key` in a vector (case-insensitive), `None` when missing or blank.
pub fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn is_internal(key: &str) -> bool {
    INTERNAL.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// Parses a 64-bit IPv6 prefix (`2001:db8::`): the upper half of the address.
fn parse_prefix(text: &str) -> Option<u64> {
    let addr: Ipv6Addr = text.parse().ok()?;
    u64::try_from(u128::from(addr) >> 64).ok()
}

/// Formats a 64-bit prefix as an IPv6 address (`2001:db8::`).
pub fn format_prefix(prefix: u64) -> String {
    Ipv6Addr::from(u128::from(prefix) << 64).to_string()
}

/// A positive SIZE; `what` is oned's refusal (allocate and update word it differently).
fn parse_size(text: &str, what: &str) -> Result<u32> {
    text.parse::<u32>()
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| Error::api(what))
}

/// oned's refusal of a range's SIZE when the range is created.
const WRONG_SIZE: &str = "Wrong SIZE for address range";

/// The size of a static IPv6 range with no SIZE: up to the end of its prefix (capped).
fn static_size(ip6: Ipv6Addr, prefix_length: u32) -> u32 {
    let host_bits = 128 - prefix_length.min(128);
    if host_bits >= 32 {
        return u32::MAX;
    }
    let span = 1u128 << host_bits;
    let offset = u128::from(ip6) & (span - 1);
    u32::try_from(span - offset).unwrap_or(u32::MAX)
}

struct Addresses {
    ip: Option<Ipv4Addr>,
    global_prefix: Option<u64>,
    ula_prefix: Option<u64>,
    ip6: Option<Ipv6Addr>,
    prefix_length: Option<u32>,
}

fn parse_addresses(pairs: &[(String, String)], ar_type: ArType) -> Result<Addresses> {
    let ip = if ar_type.has_ip4() {
        let ip = value(pairs, "IP").and_then(|t| t.parse::<Ipv4Addr>().ok());
        Some(ip.ok_or_else(|| Error::api("Wrong or empty IP attribute"))?)
    } else {
        None
    };
    let prefix = |key: &str, what: &str| -> Result<Option<u64>> {
        match value(pairs, key) {
            Some(t) if ar_type.has_ip6_slaac() => parse_prefix(t)
                .map(Some)
                .ok_or_else(|| Error::api(format!("Wrong format for IP6 {what} prefix"))),
            _ => Ok(None),
        }
    };
    let global_prefix = prefix("GLOBAL_PREFIX", "global address")?;
    let ula_prefix = prefix("ULA_PREFIX", "unique local address")?;
    let (ip6, prefix_length) = if ar_type.has_ip6_static() {
        let ip6 = value(pairs, "IP6").and_then(|t| t.parse::<Ipv6Addr>().ok());
        let ip6 = ip6.ok_or_else(|| Error::api("Wrong or empty IP6 attribute"))?;
        let pl = value(pairs, "PREFIX_LENGTH").and_then(|t| t.parse::<u32>().ok());
        let pl = pl
            .filter(|p| *p <= 128)
            .ok_or_else(|| Error::api("Wrong or empty PREFIX_LENGTH"))?;
        (Some(ip6), Some(pl))
    } else {
        (None, None)
    };
    Ok(Addresses {
        ip,
        global_prefix,
        ula_prefix,
        ip6,
        prefix_length,
    })
}

/// Parses an `AR=[..]` vector into a new range with id `id`. A missing MAC is generated
/// from [`MAC_PREFIX`] and the IPv4 start (IPv4 types) or `mac_seed` (other types), brought
/// down so that the range's MACs fit: a random seed never makes a large range overflow.
pub fn parse_ar(pairs: &[(String, String)], id: Oid, mac_seed: u32) -> Result<AddressRange> {
    let ar_type = value(pairs, "TYPE")
        .and_then(ArType::from_name)
        .ok_or_else(|| Error::api("Unknown or missing address range TYPE."))?;
    let addrs = parse_addresses(pairs, ar_type)?;
    let size = match (value(pairs, "SIZE"), addrs.ip6, addrs.prefix_length) {
        (Some(text), _, _) => parse_size(text, WRONG_SIZE)?,
        (None, Some(ip6), Some(pl)) => static_size(ip6, pl),
        (None, _, _) => return Err(Error::api(WRONG_SIZE)),
    };
    let mac = match value(pairs, "MAC") {
        Some(text) => parse_mac(text)
            .ok_or_else(|| Error::api(format!("Wrong format for MAC attribute: {text}")))?,
        None => {
            let room = (1u64 << 32) - u64::from(size) + 1;
            let low = addrs
                .ip
                .map_or(u64::from(mac_seed) % room, |ip| u64::from(u32::from(ip)));
            (MAC_PREFIX << 32) | low
        }
    };
    let ar = AddressRange {
        id,
        ar_type,
        size,
        mac,
        ip: addrs.ip,
        global_prefix: addrs.global_prefix,
        ula_prefix: addrs.ula_prefix,
        ip6: addrs.ip6,
        prefix_length: addrs.prefix_length,
        parent_network_ar_id: None,
        attrs: pairs
            .iter()
            .filter(|(k, v)| !is_internal(k) && !v.trim().is_empty())
            .map(|(k, v)| (k.to_ascii_uppercase(), v.clone()))
            .collect(),
        leases: Leases::new(),
        next_index: 0,
    };
    check_bounds(&ar)?;
    Ok(ar)
}

/// Checks that the range's MACs and addresses do not run past their space.
pub fn check_bounds(ar: &AddressRange) -> Result<()> {
    let last = u64::from(ar.size) - 1;
    // OpenNebula keeps the upper 16 bits of a range's MACs fixed.
    if (ar.mac & 0xFFFF_FFFF) + last > 0xFFFF_FFFF || ar.mac > MAC_MAX {
        return Err(Error::api(format!(
            "The MAC range starting at {} with SIZE {} overflows",
            format_mac(ar.mac),
            ar.size
        )));
    }
    if let Some(ip) = ar.ip
        && u64::from(u32::from(ip)) + last > u64::from(u32::MAX)
    {
        return Err(Error::api(format!(
            "The IP range starting at {ip} with SIZE {} overflows",
            ar.size
        )));
    }
    if let Some(ip6) = ar.ip6
        && u128::from(ip6).checked_add(u128::from(last)).is_none()
    {
        return Err(Error::api(format!(
            "The IP6 range starting at {ip6} with SIZE {} overflows",
            ar.size
        )));
    }
    Ok(())
}

fn overlaps(a_start: u128, a_size: u32, b_start: u128, b_size: u32) -> bool {
    // Inclusive last addresses, so a range that ends at the very top of the IPv6 space does
    // not overflow; an empty range overlaps nothing.
    let last =
        |start: u128, size: u32| Some(start.saturating_add(u128::from(size.checked_sub(1)?)));
    match (last(a_start, a_size), last(b_start, b_size)) {
        (Some(a_last), Some(b_last)) => a_start <= b_last && b_start <= a_last,
        _ => false,
    }
}

/// Fails if `new` shares MACs, IPv4 or static IPv6 addresses with any of `existing`
/// (a range with the same id as `new` is skipped, so an updated range can be rechecked).
pub fn check_overlap(existing: &[AddressRange], new: &AddressRange) -> Result<()> {
    for other in existing.iter().filter(|o| o.id != new.id) {
        let clash = |what: &str| {
            Error::api(format!(
                "The {what} addresses of the new address range overlap with address range {}",
                other.id
            ))
        };
        if overlaps(new.mac.into(), new.size, other.mac.into(), other.size) {
            return Err(clash("MAC"));
        }
        if let (Some(a), Some(b)) = (new.ip, other.ip)
            && overlaps(
                u32::from(a).into(),
                new.size,
                u32::from(b).into(),
                other.size,
            )
        {
            return Err(clash("IP"));
        }
        if let (Some(a), Some(b)) = (new.ip6, other.ip6)
            && overlaps(a.into(), new.size, b.into(), other.size)
        {
            return Err(clash("IP6"));
        }
    }
    Ok(())
}

/// The id for a range added after `ars`: one more than the highest.
pub fn next_ar_id(ars: &[AddressRange]) -> Oid {
    ars.iter().map(|a| a.id + 1).max().unwrap_or(0)
}

/// One address, as `hold`, `release` and `reserve` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrQuery {
    /// A MAC address.
    Mac(u64),
    /// An IPv4 address.
    Ip(Ipv4Addr),
    /// A static IPv6 address.
    Ip6(Ipv6Addr),
}

impl AddrQuery {
    /// Reads exactly one of `MAC`, `IP` or `IP6` from a vector; `None` when none is set.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Option<AddrQuery>> {
        let given: Vec<(&str, &str)> = ["MAC", "IP", "IP6"]
            .into_iter()
            .filter_map(|k| value(pairs, k).map(|v| (k, v)))
            .collect();
        let [(key, text)] = given.as_slice() else {
            if given.is_empty() {
                return Ok(None);
            }
            return Err(Error::api("Only one attribute MAC, IP or IP6 can be set."));
        };
        let bad = || Error::api(format!("Wrong format for {key} \"{text}\""));
        let query = match *key {
            "MAC" => AddrQuery::Mac(parse_mac(text).ok_or_else(bad)?),
            "IP" => AddrQuery::Ip(text.parse().map_err(|_| bad())?),
            _ => AddrQuery::Ip6(text.parse().map_err(|_| bad())?),
        };
        Ok(Some(query))
    }
}

/// The lease index of the queried address in `ar`, if it falls inside the range.
pub fn index_of(ar: &AddressRange, query: AddrQuery) -> Option<u32> {
    let offset = match query {
        AddrQuery::Mac(mac) => u128::from(mac.checked_sub(ar.mac)?),
        AddrQuery::Ip(ip) => u128::from(u32::from(ip).checked_sub(u32::from(ar.ip?))?),
        AddrQuery::Ip6(ip6) => u128::from(ip6).checked_sub(u128::from(ar.ip6?))?,
    };
    u32::try_from(offset).ok().filter(|i| *i < ar.size)
}

/// The position (in `ars`) and lease index of the queried address, optionally only in
/// the range with id `ar_id`.
pub fn locate(ars: &[AddressRange], query: AddrQuery, ar_id: Option<Oid>) -> Option<(usize, u32)> {
    ars.iter()
        .enumerate()
        .filter(|(_, ar)| ar_id.is_none_or(|id| ar.id == id))
        .find_map(|(pos, ar)| index_of(ar, query).map(|i| (pos, i)))
}

/// Puts a free address on hold.
pub fn hold(ars: &mut [AddressRange], query: AddrQuery, ar_id: Option<Oid>) -> Result<()> {
    let free = locate(ars, query, ar_id)
        .filter(|(pos, i)| ars.get(*pos).is_some_and(|ar| !ar.leases.contains_key(i)));
    let (pos, index) =
        free.ok_or_else(|| Error::action("Address is not part of the address range or in use."))?;
    if let Some(ar) = ars.get_mut(pos) {
        ar.leases.take(index, 1, LeaseOwner::Hold);
    }
    Ok(())
}

/// Releases an address on hold, as oned's `free_leases`: an address that is not on hold
/// (free, leased to a VM, outside every range) is left as it is. Returns whether one was
/// released.
pub fn release(ars: &mut [AddressRange], query: AddrQuery, ar_id: Option<Oid>) -> bool {
    let held = locate(ars, query, ar_id).filter(|(pos, i)| {
        ars.get(*pos)
            .and_then(|ar| ar.leases.get(i))
            .is_some_and(|l| l.owner == LeaseOwner::Hold)
    });
    let Some((pos, index)) = held else {
        return false;
    };
    ars.get_mut(pos)
        .is_some_and(|ar| ar.leases.remove(&index).is_some())
}

/// Whether leases `start .. start + size` all exist in `ar` and are free.
pub fn block_is_free(ar: &AddressRange, start: u32, size: u32) -> bool {
    start
        .checked_add(size)
        .is_some_and(|end| end <= ar.size && ar.leases.is_free(start, size))
}

/// The first index of `size` consecutive free leases in `ar` (a walk over the runs taken,
/// not over the addresses).
pub fn free_block(ar: &AddressRange, size: u32) -> Option<u32> {
    ar.leases.free_block(size, ar.size)
}

/// Gives leases `start .. start + size` of `ar` to `owner`, as one run; false (nothing
/// taken) unless they all exist and are free.
pub fn take_block(ar: &mut AddressRange, start: u32, size: u32, owner: LeaseOwner) -> bool {
    block_is_free(ar, start, size) && ar.leases.take(start, size, owner)
}

/// Frees every lease of `ar` held by `owner` inside `start .. start + size`; returns how
/// many were freed.
pub fn free_owned(ar: &mut AddressRange, owner: LeaseOwner, start: u32, size: u32) -> usize {
    ar.leases.free_owned(owner, start, size)
}

/// The range a reservation gets: `size` addresses of `parent` starting at `start`, with
/// the parent's attributes.
pub fn child_range(parent: &AddressRange, start: u32, size: u32, id: Oid) -> AddressRange {
    AddressRange {
        id,
        ar_type: parent.ar_type,
        size,
        mac: parent.mac_at(start),
        ip: parent.ip_at(start),
        global_prefix: parent.global_prefix,
        ula_prefix: parent.ula_prefix,
        ip6: parent.ip6_at(start),
        prefix_length: parent.prefix_length,
        parent_network_ar_id: Some(parent.id),
        attrs: parent.attrs.clone(),
        leases: Leases::new(),
        next_index: 0,
    }
}

fn update_size(ar: &mut AddressRange, text: &str) -> Result<()> {
    let size = parse_size(
        text,
        "Unable to read the SIZE attribute, it must be number >= 0",
    )?;
    if size == ar.size {
        return Ok(());
    }
    if ar.parent_network_ar_id.is_some() {
        return Err(Error::action(
            "The SIZE of a reservation cannot be changed.",
        ));
    }
    if ar.leases.end() > u64::from(size) {
        return Err(Error::action(
            "New SIZE cannot be applied. There are used leases that would fall outside the range.",
        ));
    }
    ar.size = size;
    if ar.next_index >= size {
        ar.next_index = 0;
    }
    Ok(())
}

/// The SLAAC prefixes are read again from the update (one left out is removed); a static
/// range keeps its PREFIX_LENGTH unless the update gives a valid one.
fn update_ipv6(ar: &mut AddressRange, pairs: &[(String, String)]) -> Result<()> {
    if ar.ar_type.has_ip6_slaac() {
        let prefix = |key: &str, what: &str| -> Result<Option<u64>> {
            value(pairs, key)
                .map(|t| {
                    parse_prefix(t)
                        .ok_or_else(|| Error::api(format!("Wrong format for IP6 {what} prefix")))
                })
                .transpose()
        };
        let global = prefix("GLOBAL_PREFIX", "global address")?;
        ar.ula_prefix = prefix("ULA_PREFIX", "unique local address")?;
        ar.global_prefix = global;
    }
    if ar.ar_type.has_ip6_static()
        && let Some(pl) = value(pairs, "PREFIX_LENGTH")
            .and_then(|t| t.parse::<u32>().ok())
            .filter(|p| *p <= 128)
    {
        ar.prefix_length = Some(pl);
    }
    Ok(())
}

/// Attributes an update cannot change: oned copies them from the range as it is.
const FIXED: &[&str] = &["SHARED", "IPAM_MAD"];

/// Applies an `AR=[AR_ID=..,..]` update to `ar` as oned's `update_attributes`: the update
/// replaces the range's attributes, so one it leaves out is dropped (`onevnet updatear` edits
/// the whole range). TYPE, MAC, IP, IP6, SHARED and a set IPAM_MAD stay; SIZE (kept when
/// left out, never below a used lease, a reservation's never changed) and the IPv6 prefixes
/// are read again.
pub fn update_range(ar: &AddressRange, pairs: &[(String, String)]) -> Result<AddressRange> {
    let mut new = ar.clone();
    if let Some(text) = value(pairs, "SIZE") {
        update_size(&mut new, text)?;
    }
    update_ipv6(&mut new, pairs)?;
    let fixed = |k: &str| FIXED.iter().any(|f| f.eq_ignore_ascii_case(k));
    new.attrs = ar.attrs.iter().filter(|(k, _)| fixed(k)).cloned().collect();
    for (key, val) in pairs {
        let key = key.to_ascii_uppercase();
        if is_internal(&key) || val.trim().is_empty() {
            continue;
        }
        if fixed(&key) {
            // A range without IPAM_MAD may get one; SHARED never changes.
            if key == "IPAM_MAD" && ar.attr(&key).is_none() && new.attr(&key).is_none() {
                new.attrs.push((key, val.clone()));
            }
            continue;
        }
        new.attrs.retain(|(k, _)| *k != key);
        new.attrs.push((key, val.clone()));
    }
    check_bounds(&new)?;
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn ip4(ip: &str, size: &str) -> AddressRange {
        parse_ar(&pairs(&[("TYPE", "IP4"), ("IP", ip), ("SIZE", size)]), 0, 7).expect("valid AR")
    }

    #[test]
    fn ip4_range_gets_a_mac_from_the_ip() {
        let ar = parse_ar(
            &pairs(&[
                ("TYPE", "ip4"),
                ("IP", "10.0.0.1"),
                ("SIZE", "10"),
                ("GATEWAY", "10.0.0.254"),
            ]),
            3,
            7,
        )
        .expect("valid AR");
        assert_eq!(ar.id, 3);
        assert_eq!(ar.ar_type, ArType::Ip4);
        assert_eq!(format_mac(ar.mac), "02:00:0a:00:00:01");
        assert_eq!(ar.attr("GATEWAY"), Some("10.0.0.254"));
        assert_eq!(ar.attrs.len(), 1);
    }

    #[test]
    fn ether_range_uses_the_seed_or_the_given_mac() {
        let ar = parse_ar(&pairs(&[("TYPE", "ETHER"), ("SIZE", "4")]), 0, 0x0102_0304)
            .expect("valid AR");
        assert_eq!(format_mac(ar.mac), "02:00:01:02:03:04");
        assert_eq!(ar.ip, None);
        let ar = parse_ar(
            &pairs(&[
                ("TYPE", "ETHER"),
                ("SIZE", "4"),
                ("MAC", "aa:bb:cc:00:00:10"),
                ("IP", "1.2.3.4"),
            ]),
            0,
            0,
        )
        .expect("valid AR");
        assert_eq!(format_mac(ar.mac), "aa:bb:cc:00:00:10");
        assert_eq!(ar.ip, None, "an ETHER range ignores IP");
    }

    #[test]
    fn a_generated_mac_leaves_room_for_the_whole_range() {
        let huge = pairs(&[("TYPE", "ETHER"), ("SIZE", "16777216")]);
        for seed in [0, 7, 0xFEFF_FFFF, 0xFF00_0000, 0xFFFF_FFFF] {
            let ar = parse_ar(&huge, 0, seed).expect("a 16M-address range always fits");
            assert!((ar.mac & 0xFFFF_FFFF) + 0xFF_FFFF <= 0xFFFF_FFFF);
            assert_eq!(ar.mac >> 32, MAC_PREFIX);
        }
        let ar = parse_ar(&pairs(&[("TYPE", "ETHER"), ("SIZE", "4")]), 0, 0x0102_0304)
            .expect("valid AR");
        assert_eq!(
            format_mac(ar.mac),
            "02:00:01:02:03:04",
            "a small range keeps its seed"
        );
    }

    #[test]
    fn ipv6_ranges_parse_prefixes_and_static_addresses() {
        let ar = parse_ar(
            &pairs(&[
                ("TYPE", "IP4_6"),
                ("IP", "10.0.0.1"),
                ("SIZE", "2"),
                ("GLOBAL_PREFIX", "2001:db8::"),
            ]),
            0,
            0,
        )
        .expect("valid AR");
        assert_eq!(ar.global_prefix, Some(0x2001_0db8_0000_0000));
        assert_eq!(format_prefix(0x2001_0db8_0000_0000), "2001:db8::");
        let ar = parse_ar(
            &pairs(&[
                ("TYPE", "IP6_STATIC"),
                ("IP6", "2001:db8::10"),
                ("PREFIX_LENGTH", "120"),
            ]),
            0,
            0,
        )
        .expect("valid AR");
        assert_eq!(ar.size, 256 - 16, "SIZE defaults to the rest of the prefix");
        assert_eq!(ar.ip6_at(1), Some("2001:db8::11".parse().expect("ip6")));
    }

    #[test]
    fn bad_ranges_are_refused_with_a_reason() {
        let err = |list: &[(&str, &str)]| {
            parse_ar(&pairs(list), 0, 0)
                .expect_err("invalid AR")
                .to_string()
        };
        assert!(err(&[("TYPE", "IP5"), ("SIZE", "1")]).contains("TYPE"));
        assert!(err(&[("SIZE", "1")]).contains("TYPE"));
        assert!(err(&[("TYPE", "IP4"), ("SIZE", "1")]).contains("IP"));
        assert!(err(&[("TYPE", "IP4"), ("IP", "10.0.0.300"), ("SIZE", "1")]).contains("IP"));
        assert!(err(&[("TYPE", "IP4"), ("IP", "10.0.0.1"), ("SIZE", "0")]).contains("SIZE"));
        assert!(err(&[("TYPE", "IP4"), ("IP", "10.0.0.1"), ("SIZE", "x")]).contains("SIZE"));
        assert!(err(&[("TYPE", "IP4"), ("IP", "10.0.0.1")]).contains("SIZE"));
        assert!(err(&[("TYPE", "ETHER"), ("SIZE", "2"), ("MAC", "zz")]).contains("MAC"));
        assert!(
            err(&[("TYPE", "IP4"), ("IP", "255.255.255.255"), ("SIZE", "2")]).contains("overflows")
        );
        assert!(err(&[("TYPE", "IP6"), ("SIZE", "2"), ("ULA_PREFIX", "nope")]).contains("prefix"));
        assert!(
            err(&[
                ("TYPE", "IP6_STATIC"),
                ("IP6", "2001:db8::1"),
                ("SIZE", "2")
            ])
            .contains("PREFIX_LENGTH")
        );
        let e = parse_ar(&pairs(&[("TYPE", "X")]), 0, 0).expect_err("invalid");
        assert_eq!(e.code() as i32, 0x1000);
    }

    #[test]
    fn overlapping_ranges_clash() {
        let a = ip4("10.0.0.1", "10");
        let mut b = ip4("10.0.0.10", "5");
        b.id = 1;
        assert!(check_overlap(std::slice::from_ref(&a), &b).is_err());
        let mut c = ip4("10.0.0.11", "5");
        c.id = 1;
        assert!(check_overlap(std::slice::from_ref(&a), &c).is_ok());
        assert!(
            check_overlap(std::slice::from_ref(&a), &a).is_ok(),
            "itself is skipped"
        );
        assert_eq!(next_ar_id(&[a, c]), 2);
    }

    #[test]
    fn hold_and_release_follow_the_lease_state() {
        let mut ars = vec![ip4("10.0.0.1", "4")];
        let ip = |s: &str| AddrQuery::Ip(s.parse().expect("ip"));
        hold(&mut ars, ip("10.0.0.2"), None).expect("free address");
        assert_eq!(
            ars[0].leases.get(&1).map(|l| l.owner),
            Some(LeaseOwner::Hold)
        );
        assert_eq!(
            hold(&mut ars, ip("10.0.0.2"), None).map_err(|e| e.code() as i32),
            Err(0x800)
        );
        assert!(
            hold(&mut ars, ip("10.0.0.9"), None).is_err(),
            "outside the range"
        );
        assert!(
            hold(&mut ars, ip("10.0.0.3"), Some(5)).is_err(),
            "no such AR"
        );
        let mac = AddrQuery::Mac(ars[0].mac_at(1));
        assert!(!release(&mut ars, mac, Some(1)), "not in that range");
        assert!(release(&mut ars, mac, Some(0)), "held");
        assert!(
            !release(&mut ars, mac, Some(0)),
            "no longer held: nothing to do"
        );
        assert!(take_block(&mut ars[0], 0, 1, LeaseOwner::Vm(3)));
        assert!(
            !release(&mut ars, ip("10.0.0.1"), None),
            "a VM lease is not a hold: left as it is"
        );
        assert_eq!(
            ars[0].leases.get(&0).map(|l| l.owner),
            Some(LeaseOwner::Vm(3))
        );
        assert!(
            !release(&mut ars, ip("192.0.2.1"), None),
            "outside every range"
        );
    }

    #[test]
    fn queries_need_exactly_one_address() {
        let q = AddrQuery::from_pairs(&pairs(&[("IP", "10.0.0.1")])).expect("ok");
        assert_eq!(q, Some(AddrQuery::Ip(Ipv4Addr::new(10, 0, 0, 1))));
        assert_eq!(
            AddrQuery::from_pairs(&pairs(&[("AR_ID", "0")])).expect("ok"),
            None
        );
        assert!(
            AddrQuery::from_pairs(&pairs(&[("IP", "10.0.0.1"), ("MAC", "02:00:00:00:00:01")]))
                .is_err()
        );
        assert!(AddrQuery::from_pairs(&pairs(&[("MAC", "nope")])).is_err());
    }

    #[test]
    fn blocks_are_found_in_gaps() {
        let mut ar = ip4("10.0.0.1", "10");
        assert_eq!(free_block(&ar, 10), Some(0));
        assert_eq!(free_block(&ar, 11), None);
        assert!(take_block(&mut ar, 2, 1, LeaseOwner::Hold));
        assert!(take_block(&mut ar, 6, 1, LeaseOwner::Hold));
        assert_eq!(free_block(&ar, 2), Some(0));
        assert_eq!(free_block(&ar, 3), Some(3));
        assert_eq!(free_block(&ar, 4), None);
        assert!(block_is_free(&ar, 7, 3));
        assert!(!block_is_free(&ar, 7, 4));
        assert!(!block_is_free(&ar, 5, 2));
        let child = child_range(&ar, 3, 3, 0);
        assert_eq!(child.ip, Some(Ipv4Addr::new(10, 0, 0, 4)));
        assert_eq!(child.parent_network_ar_id, Some(0));
        assert!(take_block(&mut ar, 3, 3, LeaseOwner::Vnet(9)));
        assert_eq!(free_owned(&mut ar, LeaseOwner::Vnet(9), 0, 10), 3);
        assert_eq!(ar.used_leases(), 2);
    }

    #[test]
    fn updates_keep_used_leases_inside() {
        let mut ar = ip4("10.0.0.1", "10");
        assert!(take_block(&mut ar, 7, 1, LeaseOwner::Hold));
        let shrink = update_range(&ar, &pairs(&[("AR_ID", "0"), ("SIZE", "5")]));
        assert_eq!(shrink.map_err(|e| e.code() as i32).err(), Some(0x800));
        let new = update_range(
            &ar,
            &pairs(&[
                ("AR_ID", "0"),
                ("SIZE", "8"),
                ("DNS", "10.0.0.53"),
                ("TYPE", "ETHER"),
            ]),
        )
        .expect("fits");
        assert_eq!((new.size, new.ar_type), (8, ArType::Ip4));
        assert_eq!(new.attr("DNS"), Some("10.0.0.53"));
        let new = update_range(&new, &pairs(&[("DNS", "")])).expect("removes DNS");
        assert_eq!(new.attr("DNS"), None);
        assert_eq!(new.size, 8, "SIZE left out: kept");
        let mut child = child_range(&ar, 0, 2, 0);
        child.id = 1;
        assert!(update_range(&child, &pairs(&[("SIZE", "3")])).is_err());
    }

    #[test]
    fn an_update_replaces_the_attributes_but_not_the_fixed_ones() {
        let given = [
            ("TYPE", "IP4"),
            ("IP", "10.0.0.1"),
            ("SIZE", "4"),
            ("my_attr", "x"),
            ("GATEWAY", "10.0.0.254"),
            ("IPAM_MAD", "internal"),
        ];
        let ar = parse_ar(&pairs(&given), 0, 0).expect("valid AR");
        assert_eq!(ar.attr("MY_ATTR"), Some("x"));
        let new = update_range(
            &ar,
            &pairs(&[
                ("AR_ID", "0"),
                ("TYPE", "ETHER"),
                ("IP", "10.9.9.9"),
                ("MAC", "aa:bb:cc:dd:ee:ff"),
                ("IPAM_MAD", "other"),
                ("GATEWAY", "10.0.0.1"),
                ("DNS", "1.1.1.1"),
            ]),
        )
        .expect("update");
        assert_eq!((new.ar_type, new.ip, new.mac), (ar.ar_type, ar.ip, ar.mac));
        assert_eq!(new.attr("IPAM_MAD"), Some("internal"), "fixed once set");
        assert_eq!(new.attr("GATEWAY"), Some("10.0.0.1"));
        assert_eq!(new.attr("DNS"), Some("1.1.1.1"));
        assert_eq!(new.attr("MY_ATTR"), None, "left out: dropped, as oned");
    }
}
