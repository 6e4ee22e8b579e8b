//! Image operations: register an image (a file copied in from the front-end or a URL,
//! checked by [`super::image_sources`]; an existing SOURCE; or an empty datablock), delete
//! and clone, with OpenNebula's checks, messages and error codes. Changes to one image in
//! place (enable, persistency, type, snapshots) are in `image_state`.
//!
//! File work ([`super::image_files`]) never runs inside [`Core::write`]: an allocate or
//! clone first checks everything in a dry run (a [`Tx`] that is never committed), then
//! copies, downloads or creates the file, then commits — re-checking, since the state may
//! have moved — and removes the new file if the check or the commit fails. Deletes remove
//! the file after the commit.

mod from_file;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nubo_template::Template;
use nubo_types::states::{DatastoreState, DatastoreType, ImageState, ImageType};
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::generic::{check_name, fetch_for, parse_template};
pub use super::image_state::ImageSnapshotOp;
use super::image_state::check_persistence;
use super::owner::new_meta;
use super::quota::charge_owners;
use super::{image_download, image_files, image_sources};
use crate::auth::{Caller, RestrictedKind, authorize, authorize_create};
use crate::model::{Datastore, Image, QuotaKind};
use crate::state::State;
use crate::tx::Tx;
use crate::{Core, now};

/// DS_MAD of datastores that keep no files (OpenNebula's dummy driver).
const DUMMY_DS_MAD: &str = "dummy";
/// SOURCE the dummy driver gives every image.
const DUMMY_SOURCE: &str = "dummy_path";
/// SIZE (MB) the dummy driver reports when the template gives none.
const DUMMY_SIZE_MB: i64 = 1024;

/// Template attributes that become IMAGE elements, and so leave the template.
const ELEMENT_ATTRS: [&str; 8] = [
    "NAME",
    "TYPE",
    "PERSISTENT",
    "PATH",
    "SOURCE",
    "SIZE",
    "FORMAT",
    "FS",
];

/// Where a new image's data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    /// A file on the front-end, copied into the datastore (PATH).
    File(String),
    /// Data the datastore already holds (SOURCE).
    Source,
    /// An empty disk of SIZE MB.
    Empty,
    /// Another image's file (clone).
    Clone,
}

/// An image about to be created: everything but its id and owner.
#[derive(Debug, Clone)]
struct NewImage {
    name: String,
    image_type: ImageType,
    persistent: bool,
    template: Template,
    origin: Origin,
    path: String,
    source: String,
    format: String,
    fs: String,
    size: i64,
    cloning_id: Oid,
}

/// How [`Core::image_clone_as`] makes a copy differ from its source.
#[derive(Debug, Clone, Default)]
pub struct CloneAs {
    /// The copy's disk grown to this many MB (a size not above the source's changes
    /// nothing).
    pub size_mb: Option<i64>,
    /// Whether the copy is persistent (the source's flag when `None`).
    pub persistent: Option<bool>,
    /// The copy's template (the source's when `None`).
    pub template: Option<Template>,
}

fn alloc(message: impl Into<String>) -> Error {
    Error::allocate(ObjectKind::Image, message)
}

fn is_dummy(ds: &Datastore) -> bool {
    ds.ds_mad.eq_ignore_ascii_case(DUMMY_DS_MAD)
}

/// A template value, trimmed; None when missing or empty.
fn value(t: &Template, name: &str) -> Option<String> {
    t.get(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn parse_type(text: Option<&str>) -> Result<ImageType> {
    let Some(text) = text else {
        return Ok(ImageType::Os);
    };
    ImageType::from_name(text)
        .filter(|t| *t != ImageType::Backup)
        .ok_or_else(|| {
            alloc(format!(
                "Invalid TYPE \"{text}\", must be OS, CDROM, DATABLOCK, KERNEL, RAMDISK, CONTEXT or FILESYSTEM"
            ))
        })
}

fn parse_size(text: &str) -> Result<i64> {
    text.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        alloc(format!(
            "Invalid SIZE \"{text}\", it must be a positive integer (MB)"
        ))
    })
}

/// Format of a new empty disk: FORMAT, else a raw/qcow2 DRIVER, else raw.
fn empty_format(t: &Template) -> Result<String> {
    let driver = value(t, "DRIVER")
        .map(|d| d.to_ascii_lowercase())
        .filter(|d| d == "raw" || d == "qcow2");
    let format = value(t, "FORMAT")
        .map(|f| f.to_ascii_lowercase())
        .or(driver)
        .unwrap_or_else(|| "raw".into());
    if format != "raw" && format != "qcow2" {
        return Err(alloc(format!(
            "Invalid FORMAT \"{format}\" for an empty disk, must be raw or qcow2"
        )));
    }
    Ok(format)
}

/// Decides where the data of a new image comes from.
fn parse_origin(t: &Template, image_type: ImageType, size: Option<i64>) -> Result<Origin> {
    let empty_ok = matches!(
        image_type,
        ImageType::Os | ImageType::Datablock | ImageType::Filesystem
    );
    match (value(t, "PATH"), value(t, "SOURCE")) {
        // Image::insert's wording.
        (Some(_), Some(_)) => Err(alloc("PATH and SOURCE cannot be both set.")),
        (Some(path), None) => Ok(Origin::File(path)),
        (None, Some(_)) if size.is_none() => {
            Err(alloc("Wrong or no SIZE specified for SOURCE image"))
        }
        (None, Some(_)) => Ok(Origin::Source),
        (None, None) if empty_ok && size.is_some() => Ok(Origin::Empty),
        (None, None) if empty_ok => Err(alloc(format!(
            "No SIZE in template: an empty {} image needs SIZE (MB)",
            image_type.name()
        ))),
        (None, None) => Err(alloc("No PATH nor SOURCE in template.")),
    }
}

/// Reads an `image.allocate` template.
fn parse_new_image(text: &str) -> Result<NewImage> {
    let mut template = parse_template(text).map_err(|e| Error::internal(e.to_string()))?;
    let name = value(&template, "NAME").ok_or_else(|| alloc("No NAME in template"))?;
    let image_type = parse_type(value(&template, "TYPE").as_deref())?;
    let persistent = !image_type.is_file()
        && value(&template, "PERSISTENT").is_some_and(|v| v.eq_ignore_ascii_case("YES"));
    let size = value(&template, "SIZE")
        .map(|s| parse_size(&s))
        .transpose()?;
    let origin = parse_origin(&template, image_type, size)?;
    let format = empty_format(&template)?;
    let path = value(&template, "PATH").unwrap_or_default();
    let source = value(&template, "SOURCE").unwrap_or_default();
    let fs = value(&template, "FS").unwrap_or_default();
    for attr in ELEMENT_ATTRS {
        template.remove(attr);
    }
    Ok(NewImage {
        name,
        image_type,
        persistent,
        template,
        origin,
        path,
        source,
        format,
        fs,
        size: size.unwrap_or(0),
        cloning_id: -1,
    })
}

/// Checks that datastore `ds` takes new images of type `t`.
fn check_allocate_target(ds: &Datastore, t: ImageType) -> Result<()> {
    match ds.ds_type {
        DatastoreType::System | DatastoreType::Backup => Err(alloc(
            "New images can only be allocated in a files or image datastore.",
        )),
        // ImagePool::allocate's wording.
        DatastoreType::Image if t.is_file() => Err(alloc(
            "IMAGES of type KERNEL, RAMDISK and CONTEXT cannot be registered in an IMAGE_DS \
             datastore",
        )),
        DatastoreType::File if !t.is_file() => Err(alloc(
            "Only IMAGES of type KERNEL, RAMDISK and CONTEXT can be registered in a FILE_DS \
             datastore",
        )),
        _ if ds.state == DatastoreState::Disabled => {
            Err(alloc(format!("Datastore [{}] is disabled.", ds.meta.id)))
        }
        _ => Ok(()),
    }
}

/// Fails with ACTION when a monitored datastore has less than `size` MB free.
fn check_capacity(ds: &Datastore, size: i64) -> Result<()> {
    if ds.total_mb > 0 && size > ds.free_mb {
        return Err(Error::action("Not enough space in datastore"));
    }
    Ok(())
}

/// Adds `images` and `size` MB to the DATASTORE quota usage of user `uid` and group `gid`
/// (negative amounts release).
fn charge_datastore(
    tx: &mut Tx,
    uid: Oid,
    gid: Oid,
    ds_id: Oid,
    images: i64,
    size: i64,
) -> Result<()> {
    let amounts = [("IMAGES", images as f64), ("SIZE", size as f64)];
    charge_owners(tx, uid, gid, QuotaKind::Datastore, ds_id, &amounts)
}

/// Moves the DATASTORE quota usage of image `id` from its current owner to `uid`/`gid`
/// (staged by a chown, before the image itself is changed).
pub(crate) fn move_image_quota(tx: &mut Tx, id: Oid, uid: Oid, gid: Oid) -> Result<()> {
    let image = tx.get::<Image>(id)?;
    let (old_uid, old_gid) = (image.meta.uid, image.meta.gid);
    let (ds, size) = (image.datastore_id, image.size);
    charge_datastore(tx, old_uid, old_gid, ds, -1, -size)?;
    charge_datastore(tx, uid, gid, ds, 1, size)
}

fn build_image(caller: &Caller, id: Oid, img: &NewImage, ds: &Datastore) -> Image {
    let now = now();
    Image {
        meta: new_meta(caller, id, img.name.clone()),
        image_type: img.image_type,
        disk_type: ds.disk_type,
        persistent: img.persistent,
        regtime: now,
        modtime: now,
        source: img.source.clone(),
        path: img.path.clone(),
        format: img.format.clone(),
        fs: img.fs.clone(),
        size: img.size,
        state: ImageState::Ready,
        prev_state: ImageState::Locked,
        running_vms: 0,
        cloning_ops: 0,
        cloning_id: img.cloning_id,
        target_snapshot: -1,
        datastore_id: ds.meta.id,
        datastore: ds.meta.name.clone(),
        vms: BTreeSet::new(),
        clones: BTreeSet::new(),
        app_clones: BTreeSet::new(),
        template: img.template.clone(),
        snapshots: Vec::new(),
    }
}

/// The checks every new image passes, then the staging: quota, id, datastore, image.
fn insert_image(
    tx: &mut Tx,
    caller: &Caller,
    img: &NewImage,
    ds: &Datastore,
    skip_capacity: bool,
) -> Result<Oid> {
    let state = tx.state;
    authorize_create(state, caller, ObjectKind::Image)?;
    check_name::<Image>(state, &img.name, caller.uid, None).map_err(|e| alloc(e.to_string()))?;
    if !skip_capacity {
        check_capacity(ds, img.size)?;
    }
    charge_datastore(tx, caller.uid, caller.gid, ds.meta.id, 1, img.size)?;
    let id = tx.next_oid(ObjectKind::Image);
    let mut ds = ds.clone();
    ds.images.insert(id);
    let image = build_image(caller, id, img, &ds);
    tx.put(ds)?;
    tx.put(image)?;
    Ok(id)
}

/// The datastore a container's volatile disk saved as an image goes to: the default
/// image datastore, which bootstrap makes.
const VOLATILE_SAVEAS_DATASTORE: Oid = 1;

/// Stages the image a `vm.disksaveas` makes from a disk of `source`: in the same
/// datastore, owned by the caller, LOCKED until the copy is done. A disk with no source
/// image (a container's volatile disk) goes to the default image datastore, raw, if the
/// caller may use it.
pub(crate) fn stage_saveas(
    tx: &mut Tx,
    caller: &Caller,
    name: &str,
    image_type: &str,
    source: Option<&Image>,
    size: i64,
) -> Result<Oid> {
    let image_type = parse_type(Some(image_type)).map_err(|e| Error::action(e.to_string()))?;
    let (ds, format) = match source {
        Some(source) => (
            (*tx.get::<Datastore>(source.datastore_id)?).clone(),
            source.format.clone(),
        ),
        None => {
            let ds = tx.get::<Datastore>(VOLATILE_SAVEAS_DATASTORE)?;
            check_allocate_target(&ds, image_type).map_err(to_action)?;
            authorize(tx.state, caller, ds.as_ref(), AuthOp::Use)?;
            ((*ds).clone(), "raw".to_string())
        }
    };
    let img = NewImage {
        name: name.to_string(),
        image_type,
        persistent: false,
        template: Template::new(),
        origin: Origin::Empty,
        path: String::new(),
        source: String::new(),
        format,
        fs: String::new(),
        size,
        cloning_id: -1,
    };
    let id = insert_image(tx, caller, &img, &ds, false).map_err(to_action)?;
    let mut image = tx.get_mut::<Image>(id)?;
    image.state = ImageState::Locked;
    image.source = format!("{}/{}", ds.base_path.trim_end_matches('/'), id);
    tx.put(image)?;
    Ok(id)
}

/// An allocation's refusal as the refusal of the action that allocates (a VM's change).
pub(crate) fn to_action(e: Error) -> Error {
    match e {
        Error::Allocate { message, .. } => Error::action(message),
        other => other,
    }
}

fn stage_allocate(
    tx: &mut Tx,
    caller: &Caller,
    img: &NewImage,
    ds_id: Oid,
    skip_capacity: bool,
) -> Result<Oid> {
    let state = tx.state;
    let ds = state.get::<Datastore>(ds_id)?;
    check_allocate_target(ds, img.image_type)?;
    authorize(state, caller, ds.as_ref(), AuthOp::Use)?;
    if img.origin == Origin::Source && !caller.is_admin() {
        // ImageAllocateAPI's wording for IMAGE_RESTRICTED_ATTR.
        return Err(Error::restricted(
            caller.uid,
            "Template includes a restricted attribute SOURCE",
        ));
    }
    insert_image(tx, caller, img, ds, skip_capacity)
}

/// Checks a clone of `src` into datastore `target`; returns the target datastore.
fn check_clone<'s>(
    state: &'s State,
    caller: &Caller,
    src: &Image,
    target: Oid,
) -> Result<&'s Datastore> {
    if !matches!(
        src.image_type,
        ImageType::Os | ImageType::Datablock | ImageType::Cdrom
    ) {
        return Err(Error::action(format!(
            "{} images cannot be cloned.",
            src.image_type.name()
        )));
    }
    if !src.snapshots.is_empty() {
        return Err(Error::action("Cannot clone images with snapshots"));
    }
    let not_image_ds = || Error::action("Clone only supported for IMAGE_DS Datastores");
    let ds = state.get::<Datastore>(target)?;
    if ds.ds_type != DatastoreType::Image {
        return Err(not_image_ds());
    }
    if target != src.datastore_id {
        let orig = state.get::<Datastore>(src.datastore_id)?;
        if orig.ds_type != DatastoreType::Image {
            return Err(not_image_ds());
        }
        if orig.ds_mad != ds.ds_mad {
            return Err(Error::action(
                "Clone only supported to same DS_MAD Datastores",
            ));
        }
        authorize(state, caller, orig.as_ref(), AuthOp::Use)?;
    }
    authorize(state, caller, ds.as_ref(), AuthOp::Use)?;
    Ok(ds)
}

fn stage_clone(tx: &mut Tx, caller: &Caller, img: &NewImage, target: Oid) -> Result<Oid> {
    let state = tx.state;
    let src = fetch_for::<Image>(state, caller, img.cloning_id, AuthOp::Use)?;
    let ds = check_clone(state, caller, &src, target)?;
    if !matches!(src.state, ImageState::Ready | ImageState::Used) {
        // ImageManager::can_clone_image's wording.
        return Err(alloc(format!(
            "Cannot clone image in state: {}",
            src.state.name()
        )));
    }
    insert_image(tx, caller, img, ds, false)
}

/// The new image a clone of `id` named `name` makes, and its target datastore.
fn plan_clone(
    state: &State,
    caller: &Caller,
    id: Oid,
    name: &str,
    ds_id: Oid,
) -> Result<(NewImage, Oid)> {
    let src = fetch_for::<Image>(state, caller, id, AuthOp::Use)?;
    let target = if ds_id == -1 { src.datastore_id } else { ds_id };
    let img = NewImage {
        name: name.to_string(),
        image_type: src.image_type,
        persistent: src.persistent,
        template: src.template.clone(),
        origin: Origin::Clone,
        path: src.source.clone(),
        source: String::new(),
        format: src.format.clone(),
        fs: src.fs.clone(),
        size: src.size,
        cloning_id: id,
    };
    Ok((img, target))
}

/// The file of `img` to remove when it is deleted: only files this datastore created (a
/// generated name right under its directory) that no other image uses.
fn file_to_remove(state: &State, img: &Image, ds: &Datastore) -> Option<PathBuf> {
    if is_dummy(ds) {
        return None;
    }
    let path = Path::new(&img.source);
    let generated = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()));
    let ours = generated && path.parent() == Some(Path::new(&ds.base_path));
    let shared = state
        .images
        .values()
        .any(|o| o.meta.id != img.meta.id && o.source == img.source);
    (ours && !shared).then(|| path.to_path_buf())
}

/// Fails with ACTION while VMs or clones use the image.
fn check_deletable(img: &Image) -> Result<()> {
    let in_use = matches!(
        img.state,
        ImageState::Used
            | ImageState::UsedPers
            | ImageState::LockedUsed
            | ImageState::LockedUsedPers
    ) || img.running_vms > 0;
    if img.state == ImageState::Clone {
        return Err(Error::action(format!(
            "Cannot delete image. There are {} active clone operations.",
            img.cloning_ops
        )));
    }
    if in_use {
        return Err(Error::action(format!(
            "Cannot delete image. There are {} VMs using it.",
            img.running_vms
        )));
    }
    Ok(())
}

fn stage_delete(tx: &mut Tx, caller: &Caller, id: Oid, force: bool) -> Result<Option<PathBuf>> {
    let state = tx.state;
    let img = fetch_for::<Image>(state, caller, id, AuthOp::Manage)?;
    if img.meta.lock.is_some() {
        if !force {
            return Err(Error::internal(
                "Image locked, use --force flag to remove the image. \
                 Force delete may leave some files on Datastore",
            ));
        }
        authorize(state, caller, img.as_ref(), AuthOp::Admin)?;
    }
    check_deletable(&img)?;
    charge_datastore(
        tx,
        img.meta.uid,
        img.meta.gid,
        img.datastore_id,
        -1,
        -img.size,
    )?;
    let mut file = None;
    if let Some(ds) = state.datastores.get(&img.datastore_id) {
        file = file_to_remove(state, &img, ds);
        let mut ds = (**ds).clone();
        ds.images.remove(&id);
        tx.put(ds)?;
    }
    tx.delete::<Image>(id);
    Ok(file)
}

impl Core {
    /// Checks what `stage` would do, without committing anything.
    fn dry_run<R>(&self, stage: impl FnOnce(&mut Tx) -> Result<R>) -> Result<()> {
        self.read(|state| stage(&mut Tx::new(state)).map(drop))
    }

    /// Commits a new image whose file (if any) is already `created`; removes that file if
    /// the commit fails.
    async fn commit_new_image(
        &self,
        created: Option<PathBuf>,
        stage: impl FnOnce(&mut Tx) -> Result<Oid>,
    ) -> Result<Oid> {
        let result = self.write(stage).await;
        if result.is_err()
            && let Some(path) = &created
        {
            image_files::remove(path).await;
        }
        result
    }

    /// Sets format, size and source from the data to register. For PATH images, the data
    /// is brought into the datastore first (a checked file copied from its open handle, or
    /// a download) and inspected there; the new file is returned.
    async fn measure(
        &self,
        caller: &Caller,
        img: &mut NewImage,
        ds: &Datastore,
    ) -> Result<Option<PathBuf>> {
        if is_dummy(ds) {
            if img.origin != Origin::Source {
                img.source = DUMMY_SOURCE.into();
            }
            if img.size == 0 {
                img.size = DUMMY_SIZE_MB;
            }
            return Ok(None);
        }
        if img.origin == Origin::Source {
            image_sources::check_source(&img.source, self.config()).await?;
        }
        let Origin::File(path) = &img.origin else {
            return Ok(None);
        };
        let dir = Path::new(&ds.base_path);
        let imported = if image_download::is_url(path) {
            let sha = value(&img.template, "SHA256");
            image_download::fetch(path, dir, sha.as_deref(), &self.config().images).await?
        } else {
            let file = image_sources::open_path(path, ds, caller.is_admin(), self.config()).await?;
            image_files::copy_from(file, path, dir).await?
        };
        match image_files::inspect(&imported).await {
            Ok(info) => {
                img.format = info.format;
                img.size = info.size_mb;
                Ok(Some(imported))
            }
            Err(e) => {
                image_files::remove(&imported).await;
                Err(e)
            }
        }
    }

    /// Creates the image's file in the datastore: the file `imported` already holds, a
    /// copy of a cloned image, or an empty disk.
    async fn materialize(
        img: &mut NewImage,
        ds: &Datastore,
        imported: Option<&Path>,
    ) -> Result<Option<PathBuf>> {
        if is_dummy(ds) {
            return Ok(None);
        }
        let dir = Path::new(&ds.base_path);
        let created = match (&img.origin, imported) {
            (Origin::File(_), Some(file)) => file.to_path_buf(),
            (Origin::Clone, _) => image_files::copy_in(Path::new(&img.path), dir).await?,
            (Origin::Empty, _) => image_files::create_empty(dir, &img.format, img.size).await?,
            _ => return Ok(None),
        };
        img.source = created.to_string_lossy().into_owned();
        Ok(Some(created))
    }

    /// Registers an image from a template in datastore `ds_id`. `no_capacity_check` skips
    /// the free-space check (administrators only).
    pub async fn image_allocate(
        &self,
        caller: &Caller,
        text: &str,
        ds_id: Oid,
        no_capacity_check: bool,
    ) -> Result<Oid> {
        let restricted = &self.config().restricted;
        let template = parse_template(text).map_err(|e| Error::internal(e.to_string()))?;
        restricted.check(caller, RestrictedKind::Image, &template, None)?;
        let mut img = parse_new_image(text)?;
        let skip = no_capacity_check && caller.is_admin();
        self.dry_run(|tx| stage_allocate(tx, caller, &img, ds_id, skip))?;
        let ds = self.read(|s| Ok(s.get::<Datastore>(ds_id)?.clone()))?;
        let imported = self.measure(caller, &mut img, &ds).await?;
        if let Err(e) = self.dry_run(|tx| stage_allocate(tx, caller, &img, ds_id, skip)) {
            if let Some(file) = &imported {
                image_files::remove(file).await;
            }
            return Err(e);
        }
        let created = Self::materialize(&mut img, &ds, imported.as_deref()).await?;
        self.commit_new_image(created, |tx| stage_allocate(tx, caller, &img, ds_id, skip))
            .await
    }

    /// Clones image `id` as `name` into datastore `ds_id` (-1: the same datastore).
    pub async fn image_clone(
        &self,
        caller: &Caller,
        id: Oid,
        name: &str,
        ds_id: Oid,
    ) -> Result<Oid> {
        self.image_clone_as(caller, id, name, ds_id, CloneAs::default())
            .await
    }

    /// Clones image `id` as `name` into datastore `ds_id` (-1: the same datastore), the
    /// copy differing from its source as `how` says; it is stored in one write, its
    /// datastore quota charged for its own size.
    pub async fn image_clone_as(
        &self,
        caller: &Caller,
        id: Oid,
        name: &str,
        ds_id: Oid,
        how: CloneAs,
    ) -> Result<Oid> {
        let (mut img, target) = self.read(|s| plan_clone(s, caller, id, name, ds_id))?;
        let grow_to = how.size_mb.filter(|mb| *mb > img.size);
        if grow_to.is_some() && !matches!(img.image_type, ImageType::Os | ImageType::Datablock) {
            return Err(Error::action("Only OS and DATABLOCK images can be grown"));
        }
        img.size = grow_to.unwrap_or(img.size);
        if let Some(persistent) = how.persistent {
            check_persistence(img.image_type, persistent)?;
            img.persistent = persistent;
        }
        if let Some(t) = how.template {
            img.template = t;
        }
        self.dry_run(|tx| stage_clone(tx, caller, &img, target))?;
        let ds = self.read(|s| Ok(s.get::<Datastore>(target)?.clone()))?;
        if is_dummy(&ds) {
            img.source = DUMMY_SOURCE.into();
        }
        let created = Self::materialize(&mut img, &ds, None).await?;
        if let (Some(mb), Some(file)) = (grow_to, &created)
            && let Err(e) = image_files::grow(file, &img.format, mb).await
        {
            image_files::remove(file).await;
            return Err(e);
        }
        self.commit_new_image(created, |tx| stage_clone(tx, caller, &img, target))
            .await
    }

    /// Deletes an image that no VM uses, releasing its quota and then its file. An image
    /// locked at ADMIN level needs `force` (and ADMIN rights).
    pub async fn image_delete(&self, caller: &Caller, id: Oid, force: bool) -> Result<Oid> {
        let file = self.write(|tx| stage_delete(tx, caller, id, force)).await?;
        if let Some(path) = file {
            image_files::remove(&path).await;
        }
        Ok(id)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn code(e: Error) -> i32 {
        e.code() as i32
    }

    #[test]
    fn templates_are_read_as_opennebula_does() {
        let img = parse_new_image("NAME=d\nTYPE=datablock\nSIZE=10\nDEV_PREFIX=vd\nPERSISTENT=yes")
            .expect("datablock");
        assert_eq!(img.image_type, ImageType::Datablock);
        assert_eq!(
            (img.size, img.persistent, img.origin.clone()),
            (10, true, Origin::Empty)
        );
        assert_eq!(img.format, "raw");
        assert_eq!(img.template.get("DEV_PREFIX"), Some("vd"));
        assert_eq!(img.template.get("NAME"), None);
        let img = parse_new_image("NAME=k\nTYPE=KERNEL\nPATH=/k\nPERSISTENT=YES").expect("kernel");
        assert!(!img.persistent);
        assert_eq!(img.origin, Origin::File("/k".into()));
        let q = parse_new_image("NAME=q\nTYPE=DATABLOCK\nSIZE=1\nDRIVER=qcow2").expect("qcow2");
        assert_eq!(q.format, "qcow2");
    }

    #[test]
    fn bad_templates_are_allocate_errors() {
        for text in [
            "TYPE=DATABLOCK\nSIZE=1",
            "NAME=x\nTYPE=WHAT\nSIZE=1",
            "NAME=x\nTYPE=BACKUP\nSIZE=1",
            "NAME=x\nTYPE=DATABLOCK\nSIZE=-3",
            "NAME=x\nTYPE=DATABLOCK\nSIZE=ten",
            "NAME=x\nTYPE=DATABLOCK",
            "NAME=x\nTYPE=CDROM",
            "NAME=x\nPATH=/a\nSOURCE=/b",
            "NAME=x\nSOURCE=/b",
            "NAME=x\nTYPE=DATABLOCK\nSIZE=1\nFORMAT=vmdk",
        ] {
            let e = parse_new_image(text).expect_err(text);
            assert_eq!(code(e), 0x4000, "{text}");
        }
        assert_eq!(code(parse_new_image("NAME=[").expect_err("syntax")), 0x2000);
    }

    /// An image of type `t` in `state`.
    pub(in crate::ops) fn image(t: ImageType, state: ImageState) -> Image {
        let ds = image_ds();
        let mut img = parse_new_image("NAME=i\nTYPE=DATABLOCK\nSIZE=1").expect("image");
        img.image_type = t;
        let mut img = build_image(&admin(), 5, &img, &ds);
        img.state = state;
        img
    }

    fn admin() -> Caller {
        Caller {
            uid: 0,
            gid: 0,
            uname: "oneadmin".into(),
            gname: "oneadmin".into(),
            groups: BTreeSet::from([0]),
        }
    }

    #[test]
    fn only_generated_unshared_files_are_removed() {
        let state = State::default();
        let ds = image_ds();
        let mut img = image(ImageType::Os, ImageState::Ready);
        img.source = format!("/ds/1/{}", "a".repeat(32));
        assert!(file_to_remove(&state, &img, &ds).is_some());
        img.source = "/etc/passwd".into();
        assert!(file_to_remove(&state, &img, &ds).is_none());
        img.source = format!("/ds/1/../../etc/{}", "a".repeat(32));
        assert!(file_to_remove(&state, &img, &ds).is_none());
    }

    fn image_ds() -> std::sync::Arc<Datastore> {
        std::sync::Arc::new(Datastore {
            meta: new_meta(&admin(), 1, "default"),
            ds_mad: "fs".into(),
            tm_mad: "qcow2".into(),
            base_path: "/ds/1".into(),
            ds_type: DatastoreType::Image,
            disk_type: nubo_types::states::DiskType::File,
            state: DatastoreState::Ready,
            clusters: BTreeSet::new(),
            total_mb: 0,
            free_mb: 0,
            used_mb: 0,
            images: BTreeSet::new(),
            template: Template::new(),
        })
    }
}
