//! `Filter.N.Name` / `Filter.N.Value.M`: values of one filter are OR-ed, filters are AND-ed,
//! `*` and `?` are wildcards (`\` escapes them). Each kind of resource says which filter
//! names it knows and what values a resource has for each; an unknown name is an error.

use crate::error::{Ec2Error, Ec2Result};
use crate::params::Params;

/// One filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Its name, e.g. `instance-state-name` or `tag:Name`.
    pub name: String,
    /// The values it accepts.
    pub values: Vec<String>,
}

/// The filters of a request.
#[derive(Debug, Clone, Default)]
pub struct Filters(pub Vec<Filter>);

/// What a resource offers filters: its values for a filter name; `None` for a name this
/// kind of resource does not know.
pub trait Facts {
    /// The resource's values for filter `name` (empty when it has none).
    fn facts(&self, name: &str) -> Option<Vec<String>>;
}

impl Filters {
    /// The `Filter.N.*` parameters.
    pub fn parse(p: &Params) -> Ec2Result<Filters> {
        let mut out = Vec::new();
        for f in p.structs("Filter") {
            let name = f
                .required("Name")
                .map_err(|_| Ec2Error::missing("Filter.N.Name"))?;
            out.push(Filter {
                name: name.to_string(),
                values: f.list("Value").into_iter().map(str::to_string).collect(),
            });
        }
        Ok(Filters(out))
    }

    /// Checks every filter name against a sample of the kind (an unknown name fails the
    /// call even when there is nothing to filter).
    pub fn check(&self, known: &impl Fn(&str) -> bool) -> Ec2Result<()> {
        for f in &self.0 {
            if !known(&f.name) {
                return Err(Ec2Error::client(
                    "InvalidParameterValue",
                    format!("The filter '{}' is invalid", f.name),
                ));
            }
        }
        Ok(())
    }

    /// Whether `resource` passes every filter.
    pub fn matches(&self, resource: &impl Facts) -> bool {
        self.0.iter().all(|f| {
            let have = resource.facts(&f.name).unwrap_or_default();
            f.values
                .iter()
                .any(|want| have.iter().any(|v| wildcard(want, v)))
        })
    }
}

/// Facts every tagged resource shares: `tag:KEY`, `tag-key`, `tag-value`.
pub fn tag_facts(tags: &[(String, String)], name: &str) -> Option<Vec<String>> {
    if let Some(key) = name.strip_prefix("tag:") {
        return Some(
            tags.iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .collect(),
        );
    }
    match name {
        "tag-key" => Some(tags.iter().map(|(k, _)| k.clone()).collect()),
        "tag-value" => Some(tags.iter().map(|(_, v)| v.clone()).collect()),
        _ => None,
    }
}

/// Whether `text` matches `pattern` with `*` (any run), `?` (one character) and `\`
/// escaping the next character.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Any,
        One,
        Lit(char),
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        toks.push(match c {
            '*' => Tok::Any,
            '?' => Tok::One,
            '\\' => Tok::Lit(chars.next().unwrap_or('\\')),
            c => Tok::Lit(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // Classic two-pointer glob with backtracking to the last `*`.
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match toks.get(p) {
            Some(Tok::One) => {
                t += 1;
                p += 1;
            }
            Some(Tok::Lit(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(Tok::Any) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    toks[p..].iter().all(|t| *t == Tok::Any)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct R(Vec<(String, String)>, &'static str);
    impl Facts for R {
        fn facts(&self, name: &str) -> Option<Vec<String>> {
            match name {
                "instance-state-name" => Some(vec![self.1.to_string()]),
                n => tag_facts(&self.0, n),
            }
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("web*", "web-1"));
        assert!(wildcard("*", ""));
        assert!(wildcard("w?b", "web"));
        assert!(!wildcard("w?b", "weeb"));
        assert!(wildcard("*-1", "web-db-1"));
        assert!(!wildcard("web", "web1"));
        assert!(wildcard("a\\*", "a*"));
        assert!(!wildcard("a\\*", "ab"));
    }

    #[test]
    fn values_are_ored_and_filters_anded() {
        let r = R(vec![("Name".into(), "web".into())], "running");
        let f = |name: &str, values: &[&str]| Filter {
            name: name.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        assert!(Filters(vec![f("tag:Name", &["db", "web"])]).matches(&r));
        assert!(
            !Filters(vec![
                f("tag:Name", &["web"]),
                f("instance-state-name", &["stopped"])
            ])
            .matches(&r)
        );
        assert!(Filters(vec![f("tag-key", &["Na*"])]).matches(&r));
        assert!(!Filters(vec![f("tag:Other", &["*"])]).matches(&r));
    }
}
