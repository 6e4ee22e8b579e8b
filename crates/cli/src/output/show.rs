//! One object as text: its scalar attributes as aligned `KEY : value` lines, permissions as
//! `um- u-- ---`, id lists as `1,2,3`, nested structures indented under their name, and
//! `TEMPLATE` / `USER_TEMPLATE` in OpenNebula's template language (so it can be edited and
//! fed back to `update`).

use nubo_client::Element;

use super::cells::id_list;

/// The text view of `object`.
pub fn show(object: &Element) -> String {
    let mut out = String::new();
    fields(&mut out, object, 0);
    out
}

/// The children of `el` written at `indent`.
fn fields(out: &mut String, el: &Element, indent: usize) {
    let pad = " ".repeat(indent);
    let width = el
        .children
        .iter()
        .filter_map(|c| inline(c).map(|_| c.name.len()))
        .max()
        .unwrap_or(0);
    for child in &el.children {
        if let Some(value) = inline(child) {
            let line = format!("{pad}{:<width$} : {value}", child.name);
            out.push_str(line.trim_end());
            out.push('\n');
        } else if child.name == "TEMPLATE" || child.name == "USER_TEMPLATE" {
            out.push_str(&format!("{pad}{}\n", child.name));
            for line in template_text(child).lines() {
                out.push_str(&format!("{pad}  {line}\n"));
            }
        } else {
            out.push_str(&format!("{pad}{}\n", child.name));
            fields(out, child, indent + 2);
        }
    }
}

/// The one-line value of an element shown inline, if it has one.
fn inline(el: &Element) -> Option<String> {
    if el.is_leaf() {
        return Some(el.text.clone());
    }
    if el.name == "PERMISSIONS" {
        return Some(permissions(el));
    }
    if el.children.iter().all(|c| c.name == "ID" && c.is_leaf()) {
        return Some(id_list(el));
    }
    None
}

/// `um- u-- ---` from the nine `PERMISSIONS` bits.
pub fn permissions(el: &Element) -> String {
    ["OWNER", "GROUP", "OTHER"]
        .iter()
        .map(|who| {
            [("U", 'u'), ("M", 'm'), ("A", 'a')]
                .iter()
                .map(|(bit, letter)| {
                    if el.text_of(&format!("{who}_{bit}")) == Some("1") {
                        *letter
                    } else {
                        '-'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A template element in OpenNebula's template language: `KEY="value"` lines and
/// `KEY=[ A="1", B="2" ]` vectors.
pub fn template_text(template: &Element) -> String {
    let mut out = String::new();
    for attr in &template.children {
        if attr.is_leaf() {
            out.push_str(&format!(
                "{}={}\n",
                attr.name,
                crate::input::quote(&attr.text)
            ));
        } else {
            let items: Vec<String> = attr
                .children
                .iter()
                .map(|v| format!("  {}={}", v.name, crate::input::quote(&v.text)))
                .collect();
            out.push_str(&format!("{}=[\n{} ]\n", attr.name, items.join(",\n")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_reads_well() {
        let ds = Element::parse(
            "<DATASTORE><ID>1</ID><NAME>default</NAME><PERMISSIONS><OWNER_U>1</OWNER_U>\
             <OWNER_M>1</OWNER_M><OWNER_A>0</OWNER_A><GROUP_U>1</GROUP_U><GROUP_M>0</GROUP_M>\
             <GROUP_A>0</GROUP_A><OTHER_U>0</OTHER_U><OTHER_M>0</OTHER_M><OTHER_A>0</OTHER_A>\
             </PERMISSIONS><CLUSTERS><ID>0</ID><ID>100</ID></CLUSTERS><LOCK><LOCKED>1</LOCKED>\
             </LOCK><TEMPLATE><DS_MAD><![CDATA[fs]]></DS_MAD><NOTE><![CDATA[say \"hi\"]]></NOTE>\
             <DISK><IMAGE_ID>3</IMAGE_ID><SIZE>1</SIZE></DISK></TEMPLATE></DATASTORE>",
        )
        .expect("parse");
        assert_eq!(
            show(&ds),
            "ID          : 1\n\
             NAME        : default\n\
             PERMISSIONS : um- u-- ---\n\
             CLUSTERS    : 0,100\n\
             LOCK\n  LOCKED : 1\n\
             TEMPLATE\n  DS_MAD=\"fs\"\n  NOTE=\"say \\\"hi\\\"\"\n  DISK=[\n    IMAGE_ID=\"3\",\n    SIZE=\"1\" ]\n"
        );
    }
}
