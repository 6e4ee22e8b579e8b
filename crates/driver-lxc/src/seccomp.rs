//! The seccomp filter every container runs under: everything is allowed but the system
//! calls a container has no business making — kernel keyrings, BPF, perf, loading kernels
//! and modules, rebooting, swap, the clock, accounting, userfaultfd, handles that open
//! files outside the container and, since a container's root already holds what mount
//! namespaces give, new mounts and namespaces — which fail with EPERM. Calls from another
//! ABI than the host's (32-bit calls on a 64-bit host) are checked against the same list.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompBuilder, LinuxSyscallBuilder,
};

use crate::error::LxcError;

/// The refused system calls.
pub const REFUSED: &[&str] = &[
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "init_module",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "stime",
    "swapoff",
    "swapon",
    "syslog",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vhangup",
];

const EPERM: u32 = 1;

fn architectures() -> Vec<Arch> {
    if cfg!(target_arch = "aarch64") {
        vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
    } else {
        vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
    }
}

/// The filter.
pub fn profile() -> Result<LinuxSeccomp, LxcError> {
    let refused = LinuxSyscallBuilder::default()
        .names(REFUSED.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .action(LinuxSeccompAction::ScmpActErrno)
        .errno_ret(EPERM)
        .build()
        .map_err(|e| LxcError::BadRequest(format!("seccomp profile: {e}")))?;
    LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .architectures(architectures())
        .syscalls(vec![refused])
        .build()
        .map_err(|e| LxcError::BadRequest(format!("seccomp profile: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_refuses_the_listed_calls_with_eperm() {
        let p = profile().expect("profile");
        let json = serde_json::to_value(&p).expect("json");
        assert_eq!(json["defaultAction"], "SCMP_ACT_ALLOW");
        let rule = &json["syscalls"][0];
        assert_eq!(rule["action"], "SCMP_ACT_ERRNO");
        assert_eq!(rule["errnoRet"], 1);
        let names = rule["names"].as_array().expect("names");
        for call in ["keyctl", "bpf", "mount", "unshare", "kexec_load", "reboot"] {
            assert!(names.iter().any(|n| n == call), "{call} is not refused");
        }
    }
}
