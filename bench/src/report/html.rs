//! `DIR/report.html` (one self-contained page: charts inline, tables, machine, versions,
//! the command that regenerates it) and `DIR/report.md` (the same, charts as files).

use std::fmt::Write;
use std::path::Path;

use anyhow::Context;

use super::svg::{self, escape};
use super::{ScenarioReport, table};

fn num(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

pub fn html(reports: &[ScenarioReport], command: &str) -> String {
    let mut s = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>trident bench report</title>\n\
         <style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}\
         table{border-collapse:collapse;font-size:13px;margin:1em 0}\
         td,th{border:1px solid #ccc;padding:3px 6px}td.n{text-align:right}\
         th{background:#f3f3f3}code{background:#f3f3f3;padding:2px 4px}</style></head><body>\n\
         <h1>trident bench report</h1>\n",
    );
    if let Some(first) = reports.first() {
        let m = &first.machine;
        let _ = write!(
            s,
            "<p>Machine: {} CPUs, {:.1} GiB memory, {}.</p>\n<p>Regenerate with <code>{}</code>.</p>\n<h2>Versions</h2>\n<ul>\n",
            m.cpus,
            m.memory as f64 / (1u64 << 30) as f64,
            escape(&m.os),
            escape(command)
        );
        for (k, v) in &first.versions {
            let _ = writeln!(s, "<li>{}: {}</li>", escape(k), escape(v));
        }
        s.push_str("</ul>\n");
    }
    for r in reports {
        let _ = write!(
            s,
            "<h2 id=\"{0}\">{0}</h2>\n<p>{1}</p>\n{2}\n<table><tr>",
            escape(&r.scenario),
            escape(&r.about),
            svg::chart(r)
        );
        for h in [
            "target",
            "protocol",
            "variant",
            "sent",
            "received",
            "msgs/s",
            "MB/s",
            "p50 ms",
            "p99 ms",
            "p999 ms",
            "lost",
            "duplicated",
            "note",
        ] {
            let _ = write!(s, "<th>{h}</th>");
        }
        s.push_str("</tr>\n");
        for row in &r.rows {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td></tr>",
                escape(&row.target),
                escape(&row.protocol),
                escape(&row.variant),
                row.sent,
                row.received,
                num(row.msgs_per_s, 0),
                num(row.mb_per_s, 2),
                num(row.p50_ms, 3),
                num(row.p99_ms, 3),
                num(row.p999_ms, 3),
                row.lost,
                row.duplicated,
                escape(&row.note)
            );
        }
        s.push_str("</table>\n");
    }
    s.push_str("</body></html>\n");
    s
}

pub fn markdown(reports: &[ScenarioReport], command: &str) -> String {
    let mut s = String::from("# trident bench report\n\n");
    if let Some(first) = reports.first() {
        let m = &first.machine;
        let _ = write!(
            s,
            "Machine: {} CPUs, {:.1} GiB memory, {}.\n\nRegenerate with `{}`.\n\nVersions:\n\n",
            m.cpus,
            m.memory as f64 / (1u64 << 30) as f64,
            m.os,
            command
        );
        for (k, v) in &first.versions {
            let _ = writeln!(s, "- {k}: {v}");
        }
        s.push('\n');
    }
    for r in reports {
        let _ = write!(
            s,
            "## {0}\n\n{1}\n\n![{0}]({0}.svg)\n\n{2}\n",
            r.scenario,
            r.about,
            table::markdown(&r.rows)
        );
    }
    s
}

pub fn write(dir: &Path, reports: &[ScenarioReport], command: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let h = dir.join("report.html");
    std::fs::write(&h, html(reports, command))
        .with_context(|| format!("writing {}", h.display()))?;
    let m = dir.join("report.md");
    std::fs::write(&m, markdown(reports, command))
        .with_context(|| format!("writing {}", m.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::machine::Machine;
    use crate::row::Row;

    #[test]
    fn page_is_self_contained() {
        let r = ScenarioReport {
            scenario: "sink".into(),
            about: "the ceiling".into(),
            machine: Machine::this(),
            versions: [("trident".to_string(), "0.1.0".to_string())].into(),
            command: "trident bench sink".into(),
            rows: vec![Row::skipped("t", "amqp", "v", "why")],
        };
        let page = html(std::slice::from_ref(&r), "trident bench all --out x");
        assert!(page.contains("<svg"));
        assert!(page.contains("trident bench all --out x"));
        assert!(page.contains("<td>why</td>"));
        assert!(!page.contains("<script"));
        assert!(!page.contains("src="), "nothing loaded from elsewhere");
        let md = markdown(&[r], "cmd");
        assert!(md.contains("![sink](sink.svg)"));
        assert!(md.contains("| t | amqp | v |"));
    }
}
