//! What a first start leaves on disk: the datastore directories, and oneadmin's
//! credentials in the data directory's `one_auth` (mode 600). They are copied to
//! `~/.one/one_auth`, where OpenNebula's clients look, only when that file is absent:
//! it may hold someone's credentials for another cloud.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The name of the credentials file in the data directory.
const AUTH_FILE: &str = "one_auth";

/// Creates datastore directories and, on first start, writes oneadmin's credentials.
pub fn finish(
    outcome: &nubo_core::bootstrap::Outcome,
    datastore_base: &Path,
    data_dir: &Path,
) -> anyhow::Result<()> {
    for id in 0..=2 {
        let dir = datastore_base.join(id.to_string());
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let Some(password) = outcome.admin_password.as_deref() else {
        return Ok(());
    };
    let kept = data_dir.join(AUTH_FILE);
    write_auth(&kept, password, Replace::Yes)?;
    let home_copy = dirs::home_dir()
        .map(|home| home.join(".one").join("one_auth"))
        .map(|path| match write_auth(&path, password, Replace::No) {
            Ok(true) => HomeCopy::Written(path),
            Ok(false) => HomeCopy::LeftAlone(path),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot copy oneadmin's credentials");
                HomeCopy::Failed(path)
            }
        });
    if outcome.generated {
        println!("oneadmin's password: {password} (it will not be shown again)");
    }
    println!("oneadmin's credentials are in {}", kept.display());
    match home_copy {
        Some(HomeCopy::Written(path)) => println!("(and in {})", path.display()),
        Some(HomeCopy::LeftAlone(path)) => println!(
            "({} already exists and was left as it is; use ONE_AUTH={} with OpenNebula's clients)",
            path.display(),
            kept.display()
        ),
        Some(HomeCopy::Failed(path)) => println!("(could not write {})", path.display()),
        None => {}
    }
    Ok(())
}

/// What became of the copy in `~/.one`.
enum HomeCopy {
    Written(PathBuf),
    LeftAlone(PathBuf),
    Failed(PathBuf),
}

/// Whether an existing file is replaced.
#[derive(PartialEq)]
enum Replace {
    Yes,
    No,
}

/// Writes `oneadmin:<password>` with mode 600; with [`Replace::No`], an existing file
/// is left as it is (and false returned).
fn write_auth(path: &Path, password: &str, replace: Replace) -> anyhow::Result<bool> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if replace == Replace::Yes {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && replace == Replace::No => {
            return Ok(false);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot write {}", path.display())),
    };
    // an older file keeps its mode when truncated
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot protect {}", path.display()))?;
    writeln!(file, "oneadmin:{password}")
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(true)
}
