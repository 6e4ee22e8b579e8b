//! Where a VM's files live on the host: one directory per VM under the driver's state
//! directory, holding its spec, QMP and serial sockets, serial log, pid file, disks,
//! context cdrom and saved memory. The directory is the driver's memory across restarts.

use std::path::{Path, PathBuf};

use nubo_driver::VmSpec;

use crate::error::KvmError;

/// The files of one VM.
#[derive(Debug, Clone)]
pub struct VmDir {
    /// The directory.
    pub root: PathBuf,
}

impl VmDir {
    /// The directory of VM `vm_id` under `state_dir`.
    pub fn new(state_dir: &Path, vm_id: i32) -> VmDir {
        VmDir {
            root: state_dir.join("vms").join(vm_id.to_string()),
        }
    }

    /// The VM's spec, as last deployed.
    pub fn spec(&self) -> PathBuf {
        self.root.join("spec.json")
    }
    /// QEMU's QMP socket.
    pub fn qmp(&self) -> PathBuf {
        self.root.join("qmp.sock")
    }
    /// The serial console's socket.
    pub fn serial(&self) -> PathBuf {
        self.root.join("serial.sock")
    }
    /// Everything the serial console printed.
    pub fn serial_log(&self) -> PathBuf {
        self.root.join("serial.log")
    }
    /// QEMU's pid.
    pub fn pid(&self) -> PathBuf {
        self.root.join("qemu.pid")
    }
    /// QEMU's own log (errors after it daemonized).
    pub fn qemu_log(&self) -> PathBuf {
        self.root.join("qemu.log")
    }
    /// Left when the guest powered itself off (QEMU was then stopped by the agent), so
    /// later reports still say "powered off" rather than "vanished".
    pub fn powered_off(&self) -> PathBuf {
        self.root.join("powered-off")
    }
    /// The memory saved by suspend/stop.
    pub fn saved(&self) -> PathBuf {
        self.root.join("memory.state")
    }
    /// The number of the last operation carried out on the VM here.
    pub fn op_seq(&self) -> PathBuf {
        self.root.join("op-seq")
    }
    /// The context cdrom.
    pub fn context_iso(&self) -> PathBuf {
        self.root.join("context.iso")
    }
    /// The disk a VM writes for DISK_ID `id` (an overlay or a volatile disk).
    pub fn disk(&self, id: i32) -> PathBuf {
        self.root.join(format!("disk.{id}"))
    }

    /// Makes the directory.
    pub async fn create(&self) -> Result<(), KvmError> {
        tokio::fs::create_dir_all(&self.root)
            .await
            .map_err(|e| KvmError::file(&self.root, e))
    }

    /// Writes the spec.
    pub async fn save_spec(&self, spec: &VmSpec) -> Result<(), KvmError> {
        let path = self.spec();
        let text = serde_json::to_vec_pretty(spec).map_err(|e| KvmError::file(&path, e))?;
        let tmp = self.root.join("spec.json.tmp");
        tokio::fs::write(&tmp, text)
            .await
            .map_err(|e| KvmError::file(&tmp, e))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| KvmError::file(&path, e))
    }

    /// Reads the spec, if the VM was deployed here.
    pub async fn load_spec(&self) -> Option<VmSpec> {
        let text = tokio::fs::read(self.spec()).await.ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Removes everything.
    pub async fn remove(&self) -> Result<(), KvmError> {
        match tokio::fs::remove_dir_all(&self.root).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(KvmError::file(&self.root, e)),
        }
    }

    /// The ids of the VMs that have a directory under `state_dir`.
    pub fn list(state_dir: &Path) -> Vec<i32> {
        let Ok(entries) = std::fs::read_dir(state_dir.join("vms")) else {
            return Vec::new();
        };
        let mut ids: Vec<i32> = entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        ids.sort_unstable();
        ids
    }
}
