//! `Template::parse_xml` on any text: no panic, and a template that parses is written as
//! XML that reads back as the same (sorted) template.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nubo_template::Template;

fuzz_target!(|text: &str| {
    if let Ok(t) = Template::parse_xml(text) {
        let written = t.to_xml("T");
        let back = Template::parse_xml(&written).expect("written XML parses");
        assert_eq!(back.to_xml("T"), written);
    }
});
