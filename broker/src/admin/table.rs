//! Plain-text tables of API listings: a header row, then one row per object, columns
//! padded to the widest cell (as rabbitmqctl's `list_*` and kafka-consumer-groups).

use serde_json::Value;

/// A column: its header and the object key it shows.
pub type Column = (&'static str, &'static str);

/// One cell: strings bare, lists joined with commas, null as empty.
fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| cell(Some(i)))
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::Object(m)) if m.is_empty() => String::new(),
        Some(other) => other.to_string(),
    }
}

pub fn render(rows: &[Value], columns: &[Column]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|(_, key)| cell(r.get(key))).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (h, _))| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, values: &mut dyn Iterator<Item = &str>| {
        let parts: Vec<String> = values
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(&mut out, &mut columns.iter().map(|(h, _)| *h));
    for row in &cells {
        line(&mut out, &mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_and_lists_joined() {
        let rows = vec![
            serde_json::json!({"name": "alice", "tags": ["administrator", "monitoring"]}),
            serde_json::json!({"name": "bob", "tags": []}),
        ];
        let t = render(&rows, &[("NAME", "name"), ("TAGS", "tags")]);
        assert_eq!(t, "NAME   TAGS\nalice  administrator,monitoring\nbob\n");
    }
}
