//! `DIR/SCENARIO.json` and `DIR/SCENARIO.svg`.

use std::path::Path;

use anyhow::Context;

use super::{ScenarioReport, svg};

pub fn write(dir: &Path, report: &ScenarioReport) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let json = dir.join(format!("{}.json", report.scenario));
    let text = serde_json::to_string_pretty(report).context("encoding the JSON")?;
    std::fs::write(&json, text + "\n").with_context(|| format!("writing {}", json.display()))?;
    let chart = dir.join(format!("{}.svg", report.scenario));
    std::fs::write(&chart, svg::chart(report))
        .with_context(|| format!("writing {}", chart.display()))?;
    Ok(())
}
