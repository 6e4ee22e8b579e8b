//! OpenNebula's scheduler expressions. Requirements (`SCHED_REQUIREMENTS`,
//! `AUTOMATIC_REQUIREMENTS`) are boolean: comparisons `=`, `!=`, `>`, `<` and `@>`
//! (contains), combined with `&`, `|` (one precedence level, left-associative) and prefix
//! `!`. `=` compares numbers numerically and strings with shell globbing; a variable may
//! have several values (`=` holds if any matches, `!=` if none does); an unknown variable
//! makes every comparison false; an empty expression is true. Ranks (`SCHED_RANK`) are
//! arithmetic (`+ - * /`, unary minus, parentheses); unknown variables count 0 and a
//! division by zero gives 0.
//!
//! Expressions come from users and are parsed again on every scheduling pass, so their
//! size is bounded: at most 128 KiB of text and 4096 terms, and nesting of parentheses,
//! `!` and unary minus at most 100 deep. A chain of one precedence level (`a & b | c`,
//! `a + b - c`, `a * b / c`) is kept as a flat list evaluated in a loop, so no recursion
//! (parsing, evaluating or dropping) goes deeper than that nesting.

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

/// A scheduler expression that is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    /// It does not parse.
    #[error("syntax error, {message} at column {column}")]
    Syntax {
        /// What went wrong.
        message: String,
        /// 1-based column.
        column: usize,
    },
    /// It is longer than the scheduler evaluates.
    #[error("expression too long: {found} {unit}, at most {max}")]
    TooLong {
        /// How long it is.
        found: usize,
        /// The most accepted.
        max: usize,
        /// What is counted: "terms" or "bytes".
        unit: &'static str,
    },
}

fn syntax(message: impl Into<String>, column: usize) -> ExprError {
    ExprError::Syntax {
        message: message.into(),
        column,
    }
}

/// Deepest nesting of parentheses, `!` and unary minus accepted. It bounds the depth of
/// every tree built here (chains of `&`/`|`, `+`/`-` and `*`/`/` are flat lists), so
/// parsing, evaluating and dropping an expression never recurse deeper than this.
const MAX_DEPTH: usize = 100;

/// Most terms accepted: comparisons in a requirement, numbers and variables in a rank.
const MAX_TERMS: usize = 4096;

/// Longest expression text accepted, in bytes.
const MAX_LEN: usize = 128 * 1024;

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
                        return Err(syntax("unterminated string", col));
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
            let n = s
                .parse::<f64>()
                .map_err(|_| syntax(format!("bad number '{s}'"), col))?;
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
        return Err(syntax(format!("unexpected '{c}'"), col));
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
    /// Tokenizes `text`, refusing it when it is longer than [`MAX_LEN`] bytes or has more
    /// than [`MAX_TERMS`] tokens for which `is_term` holds.
    fn new(text: &str, is_term: fn(&Tok) -> bool) -> Result<Parser, ExprError> {
        if text.len() > MAX_LEN {
            return Err(ExprError::TooLong {
                found: text.len(),
                max: MAX_LEN,
                unit: "bytes",
            });
        }
        let toks = tokenize(text)?;
        let terms = toks.iter().filter(|(t, _)| is_term(t)).count();
        if terms > MAX_TERMS {
            return Err(ExprError::TooLong {
                found: terms,
                max: MAX_TERMS,
                unit: "terms",
            });
        }
        Ok(Parser {
            toks,
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
        syntax(
            format!("unexpected {found}, expecting {what}"),
            self.column(),
        )
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
            return Err(syntax("expression nested too deeply", self.column()));
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

/// How two requirement terms are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq)]
enum Bool {
    Cmp(String, &'static str, Lit),
    Not(Box<Bool>),
    /// `first op term op term …`: `&` and `|` share one precedence level and associate
    /// to the left, so the chain is evaluated from left to right.
    Chain(Box<Bool>, Vec<(Join, Bool)>),
}

/// A parsed requirement expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirements {
    root: Option<Bool>,
}

/// The tokens counted as a requirement's terms: one comparison operator per comparison.
fn is_comparison(t: &Tok) -> bool {
    matches!(t, Tok::Op("=" | "!=" | ">" | "<" | "@>"))
}

impl Requirements {
    /// Parses a requirement expression.
    pub fn parse(text: &str) -> Result<Requirements, ExprError> {
        let mut p = Parser::new(text, is_comparison)?;
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
    let first = bool_factor(p)?;
    let mut rest = Vec::new();
    loop {
        let join = if p.eat("&") {
            Join::And
        } else if p.eat("|") {
            Join::Or
        } else {
            break;
        };
        rest.push((join, bool_factor(p)?));
    }
    Ok(if rest.is_empty() {
        first
    } else {
        Bool::Chain(Box::new(first), rest)
    })
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
        Bool::Chain(first, rest) => {
            let mut holds = eval_bool(first, vars);
            for (join, term) in rest {
                holds = match join {
                    Join::And => holds && eval_bool(term, vars),
                    Join::Or => holds || eval_bool(term, vars),
                };
            }
            holds
        }
        Bool::Cmp(name, op, lit) => compare(&vars.values(name), op, lit),
    }
}

/// Whether `values` (those of one variable) compare with `lit` as `op` says.
fn compare(values: &[String], op: &str, lit: &Lit) -> bool {
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
    match op {
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
                .any(|v| v == wanted || number(v).zip(number(&wanted)).is_some_and(|(a, b)| a == b))
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
    /// `first op term op term …` of one precedence level (`+ -` or `* /`), left to right.
    Chain(Box<Arith>, Vec<(char, Arith)>),
}

/// A parsed rank expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Rank {
    root: Option<Arith>,
}

/// The tokens counted as a rank's terms: its numbers and variables.
fn is_operand(t: &Tok) -> bool {
    matches!(t, Tok::Num(_) | Tok::Word(_))
}

impl Rank {
    /// Parses a rank expression.
    pub fn parse(text: &str) -> Result<Rank, ExprError> {
        let mut p = Parser::new(text, is_operand)?;
        if p.toks.is_empty() {
            return Ok(Rank { root: None });
        }
        let root = sum(&mut p)?;
        p.done()?;
        Ok(Rank { root: Some(root) })
    }

    /// The value of the expression for `vars` (0 for anything undefined).
    pub fn eval(&self, vars: &dyn Vars) -> f64 {
        finite(self.root.as_ref().map_or(0.0, |a| eval_arith(a, vars)))
    }
}

/// Terms of one precedence level joined by the operators in `ops` (token, operator).
fn chain(
    p: &mut Parser,
    ops: [(&str, char); 2],
    term: fn(&mut Parser) -> Result<Arith, ExprError>,
) -> Result<Arith, ExprError> {
    let first = term(p)?;
    let mut rest = Vec::new();
    while let Some(op) = ops.iter().find(|(tok, _)| p.eat(tok)).map(|(_, op)| *op) {
        rest.push((op, term(p)?));
    }
    Ok(if rest.is_empty() {
        first
    } else {
        Arith::Chain(Box::new(first), rest)
    })
}

fn sum(p: &mut Parser) -> Result<Arith, ExprError> {
    chain(p, [("+", '+'), ("-", '-')], product)
}

fn product(p: &mut Parser) -> Result<Arith, ExprError> {
    chain(p, [("*", '*'), ("/", '/')], unary)
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

/// `v`, or 0 when it is not a finite number.
fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// One step of a chain; every intermediate result that is not finite counts 0.
fn apply(op: char, l: f64, r: f64) -> f64 {
    finite(match op {
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
    })
}

fn eval_arith(a: &Arith, vars: &dyn Vars) -> f64 {
    finite(match a {
        Arith::Num(n) => *n,
        Arith::Var(name) => vars
            .values(name)
            .first()
            .and_then(|v| number(v))
            .unwrap_or(0.0),
        Arith::Neg(inner) => -eval_arith(inner, vars),
        Arith::Chain(first, rest) => rest
            .iter()
            .fold(eval_arith(first, vars), |acc, (op, term)| {
                apply(*op, acc, eval_arith(term, vars))
            }),
    })
}

#[cfg(test)]
mod tests;
