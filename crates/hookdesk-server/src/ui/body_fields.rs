//! A notification's JSON body written as fields, one `name: template` per line, so that no
//! one has to type JSON (or escape a ticket's text inside it) to send a JSON object. The
//! fields become an ordinary payload template, each value captured and written with `json`:
//!
//! ```text
//! {%- capture field_1 -%}Case {{ ticket.id }} updated{%- endcapture -%}
//! {"text": {{ field_1 | json }}}
//! ```
//!
//! Saved, it is a payload like any other (the API, exports and imports see that); the editor
//! shows it as fields again when it has exactly this shape.

use serde_json::{Map, Value};

/// The payload template that sends `fields` (name to template text) as a JSON object.
pub fn compose(fields: &Map<String, Value>) -> String {
    let mut captures = String::new();
    let mut members = Vec::new();
    for (n, (name, template)) in fields.iter().enumerate() {
        let template = template.as_str().unwrap_or_default();
        captures.push_str(&format!("{{%- capture field_{} -%}}{template}{{%- endcapture -%}}\n", n + 1));
        let key = serde_json::to_string(name).unwrap_or_default();
        members.push(format!("{key}: {{{{ field_{} | json }}}}", n + 1));
    }
    format!("{captures}{{{}}}", members.join(", "))
}

/// The fields a payload was composed from, as `name: template` lines; none when it was
/// written some other way.
pub fn lines_of(payload: &str) -> Option<String> {
    let mut lines: Vec<&str> = payload.lines().collect();
    let object = lines.pop()?;
    let mut fields = Map::new();
    let mut templates = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let open = format!("{{%- capture field_{} -%}}", n + 1);
        let template = line.strip_prefix(open.as_str())?.strip_suffix("{%- endcapture -%}")?;
        templates.push(template);
    }
    // The names, in order, from the object's members: `"name": {{ field_n | json }}`.
    let members: Value = {
        let mut text = object.to_owned();
        for n in 1..=templates.len() {
            text = text.replacen(&format!("{{{{ field_{n} | json }}}}"), &n.to_string(), 1);
        }
        serde_json::from_str(&text).ok()?
    };
    let members = members.as_object()?;
    if members.len() != templates.len() {
        return None;
    }
    for (name, n) in members {
        let template = templates.get(usize::try_from(n.as_u64()?).ok()?.checked_sub(1)?)?;
        fields.insert(name.clone(), Value::String((*template).to_owned()));
    }
    // Only what composing these fields gives back exactly.
    (compose(&fields) == payload).then(|| super::forms::to_header_lines(&fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::forms::header_lines;

    #[test]
    fn fields_make_a_payload_that_reads_back_as_them() {
        let lines = "text: Case {{ ticket.id }} updated: {{ ticket.subject | uri_encode }}\nlink: {{ ticket.url }}";
        let payload = compose(&header_lines(lines));
        assert_eq!(
            payload,
            "{%- capture field_1 -%}Case {{ ticket.id }} updated: {{ ticket.subject | uri_encode }}{%- endcapture -%}\n\
             {%- capture field_2 -%}{{ ticket.url }}{%- endcapture -%}\n\
             {\"text\": {{ field_1 | json }}, \"link\": {{ field_2 | json }}}"
        );
        assert_eq!(lines_of(&payload).as_deref(), Some(lines));
        let odd = compose(&header_lines("say \"hi\": {{ ticket.subject }}"));
        assert_eq!(lines_of(&odd).as_deref(), Some("say \"hi\": {{ ticket.subject }}"));
    }

    #[test]
    fn a_payload_written_otherwise_stays_a_payload() {
        assert_eq!(lines_of("{\"text\": \"{{ ticket.subject }}\"}"), None);
        assert_eq!(lines_of(""), None);
        let payload = compose(&header_lines("a: 1"));
        assert_eq!(lines_of(&payload.replace("field_1 | json", "field_1")), None);
        assert_eq!(lines_of(&format!("{payload} ")), None);
    }
}
