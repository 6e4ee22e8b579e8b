//! A strict well-formedness check of an XML document, for the tests of every XML writer.
//! quick-xml reads the structure (tags closed in order, one root, CDATA sections,
//! references); on top of it every character, raw or referenced, must match XML 1.0's Char
//! production, which quick-xml does not check and expat (pyone's parser) does, and every
//! element name must be an XML 1.0 Name without a colon (a prefix no namespace declares
//! fails lxml, which pyone's bindings parse with).

/// XML 1.0's `Char`, written out independently of the code under test.
pub fn xml_1_0_char(c: char) -> bool {
    let c = u32::from(c);
    matches!(c, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// XML 1.0's `NameStartChar` and `NameChar` (fifth edition), less the colon.
fn xml_1_0_name(name: &[u8]) -> bool {
    let start = |c: char| {
        matches!(u32::from(c),
            0x41..=0x5A | 0x5F | 0x61..=0x7A | 0xC0..=0xD6 | 0xD8..=0xF6 | 0xF8..=0x2FF
            | 0x370..=0x37D | 0x37F..=0x1FFF | 0x200C..=0x200D | 0x2070..=0x218F
            | 0x2C00..=0x2FEF | 0x3001..=0xD7FF | 0xF900..=0xFDCF | 0xFDF0..=0xFFFD
            | 0x10000..=0xEFFFF)
    };
    let rest = |c: char| {
        start(c)
            || matches!(u32::from(c),
                0x2D | 0x2E | 0x30..=0x39 | 0xB7 | 0x300..=0x36F | 0x203F..=0x2040)
    };
    let Ok(name) = std::str::from_utf8(name) else {
        return false;
    };
    let mut chars = name.chars();
    chars.next().is_some_and(start) && chars.all(rest)
}

/// `Ok` when `doc` is a well-formed XML 1.0 document, else what is wrong with it.
pub fn well_formed(doc: &str) -> Result<(), String> {
    use quick_xml::events::Event;
    if let Some((at, c)) = doc.char_indices().find(|(_, c)| !xml_1_0_char(*c)) {
        return Err(format!(
            "character {c:?} at byte {at} is not an XML 1.0 Char"
        ));
    }
    let mut reader = quick_xml::Reader::from_str(doc);
    reader.config_mut().check_end_names = true;
    reader.config_mut().trim_text(false);
    let (mut depth, mut roots) = (0usize, 0usize);
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {at}: {e}"))?;
        match event {
            Event::Start(e) | Event::Empty(e) if !xml_1_0_name(e.name().as_ref()) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                return Err(format!("<{name}> at byte {at} is not an XML name"));
            }
            Event::Start(_) => {
                roots += usize::from(depth == 0);
                depth += 1;
            }
            Event::Empty(_) => roots += usize::from(depth == 0),
            Event::End(_) => depth = depth.checked_sub(1).ok_or("a closing tag too many")?,
            Event::Text(t) => {
                let text = t.decode().map_err(|e| e.to_string())?;
                if depth == 0 && !text.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n')) {
                    return Err(format!("text {text:?} outside the root at byte {at}"));
                }
                if text.contains("]]>") {
                    return Err(format!("a raw ]]> in text at byte {at}"));
                }
            }
            Event::CData(_) if depth == 0 => return Err(format!("CDATA outside the root at {at}")),
            Event::GeneralRef(r) => {
                if depth == 0 {
                    return Err(format!("a reference outside the root at byte {at}"));
                }
                if r.is_char_ref() {
                    let c = r
                        .resolve_char_ref()
                        .map_err(|e| format!("at byte {at}: {e}"))?
                        .ok_or_else(|| format!("not a character reference at byte {at}"))?;
                    if !xml_1_0_char(c) {
                        return Err(format!("reference to {c:?} at byte {at}"));
                    }
                } else {
                    let name = r.decode().map_err(|e| e.to_string())?;
                    if quick_xml::escape::resolve_predefined_entity(&name).is_none() {
                        return Err(format!("undeclared entity &{name}; at byte {at}"));
                    }
                }
            }
            Event::DocType(_) => return Err("a DOCTYPE".to_owned()),
            Event::Eof => break,
            _ => {}
        }
    }
    match (depth, roots) {
        (0, 1) => Ok(()),
        (0, n) => Err(format!("{n} root elements")),
        (_, _) => Err("an element is not closed".to_owned()),
    }
}
