//! The Procfile: `name: command` lines declaring an app's process types, parsed strictly and
//! within bounds, since it comes from the app's source.

use std::collections::BTreeMap;

use super::BuildpackError;
use crate::names::PROCESS_TYPE_MAX;

/// The largest Procfile read, in bytes.
pub const PROCFILE_MAX_BYTES: u64 = 64 * 1024;
/// The most process types a Procfile may declare.
pub const PROCFILE_MAX_TYPES: usize = 100;

/// Parses a Procfile: one `name: command` per line, names of 1 to 30 of `a-z`, `0-9`, `_` and
/// `-` starting with a letter, each once; blank lines and lines starting with `#` skipped;
/// `\r\n` line ends accepted. A line that is not UTF-8, holds control characters other than
/// tabs, lacks the colon, has a bad name or an empty command is an error naming the line;
/// so are more than 64 KiB, more than 100 types, or none.
pub fn parse_procfile(bytes: &[u8]) -> Result<BTreeMap<String, String>, BuildpackError> {
    if bytes.len() as u64 > PROCFILE_MAX_BYTES {
        return Err(BuildpackError::TooLarge {
            file: "Procfile".to_owned(),
            limit: PROCFILE_MAX_BYTES,
        });
    }
    let mut types = BTreeMap::new();
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        let bad = |reason: String| BuildpackError::Procfile { line, reason };
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = std::str::from_utf8(raw).map_err(|_| bad("not UTF-8 text".to_owned()))?;
        if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\t') {
            return Err(bad(format!("holds the control character {c:?}")));
        }
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let Some((name, command)) = text.split_once(':') else {
            return Err(bad("expected `name: command`, found no colon".to_owned()));
        };
        let (name, command) = (name.trim(), command.trim());
        if !valid_name(name) {
            return Err(bad(format!(
                "process type {:?} is not a name: use 1 to {PROCESS_TYPE_MAX} of a-z, 0-9, _ \
                 and -, starting with a letter",
                name.chars().take(40).collect::<String>()
            )));
        }
        if command.is_empty() {
            return Err(bad(format!("process type {name} has no command")));
        }
        if types.contains_key(name) {
            return Err(bad(format!("process type {name} is declared twice")));
        }
        if types.len() == PROCFILE_MAX_TYPES {
            return Err(BuildpackError::ProcfileShape(format!(
                "more than {PROCFILE_MAX_TYPES} process types"
            )));
        }
        types.insert(name.to_owned(), command.to_owned());
    }
    if types.is_empty() {
        return Err(BuildpackError::ProcfileShape(
            "declares no process types (expected `name: command` lines)".to_owned(),
        ));
    }
    Ok(types)
}

/// `[a-z][a-z0-9_-]{0,29}`.
fn valid_name(name: &str) -> bool {
    name.len() <= PROCESS_TYPE_MAX
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_of(err: BuildpackError) -> usize {
        match err {
            BuildpackError::Procfile { line, .. } => line,
            other => panic!("not a line error: {other}"),
        }
    }

    #[test]
    fn good_procfiles() {
        let text = b"# processes\r\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\r\n\n  \
                     worker:python3 worker.py  \n\tclock-2 :  sh -c 'echo a: b' # c\nx_y: a\n";
        let types = parse_procfile(text).expect("ok");
        assert_eq!(types.len(), 4);
        assert_eq!(types["web"], "gunicorn app:app --bind 0.0.0.0:$PORT");
        assert_eq!(types["worker"], "python3 worker.py");
        assert_eq!(types["clock-2"], "sh -c 'echo a: b' # c");
        assert_eq!(types["x_y"], "a");
        let name = "w".repeat(PROCESS_TYPE_MAX);
        let types = parse_procfile(format!("{name}: run").as_bytes()).expect("ok");
        assert_eq!(types[&name], "run");
    }

    #[test]
    fn bad_lines_name_their_number() {
        let cases: [(&[u8], usize); 13] = [
            (b"web: a\nworker python3 w.py\n", 2),
            (b"Web: a", 1),
            (b"1web: a", 1),
            (b"we b: a", 1),
            (b": a", 1),
            (b"web:", 1),
            (b"web:   \n", 1),
            (b"web: a\nweb: b", 2),
            (b"\n\nweb: a\0b", 3),
            (b"web: a\nw: \xff\xfe", 2),
            (b"web: a\x1b[2J", 1),
            (b"web: a\rb", 1),
            (b"web.1: a", 1),
        ];
        for (text, line) in cases {
            let err = parse_procfile(text).expect_err(&String::from_utf8_lossy(text));
            assert!(err.to_string().starts_with("Procfile line"), "{err}");
            assert_eq!(line_of(err), line, "{:?}", String::from_utf8_lossy(text));
        }
        let long = format!("{}: a", "w".repeat(PROCESS_TYPE_MAX + 1));
        assert_eq!(
            line_of(parse_procfile(long.as_bytes()).expect_err("an error")),
            1
        );
    }

    #[test]
    fn hostile_procfiles_are_bounded() {
        // Too large, even when every line is good.
        let huge = "web: a\n".repeat(20_000);
        assert!(matches!(
            parse_procfile(huge.as_bytes()),
            Err(BuildpackError::TooLarge { .. })
        ));
        let huge = format!("web: {}", "a".repeat(PROCFILE_MAX_BYTES as usize));
        assert!(matches!(
            parse_procfile(huge.as_bytes()),
            Err(BuildpackError::TooLarge { .. })
        ));
        // Many types.
        let many: String = (0..=PROCFILE_MAX_TYPES)
            .map(|i| format!("t{i}: run {i}\n"))
            .collect();
        assert!(matches!(
            parse_procfile(many.as_bytes()),
            Err(BuildpackError::ProcfileShape(_))
        ));
        let most: String = (0..PROCFILE_MAX_TYPES)
            .map(|i| format!("t{i}: run {i}\n"))
            .collect();
        assert_eq!(
            parse_procfile(most.as_bytes()).expect("ok").len(),
            PROCFILE_MAX_TYPES
        );
        // Many lines that declare nothing, and nothing at all.
        let blank = "\n# x\n".repeat(10_000);
        assert!(matches!(
            parse_procfile(blank.as_bytes()),
            Err(BuildpackError::ProcfileShape(_))
        ));
        assert!(parse_procfile(b"").is_err());
        assert!(parse_procfile(&[0u8; 4096]).is_err());
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(nubo_testkit::cases(256))]

        /// Any bytes: refused, or process types that are names with commands of one line,
        /// never more than the bound.
        #[test]
        fn any_bytes_give_names_and_one_line_commands(
            lines in proptest::collection::vec("[a-z0-9_ :\\-\u{0}-\u{1f}é]{0,40}", 0..40),
        ) {
            if let Ok(types) = parse_procfile(lines.join("\n").as_bytes()) {
                prop_assert!(types.len() <= PROCFILE_MAX_TYPES);
                for (name, command) in types {
                    prop_assert!(crate::names::check_process_type(&name).is_ok(), "{:?}", name);
                    prop_assert!(!command.contains('\n') && !command.contains('\0'), "{:?}", command);
                }
            }
        }
    }
}
