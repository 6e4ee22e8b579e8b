//! Where a container's files live on the host: the QEMU driver's per-VM directory
//! (`vms/<id>`: spec, operation number) with the container's own pieces beside them — the
//! OCI bundle (`bundle/config.json`, `bundle/rootfs` where the root filesystem is mounted),
//! the overlay's writable layer (`upper`, `work`; inside `layer/mnt`, the mounted
//! `layer/layer.img`, when the root disk bounds it), the id-mapped view of the image
//! (`lower`), the context files, the console log and the runtime's log. Image files
//! mounted for many containers live under `rootfs-images/`.

use std::path::{Path, PathBuf};

use nubo_driver_kvm::layout::VmDir;

/// The files of one container, and its names on the machine.
#[derive(Debug, Clone)]
pub struct ContainerDir {
    /// The VM directory the QEMU driver would use (spec, operation number).
    pub vm: VmDir,
    /// The VM's id.
    pub vm_id: i32,
    /// The agent's key ([`agent_key`]).
    pub agent: String,
}

/// A short key of the agent whose state directory is `state_dir`: what the machine-wide
/// names of its containers (cgroups, network namespaces) carry, so that two agents on one
/// machine (two clouds, say) never share them.
pub fn agent_key(state_dir: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(state_dir.display().to_string().as_bytes());
    hex::encode(&digest[..4])
}

impl ContainerDir {
    /// The directory of VM `vm_id` under `state_dir`.
    pub fn new(state_dir: &Path, vm_id: i32) -> ContainerDir {
        ContainerDir {
            vm: VmDir::new(state_dir, vm_id),
            vm_id,
            agent: agent_key(state_dir),
        }
    }

    /// The container's network namespace (`ip netns` name).
    pub fn netns(&self) -> String {
        format!("nubo-{}-{}", self.agent, self.vm_id)
    }

    /// The container's cgroup path (under each controller's hierarchy).
    pub fn cgroup(&self) -> String {
        format!("/nubo/{}/one-{}", self.agent, self.vm_id)
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.vm.root
    }
    /// The OCI bundle.
    pub fn bundle(&self) -> PathBuf {
        self.vm.root.join("bundle")
    }
    /// Where the root filesystem is mounted (the bundle's `rootfs`).
    pub fn rootfs(&self) -> PathBuf {
        self.bundle().join("rootfs")
    }
    /// The image seen through the container's id mapping (the overlay's lower layer).
    pub fn lower(&self) -> PathBuf {
        self.vm.root.join("lower")
    }
    /// The overlay's writable layer: everything the container changed. Inside the
    /// layer's image (`layer/mnt/upper`, there while it is mounted) when the container has
    /// one, else a directory beside the others.
    pub fn upper(&self) -> PathBuf {
        self.layer_place().join("upper")
    }
    /// The overlay's work directory (beside `upper`, on the same filesystem).
    pub fn work(&self) -> PathBuf {
        self.layer_place().join("work")
    }
    fn layer_place(&self) -> PathBuf {
        if self.layer_image().exists() {
            self.layer_mount()
        } else {
            self.vm.root.clone()
        }
    }
    /// The directory of a bounded layer: its image and where it is mounted. Not a plain
    /// file, so cold migration does not send the image (the layer travels packed).
    pub fn layer_dir(&self) -> PathBuf {
        self.vm.root.join("layer")
    }
    /// The ext4 image a bounded layer lives in (the root disk's SIZE).
    pub fn layer_image(&self) -> PathBuf {
        self.layer_dir().join("layer.img")
    }
    /// Where the layer's image is mounted.
    pub fn layer_mount(&self) -> PathBuf {
        self.layer_dir().join("mnt")
    }
    /// The image the root filesystem comes from (its key under `rootfs-images/`).
    pub fn image_key(&self) -> PathBuf {
        self.vm.root.join("image-key")
    }
    /// The slot of host ids the container's user namespace maps to.
    pub fn id_slot(&self) -> PathBuf {
        self.vm.root.join("id-slot")
    }
    /// The context files, mounted read-only at `/context` in the container.
    pub fn context(&self) -> PathBuf {
        self.vm.root.join("context")
    }
    /// The container's resolv.conf (from the context's DNS).
    pub fn resolv_conf(&self) -> PathBuf {
        self.vm.root.join("resolv.conf")
    }
    /// The container's /etc/hostname and /etc/hosts.
    pub fn hostname_file(&self) -> PathBuf {
        self.vm.root.join("hostname")
    }
    /// What the container's init printed (its standard output and error).
    pub fn console_log(&self) -> PathBuf {
        self.vm.root.join("console.log")
    }
    /// The OCI runtime's own log (its errors, as JSON lines).
    pub fn runtime_log(&self) -> PathBuf {
        self.vm.root.join("runtime.log")
    }
    /// The init's pid, written by the runtime.
    pub fn pid(&self) -> PathBuf {
        self.vm.root.join("init.pid")
    }
    /// Left when the container's init ended by itself, so later reports still say
    /// "powered off" after the runtime forgot the container.
    pub fn powered_off(&self) -> PathBuf {
        self.vm.root.join("powered-off")
    }
    /// The result of the last command run with `vm.exec` (JSON).
    pub fn exec_result(&self) -> PathBuf {
        self.vm.root.join("exec.json")
    }
    /// Left while the container is frozen by a suspend.
    pub fn frozen(&self) -> PathBuf {
        self.vm.root.join("frozen")
    }
}

/// The runtime's name of VM `vm_id`'s container.
pub fn container_id(vm_id: i32) -> String {
    format!("one-{vm_id}")
}
