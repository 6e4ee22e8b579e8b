//! An address range of a virtual network: a contiguous block of MACs (and IPv4/IPv6
//! addresses) with the leases taken from it.

use std::net::{Ipv4Addr, Ipv6Addr};

use nubo_types::Oid;
use serde::{Deserialize, Serialize};

use super::Leases;

/// The kind of addresses an address range hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArType {
    /// MAC addresses only.
    Ether,
    /// MAC + IPv4.
    Ip4,
    /// MAC + SLAAC IPv6.
    Ip6,
    /// MAC + static IPv6.
    Ip6Static,
    /// MAC + IPv4 + SLAAC IPv6.
    Ip4_6,
    /// MAC + IPv4 + static IPv6.
    Ip4_6Static,
}

impl ArType {
    /// OpenNebula's name.
    pub fn name(self) -> &'static str {
        match self {
            ArType::Ether => "ETHER",
            ArType::Ip4 => "IP4",
            ArType::Ip6 => "IP6",
            ArType::Ip6Static => "IP6_STATIC",
            ArType::Ip4_6 => "IP4_6",
            ArType::Ip4_6Static => "IP4_6_STATIC",
        }
    }

    /// The type with this name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            ArType::Ether,
            ArType::Ip4,
            ArType::Ip6,
            ArType::Ip6Static,
            ArType::Ip4_6,
            ArType::Ip4_6Static,
        ]
        .into_iter()
        .find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// Whether the range has IPv4 addresses.
    pub fn has_ip4(self) -> bool {
        matches!(self, ArType::Ip4 | ArType::Ip4_6 | ArType::Ip4_6Static)
    }

    /// Whether the range has static IPv6 addresses.
    pub fn has_ip6_static(self) -> bool {
        matches!(self, ArType::Ip6Static | ArType::Ip4_6Static)
    }

    /// Whether the range has SLAAC IPv6 addresses.
    pub fn has_ip6_slaac(self) -> bool {
        matches!(self, ArType::Ip6 | ArType::Ip4_6)
    }
}

/// Who holds a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeaseOwner {
    /// A VM's NIC.
    Vm(Oid),
    /// Reserved into another virtual network.
    Vnet(Oid),
    /// A virtual router.
    VRouter(Oid),
    /// Put on hold by an administrator (shown as `VM` -1).
    Hold,
}

/// A lease taken from an address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Who holds it.
    pub owner: LeaseOwner,
}

/// An address range (`AR` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressRange {
    /// Id within the network.
    pub id: Oid,
    /// What it hands out.
    pub ar_type: ArType,
    /// How many addresses.
    pub size: u32,
    /// First MAC (48 bits).
    pub mac: u64,
    /// First IPv4 address.
    pub ip: Option<Ipv4Addr>,
    /// SLAAC global prefix (64 bits).
    pub global_prefix: Option<u64>,
    /// SLAAC ULA prefix (64 bits).
    pub ula_prefix: Option<u64>,
    /// First static IPv6 address.
    pub ip6: Option<Ipv6Addr>,
    /// Static IPv6 prefix length.
    pub prefix_length: Option<u32>,
    /// The parent network's AR this range was reserved from.
    pub parent_network_ar_id: Option<Oid>,
    /// Other attributes given for the range (kept and shown as given).
    pub attrs: Vec<(String, String)>,
    /// Leases by index into the range, as runs of one owner (`Leases`).
    pub leases: Leases,
    /// Where the next lease search starts.
    pub next_index: u32,
}

impl AddressRange {
    /// MAC of lease `index`.
    pub fn mac_at(&self, index: u32) -> u64 {
        (self.mac + u64::from(index)) & 0xFFFF_FFFF_FFFF
    }

    /// IPv4 of lease `index`, if the range has IPv4.
    pub fn ip_at(&self, index: u32) -> Option<Ipv4Addr> {
        self.ip
            .map(|ip| Ipv4Addr::from(u32::from(ip).wrapping_add(index)))
    }

    /// Static IPv6 of lease `index`, if the range has one.
    pub fn ip6_at(&self, index: u32) -> Option<Ipv6Addr> {
        self.ip6
            .map(|ip| Ipv6Addr::from(u128::from(ip).wrapping_add(u128::from(index))))
    }

    /// SLAAC address of lease `index` under a 64-bit prefix (EUI-64 from the MAC).
    pub fn slaac_at(&self, prefix: u64, index: u32) -> Ipv6Addr {
        let mac = self.mac_at(index);
        let upper = (mac >> 24) & 0xFF_FFFF;
        let lower = mac & 0xFF_FFFF;
        let eui = ((upper << 40) | (0xFF_FE << 24) | lower) ^ 0x0200_0000_0000_0000;
        Ipv6Addr::from((u128::from(prefix) << 64) | u128::from(eui))
    }

    /// Number of leases in use.
    pub fn used_leases(&self) -> usize {
        self.leases.len()
    }

    /// The value of an extra attribute.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Formats a 48-bit MAC as `02:00:0a:00:00:01`.
pub fn format_mac(mac: u64) -> String {
    let b = mac.to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

/// Parses `02:00:0a:00:00:01` into 48 bits.
pub fn parse_mac(text: &str) -> Option<u64> {
    let parts: Vec<&str> = text.trim().split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    parts.iter().try_fold(0u64, |acc, p| {
        (p.len() <= 2)
            .then(|| u8::from_str_radix(p, 16).ok())
            .flatten()
            .map(|b| (acc << 8) | u64::from(b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range() -> AddressRange {
        AddressRange {
            id: 0,
            ar_type: ArType::Ip4_6,
            size: 10,
            mac: 0x02_00_0a_00_00_01,
            ip: Some(Ipv4Addr::new(10, 0, 0, 1)),
            global_prefix: Some(0x2001_0db8_0000_0000),
            ula_prefix: None,
            ip6: None,
            prefix_length: None,
            parent_network_ar_id: None,
            attrs: Vec::new(),
            leases: Leases::new(),
            next_index: 0,
        }
    }

    #[test]
    fn addresses_follow_the_index() {
        let ar = range();
        assert_eq!(format_mac(ar.mac_at(2)), "02:00:0a:00:00:03");
        assert_eq!(ar.ip_at(9), Some(Ipv4Addr::new(10, 0, 0, 10)));
        assert_eq!(
            ar.slaac_at(0x2001_0db8_0000_0000, 0).to_string(),
            "2001:db8::aff:fe00:1"
        );
        assert_eq!(parse_mac("02:00:0a:00:00:01"), Some(0x02_00_0a_00_00_01));
        assert_eq!(parse_mac("zz:00:0a:00:00:01"), None);
    }
}
