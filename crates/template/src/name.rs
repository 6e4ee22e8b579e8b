//! Attribute-name rules shared by every way a name enters a template:
//! upper-casing and OpenNebula's `ONE_` prefix, and name lookup.

/// The prefix oned puts in front of names that are not valid XML names.
const PREFIX: &str = "ONE_";

/// Upper-cases `name` and prefixes it with `ONE_` when it does not start
/// with a letter or `_`, or starts with `XML` (any case).
pub(crate) fn normalize(name: &str) -> String {
    let upper = name.to_ascii_uppercase();
    if needs_prefix(&upper) {
        format!("{PREFIX}{upper}")
    } else {
        upper
    }
}

/// True when a name (any case) gets the `ONE_` prefix.
fn needs_prefix(name: &str) -> bool {
    let Some(first) = name.chars().next() else {
        return false;
    };
    let starts_xml = name.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("XML"));
    !(first.is_ascii_alphabetic() || first == '_') || starts_xml
}

/// True when the stored name `stored` is what `query` means: equal ignoring
/// case, or equal to `query` once normalised (`get("xml_a")` finds
/// `ONE_XML_A`, as the attribute `xml_a` would have been stored).
pub(crate) fn matches(stored: &str, query: &str) -> bool {
    if stored.eq_ignore_ascii_case(query) {
        return true;
    }
    needs_prefix(query)
        && stored
            .get(..PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
        && stored
            .get(PREFIX.len()..)
            .is_some_and(|rest| rest.eq_ignore_ascii_case(query))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_cases() {
        assert_eq!(normalize("memory"), "MEMORY");
        assert_eq!(normalize("_x"), "_X");
    }

    #[test]
    fn prefixes_non_xml_names() {
        assert_eq!(normalize("1cpu"), "ONE_1CPU");
        assert_eq!(normalize("XMLRPC"), "ONE_XMLRPC");
        assert_eq!(normalize("xml_foo"), "ONE_XML_FOO");
        assert_eq!(normalize("XM"), "XM");
        assert_eq!(normalize(""), "");
    }

    #[test]
    fn normalize_is_idempotent() {
        for n in ["1a", "xmlx", "a", "_", "ONE_1"] {
            assert_eq!(normalize(&normalize(n)), normalize(n));
        }
    }

    #[test]
    fn matching() {
        assert!(matches("MEMORY", "memory"));
        assert!(matches("ONE_1CPU", "1cpu"));
        assert!(matches("ONE_XML_A", "xml_a"));
        assert!(matches("ONE_XML_A", "ONE_XML_A"));
        assert!(!matches("MEMORY", "MEM"));
        assert!(!matches("ONE_A", "a"));
    }
}
