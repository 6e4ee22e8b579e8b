//! Reading a plan's YAML into JSON, bounded: the text's size, the nesting depth, the number
//! of nodes (aliases count every node they stand for, so an alias bomb stops at the
//! budget), and one document only. Built on `yaml-rust2`'s event parser, a state machine,
//! with an explicit stack here: no recursion anywhere.

use std::collections::HashMap;

use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// What a YAML text may be and hold.
#[derive(Debug, Clone, Copy)]
pub struct YamlLimits {
    /// The most bytes of text.
    pub max_bytes: usize,
    /// The deepest nesting of sequences and mappings.
    pub max_depth: usize,
    /// The most nodes, aliases expanded.
    pub max_nodes: usize,
}

/// The limits plans are read with.
pub const PLAN_LIMITS: YamlLimits = YamlLimits {
    max_bytes: 256 * 1024,
    max_depth: 32,
    max_nodes: 20_000,
};

/// Why a YAML text was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum YamlError {
    /// Not YAML.
    #[error("the plan is not valid YAML: {0}")]
    Syntax(String),
    /// Not UTF-8.
    #[error("the plan is not UTF-8 text")]
    Encoding,
    /// Too long.
    #[error("the plan is larger than {0} bytes")]
    TooLarge(usize),
    /// Nested too deep.
    #[error("the plan nests deeper than {0} levels")]
    TooDeep(usize),
    /// Too many nodes (aliases expanded).
    #[error("the plan has more than {0} nodes (aliases counted as what they stand for)")]
    TooManyNodes(usize),
    /// Empty, or more than one document.
    #[error("the plan must be exactly one YAML document")]
    Documents,
    /// A mapping key that is not a plain scalar.
    #[error("mapping keys must be scalars")]
    Key,
    /// An alias to an anchor not (yet) defined.
    #[error("an alias names an unknown anchor")]
    Alias,
}

/// An open collection, with its anchor id and the node count where it started.
enum Frame {
    Seq(Vec<Value>, usize, usize),
    Map(Map<String, Value>, Option<String>, usize, usize),
}

/// Reads `text` as one YAML document within `limits`.
pub fn parse(text: &[u8], limits: YamlLimits) -> Result<Value, YamlError> {
    if text.len() > limits.max_bytes {
        return Err(YamlError::TooLarge(limits.max_bytes));
    }
    let text = std::str::from_utf8(text).map_err(|_| YamlError::Encoding)?;
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    // Anchor id → (value, its node count).
    let mut anchors: HashMap<usize, (Value, usize)> = HashMap::new();
    let mut nodes = 0usize;
    let mut documents = 0usize;
    let mut root: Option<Value> = None;
    loop {
        let (event, _) = parser
            .next_token()
            .map_err(|e| YamlError::Syntax(e.to_string()))?;
        let (value, anchor, count) = match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError::Documents);
                }
                continue;
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => continue,
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= limits.max_depth {
                    return Err(YamlError::TooDeep(limits.max_depth));
                }
                nodes = bump(nodes, 1, limits)?;
                stack.push(Frame::Seq(Vec::new(), anchor, nodes));
                continue;
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= limits.max_depth {
                    return Err(YamlError::TooDeep(limits.max_depth));
                }
                nodes = bump(nodes, 1, limits)?;
                stack.push(Frame::Map(Map::new(), None, anchor, nodes));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor, first) = match stack.pop() {
                    Some(Frame::Seq(items, anchor, first)) => (Value::Array(items), anchor, first),
                    Some(Frame::Map(map, _, anchor, first)) => (Value::Object(map), anchor, first),
                    None => return Err(YamlError::Syntax("unbalanced collection".into())),
                };
                (value, anchor, nodes + 1 - first)
            }
            Event::Alias(id) => {
                let (value, count) = anchors.get(&id).ok_or(YamlError::Alias)?;
                nodes = bump(nodes, *count, limits)?;
                (value.clone(), 0, *count)
            }
            Event::Scalar(text, style, anchor, _) => {
                nodes = bump(nodes, 1, limits)?;
                (scalar(text, style), anchor, 1)
            }
        };
        if anchor != 0 {
            anchors.insert(anchor, (value.clone(), count));
        }
        match stack.last_mut() {
            None => {
                if root.is_some() {
                    return Err(YamlError::Documents);
                }
                root = Some(value);
            }
            Some(Frame::Seq(items, ..)) => items.push(value),
            Some(Frame::Map(map, key, ..)) => match key.take() {
                None => match value {
                    Value::String(k) => *key = Some(k),
                    Value::Number(n) => *key = Some(n.to_string()),
                    Value::Bool(b) => *key = Some(b.to_string()),
                    Value::Null => *key = Some("null".into()),
                    _ => return Err(YamlError::Key),
                },
                Some(k) => {
                    map.insert(k, value);
                }
            },
        }
    }
    root.ok_or(YamlError::Documents)
}

fn bump(nodes: usize, more: usize, limits: YamlLimits) -> Result<usize, YamlError> {
    let total = nodes.saturating_add(more);
    if total > limits.max_nodes {
        Err(YamlError::TooManyNodes(limits.max_nodes))
    } else {
        Ok(total)
    }
}

/// A scalar as YAML 1.2's core schema reads it (quoted ones stay strings).
fn scalar(text: String, style: TScalarStyle) -> Value {
    if style != TScalarStyle::Plain {
        return Value::String(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    let numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if numeric
        && text.bytes().any(|b| b.is_ascii_digit())
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> Result<Value, YamlError> {
        parse(text.as_bytes(), PLAN_LIMITS)
    }

    #[test]
    fn a_plan_reads_as_json() {
        let plan = read(
            "camp_version: CAMP 1.1\nname: shop\ntags: [a, 'b']\nartifacts:\n  - name: src\n    \
             artifact_type: org.nubo:Git\n    content: {href: 'file:///x#main'}\ncount: 3\n\
             ratio: 0.5\nflag: true\nnothing: ~\n",
        )
        .expect("reads");
        assert_eq!(
            plan,
            json!({"camp_version": "CAMP 1.1", "name": "shop", "tags": ["a", "b"],
                "artifacts": [{"name": "src", "artifact_type": "org.nubo:Git",
                    "content": {"href": "file:///x#main"}}],
                "count": 3, "ratio": 0.5, "flag": true, "nothing": null})
        );
    }

    #[test]
    fn anchors_and_aliases_within_the_budget_work() {
        let v = read("a: &x {k: v}\nb: *x\n").expect("reads");
        assert_eq!(v, json!({"a": {"k": "v"}, "b": {"k": "v"}}));
    }

    #[test]
    fn an_alias_bomb_stops_at_the_node_budget() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert_eq!(read(&text), Err(YamlError::TooManyNodes(20_000)));
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert_eq!(read(&deep), Err(YamlError::TooDeep(32)));
        // Far deeper: the scanner's own flow-level limit or ours, never a stack overflow.
        let deeper = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(read(&deeper).is_err());
        let deep_maps = (0..100).fold(String::new(), |acc, i| {
            format!("{acc}{}k{i}:\n", "  ".repeat(i))
        });
        assert_eq!(read(&deep_maps), Err(YamlError::TooDeep(32)));
    }

    #[test]
    fn size_documents_and_syntax_are_checked() {
        let big = "a".repeat(PLAN_LIMITS.max_bytes + 1);
        assert_eq!(read(&big), Err(YamlError::TooLarge(PLAN_LIMITS.max_bytes)));
        assert_eq!(read(""), Err(YamlError::Documents));
        assert_eq!(read("a: 1\n---\nb: 2\n"), Err(YamlError::Documents));
        assert!(matches!(read("a: [1, 2"), Err(YamlError::Syntax(_))));
        assert_eq!(read("? [a]\n: 1\n"), Err(YamlError::Key));
        assert!(read("a: *nope\n").is_err());
        assert_eq!(parse(b"\xff\xfe", PLAN_LIMITS), Err(YamlError::Encoding));
    }
}
