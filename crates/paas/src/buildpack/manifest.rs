//! Reading an app's source for detection: files at fixed places of the checkout, followed
//! through symlinks only while they stay inside the source (a symlink could point anywhere
//! on the host), read only when they are regular files, each within a size limit; and the
//! little detection needs from the manifests: the names a `requirements.txt` or a
//! `pyproject.toml` depends on, and the scripts of a `package.json`.

use std::fs::{File, Metadata};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::BuildpackError;

/// An app's source directory, never read outside of.
pub(super) struct Source {
    /// The source, with every symlink of its path resolved.
    root: PathBuf,
}

impl Source {
    pub(super) fn new(root: &Path) -> Result<Source, BuildpackError> {
        let root = std::fs::canonicalize(root).map_err(|source| BuildpackError::Io {
            file: root.display().to_string(),
            source,
        })?;
        Ok(Source { root })
    }

    /// Where `rel` (slash-separated, relative) leads, every symlink followed, and what is
    /// there: `None` when nothing is (a dangling symlink included), an error when it leads
    /// out of the source.
    fn resolve(&self, rel: &str) -> Result<Option<(PathBuf, Metadata)>, BuildpackError> {
        let io = |source| BuildpackError::Io {
            file: rel.to_owned(),
            source,
        };
        let path = match std::fs::canonicalize(self.root.join(rel)) {
            Ok(path) => path,
            Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => {
                return Ok(None);
            }
            Err(e) => return Err(io(e)),
        };
        if !path.starts_with(&self.root) {
            return Err(BuildpackError::OutsideSource {
                file: rel.to_owned(),
            });
        }
        let meta = std::fs::metadata(&path).map_err(io)?;
        Ok(Some((path, meta)))
    }

    /// Whether `rel` is a regular file of the source (through symlinks within it).
    pub(super) fn is_file(&self, rel: &str) -> Result<bool, BuildpackError> {
        Ok(self.resolve(rel)?.is_some_and(|(_, m)| m.is_file()))
    }

    /// The contents of `rel` when present: `None` when missing, an error when it is not a
    /// regular file or holds more than `limit` bytes.
    pub(super) fn read(&self, rel: &str, limit: u64) -> Result<Option<Vec<u8>>, BuildpackError> {
        let Some((path, meta)) = self.resolve(rel)? else {
            return Ok(None);
        };
        let not_regular = || BuildpackError::NotRegular {
            file: rel.to_owned(),
        };
        if !meta.is_file() {
            return Err(not_regular());
        }
        let io = |source| BuildpackError::Io {
            file: rel.to_owned(),
            source,
        };
        let file = File::open(&path).map_err(io)?;
        // The file opened must be the one looked at, not something put in its place since.
        let opened = file.metadata().map_err(io)?;
        if !opened.is_file() || opened.dev() != meta.dev() || opened.ino() != meta.ino() {
            return Err(not_regular());
        }
        let mut bytes = Vec::new();
        file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
        if bytes.len() as u64 > limit {
            return Err(BuildpackError::TooLarge {
                file: rel.to_owned(),
                limit,
            });
        }
        Ok(Some(bytes))
    }
}

/// The normalized name of a PEP 508 requirement (`Flask[async]>=2; python_version>"3"` →
/// `flask`): lower case, runs of `-`, `_` and `.` as one `-`. `None` for what is not a
/// name (options such as `-r other.txt`, URLs, paths).
fn requirement_name(spec: &str) -> Option<String> {
    let spec = spec.trim();
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let (name, rest) = spec.split_at(end);
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return None;
    }
    // A name is followed by extras, a version, markers or `@ url`; `git+https:` or `C:` is
    // not a name.
    if rest.starts_with([':', '+', '/', '\\']) {
        return None;
    }
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    Some(out)
}

/// The names `requirements.txt` lists (comments, options and blank lines skipped; not
/// following `-r` includes). Bytes that are not UTF-8 are read as U+FFFD: pip decides
/// whether the file is good, detection only looks for names.
pub(super) fn requirement_names(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|line| line.split(" #").next().unwrap_or(""))
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(requirement_name)
        .collect()
}

/// Whether `requirements.txt` asks pip for nothing at all: every line blank or a comment
/// (`#` at its start or after a blank). A line with anything else — a name, an option such
/// as `-r other.txt`, a URL or a path — needs pip; so does a file that is not UTF-8 (pip
/// decides what it means).
pub(super) fn requirements_are_empty(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#')
    })
}

/// The names `pyproject.toml` depends on: `[project] dependencies` (PEP 621) and the keys
/// of `[tool.poetry.dependencies]`.
pub(super) fn pyproject_dependencies(bytes: &[u8]) -> Result<Vec<String>, BuildpackError> {
    let bad = |reason: String| BuildpackError::Manifest {
        file: "pyproject.toml".to_owned(),
        reason,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| bad(format!("not UTF-8: {e}")))?;
    let table: toml::Table = toml::from_str(text).map_err(|e| bad(e.message().to_owned()))?;
    let mut names = Vec::new();
    if let Some(deps) = table
        .get("project")
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.as_array())
    {
        names.extend(
            deps.iter()
                .filter_map(|d| d.as_str())
                .filter_map(requirement_name),
        );
    }
    if let Some(deps) = table
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.get("dependencies"))
        .and_then(|d| d.as_table())
    {
        names.extend(deps.keys().filter_map(|k| requirement_name(k)));
    }
    Ok(names)
}

/// Which npm scripts a `package.json` has that the build looks for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Scripts {
    /// `scripts.build`: run by `npm run build` after installing.
    pub(super) build: bool,
    /// `scripts.start`: the default `web` process.
    pub(super) start: bool,
}

/// The scripts of a `package.json`, which must be a JSON object (serde_json's recursion limit
/// bounds nesting; the caller bounds the size).
pub(super) fn package_scripts(bytes: &[u8]) -> Result<Scripts, BuildpackError> {
    let bad = |reason: String| BuildpackError::Manifest {
        file: "package.json".to_owned(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| bad("not a JSON object".to_owned()))?;
    let scripts = match object.get("scripts") {
        None | Some(serde_json::Value::Null) => return Ok(Scripts::default()),
        Some(serde_json::Value::Object(scripts)) => scripts,
        Some(_) => return Err(bad("\"scripts\" is not an object".to_owned())),
    };
    let has = |name: &str| {
        scripts
            .get(name)
            .and_then(|s| s.as_str())
            .is_some_and(|s| !s.trim().is_empty())
    };
    Ok(Scripts {
        build: has("build"),
        start: has("start"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_names_are_normalized() {
        let text = b"# comment\n\nFlask[async]>=2.0 ; python_version > '3'\n-r other.txt\n\
                     --index-url https://x\nzope.interface==6\nGunicorn  # web\n\
                     git+https://example.com/x.git\n./local\nSome__Odd..Name\n";
        assert_eq!(
            requirement_names(text),
            ["flask", "zope-interface", "gunicorn", "some-odd-name"]
        );
        assert!(requirement_names(b"\xff\xfe\x00").is_empty());
    }

    #[test]
    fn only_blank_and_comment_lines_are_empty_requirements() {
        for empty in [
            &b""[..],
            b"\n\n",
            b"# nothing yet\n  \n\t# indented comment\r\n",
        ] {
            assert!(requirements_are_empty(empty), "{empty:?}");
        }
        for needs_pip in [
            &b"six\n"[..],
            b"# six\n-r other.txt\n",
            b"--index-url https://x\n",
            b"./local\n",
            b"git+https://example.com/x.git\n",
            b"\\\n",
            b"\xff\n",
        ] {
            assert!(!requirements_are_empty(needs_pip), "{needs_pip:?}");
        }
    }

    #[test]
    fn pyproject_dependencies_from_pep621_and_poetry() {
        let text = br#"
[project]
name = "x"
dependencies = ["gunicorn>=21", "six"]
[tool.poetry.dependencies]
python = "^3.11"
Flask = "*"
"#;
        assert_eq!(
            pyproject_dependencies(text).expect("ok"),
            ["gunicorn", "six", "flask", "python"]
        );
        assert!(pyproject_dependencies(b"[project\n").is_err());
        assert!(pyproject_dependencies(b"\xff").is_err());
        assert!(pyproject_dependencies(b"").expect("ok").is_empty());
    }

    #[test]
    fn deep_toml_and_json_are_refused_not_overflowed() {
        // Balanced, so only depth can be the reason; within MANIFEST_MAX_BYTES.
        let n = 100_000;
        let deep = format!("a = {}{}", "[".repeat(n), "]".repeat(n));
        assert!(pyproject_dependencies(deep.as_bytes()).is_err());
        let deep = format!("a = {}1{}", "{b=".repeat(n), "}".repeat(n));
        assert!(pyproject_dependencies(deep.as_bytes()).is_err());
        let deep = format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(package_scripts(deep.as_bytes()).is_err());
        let deep = format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
        assert!(package_scripts(deep.as_bytes()).is_err());
    }

    #[test]
    fn package_scripts_are_found() {
        let s = package_scripts(br#"{"scripts":{"build":"tsc","start":"node ."}}"#).expect("ok");
        assert_eq!(
            s,
            Scripts {
                build: true,
                start: true
            }
        );
        let s = package_scripts(br#"{"scripts":{"build":"","start":3}}"#).expect("ok");
        assert_eq!(s, Scripts::default());
        assert_eq!(package_scripts(br#"{}"#).expect("ok"), Scripts::default());
        assert!(package_scripts(br#"[]"#).is_err());
        assert!(package_scripts(br#"{"scripts":[]}"#).is_err());
        assert!(package_scripts(b"{").is_err());
    }
}
