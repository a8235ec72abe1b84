//! What a run writes: the table on stdout, and with `--out DIR` the JSON and SVG of each
//! scenario, and for `all` one HTML page and one Markdown page holding them all.

pub mod html;
pub mod json;
pub mod machine;
pub mod svg;
pub mod table;

use serde::Serialize;

use crate::row::Row;

/// One scenario's results, as `DIR/SCENARIO.json` holds them.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub scenario: String,
    /// The one sentence saying what the scenario demonstrates.
    pub about: String,
    pub machine: machine::Machine,
    pub versions: std::collections::BTreeMap<String, String>,
    /// The command that regenerates this file.
    pub command: String,
    pub rows: Vec<Row>,
}
