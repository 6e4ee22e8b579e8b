//! A request's parameters: the query string and the form body merged, read by name, with
//! EC2's dotted lists (`InstanceId.1`, `Filter.2.Value.1`) numbered from 1.
//!
//! A name or value holding a character XML 1.0 cannot carry (a C0 control other than tab,
//! line feed and carriage return, U+FFFE, U+FFFF; percent-encoded, `%0B`) is noted when the
//! parameters are read, and [`Params::check`] refuses the request with
//! `InvalidParameterValue`: such a value would be stored, then written into replies of the
//! EC2 and the XML-RPC front ends.

use std::collections::BTreeMap;

use nubo_template::xml_chars::{find_non_xml_char, xml_safe};

use crate::error::{Ec2Error, Ec2Result};

/// Parameters by name (a name given twice keeps its first value).
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: BTreeMap<String, String>,
    /// The first parameter given with a character XML cannot carry: its name and the
    /// character.
    refused: Option<(String, char)>,
}

impl Params {
    /// Parameters from decoded pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Params {
        let mut map = BTreeMap::new();
        let mut refused = None;
        for (k, v) in pairs {
            if refused.is_none() {
                refused = find_non_xml_char(&k)
                    .or_else(|| find_non_xml_char(&v))
                    .map(|(_, c)| (k.clone(), c));
            }
            map.entry(k).or_insert(v);
        }
        Params { map, refused }
    }

    /// Refuses the request when a parameter's name or value holds a character XML 1.0
    /// cannot carry (`InvalidParameterValue`, naming the parameter and the character).
    pub fn check(&self) -> Ec2Result<()> {
        match &self.refused {
            None => Ok(()),
            Some((name, c)) => Err(Ec2Error::client(
                "InvalidParameterValue",
                format!(
                    "Value for parameter {} is invalid. It holds the character U+{:04X}, \
                     which XML 1.0 cannot carry.",
                    xml_safe(name),
                    u32::from(*c)
                ),
            )),
        }
    }

    /// Every parameter, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// The value of `name`, which must be there and not empty.
    pub fn required(&self, name: &str) -> Ec2Result<&str> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Ec2Error::missing(name))
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Ec2Result<Option<i64>> {
        self.get(name)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| Ec2Error::invalid(name, v, "It must be an integer."))
            })
            .transpose()
    }

    /// A boolean parameter (`true`/`false`, any case).
    pub fn bool(&self, name: &str) -> Ec2Result<Option<bool>> {
        self.get(name)
            .map(|v| match v.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(Ec2Error::invalid(name, v, "It must be true or false.")),
            })
            .transpose()
    }

    /// The values of `prefix.1`, `prefix.2`, … in order of their numbers.
    pub fn list(&self, prefix: &str) -> Vec<&str> {
        let mut found: Vec<(u32, &str)> = self
            .map
            .iter()
            .filter_map(|(k, v)| {
                let n = k.strip_prefix(prefix)?.strip_prefix('.')?.parse().ok()?;
                Some((n, v.as_str()))
            })
            .collect();
        found.sort_by_key(|(n, _)| *n);
        found.into_iter().map(|(_, v)| v).collect()
    }

    /// The members `prefix.N.*` as one parameter set per N (names without `prefix.N.`),
    /// in order of N.
    pub fn structs(&self, prefix: &str) -> Vec<Params> {
        let mut by_index: BTreeMap<u32, Vec<(String, String)>> = BTreeMap::new();
        for (k, v) in &self.map {
            let Some(rest) = k.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            let Some((n, member)) = rest.split_once('.') else {
                continue;
            };
            if let Ok(n) = n.parse::<u32>() {
                by_index
                    .entry(n)
                    .or_default()
                    .push((member.to_string(), v.clone()));
            }
        }
        by_index.into_values().map(Params::from_pairs).collect()
    }

    /// `Tag.N.Key` / `Tag.N.Value` pairs under `prefix` (a missing value is empty).
    pub fn tags(&self, prefix: &str) -> Ec2Result<Vec<(String, String)>> {
        self.structs(prefix)
            .iter()
            .map(|t| {
                let key = t
                    .required("Key")
                    .map_err(|_| Ec2Error::missing(&format!("{prefix}.N.Key")))?;
                check_tag(key, t.get("Value").unwrap_or(""))?;
                Ok((key.to_string(), t.get("Value").unwrap_or("").to_string()))
            })
            .collect()
    }
}

/// EC2's limits on a tag: a key of 1–128 characters not starting with `aws:`, a value of
/// at most 256.
pub fn check_tag(key: &str, value: &str) -> Ec2Result<()> {
    if key.is_empty() || key.chars().count() > 128 {
        return Err(Ec2Error::client(
            "InvalidParameterValue",
            format!("Tag key '{key}' must be 1 to 128 characters long"),
        ));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(Ec2Error::client(
            "InvalidParameterValue",
            "Tag keys starting with 'aws:' are reserved",
        ));
    }
    if value.chars().count() > 256 {
        return Err(Ec2Error::client(
            "InvalidParameterValue",
            format!("The value of tag '{key}' is longer than 256 characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn lists_are_ordered_by_number_not_by_text() {
        let p = params(&[
            ("InstanceId.10", "c"),
            ("InstanceId.2", "b"),
            ("InstanceId.1", "a"),
            ("InstanceIdX.1", "no"),
        ]);
        assert_eq!(p.list("InstanceId"), ["a", "b", "c"]);
    }

    #[test]
    fn structs_group_members_by_index() {
        let p = params(&[
            ("Filter.1.Name", "tag:Name"),
            ("Filter.1.Value.1", "web"),
            ("Filter.1.Value.2", "db"),
            ("Filter.2.Name", "instance-state-name"),
            ("Filter.2.Value.1", "running"),
        ]);
        let f = p.structs("Filter");
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].get("Name"), Some("tag:Name"));
        assert_eq!(f[0].list("Value"), ["web", "db"]);
        assert_eq!(f[1].list("Value"), ["running"]);
    }

    #[test]
    fn typed_values_are_checked() {
        let p = params(&[("MinCount", "x"), ("DryRun", "TRUE"), ("Force", "maybe")]);
        assert_eq!(
            p.int("MinCount").expect_err("not a number").code,
            "InvalidParameterValue"
        );
        assert_eq!(p.bool("DryRun").expect("bool"), Some(true));
        assert!(p.bool("Force").is_err());
        assert_eq!(
            p.required("ImageId").expect_err("missing").code,
            "MissingParameter"
        );
    }

    #[test]
    fn characters_xml_cannot_carry_are_refused() {
        for c in [
            '\u{0}', '\u{1}', '\u{b}', '\u{c}', '\u{1f}', '\u{FFFE}', '\u{FFFF}',
        ] {
            let value = format!("web{c}");
            let p = params(&[("Action", "CreateTags"), ("Tag.1.Value", &value)]);
            let e = p.check().expect_err("refused");
            assert_eq!(e.code, "InvalidParameterValue");
            assert_eq!(
                e.message,
                format!(
                    "Value for parameter Tag.1.Value is invalid. It holds the character \
                     U+{:04X}, which XML 1.0 cannot carry.",
                    u32::from(c)
                )
            );
            // In a parameter's name too; the message carries no such character itself.
            let name = format!("Tag.1{c}.Key");
            let e = params(&[(&name, "k")]).check().expect_err("refused");
            assert!(
                e.message.contains("parameter Tag.1\u{FFFD}.Key "),
                "{}",
                e.message
            );
        }
        // As a form body or query string sends it: percent-encoded.
        let pairs = form_urlencoded::parse(b"Action=CreateTags&Tag.1.Key=Name&Tag.1.Value=a%0Bb")
            .into_owned();
        assert!(Params::from_pairs(pairs).check().is_err());
        let pairs = form_urlencoded::parse("Description=x%EF%BF%BF".as_bytes()).into_owned();
        assert!(Params::from_pairs(pairs).check().is_err());
        // What XML allows passes.
        let ok = params(&[("Description", "tab\t, lines\r\n, é, \u{FFFD}, 🦀, &#11;")]);
        assert!(ok.check().is_ok());
    }

    #[test]
    fn tags_need_keys_within_limits() {
        let p = params(&[
            ("Tag.1.Key", "Name"),
            ("Tag.1.Value", "web"),
            ("Tag.2.Key", "empty"),
        ]);
        assert_eq!(
            p.tags("Tag").expect("tags"),
            [
                ("Name".to_string(), "web".to_string()),
                ("empty".to_string(), String::new())
            ]
        );
        assert!(params(&[("Tag.1.Key", "aws:x")]).tags("Tag").is_err());
        assert!(params(&[("Tag.1.Value", "v")]).tags("Tag").is_err());
    }
}
