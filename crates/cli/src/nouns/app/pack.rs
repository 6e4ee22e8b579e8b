//! Packing a directory for `nubo app deploy --dir`: a gzipped tarball in an anonymous
//! temporary file (never the whole source in memory), members in name order.
//!
//! `.git` (directory or file, at any depth) is left out. Symbolic links are packed as
//! links, and only when they stay inside the directory: one with an absolute target, or
//! whose target leads out of the directory (by its text, or where it really resolves), is
//! refused before anything is sent. Sockets, pipes and devices are refused too. Headers
//! are deterministic (no owners, one date), so the same tree packs to the same bytes.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, bail};
use flate2::Compression;
use flate2::write::GzEncoder;

/// `dir` as a .tar.gz in a temporary file, rewound; its size in bytes.
pub fn pack(dir: &Path) -> anyhow::Result<(File, u64)> {
    let root = dir
        .canonicalize()
        .with_context(|| format!("cannot read {}", dir.display()))?;
    if !root.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let mut members = Vec::new();
    collect(&root, Path::new(""), &mut members)?;
    let file = tempfile::tempfile().context("cannot make a temporary file")?;
    let mut builder = tar::Builder::new(GzEncoder::new(file, Compression::default()));
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Deterministic);
    for relative in &members {
        let full = root.join(relative);
        builder
            .append_path_with_name(&full, relative)
            .with_context(|| format!("cannot pack {}", full.display()))?;
    }
    let mut file = builder
        .into_inner()
        .and_then(GzEncoder::finish)
        .context("cannot write the tarball")?;
    let size = file
        .seek(SeekFrom::End(0))
        .and_then(|size| file.seek(SeekFrom::Start(0)).map(|_| size))
        .context("cannot rewind the tarball")?;
    Ok((file, size))
}

/// Adds the members under `root/relative` to `out`, checking each.
fn collect(root: &Path, relative: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let dir = root.join(relative);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot read {}", dir.display()))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        if entry.file_name() == ".git" {
            continue;
        }
        let member = relative.join(entry.file_name());
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot read {}", entry.path().display()))?;
        if kind.is_symlink() {
            check_link(root, &member)?;
            out.push(member);
        } else if kind.is_dir() {
            out.push(member.clone());
            collect(root, &member, out)?;
        } else if kind.is_file() {
            out.push(member);
        } else {
            bail!(
                "{} is not a file, directory or symbolic link: only those can be deployed",
                entry.path().display()
            );
        }
    }
    Ok(())
}

/// Refuses the link `root/member` if it leads out of `root`.
fn check_link(root: &Path, member: &Path) -> anyhow::Result<()> {
    let full = root.join(member);
    let target =
        std::fs::read_link(&full).with_context(|| format!("cannot read {}", full.display()))?;
    let out = |how: &str| {
        anyhow::anyhow!(
            "refusing to deploy {}: the symbolic link {} -> {} {how}; replace it with what it points to, or remove it",
            root.display(),
            member.display(),
            target.display()
        )
    };
    if target.is_absolute() {
        return Err(out("is absolute, so it leads outside the directory"));
    }
    let parent = member.parent().unwrap_or(Path::new(""));
    if !lexically_inside(&parent.join(&target)) {
        return Err(out("leads outside the directory"));
    }
    // Links through links may escape where the text does not: where it really leads.
    if let Ok(real) = full.canonicalize()
        && !real.starts_with(root)
    {
        return Err(out("leads outside the directory"));
    }
    Ok(())
}

/// Whether a relative path stays inside its starting point (never goes above it).
fn lexically_inside(path: &Path) -> bool {
    let mut depth = 0usize;
    for part in path.components() {
        match part {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::unix::fs::symlink;

    use super::*;

    fn names(file: File) -> Vec<(String, tar::EntryType)> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        archive
            .entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                (
                    e.path().expect("path").display().to_string(),
                    e.header().entry_type(),
                )
            })
            .collect()
    }

    #[test]
    fn packs_files_and_inner_links_without_git() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join("app.py"), "print(1)\n").expect("write");
        std::fs::create_dir_all(d.join("lib/sub")).expect("mkdir");
        std::fs::write(d.join("lib/sub/m.py"), "x = 1\n").expect("write");
        std::fs::create_dir_all(d.join(".git/objects")).expect("mkdir");
        std::fs::write(d.join(".git/HEAD"), "ref\n").expect("write");
        std::fs::write(d.join("lib/.git"), "gitdir: ../x\n").expect("write");
        symlink("lib/sub/m.py", d.join("m.py")).expect("link");
        symlink("../app.py", d.join("lib/app.py")).expect("link");
        symlink("missing", d.join("dangling")).expect("link");
        let (file, size) = pack(d).expect("pack");
        assert!(size > 0);
        let got = names(file);
        let got_names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            got_names,
            [
                "app.py",
                "dangling",
                "lib",
                "lib/app.py",
                "lib/sub",
                "lib/sub/m.py",
                "m.py"
            ]
        );
        assert_eq!(got[6].1, tar::EntryType::Symlink);
        let (mut again, _) = pack(d).expect("pack");
        let mut bytes = Vec::new();
        again.read_to_end(&mut bytes).expect("read");
        assert_eq!(bytes.len() as u64, size);
    }

    #[test]
    fn links_leading_out_are_refused() {
        for (name, target) in [
            ("abs", "/etc/passwd"),
            ("up", "../outside"),
            ("deep/up", "../../x"),
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::create_dir_all(dir.path().join("deep")).expect("mkdir");
            symlink(target, dir.path().join(name)).expect("link");
            let err = pack(dir.path()).expect_err(name);
            let text = err.to_string();
            assert!(text.contains("refusing to deploy"), "{text}");
            assert!(text.contains(target), "{text}");
        }
        // Inside by its text, outside where it really resolves: s/q -> .. is the root, so
        // s/p -> q/.. reads as s but is the root's parent.
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::create_dir_all(d.join("s")).expect("mkdir");
        symlink("..", d.join("s/q")).expect("link");
        symlink("q/..", d.join("s/p")).expect("link");
        let err = pack(d).expect_err("escape through a link");
        assert!(err.to_string().contains("s/p"), "{err}");
    }

    #[test]
    fn paths_stay_inside_or_not() {
        assert!(lexically_inside(Path::new("a/../b")));
        assert!(lexically_inside(Path::new("./a")));
        assert!(!lexically_inside(Path::new("a/../../b")));
        assert!(!lexically_inside(Path::new("/a")));
    }
}
