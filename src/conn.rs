//! Connection admission and liveness for the TCP doors (HTTP and LMTP):
//!
//! - the soft file-descriptor limit is raised to the hard one at start, and
//!   open connections are capped below it (`limits.max_connections`, by
//!   default the limit minus [`FD_RESERVE`]) so the database, the control
//!   socket and outgoing mail always find a descriptor;
//! - at the cap, the connection idle the longest is closed to make room
//!   (idle connections cannot lock everyone out); when none is idle, the
//!   newcomer is closed at once;
//! - every connection is watched: closed when a request head takes longer
//!   than `limits.header_timeout_seconds` once begun, or when it sits idle
//!   (no request running, no byte moving) for `limits.idle_timeout_seconds`.
//!
//! Request bodies have their own whole-body deadline in `crate::caldav`.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Descriptors kept free below the limit for everything that is not a
/// client connection: the database file, listeners, the control socket and
/// its clients, SMTP connections, spool files, the runtime's own.
pub const FD_RESERVE: u64 = 128;
/// The automatic cap never exceeds this (memory, not descriptors, is then
/// the bound).
pub const MAX_AUTO_CONNECTIONS: u64 = 16_384;
/// The automatic cap never goes below this, whatever the limit says.
const MIN_AUTO_CONNECTIONS: u64 = 16;
/// How often a connection's deadlines are looked at, at most.
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// Raise the soft RLIMIT_NOFILE to the hard limit; returns the soft limit
/// now in force (None when it cannot be read).
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct given.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return None;
            }
            if lim.rlim_cur < lim.rlim_max {
                let want = libc::rlimit {
                    rlim_cur: lim.rlim_max,
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                    lim.rlim_cur = lim.rlim_max;
                }
            }
        }
        Some(lim.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The connection cap for `configured` (0 = automatic) under a soft
/// descriptor limit of `soft_limit`.
pub fn connection_cap(configured: usize, soft_limit: Option<u64>) -> usize {
    if configured > 0 {
        return configured;
    }
    let soft = soft_limit.unwrap_or(1024);
    soft.saturating_sub(FD_RESERVE)
        .clamp(MIN_AUTO_CONNECTIONS, MAX_AUTO_CONNECTIONS) as usize
}

/// One open connection, as the watchdog and the eviction see it.
pub struct Conn {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last byte moved or request finished.
    last: AtomicU64,
    /// 1 + milliseconds since `epoch` of the first byte of a request head
    /// still being read; 0 when none is.
    head_since: AtomicU64,
    /// Requests being handled (HTTP/2 may run several).
    in_flight: AtomicUsize,
    /// HTTP/2: control frames move between requests, so only the idle
    /// deadline applies once a request was seen (h2 bounds its own headers).
    multiplexed: AtomicBool,
    evict: Notify,
}

impl Conn {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn on_read(&self) {
        let now = self.now();
        self.last.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            let _ =
                self.head_since
                    .compare_exchange(0, now + 1, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    fn on_write(&self) {
        self.last.store(self.now(), Ordering::Relaxed);
    }

    /// Mark a request as running until the guard drops: the head is
    /// complete, and the connection is not idle meanwhile. `multiplexed`:
    /// the request came over HTTP/2.
    pub fn begin(self: &Arc<Self>, multiplexed: bool) -> RequestGuard {
        if multiplexed {
            self.multiplexed.store(true, Ordering::Relaxed);
        }
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_since.store(0, Ordering::Relaxed);
        self.on_write();
        RequestGuard(self.clone())
    }

    /// None when the connection is past a deadline; otherwise how long to
    /// wait before looking again.
    pub fn check(&self, header: Duration, idle: Duration) -> Option<Duration> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Some(CHECK_EVERY);
        }
        let now = self.now();
        let header = header.as_millis() as u64;
        let idle = idle.as_millis() as u64;
        let head = self.head_since.load(Ordering::Relaxed);
        let mut left = idle.saturating_sub(now.saturating_sub(self.last.load(Ordering::Relaxed)));
        if head > 0 {
            left = left.min(header.saturating_sub(now.saturating_sub(head - 1)));
        }
        if left == 0 {
            return None;
        }
        Some(Duration::from_millis(left).min(CHECK_EVERY))
    }

    /// Resolves when the limiter chose this connection to make room.
    pub async fn evicted(&self) {
        self.evict.notified().await
    }

    fn idle_since(&self) -> Option<u64> {
        (self.in_flight.load(Ordering::Relaxed) == 0).then(|| self.last.load(Ordering::Relaxed))
    }
}

/// Keeps a request counted as running.
pub struct RequestGuard(Arc<Conn>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.on_write();
    }
}

/// The cap and the registry of open connections.
pub struct Limiter {
    permits: Arc<Semaphore>,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
    epoch: Instant,
    cap: usize,
}

/// A connection let in: holds its place under the cap until dropped.
pub struct Admission {
    pub conn: Arc<Conn>,
    id: u64,
    limiter: Arc<Limiter>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Ok(mut conns) = self.limiter.conns.lock() {
            conns.remove(&self.id);
        }
    }
}

impl Limiter {
    pub fn new(cap: usize) -> Arc<Limiter> {
        Arc::new(Limiter {
            permits: Arc::new(Semaphore::new(cap.max(1))),
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
            cap: cap.max(1),
        })
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Let a new connection in, closing the longest-idle one if the cap is
    /// reached; None when every connection is busy.
    pub async fn admit(self: &Arc<Self>) -> Option<Admission> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if !self.evict_one() {
                    return None;
                }
                let wait = self.permits.clone().acquire_owned();
                match tokio::time::timeout(Duration::from_millis(200), wait).await {
                    Ok(Ok(p)) => p,
                    _ => return None,
                }
            }
        };
        let conn = Arc::new(Conn {
            epoch: self.epoch,
            last: AtomicU64::new(self.epoch.elapsed().as_millis() as u64),
            head_since: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            multiplexed: AtomicBool::new(false),
            evict: Notify::new(),
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut conns) = self.conns.lock() {
            conns.insert(id, conn.clone());
        }
        Some(Admission {
            conn,
            id,
            limiter: self.clone(),
            _permit: permit,
        })
    }

    /// Ask the connection idle the longest to close; false when none is idle.
    fn evict_one(&self) -> bool {
        let Ok(mut conns) = self.conns.lock() else {
            return false;
        };
        let oldest = conns
            .iter()
            .filter_map(|(id, c)| c.idle_since().map(|t| (t, *id)))
            .min();
        match oldest.and_then(|(_, id)| conns.remove(&id)) {
            Some(c) => {
                c.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A stream that tells its [`Conn`] when bytes move.
pub struct Tracked<T> {
    inner: T,
    conn: Arc<Conn>,
}

impl<T> Tracked<T> {
    pub fn new(inner: T, conn: Arc<Conn>) -> Self {
        Tracked { inner, conn }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.on_read();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.on_write();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.conn.on_write();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_cap() {
        assert_eq!(connection_cap(0, Some(1024)), 896);
        assert_eq!(connection_cap(0, Some(100)), 16);
        assert_eq!(connection_cap(0, Some(1 << 20)), 16_384);
        assert_eq!(connection_cap(50, Some(1024)), 50);
    }

    #[tokio::test]
    async fn idle_connection_makes_room_busy_one_does_not() {
        let l = Limiter::new(1);
        let a = l.admit().await.unwrap();
        let guard = a.conn.begin(false);
        assert!(l.admit().await.is_none(), "a busy connection is kept");
        drop(guard);
        let waiter = a.conn.clone();
        let closer = tokio::spawn(async move {
            waiter.evicted().await;
            drop(a);
        });
        assert!(l.admit().await.is_some(), "an idle one makes room");
        closer.await.unwrap();
    }

    #[test]
    fn deadlines() {
        let l = Limiter::new(4);
        let c = Arc::new(Conn {
            epoch: l.epoch,
            last: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            multiplexed: AtomicBool::new(false),
            evict: Notify::new(),
        });
        std::thread::sleep(Duration::from_millis(30));
        assert!(
            c.check(Duration::from_secs(5), Duration::from_millis(10))
                .is_none()
        );
        c.on_read();
        assert!(
            c.check(Duration::from_secs(5), Duration::from_secs(5))
                .is_some()
        );
        std::thread::sleep(Duration::from_millis(30));
        c.on_read();
        assert!(
            c.check(Duration::from_millis(20), Duration::from_secs(5))
                .is_none()
        );
        let g = c.begin(false);
        assert!(
            c.check(Duration::from_millis(1), Duration::from_millis(1))
                .is_some()
        );
        drop(g);
    }
}
