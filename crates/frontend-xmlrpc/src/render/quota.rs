//! Quota sections (`DATASTORE_QUOTA`, `NETWORK_QUOTA`, `VM_QUOTA`, `IMAGE_QUOTA`).

use nubo_core::model::{QuotaKind, Quotas, format_quota_value};

use crate::xml::Xml;

fn section_name(kind: QuotaKind) -> &'static str {
    match kind {
        QuotaKind::Datastore => "DATASTORE_QUOTA",
        QuotaKind::Network => "NETWORK_QUOTA",
        QuotaKind::Vm => "VM_QUOTA",
        QuotaKind::Image => "IMAGE_QUOTA",
    }
}

/// Writes the four quota sections of a user or group (or of the defaults).
pub fn quotas(x: &mut Xml, q: &Quotas) {
    for kind in QuotaKind::ALL {
        let section = section_name(kind);
        x.open(section);
        for (id, entry) in q.of(kind) {
            x.open(kind.name());
            if kind.has_id() {
                x.num("ID", id);
            }
            for field in kind.limits() {
                x.num(field, format_quota_value(entry.limit_amount(field)));
                x.num(
                    &format!("{field}_USED"),
                    format_quota_value(entry.used_amount(field)),
                );
            }
            x.close(kind.name());
        }
        x.close(section);
    }
}

/// Writes `<QUOTAS><ID>id</ID>...</QUOTAS>` as pool listings carry them.
pub fn pool_quotas(x: &mut Xml, id: i32, q: &Quotas) {
    x.open("QUOTAS").num("ID", id);
    quotas(x, q);
    x.close("QUOTAS");
}
