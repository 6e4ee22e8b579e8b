//! `Requirements::parse` and `Rank::parse` on any text, and evaluation: no panic, no stack
//! overflow, and a rank is always finite.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use nubo_template::{Rank, Requirements};

fuzz_target!(|text: &str| {
    let vars: HashMap<String, Vec<String>> = [("A", "3"), ("B", "x"), ("C", "1,2")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), vec![v.to_owned()]))
        .collect();
    if let Ok(r) = Requirements::parse(text) {
        let _ = r.eval(&vars);
    }
    if let Ok(r) = Rank::parse(text) {
        assert!(r.eval(&vars).is_finite());
    }
});
