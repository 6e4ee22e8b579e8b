//! OpenNebula's numeric state and type codes for hosts, images, datastores, networks, zones
//! and virtual machines (STATE, LCM_STATE and the HISTORY ACTION codes).

use serde::{Deserialize, Serialize};

macro_rules! code_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:expr => $text:expr),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The numeric code OpenNebula uses on the wire.
            pub fn code(self) -> i32 {
                match self { $($name::$variant => $code),+ }
            }

            /// The value with this numeric code.
            pub fn from_code(code: i32) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// OpenNebula's upper-case name of the value.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value with this name (case-insensitive).
            pub fn from_name(name: &str) -> Option<Self> {
                [$($name::$variant),+].into_iter().find(|v| v.name().eq_ignore_ascii_case(name))
            }
        }
    };
}

code_enum!(
    /// Host STATE.
    HostState {
        /// Created, not yet monitored.
        Init = 0 => "INIT",
        /// Monitored successfully.
        Monitored = 2 => "MONITORED",
        /// Monitoring failed.
        Error = 3 => "ERROR",
        /// Disabled by an administrator: monitored, but takes no new VMs.
        Disabled = 4 => "DISABLED",
        /// Offline: neither monitored nor used.
        Offline = 8 => "OFFLINE",
    }
);

code_enum!(
    /// Image STATE.
    ImageState {
        /// Being created.
        Init = 0 => "INIT",
        /// Ready to use.
        Ready = 1 => "READY",
        /// Used by at least one VM (non-persistent).
        Used = 2 => "USED",
        /// Disabled.
        Disabled = 3 => "DISABLED",
        /// Being copied or created by the datastore.
        Locked = 4 => "LOCKED",
        /// Creating it failed.
        Error = 5 => "ERROR",
        /// Being cloned.
        Clone = 6 => "CLONE",
        /// Being deleted.
        Delete = 7 => "DELETE",
        /// Used by its one VM (persistent).
        UsedPers = 8 => "USED_PERS",
        /// Locked while in use.
        LockedUsed = 9 => "LOCKED_USED",
        /// Locked while in use (persistent).
        LockedUsedPers = 10 => "LOCKED_USED_PERS",
    }
);

code_enum!(
    /// Image TYPE.
    ImageType {
        /// A bootable OS disk.
        Os = 0 => "OS",
        /// A read-only CD-ROM.
        Cdrom = 1 => "CDROM",
        /// A data disk.
        Datablock = 2 => "DATABLOCK",
        /// A kernel file.
        Kernel = 3 => "KERNEL",
        /// A ramdisk file.
        Ramdisk = 4 => "RAMDISK",
        /// A context file.
        Context = 5 => "CONTEXT",
        /// A backup.
        Backup = 6 => "BACKUP",
        /// A file system.
        Filesystem = 7 => "FILESYSTEM",
    }
);

impl ImageType {
    /// Whether images of this type live in a FILE_DS rather than an IMAGE_DS.
    pub fn is_file(self) -> bool {
        matches!(
            self,
            ImageType::Kernel | ImageType::Ramdisk | ImageType::Context
        )
    }
}

code_enum!(
    /// DISK_TYPE of an image or datastore.
    DiskType {
        /// A file.
        File = 0 => "FILE",
        /// A CD-ROM.
        CdRom = 1 => "CD_ROM",
        /// A block device.
        Block = 2 => "BLOCK",
        /// Ceph RBD.
        Rbd = 3 => "RBD",
        /// Not applicable.
        None = 255 => "NONE",
    }
);

code_enum!(
    /// Datastore TYPE.
    DatastoreType {
        /// Holds images.
        Image = 0 => "IMAGE_DS",
        /// Holds running VMs' disks.
        System = 1 => "SYSTEM_DS",
        /// Holds files (kernels, contexts).
        File = 2 => "FILE_DS",
        /// Holds backups.
        Backup = 3 => "BACKUP_DS",
    }
);

code_enum!(
    /// Datastore STATE.
    DatastoreState {
        /// In use.
        Ready = 0 => "READY",
        /// Takes no new images or VMs.
        Disabled = 1 => "DISABLED",
    }
);

code_enum!(
    /// Virtual network STATE.
    VnetState {
        /// Being created.
        Init = 0 => "INIT",
        /// Ready.
        Ready = 1 => "READY",
        /// Being created by its driver.
        LockCreate = 2 => "LOCK_CREATE",
        /// Being deleted by its driver.
        LockDelete = 3 => "LOCK_DELETE",
        /// Deleted.
        Done = 4 => "DONE",
        /// The driver failed.
        Error = 5 => "ERROR",
        /// Updating the VMs failed.
        UpdateFailure = 6 => "UPDATE_FAILURE",
    }
);

code_enum!(
    /// Zone STATE.
    ZoneState {
        /// Accepts requests.
        Enabled = 0 => "ENABLED",
        /// Read-only.
        Disabled = 1 => "DISABLED",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        assert_eq!(HostState::from_code(8), Some(HostState::Offline));
        assert_eq!(
            ImageType::from_name("datablock"),
            Some(ImageType::Datablock)
        );
        assert_eq!(ImageState::UsedPers.code(), 8);
        assert_eq!(
            DatastoreType::from_name("SYSTEM_DS").map(|t| t.code()),
            Some(1)
        );
        assert_eq!(DiskType::None.code(), 255);
        assert_eq!(HostState::from_code(1), None);
    }
}

code_enum!(
    /// VM STATE.
    VmState {
        /// Being created.
        Init = 0 => "INIT",
        /// Waiting for the scheduler.
        Pending = 1 => "PENDING",
        /// Held: not scheduled until released.
        Hold = 2 => "HOLD",
        /// On a host; LCM_STATE says what it is doing.
        Active = 3 => "ACTIVE",
        /// Saved to disk and off its host.
        Stopped = 4 => "STOPPED",
        /// Paused on its host, memory saved.
        Suspended = 5 => "SUSPENDED",
        /// Ended.
        Done = 6 => "DONE",
        /// Retired failure state (kept for the numbers).
        Failed = 7 => "FAILED",
        /// Off, disks kept on the host.
        Poweroff = 8 => "POWEROFF",
        /// Off and off its host, disks back in the datastores.
        Undeployed = 9 => "UNDEPLOYED",
        /// Waiting for its images to be cloned.
        Cloning = 10 => "CLONING",
        /// Cloning an image failed.
        CloningFailure = 11 => "CLONING_FAILURE",
    }
);

code_enum!(
    /// VM LCM_STATE, the sub-state of an ACTIVE VM (LCM_INIT otherwise).
    LcmState {
        /// `LCM_INIT`.
        LcmInit = 0 => "LCM_INIT",
        /// `PROLOG`.
        Prolog = 1 => "PROLOG",
        /// `BOOT`.
        Boot = 2 => "BOOT",
        /// `RUNNING`.
        Running = 3 => "RUNNING",
        /// `MIGRATE`.
        Migrate = 4 => "MIGRATE",
        /// `SAVE_STOP`.
        SaveStop = 5 => "SAVE_STOP",
        /// `SAVE_SUSPEND`.
        SaveSuspend = 6 => "SAVE_SUSPEND",
        /// `SAVE_MIGRATE`.
        SaveMigrate = 7 => "SAVE_MIGRATE",
        /// `PROLOG_MIGRATE`.
        PrologMigrate = 8 => "PROLOG_MIGRATE",
        /// `PROLOG_RESUME`.
        PrologResume = 9 => "PROLOG_RESUME",
        /// `EPILOG_STOP`.
        EpilogStop = 10 => "EPILOG_STOP",
        /// `EPILOG`.
        Epilog = 11 => "EPILOG",
        /// `SHUTDOWN`.
        Shutdown = 12 => "SHUTDOWN",
        /// `CLEANUP_RESUBMIT`.
        CleanupResubmit = 15 => "CLEANUP_RESUBMIT",
        /// `UNKNOWN`.
        Unknown = 16 => "UNKNOWN",
        /// `HOTPLUG`.
        Hotplug = 17 => "HOTPLUG",
        /// `SHUTDOWN_POWEROFF`.
        ShutdownPoweroff = 18 => "SHUTDOWN_POWEROFF",
        /// `BOOT_UNKNOWN`.
        BootUnknown = 19 => "BOOT_UNKNOWN",
        /// `BOOT_POWEROFF`.
        BootPoweroff = 20 => "BOOT_POWEROFF",
        /// `BOOT_SUSPENDED`.
        BootSuspended = 21 => "BOOT_SUSPENDED",
        /// `BOOT_STOPPED`.
        BootStopped = 22 => "BOOT_STOPPED",
        /// `CLEANUP_DELETE`.
        CleanupDelete = 23 => "CLEANUP_DELETE",
        /// `HOTPLUG_SNAPSHOT`.
        HotplugSnapshot = 24 => "HOTPLUG_SNAPSHOT",
        /// `HOTPLUG_NIC`.
        HotplugNic = 25 => "HOTPLUG_NIC",
        /// `HOTPLUG_SAVEAS`.
        HotplugSaveas = 26 => "HOTPLUG_SAVEAS",
        /// `HOTPLUG_SAVEAS_POWEROFF`.
        HotplugSaveasPoweroff = 27 => "HOTPLUG_SAVEAS_POWEROFF",
        /// `HOTPLUG_SAVEAS_SUSPENDED`.
        HotplugSaveasSuspended = 28 => "HOTPLUG_SAVEAS_SUSPENDED",
        /// `SHUTDOWN_UNDEPLOY`.
        ShutdownUndeploy = 29 => "SHUTDOWN_UNDEPLOY",
        /// `EPILOG_UNDEPLOY`.
        EpilogUndeploy = 30 => "EPILOG_UNDEPLOY",
        /// `PROLOG_UNDEPLOY`.
        PrologUndeploy = 31 => "PROLOG_UNDEPLOY",
        /// `BOOT_UNDEPLOY`.
        BootUndeploy = 32 => "BOOT_UNDEPLOY",
        /// `HOTPLUG_PROLOG_POWEROFF`.
        HotplugPrologPoweroff = 33 => "HOTPLUG_PROLOG_POWEROFF",
        /// `HOTPLUG_EPILOG_POWEROFF`.
        HotplugEpilogPoweroff = 34 => "HOTPLUG_EPILOG_POWEROFF",
        /// `BOOT_MIGRATE`.
        BootMigrate = 35 => "BOOT_MIGRATE",
        /// `BOOT_FAILURE`.
        BootFailure = 36 => "BOOT_FAILURE",
        /// `BOOT_MIGRATE_FAILURE`.
        BootMigrateFailure = 37 => "BOOT_MIGRATE_FAILURE",
        /// `PROLOG_MIGRATE_FAILURE`.
        PrologMigrateFailure = 38 => "PROLOG_MIGRATE_FAILURE",
        /// `PROLOG_FAILURE`.
        PrologFailure = 39 => "PROLOG_FAILURE",
        /// `EPILOG_FAILURE`.
        EpilogFailure = 40 => "EPILOG_FAILURE",
        /// `EPILOG_STOP_FAILURE`.
        EpilogStopFailure = 41 => "EPILOG_STOP_FAILURE",
        /// `EPILOG_UNDEPLOY_FAILURE`.
        EpilogUndeployFailure = 42 => "EPILOG_UNDEPLOY_FAILURE",
        /// `PROLOG_MIGRATE_POWEROFF`.
        PrologMigratePoweroff = 43 => "PROLOG_MIGRATE_POWEROFF",
        /// `PROLOG_MIGRATE_POWEROFF_FAILURE`.
        PrologMigratePoweroffFailure = 44 => "PROLOG_MIGRATE_POWEROFF_FAILURE",
        /// `PROLOG_MIGRATE_SUSPEND`.
        PrologMigrateSuspend = 45 => "PROLOG_MIGRATE_SUSPEND",
        /// `PROLOG_MIGRATE_SUSPEND_FAILURE`.
        PrologMigrateSuspendFailure = 46 => "PROLOG_MIGRATE_SUSPEND_FAILURE",
        /// `BOOT_UNDEPLOY_FAILURE`.
        BootUndeployFailure = 47 => "BOOT_UNDEPLOY_FAILURE",
        /// `BOOT_STOPPED_FAILURE`.
        BootStoppedFailure = 48 => "BOOT_STOPPED_FAILURE",
        /// `PROLOG_RESUME_FAILURE`.
        PrologResumeFailure = 49 => "PROLOG_RESUME_FAILURE",
        /// `PROLOG_UNDEPLOY_FAILURE`.
        PrologUndeployFailure = 50 => "PROLOG_UNDEPLOY_FAILURE",
        /// `DISK_SNAPSHOT_POWEROFF`.
        DiskSnapshotPoweroff = 51 => "DISK_SNAPSHOT_POWEROFF",
        /// `DISK_SNAPSHOT_REVERT_POWEROFF`.
        DiskSnapshotRevertPoweroff = 52 => "DISK_SNAPSHOT_REVERT_POWEROFF",
        /// `DISK_SNAPSHOT_DELETE_POWEROFF`.
        DiskSnapshotDeletePoweroff = 53 => "DISK_SNAPSHOT_DELETE_POWEROFF",
        /// `DISK_SNAPSHOT_SUSPENDED`.
        DiskSnapshotSuspended = 54 => "DISK_SNAPSHOT_SUSPENDED",
        /// `DISK_SNAPSHOT_DELETE_SUSPENDED`.
        DiskSnapshotDeleteSuspended = 56 => "DISK_SNAPSHOT_DELETE_SUSPENDED",
        /// `DISK_SNAPSHOT`.
        DiskSnapshot = 57 => "DISK_SNAPSHOT",
        /// `DISK_SNAPSHOT_DELETE`.
        DiskSnapshotDelete = 59 => "DISK_SNAPSHOT_DELETE",
        /// `PROLOG_MIGRATE_UNKNOWN`.
        PrologMigrateUnknown = 60 => "PROLOG_MIGRATE_UNKNOWN",
        /// `PROLOG_MIGRATE_UNKNOWN_FAILURE`.
        PrologMigrateUnknownFailure = 61 => "PROLOG_MIGRATE_UNKNOWN_FAILURE",
        /// `DISK_RESIZE`.
        DiskResize = 62 => "DISK_RESIZE",
        /// `DISK_RESIZE_POWEROFF`.
        DiskResizePoweroff = 63 => "DISK_RESIZE_POWEROFF",
        /// `DISK_RESIZE_UNDEPLOYED`.
        DiskResizeUndeployed = 64 => "DISK_RESIZE_UNDEPLOYED",
        /// `HOTPLUG_NIC_POWEROFF`.
        HotplugNicPoweroff = 65 => "HOTPLUG_NIC_POWEROFF",
        /// `HOTPLUG_RESIZE`.
        HotplugResize = 66 => "HOTPLUG_RESIZE",
        /// `HOTPLUG_SAVEAS_UNDEPLOYED`.
        HotplugSaveasUndeployed = 67 => "HOTPLUG_SAVEAS_UNDEPLOYED",
        /// `HOTPLUG_SAVEAS_STOPPED`.
        HotplugSaveasStopped = 68 => "HOTPLUG_SAVEAS_STOPPED",
        /// `BACKUP`.
        Backup = 69 => "BACKUP",
        /// `BACKUP_POWEROFF`.
        BackupPoweroff = 70 => "BACKUP_POWEROFF",
        /// `RESTORE`.
        Restore = 71 => "RESTORE",
    }
);

code_enum!(
    /// The ACTION of a VM HISTORY record, and of `vm.action` names.
    HistoryAction {
        /// `none`.
        None = 0 => "none",
        /// `migrate`.
        Migrate = 1 => "migrate",
        /// `live-migrate`.
        LiveMigrate = 2 => "live-migrate",
        /// `undeploy`.
        Undeploy = 5 => "undeploy",
        /// `undeploy-hard`.
        UndeployHard = 6 => "undeploy-hard",
        /// `hold`.
        Hold = 7 => "hold",
        /// `release`.
        Release = 8 => "release",
        /// `stop`.
        Stop = 9 => "stop",
        /// `suspend`.
        Suspend = 10 => "suspend",
        /// `resume`.
        Resume = 11 => "resume",
        /// `delete`.
        Delete = 13 => "delete",
        /// `delete-recreate`.
        DeleteRecreate = 14 => "delete-recreate",
        /// `reboot`.
        Reboot = 15 => "reboot",
        /// `reboot-hard`.
        RebootHard = 16 => "reboot-hard",
        /// `resched`.
        Resched = 17 => "resched",
        /// `unresched`.
        Unresched = 18 => "unresched",
        /// `poweroff`.
        Poweroff = 19 => "poweroff",
        /// `poweroff-hard`.
        PoweroffHard = 20 => "poweroff-hard",
        /// `disk-attach`.
        DiskAttach = 21 => "disk-attach",
        /// `disk-detach`.
        DiskDetach = 22 => "disk-detach",
        /// `nic-attach`.
        NicAttach = 23 => "nic-attach",
        /// `nic-detach`.
        NicDetach = 24 => "nic-detach",
        /// `disk-snapshot-create`.
        DiskSnapshotCreate = 25 => "disk-snapshot-create",
        /// `disk-snapshot-delete`.
        DiskSnapshotDelete = 26 => "disk-snapshot-delete",
        /// `terminate`.
        Terminate = 27 => "terminate",
        /// `terminate-hard`.
        TerminateHard = 28 => "terminate-hard",
        /// `disk-resize`.
        DiskResize = 29 => "disk-resize",
        /// `deploy`.
        Deploy = 30 => "deploy",
        /// `chown`.
        Chown = 31 => "chown",
        /// `chmod`.
        Chmod = 32 => "chmod",
        /// `updateconf`.
        Updateconf = 33 => "updateconf",
        /// `rename`.
        Rename = 34 => "rename",
        /// `resize`.
        Resize = 35 => "resize",
        /// `update`.
        Update = 36 => "update",
        /// `snapshot-create`.
        SnapshotCreate = 37 => "snapshot-create",
        /// `snapshot-delete`.
        SnapshotDelete = 38 => "snapshot-delete",
        /// `snapshot-revert`.
        SnapshotRevert = 39 => "snapshot-revert",
        /// `disk-saveas`.
        DiskSaveas = 40 => "disk-saveas",
        /// `disk-snapshot-revert`.
        DiskSnapshotRevert = 41 => "disk-snapshot-revert",
        /// `recover`.
        Recover = 42 => "recover",
        /// `retry`.
        Retry = 43 => "retry",
        /// `monitor`.
        Monitor = 44 => "monitor",
        /// `disk-snapshot-rename`.
        DiskSnapshotRename = 45 => "disk-snapshot-rename",
        /// `alias-attach`.
        AliasAttach = 46 => "alias-attach",
        /// `alias-detach`.
        AliasDetach = 47 => "alias-detach",
        /// `poweroff-migrate`.
        PoweroffMigrate = 48 => "poweroff-migrate",
        /// `poweroff-hard-migrate`.
        PoweroffHardMigrate = 49 => "poweroff-hard-migrate",
        /// `backup`.
        Backup = 50 => "backup",
        /// `nic-update`.
        NicUpdate = 51 => "nic-update",
        /// `backup-cancel`.
        BackupCancel = 52 => "backup-cancel",
        /// `sched-add`.
        SchedAdd = 53 => "sched-add",
        /// `sched-update`.
        SchedUpdate = 54 => "sched-update",
        /// `sched-delete`.
        SchedDelete = 55 => "sched-delete",
        /// `sg-attach`.
        SgAttach = 56 => "sg-attach",
        /// `sg-detach`.
        SgDetach = 57 => "sg-detach",
        /// `pci-attach`.
        PciAttach = 58 => "pci-attach",
        /// `pci-detach`.
        PciDetach = 59 => "pci-detach",
        /// `restore`.
        Restore = 60 => "restore",
        /// `exec`.
        Exec = 61 => "exec",
        /// `exec-retry`.
        ExecRetry = 62 => "exec-retry",
        /// `exec-cancel`.
        ExecCancel = 63 => "exec-cancel",
        /// `vmgroup-add`.
        VmgroupAdd = 64 => "vmgroup-add",
        /// `vmgroup-del`.
        VmgroupDel = 65 => "vmgroup-del",
    }
);
