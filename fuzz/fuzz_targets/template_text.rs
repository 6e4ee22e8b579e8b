//! `Template::parse_text` (and `Template::parse`) on any text: no panic, and a template
//! that parses reads back the same from its text and XML forms.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nubo_template::Template;

fuzz_target!(|text: &str| {
    let _ = Template::parse(text);
    if let Ok(t) = Template::parse_text(text) {
        assert_eq!(Template::parse_text(&t.to_text()), Ok(t.clone()));
        assert!(Template::parse_xml(&t.to_xml("T")).is_ok());
    }
});
