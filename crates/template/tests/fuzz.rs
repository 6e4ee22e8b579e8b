//! Fuzzing the template parsers and scheduler expressions (issue 12): `Template::parse`,
//! `parse_text`, `parse_xml`, `Requirements::parse` and `Rank::parse`, on random bytes and
//! text and on inputs built from each grammar's pieces (vectors, quotes, escapes, comments,
//! characters XML cannot carry, CDATA, entities, DOCTYPEs, deep nesting; long chains and
//! deep parentheses), mutated.
//!
//! Properties: nothing panics or overflows the stack; the text form only fails with a
//! `ParseError::Text` whose line and columns lie in the input and whose message is short,
//! the XML form only with a `ParseError::Xml` inside the input; whatever parses reads back
//! the same through the writers; the XML form refuses every element deeper than a vector's
//! key; expressions within their limits (100 levels, 4096 terms, 128 KiB) parse and evaluate
//! as written (checked against an evaluator of the generated tree), and past each limit
//! fail with its error.
//!
//! Every test is named `fuzz_…`; `PROPTEST_CASES` overrides the number of cases, so
//! `PROPTEST_CASES=1000000 cargo test -p nubo-template --release fuzz_` is a long run.

use std::collections::HashMap;

use nubo_template::{ExprError, ParseError, Rank, Requirements, Template, Value};
use proptest::collection::vec;
use proptest::prelude::*;

use nubo_testkit::Tape;
use nubo_testkit::cases;
use nubo_testkit::well_formed;

/// Runs `f` on a thread with a 1 MiB stack: recursion per level or per term of the input
/// would overflow it (and abort the test binary).
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("no panic")
}

fn tape() -> impl Strategy<Value = Vec<u32>> {
    vec(any::<u32>(), 0..300)
}

const NAME: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";

/// Pieces of values that matter to one form or the other.
const ODD: &[&str] = &[
    "\\\"",
    "\\\\",
    "\\n",
    "\"",
    "\\",
    "]]>",
    "]]",
    "<![CDATA[",
    "&amp;",
    "&#11;",
    "<",
    ">",
    "&",
    "=",
    ",",
    "[",
    "]",
    "#",
    "\n",
    "\r\n",
    "\t",
    " ",
    "é☃🦀",
    "\u{FFFD}",
    "\u{0}",
    "\u{b}",
    "\u{1f}",
    "\u{FFFE}",
    "\u{FFFF}",
];

/// A name as users write them (and some they should not).
fn text_name(t: &mut Tape) -> String {
    match t.below(8) {
        0 => String::new(),
        1 => format!("xml{}", t.word(NAME, 2)),
        2 => format!("{}{}", t.below(10), t.word(NAME, 3)),
        _ => {
            let n = 1 + t.below(12);
            t.word(NAME, n)
        }
    }
}

/// Value text: plain, with what either form must escape, or what neither can carry.
fn value_text(t: &mut Tape) -> String {
    let mut out = String::new();
    for _ in 0..t.below(6) {
        match t.below(6) {
            0 => out.push_str(t.pick(ODD)),
            1 => out.push(t.char()),
            _ => {
                let n = t.below(8);
                out.push_str(&t.word(b"abcdefghij0123 .-/:", n));
            }
        }
    }
    out
}

/// A value in the text form: quoted (with escapes), unquoted, or broken.
fn text_value(t: &mut Tape) -> String {
    match t.below(6) {
        0 => {
            let n = t.below(10);
            t.word(b"abcdefXYZ0123456789./:-_@", n)
        }
        1 => format!("\"{}", value_text(t)),
        2 => value_text(t),
        _ => {
            let v = value_text(t);
            let escaped = if t.below(2) == 0 {
                v.replace('\\', "\\\\").replace('"', "\\\"")
            } else {
                v
            };
            format!("\"{escaped}\"")
        }
    }
}

/// A template in the text form: attributes, vectors, comments and blank lines, with
/// mistakes now and then.
fn text_template(t: &mut Tape) -> String {
    let mut out = String::new();
    for _ in 0..t.below(8) {
        match t.below(10) {
            0 => out.push_str(&format!("# {}\n", value_text(t))),
            1 => out.push_str(t.pick(&["\n", "\r\n", "  ", "\t"])),
            2 | 3 => {
                out.push_str(&text_name(t));
                out.push_str(t.pick(&["=", " = ", "=\t", "", "=="]));
                out.push('[');
                for i in 0..t.below(5) {
                    if i > 0 {
                        out.push_str(t.pick(&[",", " , ", ",\n", "", ",,"]));
                    }
                    out.push_str(&text_name(t));
                    out.push_str(t.pick(&["=", " = ", "", "=["]));
                    if t.below(6) != 0 {
                        out.push_str(&text_value(t));
                    }
                }
                out.push_str(t.pick(&["]", " ]", "\n]", "", "]]", ",]"]));
                out.push('\n');
            }
            _ => {
                out.push_str(&text_name(t));
                out.push_str(t.pick(&["=", " = ", "= ", "", " "]));
                if t.below(8) != 0 {
                    out.push_str(&text_value(t));
                }
                out.push_str(t.pick(&["\n", "\n", " ", "\r\n", ""]));
            }
        }
    }
    out
}

/// Character data of the XML form: escaped, referenced, in CDATA, or broken.
fn xml_text(t: &mut Tape) -> String {
    const PIECES: &[&str] = &[
        "&lt;&gt;&amp;&quot;&apos;",
        "&#65;&#x1F980;",
        "&#0;",
        "&#11;",
        "&#xFFFF;",
        "&#x110000;",
        "&bogus;",
        "&amp",
        "<![CDATA[a]]>",
        "<![CDATA[x]]]]><![CDATA[>y]]>",
        "<![CDATA[",
        "<!-- c -->",
        "]]>",
        "\r\n \t",
        "<?pi x?>",
    ];
    let mut out = String::new();
    for _ in 0..t.below(5) {
        match t.below(4) {
            0 => out.push_str(t.pick(PIECES)),
            1 => out.push(t.char()),
            _ => {
                let n = t.below(8);
                out.push_str(&t.word(b"abc 123", n));
            }
        }
    }
    out
}

/// An element name, valid or not.
fn xml_name(t: &mut Tape) -> String {
    match t.below(10) {
        0 => t
            .pick(&["a-b", "ONE_X", "é", "1A", "xmlns:x", "a.b"])
            .to_owned(),
        1 => String::new(),
        _ => {
            let n = 1 + t.below(8);
            t.word(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabc_", n)
        }
    }
}

/// An element with `depth` more levels of children at most.
fn xml_element(t: &mut Tape, depth: usize) -> String {
    let name = xml_name(t);
    let attrs = if t.below(6) == 0 {
        " a=\"1\" b='&amp;'"
    } else {
        ""
    };
    if t.below(8) == 0 {
        return format!("<{name}{attrs}/>");
    }
    let content: String = if depth > 0 && t.below(2) == 0 {
        (0..t.below(4))
            .map(|_| {
                let ws = t.pick(&["", "\n  "]);
                format!("{ws}{}", xml_element(t, depth - 1))
            })
            .collect()
    } else {
        xml_text(t)
    };
    let close = if t.below(20) == 0 {
        xml_name(t)
    } else {
        name.clone()
    };
    format!("<{name}{attrs}>{content}</{close}>")
}

/// A template in the XML form (root, attributes, vectors, deeper now and then).
fn xml_template(t: &mut Tape) -> String {
    let prolog = t.pick(&[
        "",
        "",
        "<?xml version=\"1.0\"?>",
        "  \n",
        "<!-- c -->",
        "<!DOCTYPE T [<!ENTITY e \"x\">]>",
    ]);
    let body: String = (0..t.below(6))
        .map(|_| {
            let depth = 1 + usize::from(t.below(6) == 0);
            xml_element(t, depth)
        })
        .collect();
    let epilog = t.pick(&["", "", "\n", "<X/>", "text"]);
    format!("{prolog}<TEMPLATE>{body}</TEMPLATE>{epilog}")
}

/// Applies edits drawn from `edits` to `doc`: deletions, insertions of tokens either form
/// cares about, replaced bytes, truncation. Kept to whole characters (inputs are `&str`).
fn mutate(doc: &str, edits: &[u32]) -> String {
    const TOKENS: &[&str] = &[
        "<",
        ">",
        "/",
        "&",
        "&#",
        ";",
        "\"",
        "\\",
        "[",
        "]",
        "=",
        ",",
        "#",
        "\n",
        "]]>",
        "<![CDATA[",
        "<!--",
        "<A>",
        "</A>",
        "\u{0}",
        "\u{FFFF}",
        "é",
    ];
    let mut t = Tape::new(edits);
    let mut chars: Vec<char> = doc.chars().collect();
    for _ in 0..edits.len() / 3 {
        let len = chars.len();
        let at = t.below(len + 1);
        match t.below(4) {
            0 => {
                let n = 1 + t.below(8);
                chars.drain(at..(at + n).min(len));
            }
            1 => {
                let token = t.pick(TOKENS);
                chars.splice(at..at, token.chars());
            }
            2 if at < len => chars[at] = t.char(),
            _ => chars.truncate(at),
        }
    }
    chars.into_iter().collect()
}

/// `t` as the XML form reads back: attributes stably sorted by name, vector keys stably
/// sorted, nameless attributes and keys left out (the writers skip them, as oned does).
fn sorted(t: &Template) -> Template {
    let mut t = t.clone();
    t.attrs.retain(|a| !a.name.is_empty());
    t.attrs.sort_by(|a, b| a.name.cmp(&b.name));
    for a in &mut t.attrs {
        if let Value::Vector(pairs) = &mut a.value {
            pairs.retain(|(k, _)| !k.is_empty());
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
        }
    }
    t
}

/// The number of lines of `input` (1 for the empty string).
fn lines(input: &str) -> usize {
    1 + input.bytes().filter(|&b| b == b'\n').count()
}

/// Longest message a text-form error may carry: its tokens are shown one character at
/// most, so the message never grows with the input.
const MAX_TEXT_MESSAGE: usize = 300;

/// Every entry point on `input`: errors of the right kind, inside the input; whatever
/// parses survives the writers.
fn check_template(input: &str) -> Result<(), TestCaseError> {
    let text = Template::parse_text(input);
    match &text {
        Ok(t) => {
            prop_assert_eq!(Template::parse_text(&t.to_text()), Ok(t.clone()));
            let xml = t.to_xml("T");
            prop_assert!(
                well_formed(&xml).is_ok(),
                "{:?} in {}",
                well_formed(&xml),
                xml
            );
            prop_assert_eq!(Template::parse_xml(&xml), Ok(sorted(t)));
        }
        Err(ParseError::Text {
            message,
            line,
            first_column,
            last_column,
        }) => {
            prop_assert!(*line >= 1 && *line <= lines(input), "line {}", line);
            prop_assert!(*first_column >= 1 && first_column <= last_column);
            prop_assert!(*last_column <= input.chars().count() + 1);
            prop_assert!(message.len() <= MAX_TEXT_MESSAGE, "{}", message);
        }
        Err(e) => return Err(TestCaseError::fail(format!("text form gave {e:?}"))),
    }
    let xml = Template::parse_xml(input);
    match &xml {
        Ok(t) => {
            // What is stored is later written into replies: it must be well-formed XML.
            let written = t.to_xml("T");
            prop_assert!(
                well_formed(&written).is_ok(),
                "{:?} in {} from {:?}",
                well_formed(&written),
                written,
                input
            );
            prop_assert_eq!(Template::parse_xml(&written), Ok(sorted(t)));
            // Names and keys the text form can spell, values it can quote: the text form
            // carries it too.
            let spelled = |s: &str| {
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            };
            let quotable = |s: &str| !s.contains("]]>");
            let fits = t.attrs.iter().all(|a| {
                spelled(&a.name)
                    && match &a.value {
                        Value::Single(v) => quotable(v),
                        Value::Vector(p) => p.iter().all(|(k, v)| spelled(k) && quotable(v)),
                    }
            });
            if fits {
                prop_assert_eq!(Template::parse_text(&t.to_text()), Ok(t.clone()));
            }
        }
        Err(ParseError::Xml { line, column, .. }) => {
            prop_assert!(*line >= 1 && *line <= lines(input), "line {}", line);
            prop_assert!(*column >= 1 && *column <= input.chars().count() + 1);
        }
        Err(e) => return Err(TestCaseError::fail(format!("XML form gave {e:?}"))),
    }
    let either = Template::parse(input);
    let rest = input.trim_start();
    if rest.is_empty() {
        prop_assert_eq!(either, Ok(Template::new()));
    } else if rest.starts_with('<') {
        prop_assert_eq!(either, xml);
    } else {
        prop_assert_eq!(either, text);
    }
    Ok(())
}

/// `depth` elements, one inside the other, around some text (none in a lone root).
fn nested_xml(depth: usize) -> String {
    let mut out = String::new();
    for i in 0..depth {
        out.push_str(&format!("<E{i}>"));
    }
    if depth > 1 {
        out.push('x');
    }
    for i in (0..depth).rev() {
        out.push_str(&format!("</E{i}>"));
    }
    out
}

#[test]
fn fuzz_template_xml_depth_is_a_vector_at_most() {
    on_small_stack(|| {
        for depth in 1..=3 {
            assert!(Template::parse_xml(&nested_xml(depth)).is_ok(), "{depth}");
        }
        for depth in [4, 5, 100, 200_000] {
            match Template::parse_xml(&nested_xml(depth)) {
                Err(ParseError::Xml { message, .. }) => {
                    assert!(message.contains("nested too deep"), "{message}")
                }
                other => panic!("{depth} levels gave {other:?}"),
            }
        }
    });
}

// ---------------------------------------------------------------- expressions

/// Variables of the generated expressions: numbers, one missing (F).
fn expression_vars() -> HashMap<String, Vec<String>> {
    [
        ("A", "3"),
        ("B", "-2"),
        ("C", "0"),
        ("D", "7.5"),
        ("E", "100"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), vec![v.to_owned()]))
    .collect()
}

fn var_value(name: &str) -> Option<f64> {
    expression_vars()
        .get(name)
        .and_then(|v| v.first())
        .and_then(|v| v.parse().ok())
}

const VARS: &[&str] = &["A", "B", "C", "D", "E", "F"];

/// A requirement: `first (&|) factor (&|) factor …`, one precedence level, left to right.
#[derive(Debug)]
struct Chain(Box<Factor>, Vec<(bool, Factor)>);

#[derive(Debug)]
enum Factor {
    Not(Box<Factor>),
    Paren(Chain),
    Cmp(&'static str, &'static str, i32),
}

fn gen_chain(t: &mut Tape, depth: usize, terms: &mut usize) -> Chain {
    let first = gen_factor(t, depth, terms);
    let rest = (0..t.below(4))
        .map(|_| (t.below(2) == 0, gen_factor(t, depth, terms)))
        .collect();
    Chain(Box::new(first), rest)
}

fn gen_factor(t: &mut Tape, depth: usize, terms: &mut usize) -> Factor {
    match t.below(6) {
        0 if depth > 0 => Factor::Not(Box::new(gen_factor(t, depth - 1, terms))),
        1 if depth > 0 => Factor::Paren(gen_chain(t, depth - 1, terms)),
        _ => {
            *terms += 1;
            Factor::Cmp(
                t.pick(VARS),
                t.pick(&["=", "!=", ">", "<"]),
                t.below(21) as i32 - 10,
            )
        }
    }
}

fn print_chain(c: &Chain, out: &mut String) {
    print_factor(&c.0, out);
    for (and, f) in &c.1 {
        out.push_str(if *and { " & " } else { " | " });
        print_factor(f, out);
    }
}

fn print_factor(f: &Factor, out: &mut String) {
    match f {
        Factor::Not(inner) => {
            out.push('!');
            print_factor(inner, out);
        }
        Factor::Paren(c) => {
            out.push('(');
            print_chain(c, out);
            out.push(')');
        }
        Factor::Cmp(var, op, n) => out.push_str(&format!("{var} {op} {n}")),
    }
}

fn eval_chain(c: &Chain) -> bool {
    c.1.iter().fold(eval_factor(&c.0), |acc, (and, f)| {
        if *and {
            acc && eval_factor(f)
        } else {
            acc || eval_factor(f)
        }
    })
}

fn eval_factor(f: &Factor) -> bool {
    match f {
        Factor::Not(inner) => !eval_factor(inner),
        Factor::Paren(c) => eval_chain(c),
        Factor::Cmp(var, op, n) => {
            let Some(v) = var_value(var) else {
                return false;
            };
            let n = f64::from(*n);
            match *op {
                "=" => v == n,
                "!=" => v != n,
                ">" => v > n,
                _ => v < n,
            }
        }
    }
}

/// A rank: sums of products of unary terms, as the grammar nests them.
#[derive(Debug)]
struct Sum(Box<Product>, Vec<(char, Product)>);

#[derive(Debug)]
struct Product(Box<Unary>, Vec<(char, Unary)>);

#[derive(Debug)]
enum Unary {
    Neg(Box<Unary>),
    Paren(Sum),
    Num(u32),
    Var(&'static str),
}

fn gen_sum(t: &mut Tape, depth: usize) -> Sum {
    let first = gen_product(t, depth);
    let rest = (0..t.below(4))
        .map(|_| (t.pick(&['+', '-']), gen_product(t, depth)))
        .collect();
    Sum(Box::new(first), rest)
}

fn gen_product(t: &mut Tape, depth: usize) -> Product {
    let first = gen_unary(t, depth);
    let rest = (0..t.below(3))
        .map(|_| (t.pick(&['*', '/']), gen_unary(t, depth)))
        .collect();
    Product(Box::new(first), rest)
}

fn gen_unary(t: &mut Tape, depth: usize) -> Unary {
    match t.below(6) {
        0 if depth > 0 => Unary::Neg(Box::new(gen_unary(t, depth - 1))),
        1 if depth > 0 => Unary::Paren(gen_sum(t, depth - 1)),
        2 => Unary::Var(t.pick(VARS)),
        _ => Unary::Num(t.next() % 1000),
    }
}

fn print_sum(s: &Sum, out: &mut String) {
    print_product(&s.0, out);
    for (op, p) in &s.1 {
        out.push_str(&format!(" {op} "));
        print_product(p, out);
    }
}

fn print_product(p: &Product, out: &mut String) {
    print_unary(&p.0, out);
    for (op, u) in &p.1 {
        out.push_str(&format!(" {op} "));
        print_unary(u, out);
    }
}

fn print_unary(u: &Unary, out: &mut String) {
    match u {
        Unary::Neg(inner) => {
            out.push('-');
            print_unary(inner, out);
        }
        Unary::Paren(s) => {
            out.push('(');
            print_sum(s, out);
            out.push(')');
        }
        Unary::Num(n) => out.push_str(&n.to_string()),
        Unary::Var(v) => out.push_str(v),
    }
}

/// `v`, or 0 when it is not finite (the documented rule for every step).
fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

fn apply(op: char, l: f64, r: f64) -> f64 {
    finite(match op {
        '+' => l + r,
        '-' => l - r,
        '*' => l * r,
        _ if r == 0.0 => 0.0,
        _ => l / r,
    })
}

fn eval_sum(s: &Sum) -> f64 {
    s.1.iter().fold(eval_product(&s.0), |acc, (op, p)| {
        apply(*op, acc, eval_product(p))
    })
}

fn eval_product(p: &Product) -> f64 {
    p.1.iter().fold(eval_unary(&p.0), |acc, (op, u)| {
        apply(*op, acc, eval_unary(u))
    })
}

fn eval_unary(u: &Unary) -> f64 {
    finite(match u {
        Unary::Neg(inner) => -eval_unary(inner),
        Unary::Paren(s) => eval_sum(s),
        Unary::Num(n) => f64::from(*n),
        Unary::Var(v) => var_value(v).unwrap_or(0.0),
    })
}

/// Expression text: operators, names, numbers, strings and globs, in any order.
fn expression_soup(t: &mut Tape) -> String {
    const PIECES: &[&str] = &[
        "=", "!=", ">", "<", "@>", "&", "|", "!", "(", ")", "+", "-", "*", "/", " ", "A", "B",
        "HOST", "\"", "\"str\"", "1", "2.5", ".", "1.2.3", "1e5", "1a", "web*", "[a-", "[!x]", "]",
        "?", ":", "é", "\t",
    ];
    let mut out = String::new();
    for _ in 0..t.below(24) {
        if t.below(8) == 0 {
            out.push(t.char());
        } else {
            out.push_str(t.pick(PIECES));
        }
    }
    out
}

/// Checks an expression error: a syntax error inside the text, or a limit.
fn check_expr_error(e: &ExprError, text: &str) -> Result<(), TestCaseError> {
    match e {
        ExprError::Syntax { column, .. } => {
            prop_assert!(*column >= 1 && *column <= text.chars().count() + 1);
        }
        ExprError::TooLong { found, max, .. } => prop_assert!(found > max),
    }
    Ok(())
}

/// Parses `text` both ways; evaluation never panics and a rank is always finite.
fn check_expression(text: &str) -> Result<(), TestCaseError> {
    let vars = expression_vars();
    match Requirements::parse(text) {
        Ok(r) => {
            let _ = r.eval(&vars);
        }
        Err(e) => check_expr_error(&e, text)?,
    }
    match Rank::parse(text) {
        Ok(r) => prop_assert!(r.eval(&vars).is_finite()),
        Err(e) => check_expr_error(&e, text)?,
    }
    Ok(())
}

/// Deepest nesting of `(`, `!` and unary `-` accepted (docs/security.md).
const MAX_DEPTH: usize = 100;
/// Most terms accepted.
const MAX_TERMS: usize = 4096;
/// Longest expression accepted, in bytes.
const MAX_LEN: usize = 128 * 1024;

proptest! {
    #![proptest_config(cases(4096))]

    #[test]
    fn fuzz_template_bytes(bytes in vec(any::<u8>(), 0..512)) {
        check_template(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn fuzz_template_any_text(input in any::<String>()) {
        check_template(&input)?;
    }

    #[test]
    fn fuzz_template_text_form(words in tape()) {
        check_template(&text_template(&mut Tape::new(&words)))?;
    }

    #[test]
    fn fuzz_template_xml_form(words in tape()) {
        check_template(&xml_template(&mut Tape::new(&words)))?;
    }

    #[test]
    fn fuzz_template_mutated(words in tape(), edits in vec(any::<u32>(), 3..24)) {
        let mut t = Tape::new(&words);
        let doc = if t.below(2) == 0 { text_template(&mut t) } else { xml_template(&mut t) };
        check_template(&mutate(&doc, &edits))?;
    }

    #[test]
    fn fuzz_expression_text(words in tape(), any_text in ".{0,40}") {
        check_expression(&expression_soup(&mut Tape::new(&words)))?;
        check_expression(&any_text)?;
    }

    #[test]
    fn fuzz_expression_round_trip(words in tape()) {
        let mut t = Tape::new(&words);
        let mut terms = 0;
        let requirement = gen_chain(&mut t, 6, &mut terms);
        let mut text = String::new();
        print_chain(&requirement, &mut text);
        let parsed = Requirements::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{e} in {text}")))?;
        prop_assert_eq!(parsed.eval(&expression_vars()), eval_chain(&requirement), "{}", text);

        let rank = gen_sum(&mut t, 6);
        let mut text = String::new();
        print_sum(&rank, &mut text);
        let parsed = Rank::parse(&text).map_err(|e| TestCaseError::fail(format!("{e} in {text}")))?;
        let (got, want) = (parsed.eval(&expression_vars()), eval_sum(&rank));
        prop_assert!(got.to_bits() == want.to_bits(), "{} gave {} not {}", text, got, want);
    }
}

proptest! {
    #![proptest_config(cases(1024))]

    /// Nesting on both sides of the limit, on a small stack.
    #[test]
    fn fuzz_expression_nesting(prefix in vec(0..3u8, 0..(3 * MAX_DEPTH))) {
        let levels = prefix.len() + 1;
        let ok = levels <= MAX_DEPTH;
        let (mut req, mut rank, mut close) = (String::new(), String::new(), String::new());
        for p in &prefix {
            match p {
                0 => {
                    req.push('(');
                    rank.push('(');
                    close.insert(0, ')');
                }
                1 => {
                    req.push('!');
                    rank.push('-');
                }
                _ => {
                    req.push_str("! ");
                    rank.push_str("- ");
                }
            }
        }
        let req = format!("{req}A = 3{close}");
        let rank = format!("{rank}A{close}");
        let (r, k) = on_small_stack(move || {
            let vars = expression_vars();
            let r = Requirements::parse(&req).map(|r| r.eval(&vars));
            let k = Rank::parse(&rank).map(|r| r.eval(&vars));
            (r, k)
        });
        for result in [r.map(drop), k.map(drop)] {
            match result {
                Ok(()) => prop_assert!(ok, "{} levels accepted", levels),
                Err(ExprError::Syntax { message, .. }) => {
                    prop_assert!(!ok, "{} levels refused: {}", levels, message);
                    prop_assert!(message.contains("nested too deeply"), "{}", message);
                }
                Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
            }
        }
    }
}

proptest! {
    #![proptest_config(cases(128))]

    /// Chains of terms on both sides of the term limit, on a small stack.
    #[test]
    fn fuzz_expression_terms(n in (MAX_TERMS - 200)..(MAX_TERMS + 200), and in any::<bool>()) {
        let req = vec!["A = 3"; n].join(if and { " & " } else { " | " });
        let rank = vec!["A"; n].join(if and { " + " } else { " * " });
        let (r, k) = on_small_stack(move || {
            let vars = expression_vars();
            let r = Requirements::parse(&req).map(|r| r.eval(&vars));
            let k = Rank::parse(&rank).map(|r| r.eval(&vars));
            (r, k)
        });
        for result in [r.map(drop), k.map(drop)] {
            match result {
                Ok(()) => prop_assert!(n <= MAX_TERMS),
                Err(ExprError::TooLong { found, max, unit }) => {
                    prop_assert_eq!((found, max, unit), (n, MAX_TERMS, "terms"));
                }
                Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
            }
        }
    }

    /// Text on both sides of the length limit.
    #[test]
    fn fuzz_expression_length(n in (MAX_LEN - 64)..(MAX_LEN + 64)) {
        let text = format!("{}A = 3", " ".repeat(n - 5));
        prop_assert_eq!(text.len(), n);
        for result in [Requirements::parse(&text).map(drop), Rank::parse(&text).map(drop)] {
            match result {
                Ok(()) => prop_assert!(n <= MAX_LEN),
                Err(ExprError::TooLong { found, max, unit }) => {
                    prop_assert_eq!((found, max, unit), (n, MAX_LEN, "bytes"));
                }
                // A rank of `A = 3` is a syntax error, once it is short enough to be read.
                Err(ExprError::Syntax { .. }) => prop_assert!(n <= MAX_LEN),
            }
        }
    }
}
