//! The one clock that stored state is judged by: hold expiry, timers,
//! reminders and the store's timestamps. It is the system clock, plus an
//! offset that only a server started with `HERALD_TEST_CLOCK=1` lets
//! `herald test-clock advance DURATION` move (tests move time instead of
//! waiting; a production server refuses the command). The offset is kept
//! in the data directory (`test-clock-offset`), so time never goes back
//! across a restart of a test server.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

static OFFSET: AtomicI64 = AtomicI64::new(0);
static ENABLED: AtomicBool = AtomicBool::new(false);
static OFFSET_FILE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// File in the data directory that keeps the test clock's offset.
pub const OFFSET_FILE_NAME: &str = "test-clock-offset";

/// Environment variable that enables the test clock at server start.
pub const TEST_CLOCK_ENV: &str = "HERALD_TEST_CLOCK";

/// Read `HERALD_TEST_CLOCK` once, at start, and the offset a previous
/// run of the test server on `data_dir` left.
pub fn init_from_env(data_dir: &std::path::Path) {
    let on = std::env::var(TEST_CLOCK_ENV).is_ok_and(|v| v == "1");
    ENABLED.store(on, Ordering::Relaxed);
    if !on {
        return;
    }
    let file = data_dir.join(OFFSET_FILE_NAME);
    let kept = std::fs::read_to_string(&file)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(0);
    OFFSET.store(kept, Ordering::Relaxed);
    let _ = OFFSET_FILE.set(file);
}

/// Whether the test clock may be moved.
pub fn test_clock_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Move the clock forward by `seconds`; false when the test clock is off.
pub fn advance(seconds: i64) -> bool {
    if !test_clock_enabled() || seconds < 0 {
        return false;
    }
    let offset = OFFSET.fetch_add(seconds, Ordering::Relaxed) + seconds;
    if let Some(file) = OFFSET_FILE.get()
        && let Err(e) = std::fs::write(file, offset.to_string())
    {
        tracing::warn!("test clock: {}: {e}", file.display());
    }
    true
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp() + OFFSET.load(Ordering::Relaxed)
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis() + OFFSET.load(Ordering::Relaxed).saturating_mul(1000)
}

/// Now, as a date-time.
pub fn now_utc() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::seconds(OFFSET.load(Ordering::Relaxed))
}

/// An ISO 8601 duration (`PT10M`, `P3D`, `P1DT2H`, `PT3S`, `P1W`) in
/// seconds; None unless it is well formed and positive. Years and months
/// are refused (their length depends on the date).
pub fn parse_duration(s: &str) -> Option<i64> {
    let rest = s.strip_prefix('P')?;
    if rest.is_empty() {
        return None;
    }
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut total: i64 = 0;
    let mut add = |part: &str, units: &[(char, i64)]| -> Option<()> {
        let mut num = String::new();
        let mut last = 0usize;
        for c in part.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let i = units.iter().position(|(u, _)| *u == c)?;
            if num.is_empty() || i < last || num.len() > 9 {
                return None;
            }
            last = i + 1;
            let n: i64 = num.parse().ok()?;
            total = total.checked_add(n.checked_mul(units[i].1)?)?;
            num.clear();
        }
        num.is_empty().then_some(())
    };
    add(date, &[('W', 7 * 86_400), ('D', 86_400)])?;
    if let Some(t) = time {
        add(t, &[('H', 3600), ('M', 60), ('S', 1)])?;
    }
    (total > 0).then_some(total)
}

/// Seconds as an ISO 8601 duration (`PT3S`, `P3D`, `P1DT2H3M`).
pub fn format_duration(mut s: i64) -> String {
    let days = s / 86_400;
    s %= 86_400;
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if s > 0 || days == 0 {
        out.push('T');
        let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        if m > 0 {
            out.push_str(&format!("{m}M"));
        }
        if sec > 0 || (h == 0 && m == 0) {
            out.push_str(&format!("{sec}S"));
        }
    }
    out
}

/// A Unix time as RFC 3339 (`2026-03-10T14:00:00Z`).
pub fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT3S"), Some(3));
        assert_eq!(parse_duration("PT10M"), Some(600));
        assert_eq!(parse_duration("P3D"), Some(259_200));
        assert_eq!(parse_duration("P1DT2H"), Some(93_600));
        assert_eq!(parse_duration("P1W"), Some(604_800));
        for bad in [
            "", "P", "PT", "P1Y", "P1M", "PT0S", "3S", "PT1S2", "PTM", "P1H", "PT1M1H", "-PT1S",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        for s in [3, 600, 259_200, 93_780, 86_400, 3601] {
            assert_eq!(parse_duration(&format_duration(s)), Some(s));
        }
    }
}
