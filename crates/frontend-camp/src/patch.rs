//! JSON Patch (RFC 6902) over JSON Pointers (RFC 6901), small and bounded: at most
//! [`MAX_OPS`] operations, pointers of at most [`MAX_POINTER`] bytes, every operation applied
//! to a copy so that a failing patch changes nothing. Walking a pointer is a loop.

use serde_json::Value;

/// The most operations in one patch.
pub const MAX_OPS: usize = 100;
/// The longest pointer.
pub const MAX_POINTER: usize = 1024;

/// Why a patch was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PatchError {
    /// Not a JSON Patch document (400).
    #[error("not a JSON Patch document: {0}")]
    Malformed(String),
    /// The patch cannot be applied to this resource (422).
    #[error("the patch cannot be applied: {0}")]
    Conflict(String),
}

/// One operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// `add`.
    Add(String, Value),
    /// `remove`.
    Remove(String),
    /// `replace`.
    Replace(String, Value),
    /// `move` (from, path).
    Move(String, String),
    /// `copy` (from, path).
    Copy(String, String),
    /// `test`.
    Test(String, Value),
}

/// Reads a JSON Patch document.
pub fn parse(body: &[u8]) -> Result<Vec<Operation>, PatchError> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| PatchError::Malformed(e.to_string()))?;
    let Value::Array(items) = doc else {
        return Err(PatchError::Malformed("the document is not an array".into()));
    };
    if items.len() > MAX_OPS {
        return Err(PatchError::Malformed(format!(
            "more than {MAX_OPS} operations"
        )));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::Object(mut op) = item else {
                return Err(PatchError::Malformed(format!(
                    "operation {i} is not an object"
                )));
            };
            let name = match op.remove("op") {
                Some(Value::String(s)) => s,
                _ => {
                    return Err(PatchError::Malformed(format!(
                        "operation {i} has no \"op\""
                    )));
                }
            };
            let path = match op.remove("path") {
                Some(Value::String(s)) => {
                    check_pointer(&s)?;
                    s
                }
                Some(_) => {
                    return Err(PatchError::Malformed(format!(
                        "operation {i}'s \"path\" is not a string"
                    )));
                }
                None => {
                    return Err(PatchError::Malformed(format!(
                        "operation {i} has no \"path\""
                    )));
                }
            };
            let mut value = || {
                op.remove("value")
                    .ok_or_else(|| PatchError::Malformed(format!("operation {i} has no \"value\"")))
            };
            Ok(match name.as_str() {
                "add" => Operation::Add(path, value()?),
                "remove" => Operation::Remove(path),
                "replace" => Operation::Replace(path, value()?),
                "test" => Operation::Test(path, value()?),
                "move" | "copy" => {
                    let from = match op.remove("from") {
                        Some(Value::String(s)) => {
                            check_pointer(&s)?;
                            s
                        }
                        _ => {
                            return Err(PatchError::Malformed(format!(
                                "operation {i} has no \"from\""
                            )));
                        }
                    };
                    if name == "move" {
                        Operation::Move(from, path)
                    } else {
                        Operation::Copy(from, path)
                    }
                }
                other => {
                    return Err(PatchError::Malformed(format!(
                        "operation {i} has an unknown op {other:?}"
                    )));
                }
            })
        })
        .collect()
}

fn check_pointer(p: &str) -> Result<(), PatchError> {
    if p.len() > MAX_POINTER {
        return Err(PatchError::Malformed(format!(
            "a pointer is longer than {MAX_POINTER} bytes"
        )));
    }
    if !p.is_empty() && !p.starts_with('/') {
        return Err(PatchError::Malformed(format!(
            "{p:?} is not a JSON Pointer"
        )));
    }
    Ok(())
}

/// The reference tokens of a pointer, unescaped.
fn tokens(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Applies `ops` to a copy of `doc` and returns it.
pub fn apply(doc: &Value, ops: &[Operation]) -> Result<Value, PatchError> {
    let mut out = doc.clone();
    for op in ops {
        match op {
            Operation::Add(path, value) => add(&mut out, path, value.clone())?,
            Operation::Remove(path) => {
                remove(&mut out, path)?;
            }
            Operation::Replace(path, value) => {
                let target = get_mut(&mut out, path)?;
                *target = value.clone();
            }
            Operation::Move(from, path) => {
                if path.starts_with(&format!("{from}/")) {
                    return Err(PatchError::Conflict(format!(
                        "cannot move {from} into itself"
                    )));
                }
                let value = remove(&mut out, from)?;
                add(&mut out, path, value)?;
            }
            Operation::Copy(from, path) => {
                let value = get_mut(&mut out, from)?.clone();
                add(&mut out, path, value)?;
            }
            Operation::Test(path, value) => {
                if get_mut(&mut out, path)? != value {
                    return Err(PatchError::Conflict(format!("test of {path} failed")));
                }
            }
        }
    }
    Ok(out)
}

fn missing(pointer: &str) -> PatchError {
    PatchError::Conflict(format!("{pointer} does not exist"))
}

fn get_mut<'a>(doc: &'a mut Value, pointer: &str) -> Result<&'a mut Value, PatchError> {
    let mut current = doc;
    for token in tokens(pointer) {
        current = match current {
            Value::Object(map) => map.get_mut(&token).ok_or_else(|| missing(pointer))?,
            Value::Array(items) => {
                let index = index(&token, items.len(), false).ok_or_else(|| missing(pointer))?;
                items.get_mut(index).ok_or_else(|| missing(pointer))?
            }
            _ => return Err(missing(pointer)),
        };
    }
    Ok(current)
}

/// An array index token: digits without a leading zero (`-` = the end, when `append`).
fn index(token: &str, len: usize, append: bool) -> Option<usize> {
    if append && token == "-" {
        return Some(len);
    }
    if token.is_empty()
        || (token.len() > 1 && token.starts_with('0'))
        || !token.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    token.parse().ok()
}

/// The parent of a pointer's target and the last token.
fn parent<'a>(doc: &'a mut Value, pointer: &str) -> Result<(&'a mut Value, String), PatchError> {
    let cut = pointer
        .rfind('/')
        .ok_or_else(|| PatchError::Conflict("the whole document cannot be changed".into()))?;
    let last = tokens(&pointer[cut..]).pop().unwrap_or_default();
    Ok((get_mut(doc, &pointer[..cut])?, last))
}

fn add(doc: &mut Value, pointer: &str, value: Value) -> Result<(), PatchError> {
    let (target, last) = parent(doc, pointer)?;
    match target {
        Value::Object(map) => {
            map.insert(last, value);
        }
        Value::Array(items) => {
            let at = index(&last, items.len(), true)
                .filter(|i| *i <= items.len())
                .ok_or_else(|| missing(pointer))?;
            items.insert(at, value);
        }
        _ => return Err(missing(pointer)),
    }
    Ok(())
}

fn remove(doc: &mut Value, pointer: &str) -> Result<Value, PatchError> {
    let (target, last) = parent(doc, pointer)?;
    match target {
        Value::Object(map) => map.remove(&last).ok_or_else(|| missing(pointer)),
        Value::Array(items) => {
            let at = index(&last, items.len(), false)
                .filter(|i| *i < items.len())
                .ok_or_else(|| missing(pointer))?;
            Ok(items.remove(at))
        }
        _ => Err(missing(pointer)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(doc: Value, patch: Value) -> Result<Value, PatchError> {
        let ops = parse(patch.to_string().as_bytes())?;
        apply(&doc, &ops)
    }

    #[test]
    fn every_operation_works() {
        let doc = json!({"name": "a", "tags": ["x"], "nested": {"k": 1}, "a/b": 2});
        let out = run(
            doc,
            json!([
                {"op": "replace", "path": "/name", "value": "b"},
                {"op": "add", "path": "/tags/-", "value": "y"},
                {"op": "add", "path": "/tags/0", "value": "w"},
                {"op": "remove", "path": "/tags/1"},
                {"op": "copy", "from": "/nested", "path": "/copied"},
                {"op": "move", "from": "/nested/k", "path": "/moved"},
                {"op": "test", "path": "/a~1b", "value": 2},
                {"op": "add", "path": "/description", "value": "d"},
            ]),
        )
        .expect("applies");
        assert_eq!(
            out,
            json!({"name": "b", "tags": ["w", "y"], "nested": {}, "copied": {"k": 1},
                "moved": 1, "a/b": 2, "description": "d"})
        );
    }

    #[test]
    fn malformed_patches_are_refused() {
        for bad in [
            json!({"op": "add"}),
            json!([{"op": "add", "value": 1}]),
            json!([{"op": "frobnicate", "path": "/a"}]),
            json!([{"op": "replace", "path": "/a"}]),
            json!([{"op": "move", "path": "/a"}]),
            json!([{"op": "add", "path": "a", "value": 1}]),
            json!([7]),
        ] {
            assert!(
                matches!(
                    parse(bad.to_string().as_bytes()),
                    Err(PatchError::Malformed(_))
                ),
                "{bad}"
            );
        }
        assert!(parse(b"not json").is_err());
        let many: Vec<_> = (0..=MAX_OPS)
            .map(|_| json!({"op": "test", "path": "", "value": 1}))
            .collect();
        assert!(matches!(
            parse(Value::Array(many).to_string().as_bytes()),
            Err(PatchError::Malformed(_))
        ));
    }

    #[test]
    fn conflicts_change_nothing() {
        let doc = json!({"name": "a", "tags": []});
        for bad in [
            json!([{"op": "remove", "path": "/missing"}]),
            json!([{"op": "replace", "path": "/missing", "value": 1}]),
            json!([{"op": "replace", "path": "/name", "value": "b"},
                   {"op": "test", "path": "/name", "value": "a"}]),
            json!([{"op": "add", "path": "/tags/5", "value": 1}]),
            json!([{"op": "add", "path": "/tags/01", "value": 1}]),
            json!([{"op": "remove", "path": ""}]),
            json!([{"op": "move", "from": "/tags", "path": "/tags/0"}]),
        ] {
            assert!(
                matches!(run(doc.clone(), bad.clone()), Err(PatchError::Conflict(_))),
                "{bad}"
            );
        }
    }
}
