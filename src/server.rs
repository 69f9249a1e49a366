//! The front door: binds the listener, optionally wraps connections in TLS
//! (rustls), serves HTTP/1.1 and HTTP/2 with hyper, hands every request to
//! the REST API (`crate::api`, for `/api/` and `/feeds/`) or the CalDAV handler, and shuts down gracefully on SIGINT/SIGTERM:
//! in-flight requests get [`SHUTDOWN_GRACE`] to finish, then the server
//! stops regardless (signals are caught on a thread of their own, which
//! ends the process soon after the grace if the runtime cannot). Admission and connection
//! deadlines live in `crate::conn`.

use crate::auth::Authenticator;
use crate::caldav;
use crate::config::Config;
use crate::conn::{Admission, Limiter, Tracked};
use crate::store::Store;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Everything a request handler needs, shared by all connections.
pub struct App {
    pub store: Store,
    pub auth: Authenticator,
    pub config: Config,
    /// Wakes the outbox worker after a write queued messages.
    pub outbox_ready: Arc<tokio::sync::Notify>,
    /// WebDAV write locks (in memory; RFC 4918 section 6.1 lets them go on restart).
    pub locks: crate::caldav::lock::Locks,
}

/// How long in-flight requests get to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// After the grace, this long to close the database before the process
/// exits whatever still runs (a thread stuck in a computation included):
/// SIGTERM ends herald within 12 s.
const FORCED_EXIT_AFTER: Duration = Duration::from_secs(2);
/// Largest request head (request line and headers) read, in bytes.
const MAX_HEAD_BYTES: usize = 64 * 1024;

fn tls_acceptor(config: &Config) -> Result<Option<TlsAcceptor>, String> {
    let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) else {
        return Ok(None);
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("tls.cert {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls.cert {}: {e}", cert.display()))?;
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("tls.key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls: {e}"))?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(server))))
}

/// Write end of the pipe the signal handler writes to (-1: none).
#[cfg(unix)]
static SIGNAL_PIPE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

#[cfg(unix)]
extern "C" fn on_signal(_: libc::c_int) {
    let fd = SIGNAL_PIPE.load(std::sync::atomic::Ordering::Relaxed);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; one byte from a live buffer.
        unsafe {
            libc::write(fd, (&byte as *const u8).cast(), 1);
        }
    }
}

/// Catch SIGINT and SIGTERM on a plain thread (not on the runtime, whose
/// threads a request may all occupy): the first one wakes `notify` and
/// ends the process [`SHUTDOWN_GRACE`] + [`FORCED_EXIT_AFTER`] later
/// whatever still runs; a second one ends it at once. False when the
/// handlers cannot be installed.
#[cfg(unix)]
fn catch_signals(notify: Arc<tokio::sync::Notify>) -> bool {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills the two descriptors; sigaction gets a zeroed,
    // then filled, struct and a handler that only calls write(2).
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return false;
        }
        SIGNAL_PIPE.store(fds[1], std::sync::atomic::Ordering::Relaxed);
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        for sig in [libc::SIGINT, libc::SIGTERM] {
            if libc::sigaction(sig, &action, std::ptr::null_mut()) != 0 {
                return false;
            }
        }
    }
    let read_fd = fds[0];
    let wait_signal = move || loop {
        let mut byte = 0u8;
        // SAFETY: reads one byte into a live buffer from our own pipe.
        let n = unsafe { libc::read(read_fd, (&mut byte as *mut u8).cast(), 1) };
        if n == 1 {
            return true;
        }
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return false;
    };
    std::thread::Builder::new()
        .name("herald-signals".into())
        .spawn(move || {
            if !wait_signal() {
                return;
            }
            notify.notify_one();
            let _ = std::thread::Builder::new()
                .name("herald-exit".into())
                .spawn(|| {
                    std::thread::sleep(SHUTDOWN_GRACE + FORCED_EXIT_AFTER);
                    eprintln!("herald: still busy after the shutdown grace; exiting now");
                    std::process::exit(0);
                });
            if wait_signal() {
                eprintln!("herald: second signal; exiting now");
                std::process::exit(0);
            }
        })
        .is_ok()
}

/// Resolves when SIGINT or SIGTERM arrives; from then on the process ends
/// within [`SHUTDOWN_GRACE`] + [`FORCED_EXIT_AFTER`] even if requests
/// occupy every runtime thread.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let notify = Arc::new(tokio::sync::Notify::new());
    #[cfg(unix)]
    let caught = catch_signals(notify.clone());
    #[cfg(not(unix))]
    let caught = false;
    async move {
        if caught {
            notify.notified().await;
        } else {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// What every connection task needs besides the request handler.
#[derive(Clone)]
struct ConnSettings {
    header_timeout: Duration,
    idle_timeout: Duration,
    shutdown: watch::Receiver<bool>,
    /// Dropped by each task when it ends; `serve` waits for all of them.
    _alive: mpsc::Sender<()>,
}

/// Serve until `shutdown` resolves, then drain connections for at most
/// [`SHUTDOWN_GRACE`].
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    limiter: Arc<Limiter>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    let tls = tls_acceptor(&app.config)?;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The request head must fit here (hyper answers 431 otherwise); it
    // also bounds what one connection buffers before anyone is authenticated.
    builder.http1().max_buf_size(MAX_HEAD_BYTES);
    let limits = &app.config.limits;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let settings = ConnSettings {
        header_timeout: Duration::from_secs(limits.header_timeout_seconds),
        idle_timeout: Duration::from_secs(limits.idle_timeout_seconds),
        shutdown: stop_rx,
        _alive: alive_tx,
    };
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(admission) = limiter.admit().await else {
            tracing::warn!(
                "{} connections, all busy: closing the one from {peer}",
                limiter.cap()
            );
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = Tracked::new(stream, admission.conn.clone());
        let conn_state = admission.conn.clone();
        let app = app.clone();
        let service = service_fn(move |req| {
            let app = app.clone();
            let guard = conn_state.begin(req.version() == hyper::Version::HTTP_2);
            async move {
                let resp = if crate::api::owns(req.uri().path()) {
                    crate::api::handle(&app, req, peer.ip()).await
                } else {
                    caldav::handle(&app, req, peer.ip()).await
                };
                drop(guard);
                Ok::<_, std::convert::Infallible>(resp)
            }
        });
        let builder = builder.clone();
        let tls = tls.clone();
        let settings = settings.clone();
        tokio::spawn(async move {
            match tls {
                None => run_connection(&builder, io, service, admission, settings, peer).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(settings.header_timeout, acceptor.accept(io));
                    match handshake.await {
                        Ok(Ok(stream)) => {
                            run_connection(&builder, stream, service, admission, settings, peer)
                                .await
                        }
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: waiting for in-flight requests");
    let _ = stop_tx.send(true);
    drop(settings);
    tokio::select! {
        _ = alive_rx.recv() => {}
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still running after {SHUTDOWN_GRACE:?}; closing anyway");
        }
    }
    Ok(())
}

/// Serve one connection until it ends, is evicted, passes a deadline, or
/// the server stops (then: finish the running requests, take no new ones).
async fn run_connection<I, S>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    service: S,
    admission: Admission,
    mut settings: ConnSettings,
    peer: std::net::SocketAddr,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = caldav::Resp,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .into_owned();
    tokio::pin!(conn);
    let watch = admission.conn.clone();
    let mut stopping = *settings.shutdown.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let wait = match watch.check(settings.header_timeout, settings.idle_timeout) {
            Some(d) => d,
            None => {
                tracing::debug!("connection from {peer}: closed (header or idle timeout)");
                return;
            }
        };
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!("connection from {peer}: {e}");
                }
                return;
            }
            _ = watch.evicted() => {
                tracing::debug!("connection from {peer}: closed to make room");
                return;
            }
            _ = settings.shutdown.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
