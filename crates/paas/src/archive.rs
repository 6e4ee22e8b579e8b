//! Unpacking a source archive (a tarball, gzipped or not) into a build's checkout, bounded:
//! at most so many bytes and entries, only regular files, directories and symbolic links,
//! no member outside the destination (no `..`, no absolute paths, nothing written through
//! a link). A single top-level directory (as in GitHub's archives) is taken as the root.

use std::io::{BufRead, BufReader, Read};
use std::path::{Component, Path};

/// What an archive may unpack to.
#[derive(Debug, Clone, Copy)]
pub struct ArchiveLimits {
    /// The most bytes of file content.
    pub max_bytes: u64,
    /// The most members.
    pub max_entries: u32,
}

/// Why an archive could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Not a tar archive (nor a gzipped one), or cut short.
    #[error("the archive is not a tar or tar.gz file, or it is damaged")]
    Unreadable(#[source] std::io::Error),
    /// A member's name leads out of the archive's root.
    #[error("archive member {0:?} leads outside the archive (.. or an absolute path)")]
    Outside(String),
    /// A member of a kind not allowed.
    #[error(
        "archive member {name:?} is a {kind}; only files, directories and symbolic links are allowed"
    )]
    Kind {
        /// The member.
        name: String,
        /// What it is.
        kind: &'static str,
    },
    /// More content than allowed.
    #[error("the archive unpacks to more than {0} bytes")]
    TooLarge(u64),
    /// More members than allowed.
    #[error("the archive has more than {0} members")]
    TooMany(u32),
    /// Writing the files failed.
    #[error("cannot unpack the archive")]
    Write(#[source] std::io::Error),
}

/// Unpacks `archive` into the directory `dest` (which must exist and be empty); returns
/// the bytes of content written.
pub fn unpack(archive: &Path, dest: &Path, limits: ArchiveLimits) -> Result<u64, ArchiveError> {
    let file = std::fs::File::open(archive).map_err(ArchiveError::Unreadable)?;
    let mut reader = BufReader::new(file);
    let gzipped = reader
        .fill_buf()
        .map_err(ArchiveError::Unreadable)?
        .starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn Read> = if gzipped {
        Box::new(flate2::read::GzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    let mut tar = tar::Archive::new(reader);
    tar.set_preserve_permissions(false);
    tar.set_unpack_xattrs(false);
    tar.set_overwrite(true);
    let (mut bytes, mut count) = (0u64, 0u32);
    for entry in tar.entries().map_err(ArchiveError::Unreadable)? {
        let mut entry = entry.map_err(ArchiveError::Unreadable)?;
        count += 1;
        if count > limits.max_entries {
            return Err(ArchiveError::TooMany(limits.max_entries));
        }
        let name = entry
            .path()
            .map_err(ArchiveError::Unreadable)?
            .to_string_lossy()
            .into_owned();
        let path = entry.path().map_err(ArchiveError::Unreadable)?.into_owned();
        if path.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        }) {
            return Err(ArchiveError::Outside(name));
        }
        let kind = entry.header().entry_type();
        let allowed =
            kind.is_file() || kind.is_dir() || kind.is_symlink() || kind.is_pax_global_extensions();
        if !allowed {
            let kind = if kind.is_hard_link() {
                "hard link"
            } else if kind.is_character_special() || kind.is_block_special() {
                "device"
            } else if kind.is_fifo() {
                "FIFO"
            } else {
                "special member"
            };
            return Err(ArchiveError::Kind { name, kind });
        }
        bytes += entry.header().size().map_err(ArchiveError::Unreadable)?;
        if bytes > limits.max_bytes {
            return Err(ArchiveError::TooLarge(limits.max_bytes));
        }
        if kind.is_pax_global_extensions() {
            continue;
        }
        let inside = entry.unpack_in(dest).map_err(ArchiveError::Write)?;
        if !inside {
            return Err(ArchiveError::Outside(name));
        }
    }
    lift_single_directory(dest).map_err(ArchiveError::Write)?;
    Ok(bytes)
}

/// When `dest` holds nothing but one directory, moves that directory's contents up.
fn lift_single_directory(dest: &Path) -> std::io::Result<()> {
    let entries: Vec<_> = std::fs::read_dir(dest)?.collect::<Result<_, _>>()?;
    let [only] = entries.as_slice() else {
        return Ok(());
    };
    if !only.file_type()?.is_dir() {
        return Ok(());
    }
    let inner = only.path();
    let staged = dest.join(".nubo-lift");
    std::fs::rename(&inner, &staged)?;
    for entry in std::fs::read_dir(&staged)? {
        let entry = entry?;
        std::fs::rename(entry.path(), dest.join(entry.file_name()))?;
    }
    std::fs::remove_dir(&staged)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ArchiveLimits = ArchiveLimits {
        max_bytes: 1 << 20,
        max_entries: 100,
    };

    fn tarball(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().expect("tar")
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // set_path refuses `..`; write the raw name to build hostile archives.
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_cksum();
        b.append(&h, data).expect("append");
    }

    fn unpack_bytes(data: &[u8], gz: bool) -> (tempfile::TempDir, Result<u64, ArchiveError>) {
        let tmp = tempfile::tempdir().expect("tmp");
        let archive = tmp.path().join("a");
        let data = if gz {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).expect("gz");
            e.finish().expect("gz")
        } else {
            data.to_vec()
        };
        std::fs::write(&archive, data).expect("write");
        let dest = tmp.path().join("out");
        std::fs::create_dir(&dest).expect("mkdir");
        let r = unpack(&archive, &dest, LIMITS);
        (tmp, r)
    }

    #[test]
    fn plain_and_gzipped_tarballs_unpack() {
        let data = tarball(|b| {
            file(b, "app.py", b"print(1)\n");
            file(b, "lib/x.py", b"x = 1\n");
        });
        for gz in [false, true] {
            let (tmp, r) = unpack_bytes(&data, gz);
            assert_eq!(r.expect("unpacks"), 15);
            assert_eq!(
                std::fs::read(tmp.path().join("out/app.py")).expect("f"),
                b"print(1)\n"
            );
            assert!(tmp.path().join("out/lib/x.py").is_file());
        }
    }

    #[test]
    fn a_single_top_directory_is_the_root() {
        let data = tarball(|b| {
            file(b, "repo-abc/app.py", b"1");
            file(b, "repo-abc/sub/y", b"2");
        });
        let (tmp, r) = unpack_bytes(&data, true);
        r.expect("unpacks");
        assert!(tmp.path().join("out/app.py").is_file());
        assert!(tmp.path().join("out/sub/y").is_file());
        assert!(!tmp.path().join("out/repo-abc").exists());
    }

    #[test]
    fn hostile_archives_are_refused() {
        let dotdot = tarball(|b| file(b, "../evil", b"x"));
        assert!(matches!(
            unpack_bytes(&dotdot, false).1,
            Err(ArchiveError::Outside(_))
        ));
        let absolute = tarball(|b| file(b, "/etc/evil", b"x"));
        assert!(matches!(
            unpack_bytes(&absolute, false).1,
            Err(ArchiveError::Outside(_))
        ));
        // A link out, then a file through it.
        let through = tarball(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, "out", "/tmp").expect("link");
            file(b, "out/evil-nubo-test", b"x");
        });
        let (_tmp, r) = unpack_bytes(&through, false);
        assert!(r.is_err(), "{r:?}");
        assert!(!Path::new("/tmp/evil-nubo-test").exists());
        let hard = tarball(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Link);
            h.set_size(0);
            b.append_link(&mut h, "h", "/etc/passwd").expect("link");
        });
        assert!(matches!(
            unpack_bytes(&hard, false).1,
            Err(ArchiveError::Kind {
                kind: "hard link",
                ..
            })
        ));
        let big = tarball(|b| file(b, "big", &vec![0u8; (1 << 20) + 1]));
        assert!(matches!(
            unpack_bytes(&big, true).1,
            Err(ArchiveError::TooLarge(_))
        ));
        let many = tarball(|b| {
            for i in 0..101 {
                file(b, &format!("f{i}"), b"");
            }
        });
        assert!(matches!(
            unpack_bytes(&many, false).1,
            Err(ArchiveError::TooMany(100))
        ));
        assert!(matches!(
            unpack_bytes(b"not a tarball at all, just text", false).1,
            Err(ArchiveError::Unreadable(_))
        ));
        // A gzip bomb: a small file that inflates past the limit.
        let bomb = tarball(|b| file(b, "zeros", &vec![0u8; 4 << 20]));
        let (_tmp, r) = unpack_bytes(&bomb, true);
        assert!(matches!(r, Err(ArchiveError::TooLarge(_))), "{r:?}");
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(nubo_testkit::cases(128))]

        /// Any bytes, plain or behind a gzip header, are refused or unpacked: never a
        /// panic, and nothing lands outside the destination.
        #[test]
        fn any_bytes_are_refused_or_unpacked_inside(
            data in proptest::collection::vec(any::<u8>(), 0..4096),
            gzip_header in any::<bool>(),
        ) {
            let tmp = tempfile::tempdir().expect("tmp");
            let archive = tmp.path().join("a");
            let mut bytes = if gzip_header { vec![0x1f, 0x8b] } else { Vec::new() };
            bytes.extend(data);
            std::fs::write(&archive, bytes).expect("write");
            let dest = tmp.path().join("out");
            std::fs::create_dir(&dest).expect("mkdir");
            let limits = ArchiveLimits { max_bytes: 1 << 16, max_entries: 64 };
            let _ = unpack(&archive, &dest, limits);
            let mut names: Vec<_> = std::fs::read_dir(tmp.path())
                .expect("read")
                .map(|e| e.expect("entry").file_name())
                .collect();
            names.sort();
            prop_assert_eq!(names, vec![std::ffi::OsString::from("a"), "out".into()]);
        }
    }
}
