//! Request bodies in the three formats: JSON as rendered, XML checked for well-formedness, and
//! forms bracket-encoded from a JSON object the way Deskpro sends ticket data.

use quick_xml::events::Event;
use serde_json::{Map, Value};

use super::PrepareError;
use crate::webhook::RequestFormat;

/// The form field every form body carries, empty when the payload gave none (Deskpro's rule).
pub const CUSTOM_DATA: &str = "custom_data";

/// The body a webhook sends: its rendered `payload`, or without one the standard ticket
/// `document`, in `format`.
pub fn encode(format: RequestFormat, payload: Option<String>, document: &Value) -> Result<String, PrepareError> {
    // Only a rendered payload is checked: the standard document is well-formed by construction.
    match (format, payload) {
        (RequestFormat::Json, Some(body)) => {
            if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&body) {
                return Err(PrepareError::new(
                    "invalid_json",
                    format!("the rendered payload is not valid JSON: {e}; it rendered: {}", shown(&body)),
                ));
            }
            Ok(body)
        }
        (RequestFormat::Json, None) => Ok(document.to_string()),
        (RequestFormat::Xml, Some(body)) => {
            check_xml(&body)
                .map_err(|e| PrepareError::new(e.code, format!("{}; it rendered: {}", e.message, shown(&body))))?;
            Ok(body)
        }
        (RequestFormat::Xml, None) => Ok(xml_document("ticket", document)),
        (RequestFormat::Form, Some(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(fields)) => Ok(form_encode(&fields)),
            Ok(_) | Err(_) => Err(PrepareError::new(
                "invalid_form",
                format!(
                    "a form payload must render to a JSON object, e.g. {{\"ticket\": {{\"id\": {{{{ ticket.id }}}}}}}}; its keys become form fields; it rendered: {}",
                    shown(&text)
                ),
            )),
        },
        (RequestFormat::Form, None) => Ok(form_encode(&Map::from_iter([("ticket".to_owned(), document.clone())]))),
    }
}

/// A rendered payload as an error shows it: cut, so that a huge one does not bury the reason.
fn shown(rendered: &str) -> String {
    const SHOWN: usize = 500;
    let cut = crate::text::cut(rendered, SHOWN);
    if cut.len() < rendered.len() { format!("{cut}… ({} bytes in all)", rendered.len()) } else { cut.to_owned() }
}

/// `fields` as `application/x-www-form-urlencoded`, nested keys in brackets
/// (`ticket[requester][email]`), arrays indexed (`tags[0]`), plus `custom_data`.
pub fn form_encode(fields: &Map<String, Value>) -> String {
    let mut pairs = Vec::new();
    for (key, value) in fields {
        flatten(key.clone(), value, &mut pairs);
    }
    if !fields.contains_key(CUSTOM_DATA) {
        pairs.push((CUSTOM_DATA.to_owned(), String::new()));
    }
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

fn flatten(key: String, value: &Value, pairs: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (name, inner) in map {
                flatten(format!("{key}[{name}]"), inner, pairs);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, inner) in items.iter().enumerate() {
                flatten(format!("{key}[{i}]"), inner, pairs);
            }
        }
        // An empty container or a null still names its field, with an empty value.
        Value::Object(_) | Value::Array(_) | Value::Null => pairs.push((key, String::new())),
        Value::String(text) => pairs.push((key, text.clone())),
        Value::Bool(_) | Value::Number(_) => pairs.push((key, value.to_string())),
    }
}

/// Fails `invalid_xml` unless `body` is one well-formed XML document.
fn check_xml(body: &str) -> Result<(), PrepareError> {
    let invalid = |position: u64, why: String| {
        PrepareError::new(
            "invalid_xml",
            format!("the rendered payload is not well-formed XML at byte {position}: {why}"),
        )
    };
    let mut reader = quick_xml::Reader::from_str(body);
    reader.config_mut().check_end_names = true;
    let (mut depth, mut roots) = (0usize, 0usize);
    loop {
        let event = reader.read_event().map_err(|e| invalid(reader.error_position(), e.to_string()))?;
        match &event {
            Event::Start(start) | Event::Empty(start) => {
                for attribute in start.attributes() {
                    let attribute = attribute.map_err(|e| invalid(reader.buffer_position(), e.to_string()))?;
                    attribute
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| invalid(reader.buffer_position(), e.to_string()))?;
                }
                if depth == 0 {
                    roots += 1;
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth -= 1,
            Event::GeneralRef(reference) => {
                let known = matches!(&**reference, "amp" | "lt" | "gt" | "quot" | "apos")
                    || reference.resolve_char_ref().is_ok_and(|c| c.is_some());
                if !known {
                    return Err(invalid(reader.buffer_position(), format!("unknown entity &{};", &**reference)));
                }
                if depth == 0 {
                    return Err(invalid(reader.buffer_position(), "text outside the root element".into()));
                }
            }
            Event::Text(text) if depth == 0 && !text.trim().is_empty() => {
                return Err(invalid(reader.buffer_position(), "text outside the root element".into()));
            }
            Event::CData(_) if depth == 0 => {
                return Err(invalid(reader.buffer_position(), "text outside the root element".into()));
            }
            Event::Eof => break,
            _ => {}
        }
        if roots > 1 {
            return Err(invalid(reader.buffer_position(), "more than one root element".into()));
        }
    }
    if depth != 0 {
        return Err(invalid(reader.buffer_position(), "an element is not closed".into()));
    }
    if roots == 0 {
        return Err(invalid(0, "no root element".into()));
    }
    Ok(())
}

/// A JSON value as an XML document under `<root>`: object keys become elements (a key that is
/// not an XML name becomes `<field name="…">`), array items `<item>`, null an empty element.
pub fn xml_document(root: &str, value: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    xml_element(root, value, &mut out);
    out
}

fn xml_element(name: &str, value: &Value, out: &mut String) {
    let (open, close) = if is_xml_name(name) {
        (format!("<{name}"), format!("</{name}>"))
    } else {
        (format!("<field name=\"{}\"", quick_xml::escape::escape(name)), "</field>".to_owned())
    };
    out.push_str(&open);
    match value {
        Value::Null => {
            out.push_str("/>");
            return;
        }
        Value::Object(map) => {
            out.push('>');
            for (key, inner) in map {
                xml_element(key, inner, out);
            }
        }
        Value::Array(items) => {
            out.push('>');
            for inner in items {
                xml_element("item", inner, out);
            }
        }
        Value::String(text) => {
            out.push('>');
            out.push_str(&quick_xml::escape::escape(text.as_str()));
        }
        Value::Bool(_) | Value::Number(_) => {
            out.push('>');
            out.push_str(&value.to_string());
        }
    }
    out.push_str(&close);
}

/// A conservative XML name: a letter or `_`, then letters, digits, `_`, `-`, `.`; not `xml…`.
fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.to_ascii_lowercase().starts_with("xml")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decoded(body: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()
    }

    #[test]
    fn forms_nest_in_brackets_and_always_carry_custom_data() {
        let fields = json!({"ticket": {"id": 7, "requester": {"email": "a+b@x.io"}, "tags": ["vip", "eu"],
            "assignee_id": null, "custom_fields": {}}, "note": "a&b=c"});
        let body = form_encode(fields.as_object().expect("object"));
        assert_eq!(
            decoded(&body),
            [
                ("ticket[id]", "7"),
                ("ticket[requester][email]", "a+b@x.io"),
                ("ticket[tags][0]", "vip"),
                ("ticket[tags][1]", "eu"),
                ("ticket[assignee_id]", ""),
                ("ticket[custom_fields]", ""),
                ("note", "a&b=c"),
                ("custom_data", ""),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        let given = form_encode(json!({"custom_data": {"source": "crm"}}).as_object().expect("object"));
        assert_eq!(decoded(&given), [("custom_data[source]".to_owned(), "crm".to_owned())]);
    }

    #[test]
    fn a_form_payload_must_be_a_json_object() {
        for payload in ["[1, 2]", "a=b", "\"text\""] {
            let error = encode(RequestFormat::Form, Some(payload.into()), &Value::Null).expect_err(payload);
            assert_eq!(error.code, "invalid_form");
        }
    }

    #[test]
    fn xml_must_be_one_well_formed_document() {
        for good in ["<a/>", "<?xml version=\"1.0\"?>\n<a x=\"1\"><b>t &amp; u</b></a>\n", "<!-- c --><a></a>"] {
            assert!(encode(RequestFormat::Xml, Some(good.into()), &Value::Null).is_ok(), "{good}");
        }
        for bad in ["<a>", "<a></b>", "<a/><b/>", "text", "", "<a>x</a>tail", "<a>&bogus;</a>", "<a x=1/>"] {
            let error = encode(RequestFormat::Xml, Some(bad.into()), &Value::Null).expect_err(bad);
            assert_eq!(error.code, "invalid_xml", "{bad}");
        }
    }

    #[test]
    fn the_standard_document_as_xml_escapes_and_names_safely() {
        let document = json!({"id": 3, "subject": "a < b & \"c\"", "tags": ["x"], "custom_fields": {"1st key": true},
            "group": null});
        let xml = xml_document("ticket", &document);
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ticket><id>3</id><subject>a &lt; b &amp; &quot;c&quot;</subject>\
             <tags><item>x</item></tags><custom_fields><field name=\"1st key\">true</field></custom_fields><group/></ticket>"
        );
        assert!(check_xml(&xml).is_ok());
    }
}
