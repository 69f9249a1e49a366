//! WebDAV locking (RFC 4918 sections 6, 7, 9.10, 9.11, 10.4): exclusive and
//! shared write locks of Depth 0 or infinity, kept in memory (section 6.1:
//! a server may lose its locks on restart), the `If` header, and the one
//! check every write method passes through ([`check`], called from the
//! dispatcher): it costs an atomic load when no lock exists and no `If`
//! header was sent.

mod if_header;

use super::error::{DavError, DavResult, Precondition};
use super::path::{self, Target};
use super::xml::{self, escape};
use super::{Ctx, Resp, xml_response};
use crate::store::{PutRequest, ScheduleTag, parent_path};
use hyper::StatusCode;
use hyper::header::HeaderValue;
use if_header::Cond;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Timeout given when the client asks for none (RFC 4918 section 10.7).
pub const DEFAULT_TIMEOUT_SECS: u64 = 600;
/// Longest timeout granted, `Infinite` included.
pub const MAX_TIMEOUT_SECS: u64 = 3600;
/// Most live locks one user may hold.
const MAX_LOCKS_PER_USER: usize = 1000;

/// DAV:supportedlock of every lockable resource (RFC 4918 section 15.10).
pub const SUPPORTED_LOCK: &str = "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope>\
<D:locktype><D:write/></D:locktype></D:lockentry>\
<D:lockentry><D:lockscope><D:shared/></D:lockscope>\
<D:locktype><D:write/></D:locktype></D:lockentry>";

/// One active lock.
#[derive(Debug, Clone)]
struct Lock {
    /// `urn:uuid:` URI (RFC 4918 section 6.5).
    token: String,
    /// The home the lock is in.
    home: String,
    /// The user who created the lock: the only one who may use or remove it.
    creator: String,
    /// Lock root as a path in the home (collections end with '/').
    root: String,
    infinite: bool,
    exclusive: bool,
    /// DAV:owner as sent, standalone XML.
    owner: Option<String>,
    timeout: u64,
    expires: Instant,
}

impl Lock {
    /// Whether this lock applies to `key` (a path without trailing '/').
    fn covers(&self, home: &str, key: &str) -> bool {
        self.home == home
            && (key_of(&self.root) == key || self.infinite && under(key, key_of(&self.root)))
    }

    fn activelock(&self, now: Instant) -> String {
        let left = self.expires.saturating_duration_since(now).as_secs().max(1);
        format!(
            "<D:activelock><D:locktype><D:write/></D:locktype>\
<D:lockscope><D:{}/></D:lockscope><D:depth>{}</D:depth>{}\
<D:timeout>Second-{left}</D:timeout>\
<D:locktoken><D:href>{}</D:href></D:locktoken>\
<D:lockroot><D:href>{}</D:href></D:lockroot></D:activelock>",
            if self.exclusive {
                "exclusive"
            } else {
                "shared"
            },
            if self.infinite { "infinity" } else { "0" },
            self.owner.as_deref().unwrap_or(""),
            escape(&self.token),
            escape(&path::node_href(&self.home, &self.root)),
        )
    }
}

/// A path in a home without its trailing '/'.
fn key_of(path: &str) -> &str {
    path.trim_end_matches('/')
}

/// Whether `key` is strictly below `root` (both without trailing '/').
fn under(key: &str, root: &str) -> bool {
    if root.is_empty() {
        return !key.is_empty();
    }
    key.len() > root.len() && key.starts_with(root) && key.as_bytes()[root.len()] == b'/'
}

/// The lock table of the server.
#[derive(Default)]
pub struct Locks {
    /// Number of locks in `table` (expired ones included until purged):
    /// zero means no request needs to look further.
    count: AtomicUsize,
    table: Mutex<Vec<Lock>>,
}

impl Locks {
    fn is_empty(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    /// Run `f` on the table with expired locks removed.
    fn with<R>(&self, f: impl FnOnce(&mut Vec<Lock>) -> R) -> R {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        t.retain(|l| l.expires > now);
        let r = f(&mut t);
        self.count.store(t.len(), Ordering::Release);
        r
    }

    /// DAV:lockdiscovery of a resource: its active locks.
    pub fn discovery(&self, home: &str, path: &str) -> String {
        if self.is_empty() {
            return String::new();
        }
        let now = Instant::now();
        self.with(|t| {
            t.iter()
                .filter(|l| l.covers(home, key_of(path)))
                .map(|l| l.activelock(now))
                .collect()
        })
    }

    /// Forget the locks rooted at or below `path` (after DELETE or MOVE).
    fn remove_under(&self, home: &str, path: &str) {
        if self.is_empty() {
            return;
        }
        let key = key_of(path);
        self.with(|t| {
            t.retain(|l| {
                let root = key_of(&l.root);
                !(l.home == home && (root == key || under(root, key)))
            })
        });
    }
}

/// All `If` header values, joined (a client may send several).
fn if_value(ctx: &Ctx<'_>) -> Option<String> {
    let mut vals = ctx.headers.get_all("if").iter().peekable();
    vals.peek()?;
    let parts: Vec<&str> = vals.filter_map(|v| v.to_str().ok()).collect();
    Some(parts.join(" "))
}

/// Evaluate the lists of an `If` header (RFC 4918 section 10.4): true when
/// one list holds for its resource.
fn evaluate(ctx: &Ctx<'_>, home: &str, path: &str, lists: &[if_header::List]) -> DavResult<bool> {
    for list in lists {
        let (h, p) = match &list.tag {
            None => (home.to_string(), path.to_string()),
            Some(tag) => match path::href_target(tag) {
                Ok(Target::Node { user, path }) => (user, path),
                _ => continue,
            },
        };
        let mut etag: Option<Option<String>> = None;
        let mut holds = true;
        for (not, cond) in &list.conds {
            let value = match cond {
                Cond::Token(t) => {
                    !ctx.app.locks.is_empty()
                        && ctx
                            .app
                            .locks
                            .with(|tb| tb.iter().any(|l| &l.token == t && l.covers(&h, key_of(&p))))
                }
                Cond::ETag(e) => {
                    if etag.is_none() {
                        let found = if h == home {
                            ctx.find_node(&h, &p)?.map(|(_, n)| n.etag)
                        } else {
                            None
                        };
                        etag = Some(found);
                    }
                    matches!(&etag, Some(Some(cur)) if cur == e && !e.starts_with("W/"))
                }
            };
            if value == *not {
                holds = false;
                break;
            }
        }
        if holds {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The lock and `If` check of a write method (PUT, DELETE, PROPPATCH,
/// MKCOL, MKCALENDAR, COPY, MOVE, LOCK, UNLOCK), before its handler runs:
/// 412 when the `If` header does not hold, 423 with DAV:lock-token-submitted
/// when a lock protecting what the method changes was not submitted by its
/// creator.
pub fn check(ctx: &Ctx<'_>, method: &str) -> DavResult<()> {
    let header = if_value(ctx);
    let locked = !ctx.app.locks.is_empty();
    if header.is_none() && !locked {
        return Ok(());
    }
    let Target::Node { user, path } = &ctx.target else {
        return Ok(());
    };
    let lists = match &header {
        Some(h) => if_header::parse(h)
            .map_err(|why| DavError::bad_request(format!("invalid If header: {why}")))?,
        None => Vec::new(),
    };
    if header.is_some() && !evaluate(ctx, user, path, &lists)? {
        return Err(DavError::status(
            StatusCode::PRECONDITION_FAILED,
            "the If header does not hold",
        ));
    }
    if !locked {
        return Ok(());
    }
    // (path, whether a binding in its parent changes, whether members go too)
    let mut changed: Vec<(String, bool, bool)> = Vec::new();
    let exists = || ctx.find_node(user, path).map(|n| n.is_some());
    match method {
        "PUT" | "MKCOL" | "MKCALENDAR" => changed.push((path.clone(), !exists()?, false)),
        "LOCK" if !ctx.body.is_empty() && !exists()? => changed.push((path.clone(), true, false)),
        "PROPPATCH" => changed.push((path.clone(), false, false)),
        "DELETE" => changed.push((path.clone(), true, true)),
        "COPY" | "MOVE" => {
            if method == "MOVE" {
                changed.push((path.clone(), true, true));
            }
            if let Some(Ok(Target::Node { user: u, path: p })) =
                ctx.header("destination").map(path::href_target)
                && &u == user
            {
                changed.push((p, true, true));
            }
        }
        _ => {}
    }
    if changed.is_empty() {
        return Ok(());
    }
    let submitted: Vec<&str> = if_header::tokens(&lists).collect();
    let blocking = ctx.app.locks.with(|t| {
        t.iter()
            .find(|l| {
                let usable = l.creator == ctx.user && submitted.contains(&l.token.as_str());
                !usable
                    && changed.iter().any(|(p, binding, deep)| {
                        let key = key_of(p);
                        let root = key_of(&l.root);
                        l.covers(user, key)
                            || *binding
                                && l.home == *user
                                && parent_path(p).is_some_and(|pp| key_of(pp) == root)
                            || *deep && l.home == *user && under(root, key)
                    })
            })
            .map(|l| path::node_href(&l.home, &l.root))
    });
    match blocking {
        None => Ok(()),
        Some(href) => Err(DavError::Precondition {
            condition: Precondition::LockTokenSubmitted,
            inner: Some(format!("<D:href>{}</D:href>", escape(&href))),
            detail: format!("{href} is locked"),
        }),
    }
}

/// After a write succeeded: locks do not survive their resource (DELETE,
/// the source of a MOVE).
pub fn after(ctx: &Ctx<'_>, method: &str) {
    if let ("DELETE" | "MOVE", Target::Node { user, path }) = (method, &ctx.target) {
        ctx.app.locks.remove_under(user, path);
    }
}

/// The granted timeout for a `Timeout` header (RFC 4918 section 10.7).
fn timeout(header: Option<&str>) -> u64 {
    let Some(h) = header else {
        return DEFAULT_TIMEOUT_SECS;
    };
    for t in h.split(',').map(str::trim) {
        if t.eq_ignore_ascii_case("infinite") {
            return MAX_TIMEOUT_SECS;
        }
        if let Some(n) = t
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("second-"))
            .and_then(|_| t[7..].parse::<u64>().ok())
        {
            return n.clamp(1, MAX_TIMEOUT_SECS);
        }
    }
    DEFAULT_TIMEOUT_SECS
}

fn new_token() -> DavResult<String> {
    let mut b = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .map_err(|_| DavError::Internal("no randomness for a lock token".into()))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

fn discovery_response(status: StatusCode, body: &str, token: Option<&str>) -> Resp {
    let mut resp = xml_response(
        status,
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:prop xmlns:D=\"DAV:\"><D:lockdiscovery>{body}</D:lockdiscovery></D:prop>"
        ),
    );
    if let Some(t) = token
        && let Ok(v) = HeaderValue::from_str(&format!("<{t}>"))
    {
        resp.headers_mut().insert("lock-token", v);
    }
    resp
}

/// LOCK (RFC 4918 section 9.10): a new lock, or a refresh when there is no body.
pub async fn lock(ctx: &Ctx<'_>) -> DavResult<Resp> {
    let (user, path) = ctx.node_target()?;
    let secs = timeout(ctx.header("timeout"));
    let Some(info) = xml::parse_lockinfo(&ctx.body)? else {
        return refresh(ctx, user, path, secs);
    };
    let infinite = match ctx.depth(None)? {
        None => true,
        Some(0) => false,
        Some(_) => return Err(DavError::bad_request("LOCK Depth must be 0 or infinity")),
    };
    let found = ctx.find_node(user, path)?;
    let root = match &found {
        Some((p, _)) => p.clone(),
        None if path.is_empty() || path.ends_with('/') => {
            return Err(DavError::status(
                StatusCode::CONFLICT,
                "a LOCK on an unmapped URL creates an empty resource, not a collection",
            ));
        }
        None => path.to_string(),
    };
    let lock = Lock {
        token: new_token()?,
        home: user.to_string(),
        creator: ctx.user.clone(),
        root: root.clone(),
        infinite,
        exclusive: info.exclusive,
        owner: info.owner,
        timeout: secs,
        expires: Instant::now() + Duration::from_secs(secs),
    };
    let key = key_of(&root).to_string();
    ctx.app.locks.with(|t| {
        let conflict = t.iter().find(|l| {
            (l.exclusive || lock.exclusive)
                && (l.covers(user, &key)
                    || infinite && l.home == user && under(key_of(&l.root), &key))
        });
        if let Some(l) = conflict {
            let href = path::node_href(&l.home, &l.root);
            return Err(DavError::Precondition {
                condition: Precondition::NoConflictingLock,
                inner: Some(format!("<D:href>{}</D:href>", escape(&href))),
                detail: format!("{href} is locked"),
            });
        }
        if t.iter().filter(|l| l.creator == lock.creator).count() >= MAX_LOCKS_PER_USER {
            return Err(DavError::status(
                StatusCode::INSUFFICIENT_STORAGE,
                format!("at most {MAX_LOCKS_PER_USER} locks per user"),
            ));
        }
        t.push(lock.clone());
        Ok(())
    })?;
    let created = if found.is_none() {
        match create_empty(ctx, user, &root).await {
            Ok(()) => true,
            Err(e) => {
                ctx.app.locks.with(|t| t.retain(|l| l.token != lock.token));
                return Err(e);
            }
        }
    } else {
        false
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(discovery_response(
        status,
        &lock.activelock(Instant::now()),
        Some(&lock.token),
    ))
}

/// The empty resource a LOCK on an unmapped URL creates (section 7.3).
async fn create_empty(ctx: &Ctx<'_>, user: &str, path: &str) -> DavResult<()> {
    let parent = ctx.app.store.node(user, parent_path(path).unwrap_or(""))?;
    if parent.as_ref().is_some_and(|n| {
        n.calendar().is_some() || n.collection().is_some_and(|c| c.schedule.is_some())
    }) {
        return Err(DavError::forbidden(
            "a calendar collection holds calendar objects only, not empty resources",
        ));
    }
    let req = PutRequest {
        body: Vec::new(),
        content_type: "application/octet-stream".into(),
        if_match: None,
        if_none_match_any: true,
        if_schedule_tag: None,
        calendar: None,
        schedule_tag: ScheduleTag::None,
        outbox: Vec::new(),
        seats_wanted: 0,
        policy: None,
    };
    ctx.app.store.put(user, path, req).await?;
    Ok(())
}

/// A LOCK without a body: the submitted locks that cover the resource get
/// a new timeout.
fn refresh(ctx: &Ctx<'_>, user: &str, path: &str, secs: u64) -> DavResult<Resp> {
    let Some(h) = if_value(ctx) else {
        return Err(DavError::bad_request(
            "a LOCK without a body refreshes a lock and needs an If header with its token",
        ));
    };
    let lists = if_header::parse(&h)
        .map_err(|why| DavError::bad_request(format!("invalid If header: {why}")))?;
    let submitted: Vec<&str> = if_header::tokens(&lists).collect();
    let now = Instant::now();
    let body: String = ctx.app.locks.with(|t| {
        t.iter_mut()
            .filter(|l| {
                l.creator == ctx.user
                    && submitted.contains(&l.token.as_str())
                    && l.covers(user, key_of(path))
            })
            .map(|l| {
                l.timeout = secs;
                l.expires = now + Duration::from_secs(secs);
                l.activelock(now)
            })
            .collect()
    });
    if body.is_empty() {
        return Err(DavError::precondition(
            Precondition::LockTokenSubmitted,
            "no submitted lock token of yours covers this resource",
        ));
    }
    Ok(discovery_response(StatusCode::OK, &body, None))
}

/// UNLOCK (RFC 4918 section 9.11).
pub async fn unlock(ctx: &Ctx<'_>) -> DavResult<Resp> {
    let (user, path) = ctx.node_target()?;
    let token = ctx
        .header("lock-token")
        .map(|t| {
            t.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim()
                .to_string()
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| DavError::bad_request("UNLOCK needs a Lock-Token header"))?;
    let key = key_of(path).to_string();
    ctx.app.locks.with(|t| {
        let Some(i) = t
            .iter()
            .position(|l| l.token == token && l.covers(user, &key))
        else {
            return Err(DavError::precondition(
                Precondition::LockTokenMatchesRequestUri,
                "no such lock on this resource",
            ));
        };
        if t[i].creator != ctx.user {
            return Err(DavError::precondition(
                Precondition::NeedPrivileges,
                "only the creator of a lock may remove it",
            ));
        }
        t.remove(i);
        Ok(())
    })?;
    Ok(super::empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(timeout(None), DEFAULT_TIMEOUT_SECS);
        assert_eq!(timeout(Some("Second-3600")), 3600);
        assert_eq!(timeout(Some("Second-99999")), MAX_TIMEOUT_SECS);
        assert_eq!(
            timeout(Some("Infinite, Second-4100000000")),
            MAX_TIMEOUT_SECS
        );
        assert_eq!(timeout(Some("Second-0")), 1);
        assert_eq!(timeout(Some("bogus")), DEFAULT_TIMEOUT_SECS);
    }

    #[test]
    fn coverage() {
        let l = Lock {
            token: "t".into(),
            home: "u".into(),
            creator: "u".into(),
            root: "c/".into(),
            infinite: true,
            exclusive: true,
            owner: None,
            timeout: 1,
            expires: Instant::now(),
        };
        assert!(l.covers("u", "c"));
        assert!(l.covers("u", "c/a.txt"));
        assert!(!l.covers("u", "cd/a.txt"));
        assert!(!l.covers("v", "c"));
        let shallow = Lock {
            infinite: false,
            ..l
        };
        assert!(!shallow.covers("u", "c/a.txt"));
        assert!(under("a", ""));
        assert!(!under("", ""));
    }

    #[test]
    fn tokens_are_uuid_urns() {
        let t = new_token().unwrap();
        assert!(t.starts_with("urn:uuid:") && t.len() == 45, "{t}");
        assert_ne!(t, new_token().unwrap());
    }
}
