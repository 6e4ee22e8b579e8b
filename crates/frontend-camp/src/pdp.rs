//! Platform Deployment Packages: a zip, tar or gzipped tar with the plan as `camp.yaml` at
//! its root, and optionally `camp.mf`, SHA-256 digests of its files in the OVF manifest
//! form (`SHA256(camp.yaml)= <hex>`), all verified when present.
//!
//! Unpacking is bounded as a build's source is: at most so many bytes (counted as they are
//! inflated, so a zip or gzip bomb stops at the limit) and members; no member with `..` or
//! an absolute path; tarballs through `nubo_paas::archive` (which writes nothing through a
//! link), zips refusing links altogether; and after unpacking, no symbolic link in the tree
//! may lead outside it. Files are read from the tree only as regular files inside it.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use sha2::Digest;

/// What a PDP may unpack to.
#[derive(Debug, Clone, Copy)]
pub struct PdpLimits {
    /// The most bytes of content.
    pub max_bytes: u64,
    /// The most members.
    pub max_entries: u32,
}

/// The limits PDPs are unpacked with.
pub const PDP_LIMITS: PdpLimits = PdpLimits {
    max_bytes: 256 * 1024 * 1024,
    max_entries: 10_000,
};

/// The plan's name in a PDP.
pub const PLAN_FILE: &str = "camp.yaml";
/// The manifest's name.
pub const MANIFEST_FILE: &str = "camp.mf";
/// The certificate's name (not checked: Nubo does not verify signatures).
pub const CERT_FILE: &str = "camp.cert";

/// Why a PDP was refused.
#[derive(Debug, thiserror::Error)]
pub enum PdpError {
    /// A tarball problem (unreadable, a member outside, too large, too many, …).
    #[error(transparent)]
    Tar(#[from] nubo_paas::archive::ArchiveError),
    /// Not a readable zip.
    #[error("the package is not a readable zip, tar or tar.gz file: {0}")]
    Zip(String),
    /// A member leads outside the package.
    #[error("package member {0:?} leads outside the package (.. or an absolute path)")]
    Outside(String),
    /// A symbolic link in a zip, or one leading outside the package.
    #[error("package member {0:?} is a symbolic link leading outside the package")]
    Link(String),
    /// More content than allowed.
    #[error("the package unpacks to more than {0} bytes")]
    TooLarge(u64),
    /// More members than allowed.
    #[error("the package has more than {0} members")]
    TooMany(u32),
    /// No `camp.yaml` at the root.
    #[error("the package has no camp.yaml at its root")]
    NoPlan,
    /// A file's digest is not the manifest's.
    #[error("the SHA-256 digest of {0} does not match camp.mf")]
    Digest(String),
    /// The manifest names a file the package lacks.
    #[error("camp.mf names {0}, which the package does not hold")]
    Missing(String),
    /// The manifest cannot be read.
    #[error("camp.mf line {0} is not of the form SHA256(file)= <hex digest>")]
    Manifest(usize),
    /// A member the plan names is not a file of the package.
    #[error("the package holds no file {0:?}")]
    NoMember(String),
    /// Reading or writing files failed.
    #[error("cannot unpack the package: {0}")]
    Io(#[from] std::io::Error),
}

impl PdpError {
    /// Whether the package is at fault (400), not the server (500).
    pub fn is_client(&self) -> bool {
        match self {
            PdpError::Io(_) => false,
            PdpError::Tar(e) => !matches!(e, nubo_paas::archive::ArchiveError::Write(_)),
            _ => true,
        }
    }
}

/// Unpacks the package `archive` into the empty directory `dest`, checks its links and its
/// manifest, and returns the plan's text.
pub fn open(archive: &Path, dest: &Path, limits: PdpLimits) -> Result<Vec<u8>, PdpError> {
    let mut magic = [0u8; 4];
    let n = std::fs::File::open(archive)?.read(&mut magic)?;
    if n == 4 && magic == *b"PK\x03\x04" {
        unzip(archive, dest, limits)?;
    } else {
        nubo_paas::archive::unpack(
            archive,
            dest,
            nubo_paas::archive::ArchiveLimits {
                max_bytes: limits.max_bytes,
                max_entries: limits.max_entries,
            },
        )?;
    }
    check_links(dest, limits.max_entries)?;
    verify_manifest(dest)?;
    let plan = member(dest, PLAN_FILE).map_err(|_| PdpError::NoPlan)?;
    let size = std::fs::metadata(&plan)?.len();
    if size > crate::yaml::PLAN_LIMITS.max_bytes as u64 {
        return Err(PdpError::TooLarge(
            crate::yaml::PLAN_LIMITS.max_bytes as u64,
        ));
    }
    Ok(std::fs::read(plan)?)
}

fn unzip(archive: &Path, dest: &Path, limits: PdpLimits) -> Result<(), PdpError> {
    let file = std::fs::File::open(archive)?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| PdpError::Zip(e.to_string()))?;
    if zip.len() > limits.max_entries as usize {
        return Err(PdpError::TooMany(limits.max_entries));
    }
    let mut written = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| PdpError::Zip(e.to_string()))?;
        let name = entry
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("member {i}"));
        let raw_outside = name.starts_with(['/', '\\'])
            || name.split(['/', '\\']).any(|c| c == "..")
            || name.as_bytes().get(1) == Some(&b':');
        let relative = match entry.enclosed_name() {
            Some(relative) if !raw_outside => relative,
            _ => return Err(PdpError::Outside(name)),
        };
        if entry.is_symlink() {
            return Err(PdpError::Link(name));
        }
        let path = dest.join(&relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = std::fs::File::create(&path)?;
        let allowed = limits.max_bytes - written;
        let mut bounded = (&mut entry).take(allowed + 1);
        let copied = std::io::copy(&mut bounded, &mut out)
            .map_err(|e| PdpError::Zip(format!("{name}: {e}")))?;
        if copied > allowed {
            return Err(PdpError::TooLarge(limits.max_bytes));
        }
        written += copied;
    }
    Ok(())
}

/// Refuses a symbolic link in the tree whose target, read relative to its directory,
/// leads outside `root`. The walk is a loop over a bounded list of directories.
fn check_links(root: &Path, max_entries: u32) -> Result<(), PdpError> {
    let mut dirs = vec![PathBuf::new()];
    let mut seen = 0u32;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(root.join(&dir))? {
            let entry = entry?;
            seen += 1;
            if seen > max_entries {
                return Err(PdpError::TooMany(max_entries));
            }
            let relative = dir.join(entry.file_name());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(relative);
            } else if kind.is_symlink() {
                let target = std::fs::read_link(entry.path())?;
                if !stays_inside(&dir, &target) {
                    return Err(PdpError::Link(relative.display().to_string()));
                }
            }
        }
    }
    Ok(())
}

/// Whether `target`, a link's target in directory `dir` (relative to the root), stays
/// within the root when read lexically.
fn stays_inside(dir: &Path, target: &Path) -> bool {
    let mut depth = dir.components().count();
    for c in target.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// The regular file `name` (a relative path) of the tree at `root`, inside it.
pub fn member(root: &Path, name: &str) -> Result<PathBuf, PdpError> {
    let relative = Path::new(name);
    if name.is_empty()
        || relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(PdpError::Outside(name.to_owned()));
    }
    let path = root.join(relative);
    let real = path
        .canonicalize()
        .map_err(|_| PdpError::NoMember(name.to_owned()))?;
    let real_root = root.canonicalize()?;
    if !real.starts_with(&real_root) {
        return Err(PdpError::Link(name.to_owned()));
    }
    if !std::fs::metadata(&real)?.is_file() {
        return Err(PdpError::NoMember(name.to_owned()));
    }
    Ok(real)
}

/// Checks every digest `camp.mf` lists, when the package has one.
fn verify_manifest(root: &Path) -> Result<(), PdpError> {
    let Ok(path) = member(root, MANIFEST_FILE) else {
        return Ok(());
    };
    if std::fs::metadata(&path)?.len() > 1024 * 1024 {
        return Err(PdpError::Manifest(0));
    }
    let text = std::fs::read_to_string(&path).map_err(|_| PdpError::Manifest(0))?;
    for (file, digest) in parse_manifest(&text)? {
        let path = member(root, &file).map_err(|e| match e {
            PdpError::NoMember(_) => PdpError::Missing(file.clone()),
            other => other,
        })?;
        let mut hasher = sha2::Sha256::new();
        let mut f = std::fs::File::open(&path)?;
        std::io::copy(&mut f, &mut HashWriter(&mut hasher))?;
        if hex::encode(hasher.finalize()) != digest {
            return Err(PdpError::Digest(file));
        }
    }
    Ok(())
}

struct HashWriter<'a>(&'a mut sha2::Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `(file, lowercase hex digest)` for each line `SHA256(file)= <hex>` (blank lines skipped;
/// `SHA-256` is taken as well).
pub fn parse_manifest(text: &str) -> Result<Vec<(String, String)>, PdpError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let rest = line
            .strip_prefix("SHA256(")
            .or_else(|| line.strip_prefix("SHA-256("))
            .ok_or(PdpError::Manifest(i + 1))?;
        let (file, digest) = rest.split_once(")=").ok_or(PdpError::Manifest(i + 1))?;
        let digest = digest.trim().to_ascii_lowercase();
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PdpError::Manifest(i + 1));
        }
        out.push((file.trim().to_owned(), digest));
    }
    Ok(out)
}

/// Writes the tree at `root` as a tarball `out` (links kept as links), leaving out the
/// package's own files (`camp.yaml`, `camp.mf`, `camp.cert`): an app's source.
pub fn tree_tarball(root: &Path, out: &Path) -> Result<(), PdpError> {
    for own in [PLAN_FILE, MANIFEST_FILE, CERT_FILE] {
        let path = root.join(own);
        if std::fs::symlink_metadata(&path).is_ok() {
            std::fs::remove_file(path)?;
        }
    }
    let file = std::fs::File::create(out)?;
    let mut tar = tar::Builder::new(file);
    tar.follow_symlinks(false);
    tar.append_dir_all(".", root)?;
    tar.into_inner()?.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("start");
            w.write_all(data).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    fn open_bytes(data: &[u8], limits: PdpLimits) -> Result<Vec<u8>, PdpError> {
        let tmp = std::env::temp_dir().join(format!(
            "nubo-camp-pdp-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("out")).expect("mkdir");
        std::fs::write(tmp.join("a"), data).expect("write");
        let r = open(&tmp.join("a"), &tmp.join("out"), limits);
        let _ = std::fs::remove_dir_all(&tmp);
        r
    }

    const PLAN: &[u8] = b"camp_version: CAMP 1.1\nname: x\n";

    #[test]
    fn a_zip_pdp_with_a_good_manifest_opens() {
        let digest = hex::encode(sha2::Sha256::digest(PLAN));
        let mf = format!("SHA256(camp.yaml)= {digest}\n");
        let data = zip_of(&[("camp.yaml", PLAN), ("camp.mf", mf.as_bytes())]);
        assert_eq!(open_bytes(&data, PDP_LIMITS).expect("opens"), PLAN);
    }

    #[test]
    fn a_bad_digest_names_the_file() {
        let mf = format!("SHA256(camp.yaml)= {}\n", "0".repeat(64));
        let data = zip_of(&[("camp.yaml", PLAN), ("camp.mf", mf.as_bytes())]);
        let e = open_bytes(&data, PDP_LIMITS).expect_err("refused");
        assert!(matches!(&e, PdpError::Digest(f) if f == "camp.yaml"), "{e}");
        assert!(e.to_string().contains("camp.yaml"));
    }

    #[test]
    fn hostile_zips_are_refused() {
        let e = open_bytes(&zip_of(&[("../evil", b"x")]), PDP_LIMITS).expect_err("refused");
        assert!(matches!(e, PdpError::Outside(_)), "{e}");
        let e = open_bytes(&zip_of(&[("/abs", b"x")]), PDP_LIMITS).expect_err("refused");
        assert!(matches!(e, PdpError::Outside(_)), "{e}");
        let zeros = vec![0u8; 2 << 20];
        let small = PdpLimits {
            max_bytes: 1 << 20,
            max_entries: 10,
        };
        let e =
            open_bytes(&zip_of(&[("camp.yaml", PLAN), ("z", &zeros)]), small).expect_err("refused");
        assert!(matches!(e, PdpError::TooLarge(_)), "{e}");
        let e = open_bytes(&zip_of(&[("other", b"x")]), PDP_LIMITS).expect_err("refused");
        assert!(matches!(e, PdpError::NoPlan), "{e}");
        let e = open_bytes(b"garbage that is no archive", PDP_LIMITS).expect_err("refused");
        assert!(e.is_client(), "{e}");
    }

    #[test]
    fn manifests_and_links_are_read_strictly() {
        assert!(parse_manifest("SHA256(a)= xyz\n").is_err());
        assert!(parse_manifest("MD5(a)= 00\n").is_err());
        let ok = parse_manifest(&format!("\nSHA-256(a b)= {}\n", "A".repeat(64))).expect("ok");
        assert_eq!(ok, vec![("a b".to_owned(), "a".repeat(64))]);
        assert!(stays_inside(Path::new("d"), Path::new("../x")));
        assert!(!stays_inside(Path::new("d"), Path::new("../../x")));
        assert!(!stays_inside(Path::new(""), Path::new("/etc/passwd")));
        assert!(stays_inside(Path::new(""), Path::new("./a/../b")));
    }

    #[test]
    fn a_tarball_link_out_is_refused() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(PLAN.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "camp.yaml", PLAN).expect("append");
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "passwd", "/etc/passwd")
            .expect("link");
        let data = b.into_inner().expect("tar");
        let e = open_bytes(&data, PDP_LIMITS).expect_err("refused");
        assert!(matches!(e, PdpError::Link(_)), "{e}");
    }
}
