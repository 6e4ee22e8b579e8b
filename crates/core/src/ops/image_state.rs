//! Changes to one image in place: enable and disable, persistency, type changes, and the
//! snapshot and restore calls (which nubo's datastores answer with OpenNebula's refusals).

use nubo_types::states::{DatastoreType, ImageState, ImageType};
use nubo_types::{AuthOp, Error, Oid, Result};

use super::generic::{fetch_for, parse_template};
use crate::auth::{Caller, authorize};
use crate::model::{Datastore, Image};
use crate::{Core, now};

/// The snapshot operations of `image.snapshot{delete,revert,flatten}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSnapshotOp {
    /// Delete a snapshot.
    Delete,
    /// Make a snapshot the current disk.
    Revert,
    /// Merge a snapshot into the disk and drop the others.
    Flatten,
}

impl ImageSnapshotOp {
    /// How ImageManager's state refusal names the operation.
    fn in_state(self) -> &'static str {
        match self {
            ImageSnapshotOp::Delete => "Cannot delete snapshot in state",
            ImageSnapshotOp::Revert => "Cannot revert to snapshot in state",
            ImageSnapshotOp::Flatten => "Cannot flatten snapshot in state",
        }
    }
}

fn set_state(img: &mut Image, state: ImageState) {
    if img.state != state {
        img.prev_state = img.state;
        img.state = state;
    }
}

/// `image.enable`: READY ↔ DISABLED (an ERROR image may go either way).
fn enable_image(img: &mut Image, enable: bool) -> Result<()> {
    let verb = if enable { "enable" } else { "disable" };
    let fail = |m: String| Error::internal(format!("Could not {verb} image: {m}"));
    if img.image_type == ImageType::Backup {
        return Err(fail("Backup images cannot be enabled or disabled.".into()));
    }
    let next = match (enable, img.state) {
        (true, ImageState::Ready) | (false, ImageState::Disabled) => return Ok(()),
        (true, ImageState::Disabled) => ImageState::Ready,
        (true, ImageState::Error) if img.running_vms == 0 => ImageState::Ready,
        (true, ImageState::Error) if img.persistent => ImageState::UsedPers,
        (true, ImageState::Error) => ImageState::Used,
        (false, ImageState::Ready | ImageState::Error) => ImageState::Disabled,
        (_, other) => return Err(fail(format!("Image cannot be in state {}.", other.name()))),
    };
    set_state(img, next);
    Ok(())
}

/// Whether an image of `image_type` may be `persistent` (or not).
pub(super) fn check_persistence(image_type: ImageType, persistent: bool) -> Result<()> {
    if persistent && image_type.is_file() {
        return Err(Error::action(
            "KERNEL, RAMDISK and CONTEXT must be non-persistent",
        ));
    }
    if !persistent && image_type == ImageType::Backup {
        return Err(Error::action("BACKUP images must be persistent"));
    }
    Ok(())
}

/// `image.persistent`: not for file types or backups, nor while the image is in use.
fn set_persistent(img: &mut Image, persistent: bool) -> Result<()> {
    if img.persistent == persistent {
        return Ok(());
    }
    check_persistence(img.image_type, persistent)?;
    let busy = matches!(
        img.state,
        ImageState::Used
            | ImageState::Clone
            | ImageState::UsedPers
            | ImageState::LockedUsed
            | ImageState::LockedUsedPers
    ) || img.running_vms > 0;
    if busy {
        let what = if persistent {
            "persistent"
        } else {
            "non-persistent"
        };
        return Err(Error::internal(format!(
            "Could not make image {what}: Image cannot be in state {}.",
            img.state.name()
        )));
    }
    img.persistent = persistent;
    Ok(())
}

/// Types an image may change between: disks among disks, files among files.
fn type_family(t: ImageType) -> Option<u8> {
    match t {
        ImageType::Os | ImageType::Datablock | ImageType::Cdrom => Some(0),
        ImageType::Kernel | ImageType::Ramdisk | ImageType::Context => Some(1),
        ImageType::Backup | ImageType::Filesystem => None,
    }
}

/// `image.chtype`.
fn change_type(img: &mut Image, text: &str) -> Result<()> {
    let new = ImageType::from_name(text.trim())
        .filter(|t| type_family(*t).is_some())
        .ok_or_else(|| {
            Error::api(format!(
                "Unknown image type \"{text}\", must be OS, CDROM, DATABLOCK, KERNEL, RAMDISK or CONTEXT"
            ))
        })?;
    match type_family(img.image_type) {
        // ImageAPI::change_type's wording, without a space after "for", as oned sends it.
        None => Err(Error::action(format!(
            "Cannot change type for{} images.",
            img.image_type.name()
        ))),
        Some(family) if Some(family) != type_family(new) => Err(Error::action(
            "Cannot change image type to an incompatible type for the current datastore.",
        )),
        Some(_) => {
            img.image_type = new;
            Ok(())
        }
    }
}

impl Core {
    /// Applies `change` to image `id` (MANAGE) and stamps MODTIME.
    async fn image_modify(
        &self,
        caller: &Caller,
        id: Oid,
        change: impl FnOnce(&mut Image) -> Result<()>,
    ) -> Result<Oid> {
        self.write(|tx| {
            let mut img = (*fetch_for::<Image>(tx.state, caller, id, AuthOp::Manage)?).clone();
            change(&mut img)?;
            img.modtime = now();
            tx.put(img)?;
            Ok(id)
        })
        .await
    }

    /// Enables (READY) or disables (DISABLED) an image.
    pub async fn image_enable(&self, caller: &Caller, id: Oid, enable: bool) -> Result<Oid> {
        self.image_modify(caller, id, |img| enable_image(img, enable))
            .await
    }

    /// Makes an image persistent or not.
    pub async fn image_persistent(
        &self,
        caller: &Caller,
        id: Oid,
        persistent: bool,
    ) -> Result<Oid> {
        self.image_modify(caller, id, |img| set_persistent(img, persistent))
            .await
    }

    /// Changes an image's TYPE (by name) within its family.
    pub async fn image_chtype(&self, caller: &Caller, id: Oid, image_type: &str) -> Result<Oid> {
        self.image_modify(caller, id, |img| change_type(img, image_type))
            .await
    }

    /// Deletes, reverts to or flattens snapshot `snap` of image `id`.
    pub fn image_snapshot(
        &self,
        caller: &Caller,
        id: Oid,
        snap: Oid,
        op: ImageSnapshotOp,
    ) -> Result<Oid> {
        self.read(|state| {
            let img = fetch_for::<Image>(state, caller, id, AuthOp::Manage)?;
            // ImageManager::{delete,revert,flatten}_snapshot's checks and wording.
            if !matches!(img.image_type, ImageType::Os | ImageType::Datablock) {
                return Err(Error::action(
                    "IMAGES of type KERNEL, RAMDISK, BACKUP, FILESYSTEM and CONTEXT does not \
                     have snapshots.",
                ));
            }
            if img.state != ImageState::Ready {
                return Err(Error::action(format!(
                    "{} {}",
                    op.in_state(),
                    img.state.name()
                )));
            }
            if !img.snapshots.iter().any(|s| s.id == snap) {
                return Err(Error::action("Snapshot does not exist"));
            }
            Err(Error::action(format!(
                "Cannot {} snapshot {snap}: image snapshots are not supported",
                match op {
                    ImageSnapshotOp::Delete => "delete",
                    ImageSnapshotOp::Revert => "revert to",
                    ImageSnapshotOp::Flatten => "flatten",
                }
            )))
        })
    }

    /// Restores backup image `id` into datastore `ds_id`.
    pub fn image_restore(
        &self,
        caller: &Caller,
        id: Oid,
        ds_id: Oid,
        text: &str,
    ) -> Result<String> {
        self.read(|state| {
            let img = fetch_for::<Image>(state, caller, id, AuthOp::Use)?;
            let ds = state.get::<Datastore>(ds_id)?;
            authorize(state, caller, ds.as_ref(), AuthOp::Use)?;
            parse_template(text).map_err(|e| Error::internal(e.to_string()))?;
            // ImageManager::restore_image's checks and wording.
            if img.image_type != ImageType::Backup {
                return Err(Error::action("Can only restore images of type BACKUP"));
            }
            if ds.ds_type != DatastoreType::Image {
                return Err(Error::action("Destination can be only an image datastore"));
            }
            Err(Error::action(format!(
                "Backup image {id} has no increments to restore"
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::image::tests::image;

    fn code(e: Error) -> i32 {
        e.code() as i32
    }

    #[test]
    fn enable_moves_between_ready_and_disabled() {
        let mut img = image(ImageType::Os, ImageState::Ready);
        enable_image(&mut img, false).expect("disable");
        assert_eq!(
            (img.state, img.prev_state),
            (ImageState::Disabled, ImageState::Ready)
        );
        enable_image(&mut img, true).expect("enable");
        assert_eq!(img.state, ImageState::Ready);
        let mut used = image(ImageType::Os, ImageState::Used);
        assert_eq!(
            code(enable_image(&mut used, false).expect_err("used")),
            0x2000
        );
    }

    #[test]
    fn persistency_and_type_rules() {
        let mut img = image(ImageType::Os, ImageState::Ready);
        set_persistent(&mut img, true).expect("persistent");
        assert!(img.persistent);
        let mut used = image(ImageType::Os, ImageState::Used);
        used.running_vms = 1;
        assert_eq!(
            code(set_persistent(&mut used, true).expect_err("in use")),
            0x2000
        );
        let mut kernel = image(ImageType::Kernel, ImageState::Ready);
        assert_eq!(
            code(set_persistent(&mut kernel, true).expect_err("file")),
            0x800
        );
        change_type(&mut img, "cdrom").expect("chtype");
        assert_eq!(img.image_type, ImageType::Cdrom);
        assert_eq!(
            code(change_type(&mut img, "KERNEL").expect_err("family")),
            0x800
        );
        assert_eq!(
            code(change_type(&mut img, "NOPE").expect_err("unknown")),
            0x1000
        );
    }
}
