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
}
