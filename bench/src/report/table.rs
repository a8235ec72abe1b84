//! The final table on stdout, columns aligned.

use crate::row::Row;

const HEAD: [&str; 11] = [
    "target",
    "protocol",
    "variant",
    "msgs/s",
    "MB/s",
    "p50 ms",
    "p99 ms",
    "p999 ms",
    "lost",
    "duplicated",
    "note",
];

fn num(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

fn cells(r: &Row) -> [String; 11] {
    [
        r.target.clone(),
        r.protocol.clone(),
        r.variant.clone(),
        num(r.msgs_per_s, 0),
        num(r.mb_per_s, 2),
        num(r.p50_ms, 3),
        num(r.p99_ms, 3),
        num(r.p999_ms, 3),
        if r.ran {
            r.lost.to_string()
        } else {
            "-".into()
        },
        if r.ran {
            r.duplicated.to_string()
        } else {
            "-".into()
        },
        r.note.clone(),
    ]
}

/// The table as text, one row per line, numbers right-aligned.
pub fn render(rows: &[Row]) -> String {
    let body: Vec<[String; 11]> = rows.iter().map(cells).collect();
    let mut width = HEAD.map(str::len);
    for c in &body {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |c: &[String; 11]| {
        let mut s = String::new();
        for (i, (cell, w)) in c.iter().zip(width).enumerate() {
            if i == 10 {
                s.push_str(cell);
            } else if (3..10).contains(&i) {
                s.push_str(&format!("{cell:>w$}  "));
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(&HEAD.map(String::from));
    out.push('\n');
    for c in &body {
        out.push_str(&line(c));
        out.push('\n');
    }
    out
}

/// The same table in Markdown, for report.md.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = format!("| {} |\n", HEAD.join(" | "));
    out.push_str(&format!("|{}\n", "---|".repeat(HEAD.len())));
    for r in rows {
        let c = cells(r).map(|s| s.replace('|', "\\|"));
        out.push_str(&format!("| {} |\n", c.join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_with_every_column() {
        let rows = vec![Row::skipped(
            "rabbitmq",
            "kafka",
            "acks=1",
            "no kafka:// URL",
        )];
        let t = render(&rows);
        let mut lines = t.lines();
        let head = lines.next().unwrap_or_default();
        for h in HEAD {
            assert!(head.contains(h), "{h}");
        }
        assert!(
            lines
                .next()
                .unwrap_or_default()
                .ends_with("no kafka:// URL")
        );
        assert!(markdown(&rows).lines().count() == 3);
    }
}
