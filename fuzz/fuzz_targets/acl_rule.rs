//! `nubo_types::acl::parse_rule` and `parse_hex` on any text: no panic, and a rule that
//! parses is valid and reads back from its written form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nubo_types::acl::{format_rule, parse_hex, parse_rule, validate};

fuzz_target!(|text: &str| {
    let _ = parse_hex(text);
    if let Ok((u, r, ri, z)) = parse_rule(text) {
        assert_eq!(validate(u, r, ri, z), Ok(()));
        assert_eq!(parse_rule(&format_rule(u, r, ri, z)), Ok((u, r, ri, z)));
    }
});
