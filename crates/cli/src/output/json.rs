//! The XML reply as JSON: an element with children becomes an object, a repeated child name
//! becomes an array, an element without children becomes its text (a string, as the XML
//! holds it). The root is kept as the single key: `{"USER_POOL": {"USER": [...]}}`.

use nubo_client::Element;
use serde_json::{Map, Value};

/// `{root name: root value}`.
pub fn json(root: &Element) -> Value {
    let mut doc = Map::new();
    doc.insert(root.name.clone(), value(root));
    Value::Object(doc)
}

fn value(el: &Element) -> Value {
    if el.is_leaf() {
        return Value::String(el.text.clone());
    }
    let mut map = Map::new();
    for child in &el.children {
        let v = value(child);
        match map.get_mut(&child.name) {
            None => {
                map.insert(child.name.clone(), v);
            }
            Some(Value::Array(items)) => items.push(v),
            Some(first) => {
                let first = first.take();
                map.insert(child.name.clone(), Value::Array(vec![first, v]));
            }
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_elements_become_arrays() {
        let pool = Element::parse(
            "<POOL><U><ID>1</ID><G><ID>0</ID><ID>1</ID></G></U><U><ID>2</ID><G><ID>1</ID></G>\
             </U><EMPTY/></POOL>",
        )
        .expect("parse");
        assert_eq!(
            json(&pool),
            serde_json::json!({"POOL": {
                "U": [{"ID": "1", "G": {"ID": ["0", "1"]}}, {"ID": "2", "G": {"ID": "1"}}],
                "EMPTY": ""
            }})
        );
    }
}
