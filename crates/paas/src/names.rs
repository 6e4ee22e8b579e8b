//! What users may name things, checked where the PaaS accepts them: app names are DNS
//! labels (they become host names), config var names are environment variable names with
//! bounded values, process types are short words.

use crate::error::{PaasError, Result};

/// The longest app name (a DNS label).
pub const APP_NAME_MAX: usize = 63;
/// The longest config var name.
pub const CONFIG_NAME_MAX: usize = 256;
/// The longest config var value, in bytes.
pub const CONFIG_VALUE_MAX: usize = 32 * 1024;
/// The most config vars an app may have.
pub const CONFIG_COUNT_MAX: usize = 500;
/// The most bytes all of an app's config vars may take together.
pub const CONFIG_TOTAL_MAX: usize = 256 * 1024;
/// The longest process type name.
pub const PROCESS_TYPE_MAX: usize = 30;
/// The most instances of one process type.
pub const QUANTITY_MAX: u32 = 100;

/// Checks an app name: 1 to 63 of `a-z`, `0-9` and `-`, starting with a letter and not
/// ending with `-`.
pub fn check_app_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= APP_NAME_MAX
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(PaasError::Invalid(format!(
            "app name {:?} is not a DNS label: use 1 to {APP_NAME_MAX} of a-z, 0-9 and -, \
             starting with a letter and not ending with -",
            shorten(name)
        )))
    }
}

/// Checks a config var: the name an environment variable name (`[A-Za-z_][A-Za-z0-9_]*`,
/// at most 256), not `PORT` nor starting with `NUBO_` (the platform sets those); the value
/// without NUL and at most 32 KiB.
pub fn check_config_var(name: &str, value: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= CONFIG_NAME_MAX
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err(PaasError::Invalid(format!(
            "config var name {:?} is not an environment variable name \
             ([A-Za-z_][A-Za-z0-9_]*, at most {CONFIG_NAME_MAX})",
            shorten(name)
        )));
    }
    if name == "PORT" || name.starts_with("NUBO_") {
        return Err(PaasError::Invalid(format!(
            "config var {name} is set by the platform"
        )));
    }
    if value.contains('\0') {
        return Err(PaasError::Invalid(format!(
            "config var {name} holds a NUL character"
        )));
    }
    if value.len() > CONFIG_VALUE_MAX {
        return Err(PaasError::Invalid(format!(
            "config var {name} is {} bytes long; at most {CONFIG_VALUE_MAX}",
            value.len()
        )));
    }
    Ok(())
}

/// Checks a set of config vars as a whole: how many and how large.
pub fn check_config_size(config: &std::collections::BTreeMap<String, String>) -> Result<()> {
    if config.len() > CONFIG_COUNT_MAX {
        return Err(PaasError::Invalid(format!(
            "an app may have at most {CONFIG_COUNT_MAX} config vars"
        )));
    }
    let total: usize = config.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > CONFIG_TOTAL_MAX {
        return Err(PaasError::Invalid(format!(
            "an app's config vars may take at most {CONFIG_TOTAL_MAX} bytes in all"
        )));
    }
    Ok(())
}

/// Checks a process type name: 1 to 30 of `a-z`, `0-9`, `_` and `-`, starting with a letter.
pub fn check_process_type(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= PROCESS_TYPE_MAX
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(PaasError::Invalid(format!(
            "process type {:?} is not a name: use 1 to {PROCESS_TYPE_MAX} of a-z, 0-9, _ and -, \
             starting with a letter",
            shorten(name)
        )))
    }
}

/// Checks a quantity of instances.
pub fn check_quantity(process_type: &str, quantity: u32) -> Result<()> {
    if quantity > QUANTITY_MAX {
        return Err(PaasError::Invalid(format!(
            "{process_type}={quantity}: at most {QUANTITY_MAX} instances per process type"
        )));
    }
    Ok(())
}

/// At most the first 80 characters of a name, for messages.
fn shorten(name: &str) -> String {
    name.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_are_dns_labels() {
        for good in ["a", "shop", "my-app-2", &"a".repeat(63)] {
            assert!(check_app_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Shop",
            "2shop",
            "-a",
            "a-",
            "a_b",
            "a.b",
            "a b",
            "é",
            "a\n",
            &"a".repeat(64),
            "<script>",
        ] {
            assert!(check_app_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn config_vars_are_environment_variables() {
        assert!(check_config_var("DATABASE_URL", "postgres://x").is_ok());
        assert!(check_config_var("_x1", "").is_ok());
        for bad in ["", "1A", "A-B", "A B", "A=B", "PORT", "NUBO_APP"] {
            assert!(check_config_var(bad, "v").is_err(), "{bad:?}");
        }
        assert!(check_config_var("A", "a\0b").is_err());
        assert!(check_config_var("A", &"x".repeat(CONFIG_VALUE_MAX)).is_ok());
        assert!(check_config_var("A", &"x".repeat(CONFIG_VALUE_MAX + 1)).is_err());
    }

    #[test]
    fn config_sets_are_bounded() {
        let many: std::collections::BTreeMap<_, _> = (0..=CONFIG_COUNT_MAX)
            .map(|i| (format!("V{i}"), String::new()))
            .collect();
        assert!(check_config_size(&many).is_err());
        let big: std::collections::BTreeMap<_, _> = (0..9)
            .map(|i| (format!("V{i}"), "x".repeat(CONFIG_VALUE_MAX)))
            .collect();
        assert!(check_config_size(&big).is_err());
    }

    #[test]
    fn process_types_and_quantities() {
        assert!(check_process_type("web").is_ok());
        assert!(check_process_type("worker_2").is_ok());
        for bad in ["", "Web", "1w", "a b", &"w".repeat(31)] {
            assert!(check_process_type(bad).is_err(), "{bad:?}");
        }
        assert!(check_quantity("web", QUANTITY_MAX).is_ok());
        assert!(check_quantity("web", QUANTITY_MAX + 1).is_err());
    }
}
