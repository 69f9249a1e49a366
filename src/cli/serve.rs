//! `herald serve`: open the store, create the first user on an empty
//! database, raise the file-descriptor limit, start the control socket and
//! the HTTP(S) server, and shut down on SIGINT/SIGTERM within the grace of
//! `server::SHUTDOWN_GRACE`.

use crate::auth::{Authenticator, generate_password, hash_password};
use crate::config::Config;
use crate::control;
use crate::server::{self, App};
use crate::store::{OpenError, Principal, Store};
use std::sync::Arc;
use std::time::Duration;

/// Name of the user created on first start.
pub const ADMIN_USER: &str = "admin";

async fn bootstrap(store: &Store) -> Result<(), String> {
    if !store.principals().map_err(|e| e.to_string())?.is_empty() {
        return Ok(());
    }
    let (password, generated) = match std::env::var("HERALD_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (generate_password(), true),
    };
    let p = Principal {
        name: ADMIN_USER.into(),
        password_hash: hash_password(&password)?,
        emails: vec!["mailto:admin@localhost".into()],
        displayname: Some("Administrator".into()),
        created: chrono::Utc::now().timestamp(),
        organizer: false,
    };
    store
        .create_principal(p, true)
        .await
        .map_err(|e| format!("cannot create the admin user: {e}"))?;
    if generated {
        println!("herald: created user '{ADMIN_USER}' with password: {password}");
        println!("herald: (printed once; change it with `herald user passwd {ADMIN_USER}`)");
    } else {
        println!("herald: created user '{ADMIN_USER}' (password from HERALD_ADMIN_PASSWORD)");
    }
    Ok(())
}

pub async fn serve(mut config: Config) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("herald=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let dir = config.server.data_dir.clone();
    crate::clock::init_from_env(&dir);
    let store = match Store::open(&dir) {
        Ok(s) => s,
        Err(OpenError::InUse) => {
            return Err(format!(
                "another herald process is using {}; stop it first",
                dir.display()
            ));
        }
        Err(e) => return Err(e.to_string()),
    };
    store.set_limits(&config.limits);
    bootstrap(&store).await?;
    crate::api::idempotency::release_interrupted(&store).await?;
    let fd_limit = crate::conn::raise_fd_limit();
    let limiter = crate::conn::Limiter::new(crate::conn::connection_cap(
        config.limits.max_connections,
        fd_limit,
    ));
    tracing::info!(
        "file-descriptor limit {}; at most {} connections",
        fd_limit.map_or_else(|| "unknown".to_string(), |l| l.to_string()),
        limiter.cap()
    );
    let addr = config.listen_addr()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if config.tls.cert.is_some() {
        "https"
    } else {
        "http"
    };
    config.imip.load_token_key(&dir)?;
    let imip = Arc::new(config.imip.clone());
    let control_task = tokio::spawn(control::serve(
        store.clone(),
        imip.clone(),
        control::socket_path(&dir),
    ));
    let lmtp_task = match &config.imip.lmtp_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("imip.lmtp_listen: cannot listen on {addr}: {e}"))?;
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            println!("herald: LMTP on {local}");
            Some(tokio::spawn(crate::lmtp::serve(
                listener,
                store.clone(),
                imip.clone(),
                crate::lmtp::Limits::from_config(&config.limits, limiter.clone()),
            )))
        }
        None => None,
    };
    if config.imip.sender_verification == "strict" && config.imip.trusted_authserv_ids.is_empty() {
        tracing::warn!(
            "imip: no trusted_authserv_ids and sender_verification = \"strict\": replies by email are refused until your MTA's authserv-id is configured"
        );
    }
    if config.smtp.is_configured() {
        tracing::info!(
            "mail is sent through {}:{} ({})",
            config.smtp.host,
            config.smtp.port,
            config.smtp.security
        );
    } else {
        let spool = dir.join(crate::delivery::SPOOL_DIR);
        tracing::warn!(
            "no [smtp] host configured: invitations are spooled to {}, not sent",
            spool.display()
        );
        eprintln!(
            "herald: warning: no [smtp] host configured; mail is spooled to {}, not sent",
            spool.display()
        );
    }
    let outbox_ready = Arc::new(tokio::sync::Notify::new());
    let worker = crate::delivery::Worker::new(
        store.clone(),
        config.smtp.clone(),
        config.imip.clone(),
        &dir,
        outbox_ready.clone(),
    );
    let worker_task = tokio::spawn(worker.run());
    let expiry_task = tokio::spawn(crate::api::idempotency::expire(
        store.clone(),
        crate::api::idempotency::ttl(&config),
        crate::api::idempotency::stale_after(&config),
    ));
    let app = Arc::new(App {
        outbox_ready,
        locks: Default::default(),
        auth: Authenticator::new(
            store.clone(),
            Duration::from_secs(config.server.auth_cache_seconds),
            config.limits.failed_logins_per_minute,
        ),
        store: store.clone(),
        config,
    });
    let timers_task = tokio::spawn(
        crate::timers::Worker::new(
            store.clone(),
            app.outbox_ready.clone(),
            app.config.limits.max_attendees_per_instance,
        )
        .run(),
    );
    let jobs_task = tokio::spawn(
        crate::jobs::Worker::new(
            store.clone(),
            crate::api::jobs::ApiSteps { app: app.clone() },
            crate::jobs::CHUNK,
        )
        .run(),
    );
    println!(
        "herald: listening on {scheme}://{local}/ (data in {})",
        dir.display()
    );
    let result = server::serve(app.clone(), listener, limiter, server::shutdown_signal()).await;
    control_task.abort();
    if let Some(t) = lmtp_task {
        t.abort();
    }
    worker_task.abort();
    let _ = worker_task.await;
    expiry_task.abort();
    jobs_task.abort();
    let _ = jobs_task.await;
    timers_task.abort();
    let _ = timers_task.await;
    let _ = std::fs::remove_file(control::socket_path(&dir));
    drop(app);
    store.close();
    tracing::info!("stopped");
    result
}
