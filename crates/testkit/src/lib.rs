//! What the tests of Nubo's crates share (a dev-dependency only): [`cases`], proptest
//! settings that `PROPTEST_CASES` overrides for long fuzz runs; [`Tape`], the random-number
//! tape that cheap structure-aware generators draw from; [`hostile_text`], text that XML
//! writers must survive; and [`well_formed`], a strict XML 1.0 check of what every XML
//! writer produces.

mod well_formed;

use proptest::prelude::{Just, ProptestConfig, Strategy, any, prop_oneof};

pub use well_formed::{well_formed, xml_1_0_char};

/// Cases per property: `PROPTEST_CASES` when set (long runs), else `default` (CI).
pub fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Text mixing what XML must escape, what it cannot carry at all (raw or as a reference),
/// what closes or opens a CDATA section, and anything else.
pub fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\u{0}".to_owned()),
        Just("\u{b}".to_owned()),
        Just("\u{c}".to_owned()),
        Just("\u{1f}".to_owned()),
        Just("\u{FFFE}".to_owned()),
        Just("\u{FFFF}".to_owned()),
        Just("\u{FFFD}".to_owned()),
        Just("&#11;".to_owned()),
        Just("]]>".to_owned()),
        Just("]]".to_owned()),
        Just(">".to_owned()),
        Just("<![CDATA[".to_owned()),
        Just("<&>\"'".to_owned()),
        Just("&amp;lt;".to_owned()),
        Just("\r\n\t".to_owned()),
        Just("\u{EFFFF}🦀é".to_owned()),
        any::<char>().prop_map(String::from),
        "[a-z é]{0,4}",
    ];
    proptest::collection::vec(piece, 0..16).prop_map(|pieces| pieces.concat())
}

/// Choices drawn from a tape of random numbers (zeros once it runs out). Generators built
/// on it are far cheaper than proptest's combinators in a debug build, and shrink with the
/// tape: a shorter tape is a smaller input.
#[derive(Debug)]
pub struct Tape<'a> {
    words: &'a [u32],
    at: usize,
}

impl<'a> Tape<'a> {
    pub fn new(words: &'a [u32]) -> Self {
        Tape { words, at: 0 }
    }

    /// The next number of the tape (0 once it has run out: a tape never ends).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u32 {
        let w = self.words.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        w
    }

    /// A number below `n` (at least 1).
    pub fn below(&mut self, n: usize) -> usize {
        self.next() as usize % n.max(1)
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// `len` characters of `alphabet`.
    pub fn word(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len).map(|_| char::from(self.pick(alphabet))).collect()
    }

    /// Any character (surrogates are skipped by `from_u32`).
    pub fn char(&mut self) -> char {
        char::from_u32(self.next() % 0x11_0000).unwrap_or('\u{FFFD}')
    }
}
