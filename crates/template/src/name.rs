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

/// Upper-cases a vector key, and prefixes it with `ONE_` when it starts with a digit: the
/// key becomes an XML element name, which cannot (oned writes such a key as it is, and
/// its XML cannot be read).
pub(crate) fn normalize_key(key: &str) -> String {
    let upper = key.to_ascii_uppercase();
    match upper.chars().next() {
        Some(first) if !(first.is_ascii_alphabetic() || first == '_') => {
            format!("{PREFIX}{upper}")
        }
        _ => upper,
    }
}

/// True when `name` is an XML 1.0 `Name` without a colon, the names elements of the XML
/// form may have: a name that is not would be written back as XML no client reads, and a
/// colon is a namespace prefix that lxml (pyone's parser) refuses when nothing declares it.
pub(crate) fn is_xml_name(name: &str) -> bool {
    fn start(c: char) -> bool {
        matches!(c,
            'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
            | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
            | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
            | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
            | '\u{10000}'..='\u{EFFFF}')
    }
    fn rest(c: char) -> bool {
        start(c)
            || matches!(c,
                '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
    }
    let mut chars = name.chars();
    chars.next().is_some_and(start) && chars.all(rest)
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
    fn keys_starting_with_a_digit_are_prefixed() {
        assert_eq!(normalize_key("1a"), "ONE_1A");
        assert_eq!(normalize_key("xml_a"), "XML_A");
        assert_eq!(normalize_key("_x"), "_X");
        assert_eq!(normalize_key(""), "");
    }

    #[test]
    fn xml_names() {
        for good in ["A", "_a", "a-b.c", "é", "ONE_1", "a\u{300}", "\u{10000}x"] {
            assert!(is_xml_name(good), "{good}");
        }
        for bad in [
            "", "1a", "-a", ".a", "a&b", "a<b", "a=b", "a/b", "a;b", "a:b", "a b",
        ] {
            assert!(!is_xml_name(bad), "{bad}");
        }
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
