//! The search filter of `vmpool.info` and `vmpool.infoextended` (their sixth parameter,
//! what `onevm list --search` sends), matched in memory.
//!
//! OpenNebula 7.4 (`VirtualMachinePoolAPI::info`) reads the filter as `TERM&TERM&…`; each
//! term is `PATH=VALUE`, or a bare `VALUE` (PATH `*`). It turns every term into
//! `JSON_UNQUOTE(JSON_EXTRACT(body_json, '$.PATH')) LIKE '%VALUE%'` over the VM's JSON
//! body (`VirtualMachine::to_json`: `{"VM": {"ID": "5", …, "TEMPLATE": {…},
//! "USER_TEMPLATE": {…}, "HISTORY_RECORDS": {"HISTORY": [last record]}}}`, every value a
//! string, DISK and NIC always arrays, repeated attributes arrays), all terms ANDed with
//! the state filter. oned runs it on MySQL only (on SQLite it answers "JSON query search
//! is not supported by the SQL backend"); Nubo answers it on every store, the same way:
//!
//! - the filter is split at `&` and each piece keeps only its first blank-delimited word
//!   (oned's `one_util::split` reads pieces with `>>`); each term is then split at `=` the
//!   same way; empty pieces are dropped, and pieces after the second are ignored (so
//!   `VM.NAME=my vm` looks for `my`, and `VM.NAME = x` for the text `VM.NAME` anywhere);
//! - PATH is a MySQL JSON path after `$.`: members (`NAME`, or quoted `"NAME"`; a quoted
//!   member cannot hold a blank, the term being cut at its first one), `*` (any member),
//!   `[N]`, `[*]` (any element) and `**` (any depth, at most once a path, not last);
//!   `[0]` of a value that is not an array is the value itself, as in MySQL;
//! - a path without wildcards selects one value; one with wildcards the array of every
//!   match (as MySQL prints it: `["a", "b"]`); nothing matched never matches;
//! - VALUE is a LIKE pattern, case-sensitive (JSON_UNQUOTE's collation is binary), with
//!   `%` (any run), `_` (any one character) and `\` (escape), between implicit `%`s; it
//!   is compiled once, and matched in time linear in the text searched, whatever the
//!   pattern.
//!
//! A filter over [`MAX_QUERY_LEN`] bytes, with more than [`MAX_TERMS`] terms, a path of
//! more than [`MAX_STEPS`] steps, a run between `%`s of more than [`MAX_PIECE_LEN`]
//! characters, or with a path MySQL would refuse, is refused with an INTERNAL failure, as
//! oned answers a query its database refused.
//!
//! Each VM's JSON body is built once, and printed at most once, whatever the terms.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;

use nubo_template::{Template, Value};
use nubo_types::{Error, Result};

use crate::model::Vm;

/// The longest filter taken, in bytes.
pub const MAX_QUERY_LEN: usize = 4096;
/// The most terms a filter may have.
pub const MAX_TERMS: usize = 32;
/// The most steps a path may have.
pub const MAX_STEPS: usize = 32;
/// The longest run of characters between `%`s in a VALUE.
pub const MAX_PIECE_LEN: usize = 256;

/// The bit words of a run's automaton.
const WORDS: usize = MAX_PIECE_LEN.div_ceil(64);

/// A parsed search filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmSearch {
    terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    path: Vec<Step>,
    pattern: Like,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Member(String),
    AnyMember,
    Index(usize),
    AnyIndex,
    AnyDepth,
}

/// A `LIKE '%VALUE%'` pattern: the runs between `%`s, compiled once.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Like {
    pieces: Vec<Piece>,
}

/// A run of characters (`_`: any one) compiled for the Shift-And automaton: bit `j` of a
/// character's mask is set where the run's `j`th character may be it; `other` is the mask
/// of every character the run does not name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece {
    len: usize,
    masks: HashMap<char, [u64; WORDS]>,
    other: [u64; WORDS],
}

/// A VM as oned's `to_json` shows it: every leaf a string.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Json {
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

fn bad(why: impl std::fmt::Display) -> Error {
    Error::internal(format!("Error building search query: {why}"))
}

impl VmSearch {
    /// Parses a filter; `None` for an empty one (no filter).
    pub fn parse(text: &str) -> Result<Option<VmSearch>> {
        if text.len() > MAX_QUERY_LEN {
            return Err(bad(format!("longer than {MAX_QUERY_LEN} bytes")));
        }
        let mut terms = Vec::new();
        for term in words(text, '&') {
            if terms.len() == MAX_TERMS {
                return Err(bad(format!("more than {MAX_TERMS} terms")));
            }
            let kv: Vec<&str> = words(term, '=').collect();
            let (path, value) = match kv.as_slice() {
                [value] => ("*", *value),
                [path, value, ..] => (*path, *value),
                [] => continue,
            };
            terms.push(Term {
                path: parse_path(path)?,
                pattern: parse_like(value)?,
            });
        }
        Ok((!terms.is_empty()).then_some(VmSearch { terms }))
    }

    /// Whether `vm` matches every term. Its JSON body is built once, printed at most
    /// once, and terms with the same path share its text.
    pub fn matches(&self, vm: &Vm) -> bool {
        let body = Json::Obj(vec![("VM".into(), vm_json(vm))]);
        let printed = OnceCell::new();
        let mut texts: Vec<(&[Step], Option<Cow<'_, str>>)> = Vec::new();
        for t in &self.terms {
            let at = match texts.iter().position(|(p, _)| *p == t.path.as_slice()) {
                Some(at) => at,
                None => {
                    texts.push((&t.path, text_at(&body, &t.path, &printed)));
                    texts.len() - 1
                }
            };
            let text = texts.get(at).and_then(|(_, text)| text.as_deref());
            if !text.is_some_and(|text| like(&t.pattern, text)) {
                return false;
            }
        }
        true
    }
}

/// The non-empty pieces of `text` split at `sep`, each cut to its first word (blanks as
/// C's `isspace` knows them), as oned's `one_util::split` reads them.
fn words(text: &str, sep: char) -> impl Iterator<Item = &str> {
    let blank = |c: char| matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r');
    text.split(sep)
        .filter_map(move |p| p.split(blank).find(|w| !w.is_empty()))
}

fn parse_path(text: &str) -> Result<Vec<Step>> {
    let refuse = || bad(format!("invalid path '$.{text}'"));
    let mut steps = Vec::new();
    let mut rest = text;
    let mut first = true;
    while !rest.is_empty() || first {
        if steps.len() == MAX_STEPS {
            return Err(bad(format!("a path of more than {MAX_STEPS} steps")));
        }
        // After the first step, a member needs its dot; an index follows directly.
        if !first {
            if let Some(r) = rest.strip_prefix('.') {
                rest = r;
            } else if !rest.starts_with('[') {
                return Err(refuse());
            }
        }
        first = false;
        if let Some(r) = rest.strip_prefix('[') {
            let (inside, after) = r.split_once(']').ok_or_else(refuse)?;
            steps.push(match inside.trim() {
                "*" => Step::AnyIndex,
                n => Step::Index(n.parse().map_err(|_| refuse())?),
            });
            rest = after;
        } else if let Some(r) = rest.strip_prefix("**") {
            steps.push(Step::AnyDepth);
            rest = r;
        } else if let Some(r) = rest.strip_prefix('*') {
            steps.push(Step::AnyMember);
            rest = r;
        } else if let Some(r) = rest.strip_prefix('"') {
            let (name, after) = r.split_once('"').ok_or_else(refuse)?;
            steps.push(Step::Member(name.to_string()));
            rest = after;
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(rest.len());
            let name = &rest[..end];
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(refuse());
            }
            steps.push(Step::Member(name.to_string()));
            rest = &rest[end..];
        }
    }
    if steps.last() == Some(&Step::AnyDepth) {
        return Err(refuse());
    }
    // Each `**` multiplies the places a path reaches: one is enough to search anywhere.
    if steps.iter().filter(|s| **s == Step::AnyDepth).count() > 1 {
        return Err(bad("more than one ** in a path"));
    }
    Ok(steps)
}

fn parse_like(value: &str) -> Result<Like> {
    let mut runs = vec![Vec::new()];
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        let item = match c {
            '%' => {
                runs.push(Vec::new());
                continue;
            }
            '_' => None,
            '\\' => Some(chars.next().unwrap_or('\\')),
            c => Some(c),
        };
        if let Some(last) = runs.last_mut() {
            last.push(item);
        }
    }
    runs.retain(|p| !p.is_empty());
    if runs.iter().any(|r| r.len() > MAX_PIECE_LEN) {
        return Err(bad(format!(
            "a LIKE pattern with more than {MAX_PIECE_LEN} characters between %s"
        )));
    }
    Ok(Like {
        pieces: runs.iter().map(|r| Piece::compile(r)).collect(),
    })
}

/// `text LIKE '%pattern%'`: each piece found after the one before, at its leftmost place
/// (which is optimal, both ends being open). Each piece is looked for with the Shift-And
/// automaton, so a match costs time linear in the text whatever the pattern.
fn like(pattern: &Like, text: &str) -> bool {
    like_counted(pattern, text, &mut 0)
}

/// [`like`], adding to `steps` the automaton word updates it made (its work).
fn like_counted(pattern: &Like, text: &str, steps: &mut u64) -> bool {
    let mut from = 0;
    for piece in &pattern.pieces {
        match text.get(from..).and_then(|rest| piece.find(rest, steps)) {
            Some(end) => from += end,
            None => return false,
        }
    }
    true
}

impl Piece {
    /// Compiles a run of at most [`MAX_PIECE_LEN`] characters (`None`: any one).
    fn compile(run: &[Option<char>]) -> Piece {
        let mask_of = |want: Option<char>| {
            let mut mask = [0u64; WORDS];
            for (j, p) in run.iter().enumerate().take(MAX_PIECE_LEN) {
                if p.is_none() || *p == want {
                    mask[j / 64] |= 1 << (j % 64);
                }
            }
            mask
        };
        let mut masks = HashMap::new();
        for c in run.iter().flatten() {
            masks.entry(*c).or_insert_with(|| mask_of(Some(*c)));
        }
        Piece {
            len: run.len().min(MAX_PIECE_LEN),
            masks,
            other: mask_of(None),
        }
    }

    /// Where (a byte offset) the first occurrence of the run in `text` ends.
    fn find(&self, text: &str, steps: &mut u64) -> Option<usize> {
        let last = self.len.checked_sub(1)?;
        let words = self.len.div_ceil(64);
        let mut state = [0u64; WORDS];
        for (i, c) in text.char_indices() {
            let mask = self.masks.get(&c).unwrap_or(&self.other);
            let mut carry = 1u64;
            for (s, m) in state.iter_mut().zip(mask).take(words) {
                let next = *s >> 63;
                *s = ((*s << 1) | carry) & m;
                carry = next;
            }
            *steps += words as u64;
            if state[last / 64] & (1 << (last % 64)) != 0 {
                return Some(i + c.len_utf8());
            }
        }
        None
    }
}

/// `JSON_UNQUOTE(JSON_EXTRACT(body, '$.path'))`: a string's text, the JSON text of
/// another value, the array of every match for a path with wildcards, or nothing. Values
/// that are not strings are cut from `printed`, `body` printed once.
fn text_at<'a>(
    body: &'a Json,
    path: &[Step],
    printed: &'a OnceCell<Printed>,
) -> Option<Cow<'a, str>> {
    let mut found = Vec::new();
    walk(body, path, &mut found);
    let text_of = |j: &Json| printed.get_or_init(|| Printed::of(body)).text_of(j);
    let wild = path
        .iter()
        .any(|s| matches!(s, Step::AnyMember | Step::AnyIndex | Step::AnyDepth));
    if wild {
        if found.is_empty() {
            return None;
        }
        let mut out = String::from("[");
        for (i, j) in found.into_iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(text_of(j));
        }
        out.push(']');
        Some(Cow::Owned(out))
    } else {
        found.first().map(|j| match j {
            Json::Str(s) => Cow::Borrowed(s.as_str()),
            other => Cow::Borrowed(text_of(other)),
        })
    }
}

fn walk<'a>(at: &'a Json, path: &[Step], out: &mut Vec<&'a Json>) {
    let Some((step, rest)) = path.split_first() else {
        out.push(at);
        return;
    };
    match (step, at) {
        (Step::Member(name), Json::Obj(members)) => {
            for (_, v) in members.iter().filter(|(k, _)| k == name) {
                walk(v, rest, out);
            }
        }
        (Step::AnyMember, Json::Obj(members)) => {
            for (_, v) in members {
                walk(v, rest, out);
            }
        }
        (Step::Index(i), Json::Arr(items)) => {
            if let Some(v) = items.get(*i) {
                walk(v, rest, out);
            }
        }
        // MySQL reads a value that is not an array as an array of one.
        (Step::Index(0), v) => walk(v, rest, out),
        (Step::AnyIndex, Json::Arr(items)) => {
            for v in items {
                walk(v, rest, out);
            }
        }
        (Step::AnyDepth, v) => {
            walk(v, rest, out);
            match v {
                Json::Obj(members) => {
                    for (_, m) in members {
                        walk(m, path, out);
                    }
                }
                Json::Arr(items) => {
                    for m in items {
                        walk(m, path, out);
                    }
                }
                Json::Str(_) => {}
            }
        }
        _ => {}
    }
}

/// A body as MySQL prints it, and where each of its values is in that text.
struct Printed {
    text: String,
    spans: HashMap<*const Json, (usize, usize)>,
}

impl Printed {
    fn of(body: &Json) -> Printed {
        let mut p = Printed {
            text: String::new(),
            spans: HashMap::new(),
        };
        p.print(body);
        p
    }

    /// The text of `j`, a value of the body printed (every one is).
    fn text_of(&self, j: &Json) -> &str {
        self.spans
            .get(&std::ptr::from_ref(j))
            .and_then(|&(a, b)| self.text.get(a..b))
            .unwrap_or_default()
    }

    fn print(&mut self, j: &Json) {
        let start = self.text.len();
        match j {
            Json::Str(s) => print_str(s, &mut self.text),
            Json::Arr(items) => {
                self.text.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        self.text.push_str(", ");
                    }
                    self.print(v);
                }
                self.text.push(']');
            }
            Json::Obj(members) => {
                // MySQL keeps an object's keys shortest first, then in byte order.
                let mut sorted: Vec<&(String, Json)> = members.iter().collect();
                sorted.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.cmp(&b.0)));
                self.text.push('{');
                for (i, (k, v)) in sorted.into_iter().enumerate() {
                    if i > 0 {
                        self.text.push_str(", ");
                    }
                    print_str(k, &mut self.text);
                    self.text.push_str(": ");
                    self.print(v);
                }
                self.text.push('}');
            }
        }
        self.spans
            .insert(std::ptr::from_ref(j), (start, self.text.len()));
    }
}

fn print_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn s(v: impl ToString) -> Json {
    Json::Str(v.to_string())
}

/// `Template::to_json`: attributes by name (in name order, as oned's multimap keeps
/// them); a repeated name, DISK and NIC are arrays.
fn template_json(t: &Template) -> Json {
    let mut names: Vec<&str> = t.attrs.iter().map(|a| a.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let one = |v: &Value| match v {
        Value::Vector(pairs) => {
            let mut pairs = pairs.clone();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Obj(pairs.into_iter().map(|(k, v)| (k, Json::Str(v))).collect())
        }
        Value::Single(v) => s(v),
    };
    let members = names
        .into_iter()
        .map(|name| {
            let all: Vec<Json> = t
                .attrs
                .iter()
                .filter(|a| a.name == name)
                .map(|a| one(&a.value))
                .collect();
            let value = if all.len() == 1 && name != "DISK" && name != "NIC" {
                all.into_iter().next().unwrap_or_else(|| s(""))
            } else {
                Json::Arr(all)
            };
            (name.to_string(), value)
        })
        .collect();
    Json::Obj(members)
}

/// `VirtualMachine::to_json`, the body oned searches.
fn vm_json(vm: &Vm) -> Json {
    let m = &vm.meta;
    let mut members = vec![
        ("ID".to_string(), s(m.id)),
        ("UID".into(), s(m.uid)),
        ("GID".into(), s(m.gid)),
        ("UNAME".into(), s(&m.uname)),
        ("GNAME".into(), s(&m.gname)),
        ("NAME".into(), s(&m.name)),
        ("LAST_POLL".into(), s(vm.last_poll)),
        ("STATE".into(), s(vm.state.code())),
        ("LCM_STATE".into(), s(vm.lcm_state.code())),
        ("PREV_STATE".into(), s(vm.prev_state.code())),
        ("PREV_LCM_STATE".into(), s(vm.prev_lcm_state.code())),
        ("RESCHED".into(), s(i32::from(vm.resched))),
        ("STIME".into(), s(vm.stime)),
        ("ETIME".into(), s(vm.etime)),
        ("DEPLOY_ID".into(), s(&vm.deploy_id)),
        ("TEMPLATE".into(), template_json(&vm.template)),
        ("USER_TEMPLATE".into(), template_json(&vm.user_template)),
    ];
    if let Some(h) = vm.current() {
        let record = Json::Obj(vec![
            ("OID".into(), s(m.id)),
            ("SEQ".into(), s(h.seq)),
            ("HOSTNAME".into(), s(&h.hostname)),
            ("HID".into(), s(h.hid)),
            ("CID".into(), s(h.cid)),
            ("STIME".into(), s(h.stime)),
            ("ETIME".into(), s(h.etime)),
            ("VM_MAD".into(), s(&h.vm_mad)),
            ("TM_MAD".into(), s(&h.tm_mad)),
            ("DS_ID".into(), s(h.ds_id)),
            ("PSTIME".into(), s(h.pstime)),
            ("PETIME".into(), s(h.petime)),
            ("RSTIME".into(), s(h.rstime)),
            ("RETIME".into(), s(h.retime)),
            ("ESTIME".into(), s(h.estime)),
            ("EETIME".into(), s(h.eetime)),
            ("ACTION".into(), s(h.action)),
            ("UID".into(), s(h.uid)),
            ("GID".into(), s(h.gid)),
            ("REQUEST_ID".into(), s(-1)),
        ]);
        members.push((
            "HISTORY_RECORDS".into(),
            Json::Obj(vec![("HISTORY".into(), Json::Arr(vec![record]))]),
        ));
    }
    Json::Obj(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(v: &str) -> Like {
        parse_like(v).unwrap_or(Like { pieces: Vec::new() })
    }

    #[test]
    fn like_follows_sql() {
        assert!(like(&pat("abc"), "xxabcxx"));
        assert!(like(&pat("a_c"), "abc"));
        assert!(like(&pat("a%c"), "a long c"));
        assert!(!like(&pat("ABC"), "abc"));
        assert!(like(&pat("50\\%"), "at 50%"));
        assert!(!like(&pat("50\\%"), "at 50"));
        assert!(like(&pat(""), ""));
    }

    #[test]
    fn paths_parse_as_mysql_reads_them() {
        assert_eq!(
            parse_path("VM.TEMPLATE.DISK[*].IMAGE").ok(),
            Some(vec![
                Step::Member("VM".into()),
                Step::Member("TEMPLATE".into()),
                Step::Member("DISK".into()),
                Step::AnyIndex,
                Step::Member("IMAGE".into()),
            ])
        );
        assert_eq!(parse_path("*").ok(), Some(vec![Step::AnyMember]));
        assert_eq!(
            parse_path("VM.\"A-B\"[2]").ok(),
            Some(vec![
                Step::Member("VM".into()),
                Step::Member("A-B".into()),
                Step::Index(2)
            ])
        );
        for bad in [
            "VM..NAME", "VM.", "VM[x]", "VM[1", "VM.1A", "VM.**", ".VM", "VM NAME",
        ] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quoted_members_come_through_a_filter_without_blanks() {
        let path = |q: &str| VmSearch::parse(q).map(|q| q.map(|q| q.terms[0].path.clone()));
        assert_eq!(
            path("VM.\"A-B\"[2]=x").ok(),
            Some(Some(vec![
                Step::Member("VM".into()),
                Step::Member("A-B".into()),
                Step::Index(2)
            ]))
        );
        // The term is cut at its blank, before `=`: it looks for the text `VM."A` anywhere.
        let cut = VmSearch::parse("VM.\"A B\"=x").ok().flatten();
        let cut = cut.map(|q| q.terms);
        let looks_for = parse_like("VM.\"A").ok();
        assert_eq!(
            cut,
            looks_for.map(|pattern| vec![Term {
                path: vec![Step::AnyMember],
                pattern
            }])
        );
        // With the blank after `=`, the quoted path is cut open and refused.
        let refused = VmSearch::parse("VM.\"A=B\" x").map_err(|e| e.code());
        assert_eq!(refused, Err(nubo_types::ErrorCode::Internal));
    }

    #[test]
    fn long_runs_are_refused_and_runs_compiled_once() {
        let run = "a".repeat(MAX_PIECE_LEN);
        let q = VmSearch::parse(&format!("{run}%b%{run}")).ok().flatten();
        let pieces = q.map(|q| q.terms[0].pattern.pieces.clone());
        assert_eq!(pieces.as_ref().map(Vec::len), Some(3));
        assert_eq!(pieces.as_ref().map(|p| p[0].len), Some(MAX_PIECE_LEN));
        let too_long = VmSearch::parse(&format!("VM.NAME=b%{run}a")).map_err(|e| e.code());
        assert_eq!(too_long, Err(nubo_types::ErrorCode::Internal));
        // An escaped % is a character of its run.
        assert!(VmSearch::parse(&"\\%".repeat(MAX_PIECE_LEN + 1)).is_err());
    }

    #[test]
    fn filters_split_as_oned_splits_them() {
        let q = VmSearch::parse("VM.NAME=my vm&&  &web").ok().flatten();
        let q = q.map(|q| q.terms.len());
        assert_eq!(q, Some(2));
        assert_eq!(VmSearch::parse("").ok(), Some(None));
        assert_eq!(VmSearch::parse(" & ").ok(), Some(None));
        assert!(VmSearch::parse(&"a&".repeat(MAX_TERMS + 1)).is_err());
        assert!(VmSearch::parse(&"a".repeat(MAX_QUERY_LEN + 1)).is_err());
        assert!(VmSearch::parse(&format!("{}=x", ["A"; MAX_STEPS + 1].join("."))).is_err());
    }

    #[test]
    fn extraction_and_text() {
        let body = Json::Obj(vec![(
            "VM".into(),
            Json::Obj(vec![
                ("NAME".into(), s("web-1")),
                (
                    "DISK".into(),
                    Json::Arr(vec![
                        Json::Obj(vec![("IMAGE".into(), s("db1"))]),
                        Json::Obj(vec![("IMAGE".into(), s("os"))]),
                    ]),
                ),
            ]),
        )]);
        let printed = OnceCell::new();
        let get = |p: &str| {
            parse_path(p)
                .ok()
                .and_then(|p| text_at(&body, &p, &printed).map(Cow::into_owned))
        };
        assert_eq!(get("VM.NAME").as_deref(), Some("web-1"));
        assert_eq!(get("VM.NAME[0]").as_deref(), Some("web-1"));
        assert_eq!(
            get("VM.DISK[*].IMAGE").as_deref(),
            Some("[\"db1\", \"os\"]")
        );
        assert_eq!(get("VM.DISK[1].IMAGE").as_deref(), Some("os"));
        assert_eq!(get("**.IMAGE").as_deref(), Some("[\"db1\", \"os\"]"));
        assert_eq!(get("VM.NOPE"), None);
        // Values that are not strings are cut from the body printed once.
        assert_eq!(get("VM.DISK[0]").as_deref(), Some("{\"IMAGE\": \"db1\"}"));
        assert_eq!(
            get("VM.DISK").as_deref(),
            Some("[{\"IMAGE\": \"db1\"}, {\"IMAGE\": \"os\"}]")
        );
        assert_eq!(
            get("VM").as_deref(),
            Some("{\"DISK\": [{\"IMAGE\": \"db1\"}, {\"IMAGE\": \"os\"}], \"NAME\": \"web-1\"}")
        );
        assert_eq!(get("VM.DISK[*]").as_deref(), get("VM.DISK").as_deref());
        assert!(get("*").is_some_and(|t| t.contains("\"NAME\": \"web-1\"")));
    }
}

#[cfg(test)]
#[path = "search_fuzz.rs"]
mod fuzz;
