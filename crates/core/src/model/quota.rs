//! Quotas of a user or group: limits and usage for datastores, networks, VMs and images.
//! A limit of -1 means "use the default quota", -2 means "unlimited". Limits and usage
//! are exact [`Amount`]s (hundredths), so CPU quotas add up without rounding errors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Amount;

/// The four kinds of quota, each with OpenNebula's fields in XSD order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum QuotaKind {
    /// Per datastore: images and MB.
    Datastore,
    /// Per network: leases.
    Network,
    /// VMs: counts, CPU, memory, disk.
    Vm,
    /// Per image: running VMs using it.
    Image,
}

impl QuotaKind {
    /// Every kind, in XSD order.
    pub const ALL: [QuotaKind; 4] = [
        QuotaKind::Datastore,
        QuotaKind::Network,
        QuotaKind::Vm,
        QuotaKind::Image,
    ];

    /// The template vector name (`DATASTORE`, `NETWORK`, `VM`, `IMAGE`).
    pub fn name(self) -> &'static str {
        match self {
            QuotaKind::Datastore => "DATASTORE",
            QuotaKind::Network => "NETWORK",
            QuotaKind::Vm => "VM",
            QuotaKind::Image => "IMAGE",
        }
    }

    /// Whether entries are keyed by an `ID` (all but VM).
    pub fn has_id(self) -> bool {
        !matches!(self, QuotaKind::Vm)
    }

    /// The limit fields, in XSD order (each is followed by `<FIELD>_USED` in XML).
    pub fn limits(self) -> &'static [&'static str] {
        match self {
            QuotaKind::Datastore => &["IMAGES", "SIZE"],
            QuotaKind::Network => &["LEASES"],
            QuotaKind::Vm => &[
                "CPU",
                "MEMORY",
                "PCI_DEV",
                "PCI_NIC",
                "RUNNING_CPU",
                "RUNNING_MEMORY",
                "RUNNING_PCI_DEV",
                "RUNNING_PCI_NIC",
                "RUNNING_VMS",
                "SYSTEM_DISK_SIZE",
                "VMS",
            ],
            QuotaKind::Image => &["RVMS"],
        }
    }
}

/// One quota entry: a limit and a usage per field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaEntry {
    /// Limits by field name (-1 default, -2 unlimited).
    pub limits: BTreeMap<String, Amount>,
    /// Usage by field name.
    pub used: BTreeMap<String, Amount>,
}

impl QuotaEntry {
    /// The limit of a field (-1 when unset).
    pub fn limit_amount(&self, field: &str) -> Amount {
        self.limits
            .get(field)
            .copied()
            .unwrap_or(Amount::DEFAULT_LIMIT)
    }

    /// The usage of a field (0 when unset).
    pub fn used_amount(&self, field: &str) -> Amount {
        self.used.get(field).copied().unwrap_or(Amount::ZERO)
    }

    /// The limit of a field as a float (-1 when unset), for reading.
    pub fn limit(&self, field: &str) -> f64 {
        self.limit_amount(field).as_f64()
    }

    /// The usage of a field as a float (0 when unset), for reading.
    pub fn used(&self, field: &str) -> f64 {
        self.used_amount(field).as_f64()
    }
}

/// All quotas of a user or group. Entries are keyed by object id (-1 for the VM quota).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quotas {
    /// Entries per kind, then per id.
    pub entries: BTreeMap<QuotaKind, BTreeMap<i32, QuotaEntry>>,
}

impl Quotas {
    /// The entries of a kind.
    pub fn of(&self, kind: QuotaKind) -> impl Iterator<Item = (&i32, &QuotaEntry)> {
        self.entries.get(&kind).into_iter().flatten()
    }

    /// The entry for `kind`/`id`, created empty if missing.
    pub fn entry_mut(&mut self, kind: QuotaKind, id: i32) -> &mut QuotaEntry {
        self.entries.entry(kind).or_default().entry(id).or_default()
    }

    /// The entry for `kind`/`id`.
    pub fn entry(&self, kind: QuotaKind, id: i32) -> Option<&QuotaEntry> {
        self.entries.get(&kind).and_then(|m| m.get(&id))
    }
}

/// Formats a quota number as OpenNebula does: integers without a decimal point, others
/// with the decimals they need (`0.3`, `1.25`).
pub fn format_quota_value(value: Amount) -> String {
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_stored_by_older_versions_are_read_exactly() {
        let json = r#"{"entries":{"Vm":{"-1":{
            "limits":{"CPU":0.3,"VMS":-1.0,"MEMORY":-2.0},
            "used":{"CPU":0.30000000000000004,"MEMORY":1536.0}}}}}"#;
        let q: Quotas = serde_json::from_str(json).expect("old quotas");
        let e = q.entry(QuotaKind::Vm, -1).expect("vm entry");
        assert_eq!(e.limit_amount("CPU"), Amount::from_hundredths(30));
        assert_eq!(e.used_amount("CPU"), e.limit_amount("CPU"));
        assert_eq!(e.limit_amount("VMS"), Amount::DEFAULT_LIMIT);
        assert_eq!(e.limit_amount("MEMORY"), Amount::UNLIMITED);
        assert_eq!(format_quota_value(e.used_amount("MEMORY")), "1536");
        assert_eq!(format_quota_value(e.used_amount("CPU")), "0.3");
        let again: Quotas =
            serde_json::from_str(&serde_json::to_string(&q).expect("json")).expect("new form");
        assert_eq!(again, q);
    }
}
