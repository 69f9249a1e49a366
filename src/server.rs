//! The front door: binds the listener, optionally wraps connections in TLS
//! (rustls), serves HTTP/1.1 and HTTP/2 with hyper, hands every request to
//! the CalDAV handler, and shuts down gracefully on SIGINT/SIGTERM:
//! in-flight requests get [`SHUTDOWN_GRACE`] to finish, then the server
//! stops regardless (see `arm_forced_exit`). Admission and connection
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
}

/// How long in-flight requests get to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// After the grace, this long to close the database before the process
/// exits whatever still runs (a thread stuck in a computation included).
const FORCED_EXIT_AFTER: Duration = Duration::from_secs(3);
/// Largest request head (request line and headers) read, in bytes.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Start a plain thread that ends the process [`SHUTDOWN_GRACE`] +
/// [`FORCED_EXIT_AFTER`] from now: the promise that SIGTERM stops the
/// server within its grace must hold even when a request occupies every
/// runtime thread (the runtime cannot be dropped while one is busy).
pub fn arm_forced_exit() {
    let _ = std::thread::Builder::new()
        .name("herald-exit".into())
        .spawn(|| {
            std::thread::sleep(SHUTDOWN_GRACE + FORCED_EXIT_AFTER);
            eprintln!("herald: still busy after the shutdown grace; exiting now");
            std::process::exit(0);
        });
}

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

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
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
            let guard = conn_state.begin();
            async move {
                let resp = caldav::handle(&app, req, peer.ip()).await;
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
