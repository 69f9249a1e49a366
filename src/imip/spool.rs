//! The spool folder used when no SMTP host is configured, and the retry
//! back-off of failed deliveries.

use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::message::check_message_id;
use super::{ImipError, SmtpConfig};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `dir/<message_id>.eml` atomically (temporary file, fsync, rename);
/// writing the same id again replaces the file, so one file remains.
pub fn spool(dir: &Path, message_id: &str, message: &[u8]) -> Result<PathBuf, ImipError> {
    check_message_id(message_id)?;
    let io = |what: &str, p: &Path, e: std::io::Error| {
        ImipError::Io(format!("{what} {}: {e}", p.display()))
    };
    crate::private_fs::create_dir(dir).map_err(|e| io("creating", dir, e))?;
    let target = dir.join(format!("{message_id}.eml"));
    let temp = dir.join(format!(
        ".{message_id}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = crate::private_fs::file_options()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(message)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(io("writing", &temp, e));
    }
    if let Err(e) = std::fs::rename(&temp, &target) {
        let _ = std::fs::remove_file(&temp);
        return Err(io("renaming to", &target, e));
    }
    Ok(target)
}

/// Exponential back-off with jitter for attempt `attempt` (1-based):
/// min(retry_max, retry_base * 2^(n-1)) * random(0.5..1.0) seconds.
pub fn retry_delay(config: &SmtpConfig, attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(63);
    let grown = config.retry_base_seconds.saturating_mul(1u64 << exp);
    let cap = grown.min(config.retry_max_seconds);
    Duration::try_from_secs_f64(cap as f64 * (0.5 + 0.5 * unit_random()))
        .unwrap_or(Duration::from_secs(cap))
}

/// A number in [0, 1) from the randomly keyed std hasher (no rand crate).
fn unit_random() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(TEMP_COUNTER.fetch_add(1, Ordering::Relaxed));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}
