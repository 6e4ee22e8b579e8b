//! Images whose data is a file nubod made itself (the PaaS's build sources): registered
//! for a caller with the same authorization, quota and capacity checks as
//! `one.image.allocate`, the file moved into the datastore rather than named by PATH (which
//! refuses nubod's own directories, where such files are made).

use std::path::Path;

use super::{Origin, alloc, image_files, is_dummy, parse_new_image, stage_allocate};
use crate::Core;
use crate::auth::{Caller, RestrictedKind};
use crate::model::Datastore;
use crate::ops::generic::parse_template;
use nubo_types::{Error, Oid, Result};

impl Core {
    /// Registers the file `file` as a new image of `caller` in datastore `ds_id`, described
    /// by `text` (NAME, TYPE, …; it must not give PATH, SOURCE or SIZE: the file is the
    /// data, measured here). The file is consumed: moved into the datastore (copied when it
    /// is on another filesystem), and removed when the image cannot be made.
    pub async fn image_allocate_file(
        &self,
        caller: &Caller,
        text: &str,
        ds_id: Oid,
        file: &Path,
    ) -> Result<Oid> {
        let outcome = self.allocate_file(caller, text, ds_id, file).await;
        if outcome.is_err() {
            image_files::remove(file).await;
        }
        outcome
    }

    async fn allocate_file(
        &self,
        caller: &Caller,
        text: &str,
        ds_id: Oid,
        file: &Path,
    ) -> Result<Oid> {
        let template = parse_template(text).map_err(|e| Error::internal(e.to_string()))?;
        for attr in ["PATH", "SOURCE", "SIZE"] {
            if template.get(attr).is_some() {
                return Err(alloc(format!(
                    "an image made from nubod's own file gives no {attr}"
                )));
            }
        }
        self.config()
            .restricted
            .check(caller, RestrictedKind::Image, &template, None)?;
        let info = image_files::inspect(file).await?;
        let mut img = parse_new_image(&format!("{text}\nSIZE=\"{}\"\n", info.size_mb))?;
        img.origin = Origin::File(file.to_string_lossy().into_owned());
        img.format = info.format;
        img.size = info.size_mb;
        self.dry_run(|tx| stage_allocate(tx, caller, &img, ds_id, false))?;
        let ds = self.read(|s| Ok(s.get::<Datastore>(ds_id)?.clone()))?;
        if is_dummy(&ds) {
            return Err(alloc(format!(
                "datastore {ds_id} keeps no files, so it cannot hold this image"
            )));
        }
        let dest = image_files::new_file_in(Path::new(&ds.base_path)).await?;
        if tokio::fs::rename(file, &dest).await.is_err() {
            let copied = image_files::copy_in(file, Path::new(&ds.base_path)).await?;
            tokio::fs::rename(&copied, &dest)
                .await
                .map_err(|e| alloc(format!("cannot move the image's file: {e}")))?;
            image_files::remove(file).await;
        }
        img.source = dest.to_string_lossy().into_owned();
        self.commit_new_image(Some(dest), |tx| {
            stage_allocate(tx, caller, &img, ds_id, false)
        })
        .await
    }
}
