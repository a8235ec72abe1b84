//! A hand-written SVG bar chart: one horizontal bar per row (messages per second, the
//! x axis), the row's label on the left and its p99 at the bar's end. No scripts, so
//! that it renders inline in the HTML report, on GitHub and in any viewer.

use std::fmt::Write;

use super::ScenarioReport;

const LEFT: f64 = 330.0;
const PLOT: f64 = 520.0;
const BAR: f64 = 16.0;
const GAP: f64 = 6.0;
const TOP: f64 = 46.0;

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A "nice" axis maximum (1, 2 or 5 times a power of ten) at or above `x`.
fn nice_max(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(x.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * p >= x {
            return m * p;
        }
    }
    10.0 * p
}

fn human(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.0}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

pub fn chart(r: &ScenarioReport) -> String {
    let max = nice_max(
        r.rows
            .iter()
            .filter_map(|row| row.msgs_per_s)
            .fold(0.0, f64::max),
    );
    let n = r.rows.len().max(1) as f64;
    let plot_h = n * (BAR + GAP);
    let width = LEFT + PLOT + 170.0;
    let height = TOP + plot_h + 56.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        s,
        r##"<rect width="100%" height="100%" fill="#fff"/><text x="10" y="20" font-size="15" font-weight="bold">{}</text><text x="10" y="36" fill="#555">{}</text>"##,
        escape(&format!("trident bench {}", r.scenario)),
        escape(&r.about)
    );
    // Grid and x-axis ticks.
    for i in 0..=5 {
        let v = max * f64::from(i) / 5.0;
        let x = LEFT + PLOT * f64::from(i) / 5.0;
        let _ = write!(
            s,
            r##"<line x1="{x}" y1="{TOP}" x2="{x}" y2="{}" stroke="#ddd"/><text x="{x}" y="{}" text-anchor="middle">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 16.0,
            human(v)
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{}" stroke="#000"/><line x1="{LEFT}" y1="{}" x2="{}" y2="{}" stroke="#000"/>"##,
        TOP + plot_h,
        TOP + plot_h,
        LEFT + PLOT,
        TOP + plot_h
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">throughput (messages per second)</text>"#,
        LEFT + PLOT / 2.0,
        TOP + plot_h + 34.0
    );
    let _ = write!(
        s,
        r#"<text transform="translate(14 {}) rotate(-90)" text-anchor="middle">target / protocol / variant</text>"#,
        TOP + plot_h / 2.0
    );
    let colours = [
        "#3b6fb6", "#d9822b", "#3a9b5c", "#a34ea3", "#c0392b", "#7f8c8d",
    ];
    let mut targets: Vec<&str> = Vec::new();
    for (i, row) in r.rows.iter().enumerate() {
        let y = TOP + i as f64 * (BAR + GAP) + GAP / 2.0;
        let t = targets
            .iter()
            .position(|t| *t == row.target)
            .unwrap_or_else(|| {
                targets.push(&row.target);
                targets.len() - 1
            });
        let label = format!("{} {} {}", row.target, row.protocol, row.variant);
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            y + BAR - 4.0,
            escape(&label)
        );
        match row.msgs_per_s.filter(|_| row.ran) {
            Some(v) => {
                let w = (v / max * PLOT).max(1.0);
                let _ = write!(
                    s,
                    r#"<rect x="{LEFT}" y="{y}" width="{w:.1}" height="{BAR}" fill="{}"><title>{}</title></rect>"#,
                    colours[t % colours.len()],
                    escape(&format!("{label}: {v:.0} msg/s"))
                );
                let p99 = row
                    .p99_ms
                    .map(|p| format!(", p99 {p:.2} ms"))
                    .unwrap_or_default();
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{}">{}{}</text>"#,
                    LEFT + w + 4.0,
                    y + BAR - 4.0,
                    human(v),
                    escape(&p99)
                );
            }
            None => {
                let _ = write!(
                    s,
                    r##"<text x="{}" y="{}" fill="#999">skipped: {}</text>"##,
                    LEFT + 4.0,
                    y + BAR - 4.0,
                    escape(&row.note.chars().take(70).collect::<String>())
                );
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::machine::Machine;
    use crate::row::Row;

    #[test]
    fn nice_axis() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(130_000.0), 200_000.0);
        assert_eq!(nice_max(40.0), 50.0);
        assert_eq!(nice_max(1000.0), 1000.0);
    }

    #[test]
    fn chart_has_axes_units_and_bars() {
        let mut ran = Row::skipped("trident", "amqp", "a<b", "");
        ran.ran = true;
        ran.msgs_per_s = Some(12_345.0);
        ran.p99_ms = Some(1.5);
        let r = ScenarioReport {
            scenario: "sink".into(),
            about: "about".into(),
            machine: Machine::this(),
            versions: Default::default(),
            command: "trident bench sink".into(),
            rows: vec![ran, Row::skipped("x", "kafka", "v", "no kafka:// URL")],
        };
        let svg = chart(&r);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("messages per second"));
        assert!(svg.contains("a&lt;b"), "labels are escaped");
        assert!(svg.contains("p99 1.50 ms"));
        assert!(svg.contains("skipped: no kafka:// URL"));
        assert!(!svg.contains("<script"));
        assert_eq!(svg.matches("<rect").count(), 2, "background and one bar");
    }
}
