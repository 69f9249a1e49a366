//! CPU-heavy request work (reports that parse or expand many objects,
//! free/busy, validating a PUT body) runs here, on tokio's blocking
//! threads, so the async workers stay free for everyone else's requests.
//! At most one report per core runs at a time (the rest wait, cheaply and
//! cancellably); when the client goes away the request future is dropped,
//! which raises the job's cancellation flag, and the job's loops stop at
//! their next check.

use super::error::{DavError, DavResult, Precondition};
use crate::ical::OutputError;
use hyper::StatusCode;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Semaphore;

/// Stored objects a heavy job reads at a time: its memory holds this many
/// bodies (at most max-resource-size each), not a whole calendar.
pub const LOAD_CHUNK: usize = 64;

/// Permits for concurrent heavy jobs: one per core.
fn permits() -> &'static Semaphore {
    static SEM: OnceLock<Semaphore> = OnceLock::new();
    SEM.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        Semaphore::new(n.max(2))
    })
}

/// Raises the flag when dropped (the request future went away).
struct RaiseOnDrop(Arc<AtomicBool>);

impl Drop for RaiseOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Run `job` on a blocking thread, one per core at most, handing it a flag
/// that is raised if the request is abandoned.
pub async fn heavy<T, F>(job: F) -> DavResult<T>
where
    T: Send + 'static,
    F: FnOnce(&AtomicBool) -> T + Send + 'static,
{
    let permit = permits()
        .acquire()
        .await
        .map_err(|_| DavError::Internal("the work pool is closed".into()))?;
    // The permit goes with the job: it is released when the job ends, even
    // if the request is abandoned before.
    blocking(move |cancelled| {
        let _permit = permit;
        job(cancelled)
    })
    .await
}

/// Run `job` on a blocking thread (not counted against the report permits:
/// for bounded work such as validating one PUT body).
pub async fn blocking<T, F>(job: F) -> DavResult<T>
where
    T: Send + 'static,
    F: FnOnce(&AtomicBool) -> T + Send + 'static,
{
    let flag = Arc::new(AtomicBool::new(false));
    // Raised when this future is dropped, or harmlessly after the job ended.
    let _guard = RaiseOnDrop(flag.clone());
    tokio::task::spawn_blocking(move || job(&flag))
        .await
        .map_err(|e| DavError::Internal(format!("a request job failed: {e}")))
}

/// The answer to output that could not be produced within its limits.
pub fn output_error(e: OutputError, what: &str) -> DavError {
    match e {
        OutputError::Invalid(e) => {
            DavError::Internal(format!("stored object {what} does not render: {e}"))
        }
        OutputError::TooManyInstances(_) | OutputError::TooLarge(_) => DavError::precondition(
            Precondition::NumberOfMatchesWithinLimits,
            format!("{what}: {e}"),
        ),
        OutputError::Cancelled => {
            DavError::status(StatusCode::REQUEST_TIMEOUT, "the client went away")
        }
    }
}
