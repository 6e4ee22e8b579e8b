// A strict well-formedness check of an XML document, for tests of every XML writer of the
// workspace (included with `include!` by the tests of nubo-xmlrpc, nubo-template,
// nubo-frontend-xmlrpc and nubo-frontend-ec2). quick-xml reads the structure (tags closed in
// order, one root, CDATA sections, references); on top of it every character, raw or
// referenced, must match XML 1.0's Char production, which quick-xml does not check and
// expat (pyone's parser) does. Needs `quick-xml`.

/// XML 1.0's `Char`, written out independently of the code under test.
fn xml_1_0_char(c: char) -> bool {
    let c = u32::from(c);
    matches!(c, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// `Ok` when `doc` is a well-formed XML 1.0 document, else what is wrong with it.
fn well_formed(doc: &str) -> Result<(), String> {
    use quick_xml::events::Event;
    if let Some((at, c)) = doc.char_indices().find(|(_, c)| !xml_1_0_char(*c)) {
        return Err(format!("character {c:?} at byte {at} is not an XML 1.0 Char"));
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
