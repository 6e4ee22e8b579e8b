//! Reading template text from a file or standard input (`-`), and parsing the small values
//! commands take (octal modes).

use std::io::Read;

use anyhow::Context;

use crate::exit::usage_error;

/// The text of `source`: a file path, or `-` for standard input.
pub fn template(source: &str) -> anyhow::Result<String> {
    if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the template from standard input")?;
        return Ok(text);
    }
    std::fs::read_to_string(source).with_context(|| format!("cannot read {source}"))
}

/// An octal permission mode such as `640` or `0640`.
pub fn octal(mode: &str) -> anyhow::Result<[i32; 9]> {
    let digits = mode.strip_prefix("0o").unwrap_or(mode);
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|_| !digits.is_empty() && digits.len() <= 4)
        .and_then(nubo_client::chmod_args)
        .ok_or_else(|| {
            usage_error(format!(
                "invalid mode {mode:?}: expected three octal digits such as 640"
            ))
        })
}

/// A size in megabytes: a plain number of MB, or a number with a unit, M, G or T (an
/// optional trailing B, any case): `512`, `512M`, `2G`, `1.5GB`. Whole megabytes, above 0.
pub fn megabytes(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_uppercase();
    let t = t.strip_suffix('B').unwrap_or(&t);
    let (number, factor) = match t.char_indices().last() {
        Some((i, 'M')) => (&t[..i], 1.0),
        Some((i, 'G')) => (&t[..i], 1024.0),
        Some((i, 'T')) => (&t[..i], 1024.0 * 1024.0),
        _ => (t, 1.0),
    };
    let value = number
        .trim()
        .parse::<f64>()
        .ok()
        .map(|n| n * factor)
        .filter(|mb| mb.is_finite() && *mb >= 1.0 && mb.fract() == 0.0 && *mb < 1e15);
    match value {
        // A whole number between 1 and 1e15: the cast is exact.
        Some(mb) => Ok(mb as u64),
        None => Err(format!(
            "invalid size {text:?}: expected whole megabytes such as 512, 512M, 2G or 1.5G"
        )),
    }
}

/// `"value"` quoted for OpenNebula's template language (only `"` is escaped there).
pub fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_modes() {
        assert_eq!(octal("640").expect("640"), [1, 1, 0, 1, 0, 0, 0, 0, 0]);
        assert_eq!(octal("0600").expect("0600"), [1, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert!(octal("800").is_err());
        assert!(octal("1777").is_err());
        assert!(octal("").is_err());
        assert!(octal("rw").is_err());
    }

    #[test]
    fn reads_files_and_quotes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t");
        std::fs::write(&path, "NAME=x\n").expect("write");
        assert_eq!(
            template(&path.display().to_string()).expect("read"),
            "NAME=x\n"
        );
        let err = template("/no/such/file").expect_err("missing");
        assert!(err.to_string().starts_with("cannot read /no/such/file"));
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn sizes_in_megabytes() {
        assert_eq!(megabytes("512"), Ok(512));
        assert_eq!(megabytes("512M"), Ok(512));
        assert_eq!(megabytes("2g"), Ok(2048));
        assert_eq!(megabytes("1.5GB"), Ok(1536));
        assert_eq!(megabytes("1T"), Ok(1_048_576));
        for bad in ["", "0", "-5", "1.5", "x", "2X", "G"] {
            assert!(megabytes(bad).is_err(), "accepted {bad:?}");
        }
    }
}
