//! The table of every XML-RPC method Nubo serves. [`super::dispatch`] routes only the
//! methods listed here, `system.listMethods` answers this list, and the authorization
//! matrix test (tests/compat/test_authz_matrix.py) must have a row for each, so a method
//! cannot be added without being listed, and cannot be listed without being tested.

/// Every method, sorted (so that lookups can bisect).
pub const METHODS: &[&str] = &[
    "one.acl.addrule",
    "one.acl.delrule",
    "one.acl.info",
    "one.cluster.adddatastore",
    "one.cluster.addhost",
    "one.cluster.addvnet",
    "one.cluster.allocate",
    "one.cluster.deldatastore",
    "one.cluster.delete",
    "one.cluster.delhost",
    "one.cluster.delvnet",
    "one.cluster.info",
    "one.cluster.optimize",
    "one.cluster.plandelete",
    "one.cluster.planexecute",
    "one.cluster.rename",
    "one.cluster.update",
    "one.clusterpool.info",
    "one.datastore.allocate",
    "one.datastore.chmod",
    "one.datastore.chown",
    "one.datastore.delete",
    "one.datastore.enable",
    "one.datastore.info",
    "one.datastore.rename",
    "one.datastore.update",
    "one.datastorepool.info",
    "one.document.allocate",
    "one.document.chmod",
    "one.document.chown",
    "one.document.clone",
    "one.document.delete",
    "one.document.info",
    "one.document.lock",
    "one.document.rename",
    "one.document.unlock",
    "one.document.update",
    "one.documentpool.info",
    "one.group.addadmin",
    "one.group.allocate",
    "one.group.deladmin",
    "one.group.delete",
    "one.group.info",
    "one.group.quota",
    "one.group.update",
    "one.group.vlan",
    "one.grouppool.info",
    "one.groupquota.info",
    "one.groupquota.update",
    "one.host.allocate",
    "one.host.delete",
    "one.host.info",
    "one.host.monitoring",
    "one.host.rename",
    "one.host.status",
    "one.host.update",
    "one.hostpool.info",
    "one.hostpool.monitoring",
    "one.image.allocate",
    "one.image.chmod",
    "one.image.chown",
    "one.image.chtype",
    "one.image.clone",
    "one.image.delete",
    "one.image.enable",
    "one.image.info",
    "one.image.lock",
    "one.image.persistent",
    "one.image.rename",
    "one.image.restore",
    "one.image.snapshotdelete",
    "one.image.snapshotflatten",
    "one.image.snapshotrevert",
    "one.image.unlock",
    "one.image.update",
    "one.imagepool.info",
    "one.secgroup.allocate",
    "one.secgroup.chmod",
    "one.secgroup.chown",
    "one.secgroup.clone",
    "one.secgroup.commit",
    "one.secgroup.delete",
    "one.secgroup.info",
    "one.secgroup.rename",
    "one.secgroup.update",
    "one.secgrouppool.info",
    "one.system.config",
    "one.system.version",
    "one.template.allocate",
    "one.template.chmod",
    "one.template.chown",
    "one.template.clone",
    "one.template.delete",
    "one.template.info",
    "one.template.instantiate",
    "one.template.lock",
    "one.template.rename",
    "one.template.unlock",
    "one.template.update",
    "one.templatepool.info",
    "one.user.addgroup",
    "one.user.allocate",
    "one.user.chauth",
    "one.user.chgrp",
    "one.user.delete",
    "one.user.delgroup",
    "one.user.ec2keycreate",
    "one.user.ec2keydelete",
    "one.user.ec2keyinfo",
    "one.user.enable",
    "one.user.info",
    "one.user.login",
    "one.user.passwd",
    "one.user.quota",
    "one.user.update",
    "one.userpool.info",
    "one.userquota.info",
    "one.userquota.update",
    "one.vm.action",
    "one.vm.allocate",
    "one.vm.attach",
    "one.vm.attachnic",
    "one.vm.attachsg",
    "one.vm.cancelexec",
    "one.vm.chmod",
    "one.vm.chown",
    "one.vm.console",
    "one.vm.deploy",
    "one.vm.detach",
    "one.vm.detachnic",
    "one.vm.detachsg",
    "one.vm.diskresize",
    "one.vm.disksaveas",
    "one.vm.disksnapshotcreate",
    "one.vm.disksnapshotdelete",
    "one.vm.disksnapshotrename",
    "one.vm.disksnapshotrevert",
    "one.vm.exec",
    "one.vm.info",
    "one.vm.lock",
    "one.vm.migrate",
    "one.vm.monitoring",
    "one.vm.recover",
    "one.vm.rename",
    "one.vm.resize",
    "one.vm.retryexec",
    "one.vm.schedadd",
    "one.vm.scheddelete",
    "one.vm.schedupdate",
    "one.vm.snapshotcreate",
    "one.vm.snapshotdelete",
    "one.vm.snapshotrevert",
    "one.vm.unlock",
    "one.vm.update",
    "one.vm.updateconf",
    "one.vm.updatenic",
    "one.vm.vmgroupadd",
    "one.vm.vmgroupdel",
    "one.vmgroup.allocate",
    "one.vmgroup.chmod",
    "one.vmgroup.chown",
    "one.vmgroup.delete",
    "one.vmgroup.info",
    "one.vmgroup.lock",
    "one.vmgroup.rename",
    "one.vmgroup.roleadd",
    "one.vmgroup.roledelete",
    "one.vmgroup.roleupdate",
    "one.vmgroup.unlock",
    "one.vmgroup.update",
    "one.vmgrouppool.info",
    "one.vmpool.accounting",
    "one.vmpool.calculateshowback",
    "one.vmpool.info",
    "one.vmpool.infoextended",
    "one.vmpool.infoset",
    "one.vmpool.monitoring",
    "one.vmpool.showback",
    "one.vn.add_ar",
    "one.vn.allocate",
    "one.vn.chmod",
    "one.vn.chown",
    "one.vn.delete",
    "one.vn.free_ar",
    "one.vn.hold",
    "one.vn.info",
    "one.vn.lock",
    "one.vn.recover",
    "one.vn.release",
    "one.vn.rename",
    "one.vn.reserve",
    "one.vn.rm_ar",
    "one.vn.unlock",
    "one.vn.update",
    "one.vn.update_ar",
    "one.vnpool.info",
    "one.vntemplate.allocate",
    "one.vntemplate.chmod",
    "one.vntemplate.chown",
    "one.vntemplate.clone",
    "one.vntemplate.delete",
    "one.vntemplate.info",
    "one.vntemplate.instantiate",
    "one.vntemplate.lock",
    "one.vntemplate.rename",
    "one.vntemplate.unlock",
    "one.vntemplate.update",
    "one.vntemplatepool.info",
    "one.zone.addserver",
    "one.zone.allocate",
    "one.zone.delete",
    "one.zone.delserver",
    "one.zone.enable",
    "one.zone.info",
    "one.zone.raftstatus",
    "one.zone.rename",
    "one.zone.resetserver",
    "one.zone.update",
    "one.zonepool.info",
];

/// Whether `method` is served.
pub fn is_served(method: &str) -> bool {
    METHODS.binary_search(&method).is_ok()
}

/// Whether `method` reads a whole pool (listings, accounting, showback, monitoring): work
/// that grows with the cloud, which the server runs off the threads serving other calls.
pub fn reads_a_pool(method: &str) -> bool {
    method.contains("pool.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_has_no_repeats() {
        assert!(METHODS.windows(2).all(|w| w[0] < w[1]), "sort METHODS");
        assert!(is_served("one.vm.allocate") && !is_served("one.vm.nosuch"));
    }

    /// Every `("object", "verb") =>` arm of a handler names a listed method (a method
    /// routed but not listed would never be reached, nor tested).
    #[test]
    fn every_routed_method_is_listed() {
        let sources = [
            include_str!("acl.rs"),
            include_str!("cluster.rs"),
            include_str!("datastore.rs"),
            include_str!("document.rs"),
            include_str!("group.rs"),
            include_str!("host.rs"),
            include_str!("image.rs"),
            include_str!("secgroup.rs"),
            include_str!("system.rs"),
            include_str!("user.rs"),
            include_str!("vm.rs"),
            include_str!("vmgroup.rs"),
            include_str!("vnet.rs"),
            include_str!("vntemplate.rs"),
            include_str!("zone.rs"),
        ];
        let mut arms = 0;
        for source in sources {
            for piece in source.split("(\"").skip(1) {
                let Some((object, rest)) = piece.split_once("\", \"") else {
                    continue;
                };
                let Some((verb, after)) = rest.split_once('"') else {
                    continue;
                };
                let word = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric());
                if !word(object) || !word(verb) || !after.starts_with(") =>") {
                    continue;
                }
                arms += 1;
                let method = format!("one.{object}.{verb}");
                assert!(is_served(&method), "{method} is routed but not in METHODS");
            }
        }
        assert!(
            arms > 150,
            "found only {arms} routed methods: the scan is broken"
        );
    }
}
