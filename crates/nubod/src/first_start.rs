//! What a first start leaves on disk: the datastore directories, and oneadmin's
//! credentials in `~/.one/one_auth` (mode 600) as OpenNebula's clients expect.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;

/// Creates datastore directories and, on first start, writes oneadmin's credentials.
pub fn finish(
    outcome: &nubo_core::bootstrap::Outcome,
    datastore_base: &Path,
) -> anyhow::Result<()> {
    for id in 0..=2 {
        let dir = datastore_base.join(id.to_string());
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let Some(password) = outcome.admin_password.as_deref() else {
        return Ok(());
    };
    let Some(home) = dirs::home_dir() else {
        return Ok(());
    };
    let path = home.join(".one").join("one_auth");
    if outcome.generated || !path.exists() {
        write_auth(&path, password)?;
    }
    if outcome.generated {
        println!("oneadmin's password: {password}");
        println!(
            "(written to {}; it will not be shown again)",
            path.display()
        );
    }
    Ok(())
}

fn write_auth(path: &Path, password: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "oneadmin:{password}")
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
