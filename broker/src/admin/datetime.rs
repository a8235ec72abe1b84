//! `--to-datetime` values as kafka-consumer-groups takes them:
//! `YYYY-MM-DDTHH:mm:SS[.sss][Z|+HH:MM|-HH:MM]`, UTC when no offset is given.

/// Milliseconds since the Unix epoch, or why the text is not such a date.
pub fn parse_ms(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid date-time {s:?}: expected YYYY-MM-DDTHH:mm:SS[.sss][Z|+HH:MM]");
    let (date, time) = s.split_once('T').ok_or_else(bad)?;
    let mut d = date.split('-');
    let year: i64 = d.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let month: i64 = d.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let day: i64 = d.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    if d.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(bad());
    }
    // Split off a zone: Z, or +HH:MM / -HH:MM after the seconds.
    let (clock, offset_min) = if let Some(c) = time.strip_suffix('Z') {
        (c, 0)
    } else if let Some(i) = time.rfind(['+', '-']) {
        let (c, z) = time.split_at(i);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (h, m) = z[1..].split_once(':').ok_or_else(bad)?;
        let h: i64 = h.parse().map_err(|_| bad())?;
        let m: i64 = m.parse().map_err(|_| bad())?;
        (c, sign * (h * 60 + m))
    } else {
        (time, 0)
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, "0"));
    let mut t = hms.split(':');
    let hour: i64 = t.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let minute: i64 = t.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let second: i64 = t.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    if t.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return Err(bad());
    }
    let frac = format!("{frac:0<3}");
    let millis: i64 = frac.get(..3).and_then(|f| f.parse().ok()).ok_or_else(bad)?;
    let days = days_from_civil(year, month, day);
    Ok((((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + millis - offset_min * 60_000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_style_datetimes() {
        assert_eq!(parse_ms("1970-01-01T00:00:00"), Ok(0));
        assert_eq!(parse_ms("2026-12-07T16:30:00.250Z"), Ok(1_796_661_000_250));
        assert_eq!(parse_ms("2026-12-07T17:30:00+01:00"), Ok(1_796_661_000_000));
        assert!(parse_ms("yesterday").is_err());
        assert!(parse_ms("2026-13-01T00:00:00").is_err());
    }
}
