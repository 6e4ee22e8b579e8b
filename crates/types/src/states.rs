//! OpenNebula's numeric state and type codes for hosts, images, datastores, networks and zones.

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
