//! OpenNebula's scheduler expressions. Requirements (`SCHED_REQUIREMENTS`,
//! `AUTOMATIC_REQUIREMENTS`) are boolean: comparisons `=`, `!=`, `>`, `<` and `@>`
//! (contains), combined with `&`, `|` (one precedence level, left-associative) and prefix
//! `!`. `=` compares numbers numerically and strings with shell globbing; a variable may
//! have several values (`=` holds if any matches, `!=` if none does); an unknown variable
//! makes every comparison false; an empty expression is true. Ranks (`SCHED_RANK`) are
//! arithmetic (`+ - * /`, unary minus, parentheses); unknown variables count 0 and a
//! division by zero gives 0.

use std::collections::HashMap;

/// Where expressions look up variables.
pub trait Vars {
    /// Every value of variable `name` (empty when unknown).
    fn values(&self, name: &str) -> Vec<String>;
}

impl Vars for HashMap<String, Vec<String>> {
    fn values(&self, name: &str) -> Vec<String> {
        self.get(name).cloned().unwrap_or_default()
    }
}

/// A scheduler expression that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syntax error, {message} at column {column}")]
pub struct ExprError {
    /// What went wrong.
    pub message: String,
    /// 1-based column.
    pub column: usize,
}

/// Deepest nesting of parentheses and `!` accepted.
const MAX_DEPTH: usize = 100;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(f64),
    Op(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        if two == "!=" || two == "@>" {
            out.push((Tok::Op(if two == "!=" { "!=" } else { "@>" }), col));
            i += 2;
            continue;
        }
        let op = match c {
            '=' => Some("="),
            '>' => Some(">"),
            '<' => Some("<"),
            '&' => Some("&"),
            '|' => Some("|"),
            '!' => Some("!"),
            '(' => Some("("),
            ')' => Some(")"),
            '+' => Some("+"),
            '-' => Some("-"),
            '*' => Some("*"),
            '/' => Some("/"),
            _ => None,
        };
        if let Some(op) = op {
            out.push((Tok::Op(op), col));
            i += 1;
            continue;
        }
        if c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(ExprError {
                            message: "unterminated string".into(),
                            column: col,
                        });
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        s.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push((Tok::Str(s), col));
            continue;
        }
        if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            // A number followed by word characters is a word (e.g. `1a`).
            if i < chars.len() && is_word_char(chars[i]) {
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                out.push((Tok::Word(chars[start..i].iter().collect()), col));
                continue;
            }
            let n = s.parse::<f64>().map_err(|_| ExprError {
                message: format!("bad number '{s}'"),
                column: col,
            })?;
            out.push((Tok::Num(n), col));
            continue;
        }
        if is_word_char(c) {
            let start = i;
            while i < chars.len() && is_word_char(chars[i]) {
                // A glob class `[...]` may hold `!`, `^` and `-`.
                if chars[i] == '[' {
                    while i < chars.len() && chars[i] != ']' {
                        i += 1;
                    }
                }
                i += 1;
            }
            let i_end = i.min(chars.len());
            i = i_end;
            out.push((Tok::Word(chars[start..i].iter().collect()), col));
            continue;
        }
        return Err(ExprError {
            message: format!("unexpected '{c}'"),
            column: col,
        });
    }
    Ok(out)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '/' | '*' | '?' | '[' | ']' | '.' | ':')
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn new(text: &str) -> Result<Parser, ExprError> {
        Ok(Parser {
            toks: tokenize(text)?,
            pos: 0,
            end: text.chars().count() + 1,
            depth: 0,
        })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn column(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(_, c)| *c)
    }

    fn error(&self, what: &str) -> ExprError {
        let found = match self.peek() {
            None => "end of input".to_string(),
            Some(Tok::Op(o)) => format!("'{o}'"),
            Some(Tok::Word(w)) => format!("'{w}'"),
            Some(Tok::Str(s)) => format!("\"{s}\""),
            Some(Tok::Num(n)) => format!("{n}"),
        };
        ExprError {
            message: format!("unexpected {found}, expecting {what}"),
            column: self.column(),
        }
    }

    fn eat(&mut self, op: &str) -> bool {
        if self.peek() == Some(&Tok::Op(leak(op))) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn deeper(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError {
                message: "expression nested too deeply".into(),
                column: self.column(),
            });
        }
        Ok(())
    }

    fn done(&self) -> Result<(), ExprError> {
        if self.pos < self.toks.len() {
            return Err(self.error("an operator"));
        }
        Ok(())
    }
}

/// Maps an operator spelled at run time to its static token.
fn leak(op: &str) -> &'static str {
    [
        "=", ">", "<", "&", "|", "!", "(", ")", "+", "-", "*", "/", "!=", "@>",
    ]
    .into_iter()
    .find(|o| *o == op)
    .unwrap_or("")
}

#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Num(f64),
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Bool {
    Cmp(String, &'static str, Lit),
    Not(Box<Bool>),
    And(Box<Bool>, Box<Bool>),
    Or(Box<Bool>, Box<Bool>),
}

/// A parsed requirement expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirements {
    root: Option<Bool>,
}

impl Requirements {
    /// Parses a requirement expression.
    pub fn parse(text: &str) -> Result<Requirements, ExprError> {
        let mut p = Parser::new(text)?;
        if p.toks.is_empty() {
            return Ok(Requirements { root: None });
        }
        let root = bool_expr(&mut p)?;
        p.done()?;
        Ok(Requirements { root: Some(root) })
    }

    /// Whether the expression holds for `vars`.
    pub fn eval(&self, vars: &dyn Vars) -> bool {
        self.root.as_ref().is_none_or(|b| eval_bool(b, vars))
    }

    /// True when the expression is empty (it matches everything).
    pub fn is_empty(&self) -> bool {
        self.root.is_none()
    }
}

fn bool_expr(p: &mut Parser) -> Result<Bool, ExprError> {
    let mut left = bool_factor(p)?;
    loop {
        if p.eat("&") {
            left = Bool::And(Box::new(left), Box::new(bool_factor(p)?));
        } else if p.eat("|") {
            left = Bool::Or(Box::new(left), Box::new(bool_factor(p)?));
        } else {
            return Ok(left);
        }
    }
}

fn bool_factor(p: &mut Parser) -> Result<Bool, ExprError> {
    p.deeper()?;
    let out = if p.eat("!") {
        Bool::Not(Box::new(bool_factor(p)?))
    } else if p.eat("(") {
        let inner = bool_expr(p)?;
        if !p.eat(")") {
            return Err(p.error("')'"));
        }
        inner
    } else {
        comparison(p)?
    };
    p.depth -= 1;
    Ok(out)
}

fn comparison(p: &mut Parser) -> Result<Bool, ExprError> {
    let name = match p.peek() {
        Some(Tok::Word(w)) => w.clone(),
        _ => return Err(p.error("a variable")),
    };
    p.pos += 1;
    let op = match p.peek() {
        Some(Tok::Op(o @ ("=" | "!=" | ">" | "<" | "@>"))) => *o,
        _ => return Err(p.error("a comparison")),
    };
    p.pos += 1;
    let negative = p.eat("-");
    let lit = match p.peek() {
        Some(Tok::Num(n)) => Lit::Num(if negative { -n } else { *n }),
        Some(Tok::Word(w)) if !negative => Lit::Text(w.clone()),
        Some(Tok::Str(s)) if !negative => Lit::Text(s.clone()),
        _ => return Err(p.error("a value")),
    };
    p.pos += 1;
    Ok(Bool::Cmp(name, op, lit))
}

fn number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

fn eval_bool(b: &Bool, vars: &dyn Vars) -> bool {
    match b {
        Bool::Not(inner) => !eval_bool(inner, vars),
        Bool::And(a, c) => eval_bool(a, vars) && eval_bool(c, vars),
        Bool::Or(a, c) => eval_bool(a, vars) || eval_bool(c, vars),
        Bool::Cmp(name, op, lit) => {
            let values = vars.values(name);
            if values.is_empty() {
                return false;
            }
            let equal = |v: &str| match lit {
                Lit::Num(n) => number(v).is_some_and(|x| x == *n),
                Lit::Text(t) => match (number(v), number(t)) {
                    (Some(x), Some(y)) => x == y,
                    _ => glob(t, v),
                },
            };
            let lit_num = match lit {
                Lit::Num(n) => Some(*n),
                Lit::Text(t) => number(t),
            };
            match *op {
                "=" => values.iter().any(|v| equal(v)),
                "!=" => !values.iter().any(|v| equal(v)),
                ">" => values
                    .iter()
                    .any(|v| matches!((number(v), lit_num), (Some(x), Some(y)) if x > y)),
                "<" => values
                    .iter()
                    .any(|v| matches!((number(v), lit_num), (Some(x), Some(y)) if x < y)),
                _ => {
                    let wanted = match lit {
                        Lit::Num(n) => format!("{n}"),
                        Lit::Text(t) => t.clone(),
                    };
                    values
                        .iter()
                        .flat_map(|v| v.split(',').map(str::trim).collect::<Vec<_>>())
                        .any(|v| {
                            v == wanted
                                || number(v).zip(number(&wanted)).is_some_and(|(a, b)| a == b)
                        })
                }
            }
        }
    }
}

/// Shell-style globbing: `*`, `?` and `[...]` (with `!` or `^` negation, ranges).
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with backtracking on the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => class(&p, pi, t[ti]),
            Some(c) if *c == t[ti] => Some(pi + 1),
            _ => None,
        };
        match step {
            Some(next) => {
                pi = next;
                ti += 1;
            }
            None => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Matches `c` against the class starting at `p[at] == '['`; the index after it.
fn class(p: &[char], at: usize, c: char) -> Option<usize> {
    let mut i = at + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while let Some(&ch) = p.get(i) {
        if ch == ']' && !first {
            return (matched != negate).then_some(i + 1);
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|e| *e != ']') {
            let end = p[i + 2];
            matched |= ch <= c && c <= end;
            i += 3;
        } else {
            matched |= ch == c;
            i += 1;
        }
    }
    // No closing bracket: `[` is literal.
    (c == '[').then_some(at + 1)
}

#[derive(Debug, Clone, PartialEq)]
enum Arith {
    Num(f64),
    Var(String),
    Neg(Box<Arith>),
    Bin(char, Box<Arith>, Box<Arith>),
}

/// A parsed rank expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Rank {
    root: Option<Arith>,
}

impl Rank {
    /// Parses a rank expression.
    pub fn parse(text: &str) -> Result<Rank, ExprError> {
        let mut p = Parser::new(text)?;
        if p.toks.is_empty() {
            return Ok(Rank { root: None });
        }
        let root = sum(&mut p)?;
        p.done()?;
        Ok(Rank { root: Some(root) })
    }

    /// The value of the expression for `vars` (0 for anything undefined).
    pub fn eval(&self, vars: &dyn Vars) -> f64 {
        let v = self.root.as_ref().map_or(0.0, |a| eval_arith(a, vars));
        if v.is_finite() { v } else { 0.0 }
    }
}

fn sum(p: &mut Parser) -> Result<Arith, ExprError> {
    let mut left = product(p)?;
    loop {
        let op = if p.eat("+") {
            '+'
        } else if p.eat("-") {
            '-'
        } else {
            return Ok(left);
        };
        left = Arith::Bin(op, Box::new(left), Box::new(product(p)?));
    }
}

fn product(p: &mut Parser) -> Result<Arith, ExprError> {
    let mut left = unary(p)?;
    loop {
        let op = if p.eat("*") {
            '*'
        } else if p.eat("/") {
            '/'
        } else {
            return Ok(left);
        };
        left = Arith::Bin(op, Box::new(left), Box::new(unary(p)?));
    }
}

fn unary(p: &mut Parser) -> Result<Arith, ExprError> {
    p.deeper()?;
    let out = if p.eat("-") {
        Arith::Neg(Box::new(unary(p)?))
    } else if p.eat("(") {
        let inner = sum(p)?;
        if !p.eat(")") {
            return Err(p.error("')'"));
        }
        inner
    } else {
        match p.peek() {
            Some(Tok::Num(n)) => {
                let n = *n;
                p.pos += 1;
                Arith::Num(n)
            }
            Some(Tok::Word(w)) => {
                let w = w.clone();
                p.pos += 1;
                Arith::Var(w)
            }
            _ => return Err(p.error("a number or a variable")),
        }
    };
    p.depth -= 1;
    Ok(out)
}

fn eval_arith(a: &Arith, vars: &dyn Vars) -> f64 {
    let v = match a {
        Arith::Num(n) => *n,
        Arith::Var(name) => vars
            .values(name)
            .first()
            .and_then(|v| number(v))
            .unwrap_or(0.0),
        Arith::Neg(inner) => -eval_arith(inner, vars),
        Arith::Bin(op, l, r) => {
            let (l, r) = (eval_arith(l, vars), eval_arith(r, vars));
            match op {
                '+' => l + r,
                '-' => l - r,
                '*' => l * r,
                _ => {
                    if r == 0.0 {
                        0.0
                    } else {
                        l / r
                    }
                }
            }
        }
    };
    if v.is_finite() { v } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vars(pairs: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    fn holds(expr: &str, v: &HashMap<String, Vec<String>>) -> bool {
        Requirements::parse(expr).expect("parses").eval(v)
    }

    #[test]
    fn requirements_follow_opennebula() {
        let v = vars(&[
            ("CLUSTER_ID", &["0"]),
            ("NAME", &["node12"]),
            ("HYPERVISOR", &["kvm"]),
            ("FREE_CPU", &["350"]),
            ("CURRENT_VMS", &["3", "5", "9"]),
            ("PCI", &["a,b , c"]),
        ]);
        assert!(holds("(CLUSTER_ID = 0) & !(PUBLIC_CLOUD = YES)", &v));
        assert!(holds("", &v) && holds("   ", &v));
        assert!(holds("NAME = \"node*\"", &v) && holds("NAME = node1?", &v));
        assert!(!holds("NAME = \"other*\"", &v));
        assert!(holds("NAME = node[0-9]2", &v) && !holds("NAME = node[!1]2", &v));
        assert!(holds("FREE_CPU > 300", &v) && !holds("FREE_CPU < 300", &v));
        assert!(holds("FREE_CPU = 350.0", &v), "numbers compare numerically");
        assert!(holds("CURRENT_VMS = 5", &v) && !holds("CURRENT_VMS != 5", &v));
        assert!(holds("CURRENT_VMS != 4", &v));
        assert!(holds("PCI @> b", &v) && !holds("PCI @> d", &v));
        assert!(!holds("UNKNOWN = 1", &v) && !holds("UNKNOWN != 1", &v));
        // One precedence level, left-associative: (a | b) & c.
        assert!(!holds("CLUSTER_ID = 0 | HYPERVISOR = kvm & NAME = x", &v));
        assert!(holds("NAME = x & HYPERVISOR = y | CLUSTER_ID = 0", &v));
        assert!(holds("!!(CLUSTER_ID = 0)", &v));
        assert!(holds("CLUSTER_ID > -1", &v));
    }

    #[test]
    fn ranks_are_arithmetic() {
        let v = vars(&[
            ("FREE_CPU", &["100"]),
            ("RUNNING_VMS", &["4"]),
            ("S", &["x"]),
        ]);
        let rank = |e: &str| Rank::parse(e).expect("parses").eval(&v);
        assert_eq!(rank("FREE_CPU"), 100.0);
        assert_eq!(rank("-RUNNING_VMS"), -4.0);
        assert_eq!(rank("FREE_CPU - 2 * RUNNING_VMS"), 92.0);
        assert_eq!(rank("(FREE_CPU - 2) * RUNNING_VMS"), 392.0);
        assert_eq!(rank("10 - 4 - 3"), 3.0);
        assert_eq!(rank("FREE_CPU / 0"), 0.0);
        assert_eq!(rank("MISSING + S + 1"), 1.0);
        assert_eq!(rank(""), 0.0);
    }

    #[test]
    fn errors_give_the_column() {
        let e = Requirements::parse("CLUSTER_ID = 0 & )").expect_err("bad");
        assert_eq!(e.column, 18, "{e}");
        assert!(e.to_string().contains("unexpected ')'"), "{e}");
        assert!(Requirements::parse("A =").is_err());
        assert!(Requirements::parse("A = 1 B = 2").is_err());
        assert!(Requirements::parse("(A = 1").is_err());
        assert!(Requirements::parse("A >= 1").is_err(), "there is no >=");
        assert!(Rank::parse("1 +").is_err());
        assert!(Rank::parse("A = 1").is_err());
        let deep = format!("{}A = 1{}", "(".repeat(500), ")".repeat(500));
        assert!(Requirements::parse(&deep).is_err());
        assert!(Rank::parse(&"-".repeat(10_000)).is_err());
    }

    proptest! {
        #[test]
        fn no_input_panics(text in ".{0,80}", value in ".{0,12}") {
            let v = vars(&[("A", &[value.as_str()]), ("B", &["1", "2"])]);
            if let Ok(r) = Requirements::parse(&text) {
                let _ = r.eval(&v);
            }
            if let Ok(r) = Rank::parse(&text) {
                prop_assert!(r.eval(&v).is_finite());
            }
        }

        #[test]
        fn operator_soup_never_panics(text in "[A-B0-9 =!<>@&|()+*/\"-]{0,60}") {
            let v = vars(&[("A", &["3"]), ("B", &["x"])]);
            if let Ok(r) = Requirements::parse(&text) {
                let _ = r.eval(&v);
            }
            if let Ok(r) = Rank::parse(&text) {
                prop_assert!(r.eval(&v).is_finite());
            }
        }
    }
}
