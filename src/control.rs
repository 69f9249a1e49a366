//! The local control socket: `herald user ...`, `herald import` and
//! `herald export` talk to a running `herald serve` through a Unix socket in
//! the data directory (owner-only), because redb admits one process at a
//! time. When no server runs, the command opens the database itself and
//! runs the same `execute` function.
//!
//! Protocol: one JSON `Request` per connection, one JSON `Reply` back.

use crate::config::ImipConfig;
use crate::ical;
use crate::store::{CalendarObjectMeta, OutboxState, Principal, Store, StoreError, resource_name};
use base64ct::{Base64, Encoding};
use std::sync::Arc;

fn unix(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// File name of the socket inside the data directory.
pub const SOCKET_FILE: &str = "control.sock";
/// Largest request accepted on the socket (an import batch).
const MAX_REQUEST_BYTES: u64 = 64 * 1024 * 1024;

/// Encode a message for `Request::Ingest`.
pub fn encode_message(raw: &[u8]) -> String {
    Base64::encode_string(raw)
}

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    UserAdd {
        name: String,
        emails: Vec<String>,
        password_hash: String,
    },
    UserList,
    UserPasswd {
        name: String,
        password_hash: String,
    },
    UserDelete {
        name: String,
    },
    /// Calendar objects, one VCALENDAR text each (already split by UID).
    Import {
        user: String,
        calendar: String,
        objects: Vec<String>,
    },
    Export {
        user: String,
        calendar: String,
    },
    /// One inbound message (base64) for `herald ingest`; the reply is
    /// "EXIT-CODE<TAB>outcome".
    Ingest {
        message: String,
        recipients: Vec<String>,
    },
    OutboxList,
    /// Make one entry (or every failed one) due now.
    OutboxRetry {
        id: Option<u64>,
    },
    /// Remove sent and failed entries.
    OutboxPurge,
    /// `herald organizer add`: a principal for an application.
    OrganizerAdd {
        name: String,
        emails: Vec<String>,
        display_name: Option<String>,
        /// Empty: no password (tokens only).
        password_hash: String,
    },
    /// Store a token the CLI made; only its hash crosses the socket.
    TokenCreate {
        principal: String,
        label: Option<String>,
        id: String,
        hash: String,
    },
    TokenList,
    TokenRevoke {
        id: String,
    },
    /// Store a feed token the CLI made for a user's calendar.
    FeedCreate {
        user: String,
        calendar: String,
        id: String,
        hash: String,
    },
    FeedList {
        user: Option<String>,
    },
    FeedRevoke {
        id: String,
    },
    /// `herald test-clock advance`: only honoured by a server started with
    /// `HERALD_TEST_CLOCK=1`.
    ClockAdvance {
        seconds: i64,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    Ok(String),
    Err(String),
}

fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        && !name.starts_with('.')
}

/// Addresses as `mailto:` URIs, each with a local part and a domain.
fn mailto_addresses(emails: &[String]) -> Result<Vec<String>, String> {
    emails
        .iter()
        .map(|e| {
            let bare = e.trim().trim_start_matches("mailto:");
            match bare.split_once('@') {
                Some((l, d))
                    if !l.is_empty() && !d.is_empty() && !bare.contains(char::is_whitespace) =>
                {
                    Ok(format!("mailto:{}", bare.to_lowercase()))
                }
                _ => Err(format!("'{e}' is not an email address")),
            }
        })
        .collect()
}

fn calendar_path(slug: &str) -> String {
    format!("{}/", slug.trim_matches('/'))
}

/// Run one control request against the store.
pub async fn execute(store: &Store, imip: &ImipConfig, req: Request) -> Reply {
    match run(store, imip, req).await {
        Ok(s) => Reply::Ok(s),
        Err(e) => Reply::Err(e),
    }
}

async fn run(store: &Store, imip: &ImipConfig, req: Request) -> Result<String, String> {
    let err = |e: StoreError| e.to_string();
    match req {
        Request::UserAdd {
            name,
            emails,
            password_hash,
        } => {
            if !valid_user_name(&name) {
                return Err(format!(
                    "invalid user name '{name}': use letters, digits, '-', '_', '.', '@'"
                ));
            }
            let p = Principal {
                name: name.clone(),
                password_hash,
                emails: emails
                    .iter()
                    .map(|e| crate::store::normalize_address(e))
                    .collect(),
                displayname: None,
                created: chrono::Utc::now().timestamp(),
                organizer: false,
            };
            match store.create_principal(p, true).await {
                Ok(()) => Ok(format!("user {name} created with calendar 'default'")),
                Err(StoreError::AlreadyExists) => Err(format!(
                    "user {name} or one of its addresses already exists"
                )),
                Err(e) => Err(e.to_string()),
            }
        }
        Request::UserList => {
            let mut out = String::new();
            for p in store.principals().map_err(err)? {
                let emails: Vec<&str> = p
                    .emails
                    .iter()
                    .map(|e| e.strip_prefix("mailto:").unwrap_or(e))
                    .collect();
                out.push_str(&format!("{}\t{}\n", p.name, emails.join(",")));
            }
            Ok(out)
        }
        Request::UserPasswd {
            name,
            password_hash,
        } => match store.set_password(&name, password_hash).await {
            Ok(()) => Ok(format!("password of {name} changed")),
            Err(StoreError::NotFound) => Err(format!("no user named {name}")),
            Err(e) => Err(e.to_string()),
        },
        Request::UserDelete { name } => match store.delete_principal(&name).await {
            Ok(()) => Ok(format!("user {name} deleted with all their data")),
            Err(StoreError::NotFound) => Err(format!("no user named {name}")),
            Err(e) => Err(e.to_string()),
        },
        Request::Import {
            user,
            calendar,
            objects,
        } => {
            let mut batch = Vec::with_capacity(objects.len());
            let mut refused = Vec::new();
            for text in objects {
                match ical::parse_object(&text) {
                    Ok(info) => batch.push((
                        format!("{}.ics", resource_name(&info.uid)),
                        text.into_bytes(),
                        CalendarObjectMeta {
                            uid: info.uid,
                            component: info.kind.as_str().to_string(),
                            index: info.index,
                        },
                    )),
                    Err(e) => refused.push(e.to_string()),
                }
            }
            let n = match store.import(&user, &calendar_path(&calendar), batch).await {
                Ok(n) => n,
                Err(StoreError::NotFound) => {
                    return Err(format!("user {user} has no calendar '{calendar}'"));
                }
                Err(e) => return Err(e.to_string()),
            };
            let mut msg = format!("{n}");
            for r in refused {
                msg.push_str(&format!("\nskipped an object: {r}"));
            }
            Ok(msg)
        }
        Request::Ingest {
            message,
            recipients,
        } => {
            let raw = Base64::decode_vec(&message).map_err(|_| "bad ingest request".to_string())?;
            let outcome = crate::engine::apply_mail(store, imip, &raw, &recipients).await;
            Ok(format!("{}\t{outcome}", exit_code(&outcome)))
        }
        Request::OutboxList => {
            let mut out = String::new();
            for e in store.outbox_list().map_err(err)? {
                let state = match e.state {
                    OutboxState::Pending { due } => format!("pending (due {})", unix(due)),
                    OutboxState::Sent { at } => format!("sent {}", unix(at)),
                    OutboxState::Failed { at } => format!("failed {}", unix(at)),
                };
                let m = &e.message;
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\tattempts={}\t{}{}\n",
                    e.id,
                    m.method,
                    m.recipient.strip_prefix("mailto:").unwrap_or(&m.recipient),
                    m.uid,
                    e.attempts,
                    state,
                    e.last_error.map(|x| format!("\t{x}")).unwrap_or_default()
                ));
            }
            Ok(out)
        }
        Request::OutboxRetry { id } => {
            let n = store.outbox_retry(id).await.map_err(err)?;
            Ok(format!("{n} message(s) queued again\n"))
        }
        Request::OutboxPurge => {
            let n = store.outbox_purge().await.map_err(err)?;
            Ok(format!("{n} sent or failed message(s) removed\n"))
        }
        Request::OrganizerAdd {
            name,
            emails,
            display_name,
            password_hash,
        } => {
            if !valid_user_name(&name) {
                return Err(format!(
                    "invalid organizer name '{name}': use letters, digits, '-', '_', '.', '@'"
                ));
            }
            let emails = mailto_addresses(&emails)?;
            let p = Principal {
                name: name.clone(),
                password_hash,
                emails,
                displayname: display_name,
                created: chrono::Utc::now().timestamp(),
                organizer: true,
            };
            match store.create_principal(p, true).await {
                Ok(()) => Ok(format!("organizer {name} created")),
                Err(StoreError::AlreadyExists) => {
                    Err(format!("{name} or one of its addresses already exists"))
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Request::TokenCreate {
            principal,
            label,
            id,
            hash,
        } => {
            let token = crate::store::ApiToken {
                id: id.clone(),
                principal: principal.clone(),
                label,
                created: chrono::Utc::now().timestamp(),
            };
            match store.token_add(hash, token).await {
                Ok(()) => Ok(format!("token {id} created for {principal}")),
                Err(StoreError::NotFound) => Err(format!("no principal named {principal}")),
                Err(e) => Err(e.to_string()),
            }
        }
        Request::TokenList => {
            let mut out = String::new();
            for t in store.tokens().map_err(err)? {
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\n",
                    t.id,
                    t.principal,
                    unix(t.created),
                    t.label.unwrap_or_default()
                ));
            }
            Ok(out)
        }
        Request::TokenRevoke { id } => match store.token_revoke(&id).await {
            Ok(()) => Ok(format!("token {id} revoked")),
            Err(StoreError::NotFound) => Err(format!("no token with id {id}")),
            Err(e) => Err(e.to_string()),
        },
        Request::FeedCreate {
            user,
            calendar,
            id,
            hash,
        } => {
            let path = calendar_path(&calendar);
            if store
                .node(&user, &path)
                .map_err(err)?
                .and_then(|n| n.calendar().cloned())
                .is_none()
            {
                return Err(format!("user {user} has no calendar '{calendar}'"));
            }
            let feed = crate::store::Feed {
                id: id.clone(),
                user: user.clone(),
                calendar: path,
                created: chrono::Utc::now().timestamp(),
            };
            store.feed_add(hash, feed).await.map_err(err)?;
            Ok(format!("feed {id} created for {user}/{calendar}"))
        }
        Request::FeedList { user } => {
            let mut out = String::new();
            for f in store.feeds(user.as_deref()).map_err(err)? {
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\n",
                    f.id,
                    f.user,
                    f.calendar.trim_end_matches('/'),
                    unix(f.created)
                ));
            }
            Ok(out)
        }
        Request::FeedRevoke { id } => match store.feed_revoke(&id, None).await {
            Ok(()) => Ok(format!("feed {id} revoked")),
            Err(StoreError::NotFound) => Err(format!("no feed with id {id}")),
            Err(e) => Err(e.to_string()),
        },
        Request::ClockAdvance { seconds } => {
            if crate::clock::advance(seconds) {
                crate::timers::wake();
                Ok(format!(
                    "clock at {}",
                    crate::clock::rfc3339(crate::clock::now())
                ))
            } else {
                Err(format!(
                    "the test clock is off: start herald serve with {}=1",
                    crate::clock::TEST_CLOCK_ENV
                ))
            }
        }
        Request::Export { user, calendar } => {
            let path = calendar_path(&calendar);
            let node = store
                .node(&user, &path)
                .map_err(err)?
                .filter(|n| n.calendar().is_some())
                .ok_or_else(|| format!("user {user} has no calendar '{calendar}'"))?;
            let paths: Vec<String> = store
                .children(&user, &path)
                .map_err(err)?
                .into_iter()
                .map(|(p, _)| p)
                .collect();
            let objects = store.resources(&user, &paths).map_err(err)?;
            let texts: Vec<String> = objects
                .iter()
                .map(|(_, _, b)| String::from_utf8_lossy(b).into_owned())
                .collect();
            Ok(ical::merge_calendars(
                texts.iter().map(String::as_str),
                node.displayname.as_deref(),
            ))
        }
    }
}

/// Serve control requests until the task is dropped.
pub async fn serve(store: Store, imip: Arc<ImipConfig>, path: PathBuf) -> std::io::Result<()> {
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    loop {
        // Never give up on an accept error (EMFILE under a connection
        // flood would otherwise end the control socket for good).
        let mut stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!("control socket: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let (store, imip) = (store.clone(), imip.clone());
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let read = (&mut stream)
                .take(MAX_REQUEST_BYTES)
                .read_to_end(&mut buf)
                .await;
            let reply = match read
                .map_err(|e| e.to_string())
                .and_then(|_| serde_json::from_slice::<Request>(&buf).map_err(|e| e.to_string()))
            {
                Ok(req) => execute(&store, &imip, req).await,
                Err(e) => Reply::Err(format!("bad control request: {e}")),
            };
            if let Ok(bytes) = serde_json::to_vec(&reply) {
                let _ = stream.write_all(&bytes).await;
            }
        });
    }
}

/// Send a request to a running server. None when no server listens.
pub async fn send(data_dir: &Path, req: &Request) -> Option<Result<Reply, String>> {
    let mut stream = UnixStream::connect(socket_path(data_dir)).await.ok()?;
    Some(
        async {
            let bytes = serde_json::to_vec(req).map_err(|e| e.to_string())?;
            stream.write_all(&bytes).await.map_err(|e| e.to_string())?;
            stream.shutdown().await.map_err(|e| e.to_string())?;
            let mut buf = Vec::new();
            stream
                .read_to_end(&mut buf)
                .await
                .map_err(|e| e.to_string())?;
            serde_json::from_slice(&buf).map_err(|e| format!("bad reply from the server: {e}"))
        }
        .await,
    )
}

/// sysexits(3) for `herald ingest`: 0 processed or ignored, 65 EX_DATAERR,
/// 75 EX_TEMPFAIL (the MTA tries again).
fn exit_code(outcome: &crate::engine::Outcome) -> u8 {
    use crate::engine::Outcome;
    match outcome {
        Outcome::DataError(_) => 65,
        Outcome::TempFail(_) => 75,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_user_name("alice"));
        assert!(!valid_user_name("a/b"));
        assert!(!valid_user_name(".."));
    }
}
