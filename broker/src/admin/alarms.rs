//! `trident alarms status|set-memory-watermark|set-disk-limit`, over the management
//! API's `/api/nodes/{node}` (docs/management-api.md).

use serde_json::{Value, json};

use super::args::{AlarmsCmd, Format};
use super::client::segment;
use super::{AdminError, Ctx, pretty};

pub(super) fn execute(ctx: &Ctx<'_>, cmd: AlarmsCmd) -> Result<String, AdminError> {
    // The API addresses the node by name; a broker is one node, listed first.
    let nodes = ctx.get("/api/nodes")?;
    let node = nodes
        .get(0)
        .and_then(|n| n.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| AdminError::Refused {
            status: 500,
            reason: "the broker listed no node".into(),
        })?
        .to_string();
    let base = format!("/api/nodes/{}", segment(&node));
    match cmd {
        AlarmsCmd::Status => {}
        AlarmsCmd::SetMemoryWatermark { value } => {
            let body = memory_body(&value).map_err(AdminError::Input)?;
            ctx.call(
                "PUT",
                &format!("{base}/vm_memory_high_watermark"),
                Some(&body),
            )?;
        }
        AlarmsCmd::SetDiskLimit {
            value,
            mem_relative,
        } => {
            let body = if mem_relative {
                let m: f64 = value.trim().parse().map_err(|_| {
                    AdminError::Input(format!("--mem-relative expects a number, got {value:?}"))
                })?;
                json!({ "mem_relative": m })
            } else {
                json!({ "absolute": parse_size(&value).map_err(AdminError::Input)? })
            };
            ctx.call("PUT", &format!("{base}/disk_free_limit"), Some(&body))?;
        }
    }
    // What holds now, after the change (the broker re-evaluated the alarm).
    let n = ctx.get(&base)?;
    Ok(match ctx.format {
        Format::Json => pretty(&n),
        Format::Table => status_text(&n),
    })
}

/// A fraction needs a decimal point ("1.0" is all the memory, "1" one byte), so that
/// an amount is never mistaken for one.
fn memory_body(value: &str) -> Result<Value, String> {
    let v = value.trim();
    if v.contains('.') && v.chars().all(|c| c.is_ascii_digit() || c == '.') {
        let f: f64 = v
            .parse()
            .map_err(|_| format!("{value:?} is not a fraction"))?;
        return Ok(json!({ "relative": f }));
    }
    Ok(json!({ "absolute": parse_size(v)? }))
}

/// An amount of bytes with RabbitMQ's units: kB/MB/GB/TB are powers of 1000,
/// k/K/KiB, M/MiB, G/GiB, T/TiB powers of 1024; none means bytes.
pub(super) fn parse_size(value: &str) -> Result<u64, String> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let n: u64 = digits.parse().map_err(|_| {
        format!("{value:?} is not an amount of bytes (e.g. 1073741824, 1GB, 512MiB)")
    })?;
    if unit.starts_with('.') {
        return Err(format!(
            "{value:?}: an amount is a whole number of bytes or of a unit (1536MB, not 1.5GB)"
        ));
    }
    let factor: u64 = match unit.trim() {
        "" => 1,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "k" | "K" | "KiB" | "kiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        other => return Err(format!("unknown unit {other:?} in {value:?}")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("{value:?} is too large"))
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

fn status_text(n: &Value) -> String {
    let num = |k: &str| n.get(k).and_then(Value::as_u64).unwrap_or(0);
    let flag = |k: &str| {
        if n.get(k).and_then(Value::as_bool).unwrap_or(false) {
            "RAISED"
        } else {
            "clear"
        }
    };
    let limit = |bytes: u64, set: Option<&Value>| {
        if bytes == 0 {
            return "off".to_string();
        }
        let how = set
            .and_then(Value::as_object)
            .and_then(|o| o.iter().next())
            .filter(|(k, _)| k.as_str() != "absolute")
            .map(|(k, v)| format!(" ({k} {v})"))
            .unwrap_or_default();
        format!("{}{how}", human(bytes))
    };
    let disk_free = if n.get("disk_free_limit").and_then(Value::as_u64) == Some(0)
        && num("disk_free") == u64::MAX
    {
        "unmeasured".to_string()
    } else {
        human(num("disk_free"))
    };
    format!(
        "node {}\nmemory  used {:<12} watermark {:<24} alarm {}\ndisk    free {:<12} limit     {:<24} alarm {}\n",
        n.get("name").and_then(Value::as_str).unwrap_or(""),
        human(num("mem_used")),
        limit(num("mem_limit"), n.get("vm_memory_high_watermark")),
        flag("mem_alarm"),
        disk_free,
        limit(num("disk_free_limit"), n.get("disk_free_limit_setting")),
        flag("disk_free_alarm"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_rabbitmq_units() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("1.5GB").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("10 parsecs").is_err());
        assert!(parse_size("99999999999TB").is_err());
    }

    #[test]
    fn a_fraction_needs_a_decimal_point() {
        assert_eq!(memory_body("0.4"), Ok(json!({ "relative": 0.4 })));
        assert_eq!(memory_body("1.0"), Ok(json!({ "relative": 1.0 })));
        assert_eq!(memory_body("1"), Ok(json!({ "absolute": 1 })));
        assert_eq!(
            memory_body("1GB"),
            Ok(json!({ "absolute": 1_000_000_000u64 }))
        );
        assert!(memory_body("0.4.1").is_err());
    }
}
