//! Quotas of a user or group: limits and usage for datastores, networks, VMs and images.
//! A limit of -1 means "use the default quota", -2 means "unlimited".

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuotaEntry {
    /// Limits by field name (-1 default, -2 unlimited).
    pub limits: BTreeMap<String, f64>,
    /// Usage by field name.
    pub used: BTreeMap<String, f64>,
}

impl QuotaEntry {
    /// The limit of a field (-1 when unset).
    pub fn limit(&self, field: &str) -> f64 {
        self.limits.get(field).copied().unwrap_or(-1.0)
    }

    /// The usage of a field (0 when unset).
    pub fn used(&self, field: &str) -> f64 {
        self.used.get(field).copied().unwrap_or(0.0)
    }
}

/// All quotas of a user or group. Entries are keyed by object id (-1 for the VM quota).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

/// Formats a quota number as OpenNebula does: integers without a decimal point.
pub fn format_quota_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}
