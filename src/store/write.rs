//! Write operations. Each is a closure run by the group-commit writer inside
//! a shared transaction; each checks every precondition before its first
//! write (see writer.rs for why).

use super::Store;
use super::error::{Result, StoreError};
use super::jobs::JobStep;
use super::model::*;
use super::read::normalize_address;
use super::tables::*;
use redb::{Database, ReadableTable, WriteTransaction};

pub(super) fn create_tables(db: &Database) -> Result<()> {
    let txn = db.begin_write()?;
    txn.open_table(PRINCIPALS)?;
    txn.open_table(ADDRESSES)?;
    txn.open_table(NODES)?;
    txn.open_table(BODIES)?;
    txn.open_table(BODY_PIECES)?;
    txn.open_table(TIME_INDEX)?;
    txn.open_table(UIDS)?;
    txn.open_table(SYNC_LOG)?;
    txn.open_table(USAGE)?;
    txn.open_table(COUNTERS)?;
    txn.open_table(OUTBOX)?;
    txn.open_table(OUTBOX_DUE)?;
    txn.open_table(INGESTED)?;
    txn.open_table(HISTORY)?;
    txn.open_table(API_TOKENS)?;
    txn.open_table(API_TOKEN_IDS)?;
    txn.open_table(FEEDS)?;
    txn.open_table(FEED_IDS)?;
    txn.open_table(IDEMPOTENCY)?;
    txn.open_table(JOBS)?;
    txn.open_table(POLICIES)?;
    txn.open_table(HOLDS)?;
    txn.open_table(TIMERS)?;
    txn.open_table(INVITES)?;
    txn.commit()?;
    Ok(())
}

/// Unix seconds now: the clock of every record the store writes.
pub(super) fn now() -> i64 {
    crate::clock::now()
}

/// Transaction helpers shared by the operations below.
pub(super) struct W<'a>(pub(super) &'a WriteTransaction);

impl W<'_> {
    pub(super) fn node(&self, key: &str) -> Result<Option<Node>> {
        let t = self.0.open_table(NODES)?;
        let v = t.get(key)?;
        match v {
            Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
            None => Ok(None),
        }
    }

    pub(super) fn put_node(&self, key: &str, node: &Node) -> Result<()> {
        let bytes = serde_json::to_vec(node)?;
        self.0.open_table(NODES)?.insert(key, bytes.as_slice())?;
        Ok(())
    }

    pub(super) fn next(&self, counter: &str) -> Result<u64> {
        let mut t = self.0.open_table(COUNTERS)?;
        let n = t.get(counter)?.map(|v| v.value()).unwrap_or(0) + 1;
        t.insert(counter, n)?;
        Ok(n)
    }

    pub(super) fn new_etag(&self) -> Result<String> {
        Ok(format!("\"{:x}\"", self.next(ETAG_COUNTER)?))
    }

    /// Refuse (before any write) an operation that would take `user` past
    /// `quota` by adding `delta` bytes; shrinking is always allowed.
    pub(super) fn check_quota(&self, user: &str, delta: i64, quota: u64) -> Result<()> {
        if delta <= 0 {
            return Ok(());
        }
        let t = self.0.open_table(USAGE)?;
        let cur = t.get(user)?.map(|v| v.value()).unwrap_or(0);
        if cur.saturating_add(delta as u64) > quota {
            return Err(StoreError::QuotaExceeded);
        }
        Ok(())
    }

    pub(super) fn add_usage(&self, user: &str, delta: i64) -> Result<()> {
        let mut t = self.0.open_table(USAGE)?;
        let cur = t.get(user)?.map(|v| v.value()).unwrap_or(0);
        t.insert(user, cur.saturating_add_signed(delta))?;
        Ok(())
    }

    /// Record a change of member `name` in the collection at `coll_key` and
    /// return its change number; drops the member's previous log entry.
    fn log_change(&self, coll_key: &str, name: &str, old_seq: u64, deleted: bool) -> Result<u64> {
        let mut coll_node = self.node(coll_key)?.ok_or(StoreError::ParentMissing)?;
        let NodeKind::Collection(coll) = &mut coll_node.kind else {
            return Err(StoreError::ParentMissing);
        };
        coll.sync_seq += 1;
        let (id, seq) = (coll.id, coll.sync_seq);
        coll_node.modified = now();
        self.put_node(coll_key, &coll_node)?;
        let mut log = self.0.open_table(SYNC_LOG)?;
        if old_seq > 0 {
            log.remove((id, old_seq))?;
        }
        let entry = format!("{} {name}", if deleted { 'D' } else { 'U' });
        log.insert((id, seq), entry.as_str())?;
        Ok(seq)
    }

    /// The properties of the collection at `path` changed: its parent's
    /// sync log reports it as changed (RFC 6578), with one entry per name.
    fn log_collection_change(&self, user: &str, path: &str) -> Result<()> {
        let Some(parent) = parent_path(path) else {
            return Ok(());
        };
        let parent_key = node_key(user, parent);
        let name = member_name(path);
        if let Some(id) = self
            .node(&parent_key)?
            .and_then(|n| n.collection().map(|c| c.id))
        {
            let (u, d) = (format!("U {name}"), format!("D {name}"));
            self.0
                .open_table(SYNC_LOG)?
                .retain_in((id, 0)..=(id, u64::MAX), |_, v| v != u && v != d)?;
        }
        self.log_change(&parent_key, name, 0, false)?;
        Ok(())
    }

    /// Write a resource at `key` (parent must exist and be a collection);
    /// an event's seats are recounted from `body`.
    pub(super) fn write_resource(
        &self,
        user: &str,
        key: &str,
        node: Node,
        body: &[u8],
        cal: Option<&CalendarObjectMeta>,
        old: Option<&Node>,
    ) -> Result<()> {
        self.store_resource(user, key, node, body, cal, old)?;
        if cal.is_some() {
            self.seats_after_write(user, key, body)?;
        }
        Ok(())
    }

    /// [`Self::write_resource`] of an event whose change adds guests
    /// taking `seats` seats (and removes none): counted, not recounted.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_counted(
        &self,
        user: &str,
        key: &str,
        node: Node,
        body: &[u8],
        cal: &CalendarObjectMeta,
        old: &Node,
        seats: u32,
    ) -> Result<()> {
        self.store_resource(user, key, node, body, Some(cal), Some(old))?;
        self.seats_added(key, seats)
    }

    fn store_resource(
        &self,
        user: &str,
        key: &str,
        mut node: Node,
        body: &[u8],
        cal: Option<&CalendarObjectMeta>,
        old: Option<&Node>,
    ) -> Result<()> {
        let path = &key[user.len() + 1..];
        let parent = node_key(user, parent_path(path).unwrap_or(""));
        let name = member_name(path);
        let old_res = old.and_then(Node::resource);
        let mut uids = self.0.open_table(UIDS)?;
        if let Some(old_uid) = old_res.and_then(|r| r.uid.as_deref()) {
            uids.remove((parent.as_str(), old_uid))?;
        }
        if let Some(meta) = cal {
            uids.insert((parent.as_str(), meta.uid.as_str()), name)?;
            let index = encode_index(&meta.index);
            self.0
                .open_table(TIME_INDEX)?
                .insert(key, index.as_slice())?;
        } else if old_res.is_some_and(|r| r.uid.is_some()) {
            self.0.open_table(TIME_INDEX)?.remove(key)?;
        }
        drop(uids);
        let old_size = old.map(|o| o.stored_bytes() as i64).unwrap_or(0);
        self.add_usage(user, node.stored_bytes() as i64 - old_size)?;
        let old_seq = old_res.map(|r| r.change_seq).unwrap_or(0);
        let seq = self.log_change(&parent, name, old_seq, false)?;
        if let NodeKind::Resource(r) = &mut node.kind {
            r.change_seq = seq;
        }
        self.put_node(key, &node)?;
        super::bodies::write(self.0, key, body)
    }

    /// The body stored at `key`.
    pub(super) fn body(&self, key: &str) -> Result<Option<Vec<u8>>> {
        super::bodies::read_in(self.0, key)
    }

    /// Remove the node at `key` and, for a collection, everything below it;
    /// record a tombstone in the parent's sync log.
    pub(super) fn remove_tree(&self, user: &str, key: &str, node: &Node) -> Result<()> {
        let path = &key[user.len() + 1..];
        let mut removed_bytes: i64 = 0;
        let mut keys = vec![key.to_string()];
        if node.is_collection() {
            let nodes = self.0.open_table(NODES)?;
            for entry in nodes.range(key..)? {
                let (k, _) = entry?;
                let k = k.value();
                if !k.starts_with(key) {
                    break;
                }
                if k != key {
                    keys.push(k.to_string());
                }
            }
        }
        let mut nodes = self.0.open_table(NODES)?;
        let mut index = self.0.open_table(TIME_INDEX)?;
        let mut uids = self.0.open_table(UIDS)?;
        let mut log = self.0.open_table(SYNC_LOG)?;
        for k in &keys {
            let Some(n) = nodes.remove(k.as_str())? else {
                continue;
            };
            let n: Node = serde_json::from_slice(n.value())?;
            removed_bytes += n.stored_bytes() as i64;
            super::bodies::remove(self.0, k)?;
            index.remove(k.as_str())?;
            match &n.kind {
                NodeKind::Collection(c) => {
                    log.retain_in((c.id, 0)..=(c.id, u64::MAX), |_, _| false)?;
                }
                NodeKind::Resource(r) => {
                    if let (Some(uid), Some(p)) = (r.uid.as_deref(), k.rfind('/')) {
                        uids.remove((&k[..=p], uid))?;
                        self.0.open_table(POLICIES)?.remove(k.as_str())?;
                    }
                }
            }
        }
        drop((nodes, index, uids, log));
        self.add_usage(user, -removed_bytes)?;
        if let Some(parent) = parent_path(path) {
            let old_seq = node.resource().map(|r| r.change_seq).unwrap_or(0);
            self.log_change(&node_key(user, parent), member_name(path), old_seq, true)?;
        }
        Ok(())
    }

    pub(super) fn new_collection(&self, calendar: Option<CalendarProps>) -> Result<Node> {
        let t = now();
        Ok(Node {
            created: t,
            modified: t,
            etag: self.new_etag()?,
            displayname: None,
            dead_props: Vec::new(),
            kind: NodeKind::Collection(Collection {
                id: self.next(COLLECTION_COUNTER)?,
                sync_seq: 0,
                calendar,
                schedule: None,
                default_calendar: None,
            }),
        })
    }

    /// Insert a new collection node; a member of a parent collection gets a sync-log entry.
    pub(super) fn insert_collection(&self, user: &str, path: &str, node: &Node) -> Result<()> {
        self.put_node(&node_key(user, path), node)?;
        self.add_usage(user, node.stored_bytes() as i64)?;
        if let Some(parent) = parent_path(path) {
            self.log_change(&node_key(user, parent), member_name(path), 0, false)?;
        }
        Ok(())
    }

    /// The parent of `path` must exist and be a collection.
    pub(super) fn parent(&self, user: &str, path: &str) -> Result<Node> {
        let parent = parent_path(path).ok_or(StoreError::NotAllowedHere("the home itself"))?;
        match self.node(&node_key(user, parent))? {
            Some(n) if n.is_collection() => Ok(n),
            _ => Err(StoreError::ParentMissing),
        }
    }
}

/// Remove every record of `secrets` (and its id in `ids`) owned by `owner`.
fn remove_secrets_of<T: serde::de::DeserializeOwned>(
    txn: &WriteTransaction,
    secrets: redb::TableDefinition<'static, &'static str, &'static [u8]>,
    ids: redb::TableDefinition<'static, &'static str, &'static str>,
    owner: &str,
    owner_of: fn(&T) -> &str,
) -> Result<()> {
    let mut table = txn.open_table(secrets)?;
    let mut doomed: Vec<String> = Vec::new();
    for row in table.iter()? {
        let (hash, v) = row?;
        let record: T = serde_json::from_slice(v.value())?;
        if owner_of(&record) == owner {
            doomed.push(hash.value().to_string());
        }
    }
    if doomed.is_empty() {
        return Ok(());
    }
    for hash in &doomed {
        table.remove(hash.as_str())?;
    }
    txn.open_table(ids)?
        .retain(|_, hash| !doomed.iter().any(|d| d == hash))?;
    Ok(())
}

fn apply_prop_change(node: &mut Node, change: &PropChange) {
    let cal = match &mut node.kind {
        NodeKind::Collection(c) => c.calendar.as_mut(),
        NodeKind::Resource(_) => None,
    };
    match change {
        PropChange::SetDead(p) => {
            node.dead_props
                .retain(|d| !(d.ns == p.ns && d.name == p.name));
            node.dead_props.push(p.clone());
        }
        PropChange::RemoveDead { ns, name } => {
            node.dead_props
                .retain(|d| !(&d.ns == ns && &d.name == name));
        }
        PropChange::DisplayName(v) => node.displayname = v.clone(),
        PropChange::Description(v) => {
            if let Some(c) = cal {
                c.description = v.clone();
            }
        }
        PropChange::Color(v) => {
            if let Some(c) = cal {
                c.color = v.clone();
            }
        }
        PropChange::Order(v) => {
            if let Some(c) = cal {
                c.order = v.clone();
            }
        }
        PropChange::Timezone(v) => {
            if let Some(c) = cal {
                c.timezone = v.clone();
            }
        }
        PropChange::Components(v) => {
            if let Some(c) = cal {
                c.components = v.clone();
            }
        }
        PropChange::Transparent(v) => {
            if let Some(c) = cal {
                c.transparent = *v;
            }
        }
        PropChange::DefaultCalendar(v) => {
            if let NodeKind::Collection(c) = &mut node.kind
                && c.schedule == Some(ScheduleBox::Inbox)
            {
                c.default_calendar = v.clone();
            }
        }
    }
}

/// Name of the calendar every new user gets.
pub const DEFAULT_CALENDAR: &str = "default/";
/// The schedule inbox and outbox of every user (RFC 6638 section 2.1, 2.2).
pub const INBOX: &str = "inbox/";
pub const OUTBOX_PATH: &str = "outbox/";

fn default_calendar_props() -> CalendarProps {
    CalendarProps {
        components: vec!["VEVENT".into(), "VTODO".into(), "VJOURNAL".into()],
        ..CalendarProps::default()
    }
}

impl Store {
    /// Create a principal with its home and, if asked, a default calendar.
    pub async fn create_principal(&self, p: Principal, default_calendar: bool) -> Result<()> {
        self.writer
            .write(move |txn| {
                let w = W(txn);
                if txn.open_table(PRINCIPALS)?.get(p.name.as_str())?.is_some() {
                    return Err(StoreError::AlreadyExists);
                }
                {
                    let addrs = txn.open_table(ADDRESSES)?;
                    for e in &p.emails {
                        if addrs.get(normalize_address(e).as_str())?.is_some() {
                            return Err(StoreError::AlreadyExists);
                        }
                    }
                }
                let bytes = serde_json::to_vec(&p)?;
                txn.open_table(PRINCIPALS)?
                    .insert(p.name.as_str(), bytes.as_slice())?;
                let mut addrs = txn.open_table(ADDRESSES)?;
                for e in &p.emails {
                    addrs.insert(normalize_address(e).as_str(), p.name.as_str())?;
                }
                drop(addrs);
                let home = w.new_collection(None)?;
                w.put_node(&node_key(&p.name, ""), &home)?;
                if default_calendar {
                    let mut cal = w.new_collection(Some(default_calendar_props()))?;
                    cal.displayname = Some("Calendar".into());
                    w.insert_collection(&p.name, DEFAULT_CALENDAR, &cal)?;
                }
                for (path, kind) in [
                    (INBOX, ScheduleBox::Inbox),
                    (OUTBOX_PATH, ScheduleBox::Outbox),
                ] {
                    let mut node = w.new_collection(None)?;
                    if let NodeKind::Collection(c) = &mut node.kind {
                        c.schedule = Some(kind);
                    }
                    w.insert_collection(&p.name, path, &node)?;
                }
                Ok(())
            })
            .await
    }

    pub async fn set_password(&self, name: &str, hash: String) -> Result<()> {
        let name = name.to_string();
        self.writer
            .write(move |txn| {
                let mut t = txn.open_table(PRINCIPALS)?;
                let mut p: Principal = match t.get(name.as_str())? {
                    Some(v) => serde_json::from_slice(v.value())?,
                    None => return Err(StoreError::NotFound),
                };
                p.password_hash = hash;
                let bytes = serde_json::to_vec(&p)?;
                t.insert(name.as_str(), bytes.as_slice())?;
                Ok(())
            })
            .await
    }

    /// Delete a principal and everything they own.
    pub async fn delete_principal(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let p: Principal = match txn.open_table(PRINCIPALS)?.get(name.as_str())? {
                    Some(v) => serde_json::from_slice(v.value())?,
                    None => return Err(StoreError::NotFound),
                };
                let home_key = node_key(&name, "");
                if let Some(home) = w.node(&home_key)? {
                    w.remove_tree(&name, &home_key, &home)?;
                }
                txn.open_table(PRINCIPALS)?.remove(name.as_str())?;
                txn.open_table(USAGE)?.remove(name.as_str())?;
                let mut addrs = txn.open_table(ADDRESSES)?;
                for e in &p.emails {
                    addrs.remove(normalize_address(e).as_str())?;
                }
                // Its bearer secrets go with it: a token or feed URL of a
                // deleted principal must not come back to life when the name
                // is given to someone else.
                remove_secrets_of::<ApiToken>(txn, API_TOKENS, API_TOKEN_IDS, &name, |t| {
                    &t.principal
                })?;
                remove_secrets_of::<Feed>(txn, FEEDS, FEED_IDS, &name, |f| &f.user)?;
                Ok(())
            })
            .await
    }

    /// MKCOL / MKCALENDAR at `path` (ending with '/').
    pub async fn mkcol(&self, user: &str, path: &str, new: NewCollection) -> Result<()> {
        let (user, path) = (user.to_string(), path.to_string());
        let quota = self.quota();
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let key = node_key(&user, &path);
                let file_key = key.trim_end_matches('/');
                if w.node(&key)?.is_some() || w.node(file_key)?.is_some() {
                    return Err(StoreError::AlreadyExists);
                }
                let parent = w.parent(&user, &path)?;
                if parent.calendar().is_some() {
                    return Err(StoreError::NotAllowedHere(
                        "calendar collections cannot contain collections",
                    ));
                }
                if parent.collection().is_some_and(|c| c.schedule.is_some()) {
                    return Err(StoreError::NotAllowedHere(
                        "scheduling collections cannot contain collections",
                    ));
                }
                let mut node = w.new_collection(new.calendar)?;
                for change in &new.props {
                    apply_prop_change(&mut node, change);
                }
                w.check_quota(&user, node.stored_bytes() as i64, quota)?;
                w.insert_collection(&user, &path, &node)
            })
            .await
    }

    /// PUT a resource. Checks If-Match/If-None-Match, the parent, and UID
    /// uniqueness in a calendar, all inside the transaction.
    pub async fn put(&self, user: &str, path: &str, req: PutRequest) -> Result<PutOutcome> {
        self.put_with_job(user, path, req, None).await
    }

    /// `put`, and with `job` that job's progress in the same transaction
    /// (a precondition like the others: see `store::jobs`).
    pub async fn put_with_job(
        &self,
        user: &str,
        path: &str,
        req: PutRequest,
        job: Option<JobStep>,
    ) -> Result<PutOutcome> {
        let (user, path) = (user.to_string(), path.to_string());
        let quota = self.quota();
        let limit = self.invitations_per_hour();
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let key = node_key(&user, &path);
                let old = w.node(&key)?;
                if old.as_ref().is_some_and(Node::is_collection)
                    || w.node(&format!("{key}/"))?.is_some()
                {
                    return Err(StoreError::NotAllowedHere(
                        "a collection exists at this path",
                    ));
                }
                // First: racing adds for the last seats end in clean refusals.
                w.check_seats(&key, req.seats_wanted)?;
                if req.calendar.is_some() {
                    // Whatever the write is (a CalDAV PUT, a role change).
                    w.check_not_overbooked(&key, &req.body, req.policy.as_ref())?;
                }
                check_conditions(old.as_ref(), req.if_match.as_deref(), req.if_none_match_any)?;
                check_schedule_tag(old.as_ref(), req.if_schedule_tag.as_deref())?;
                let parent = w.parent(&user, &path)?;
                if let Some(meta) = &req.calendar {
                    // RFC 4791 section 5.3.2.1: no overwrite with another UID.
                    if old
                        .as_ref()
                        .and_then(Node::resource)
                        .and_then(|r| r.uid.as_deref())
                        .is_some_and(|u| u != meta.uid)
                    {
                        return Err(StoreError::UidConflict(path.clone()));
                    }
                    let parent_key = node_key(&user, parent_path(&path).unwrap_or(""));
                    let uids = txn.open_table(UIDS)?;
                    if let Some(other) = uids.get((parent_key.as_str(), meta.uid.as_str()))? {
                        let other = other.value();
                        if other != member_name(&path) {
                            let prefix = parent_path(&path).unwrap_or("");
                            return Err(StoreError::UidConflict(format!("{prefix}{other}")));
                        }
                    }
                } else if parent.calendar().is_some() {
                    return Err(StoreError::NotAllowedHere(
                        "only calendar object resources may be stored in a calendar",
                    ));
                }
                let job = job
                    .map(|s| w.check_job_step(s).map(|j| (j, s)))
                    .transpose()?;
                let t = now();
                // The last check, and before the first write.
                w.count_invitations(&user, &req.outbox, limit, t)?;
                let etag = w.new_etag()?;
                let old_tag = old
                    .as_ref()
                    .and_then(Node::resource)
                    .and_then(|r| r.schedule_tag.clone());
                let schedule_tag = match (req.schedule_tag, old_tag) {
                    (ScheduleTag::None, _) => None,
                    (ScheduleTag::Keep, Some(tag)) => Some(tag),
                    (ScheduleTag::Keep | ScheduleTag::New, _) => Some(w.new_etag()?),
                };
                let node = Node {
                    created: old.as_ref().map(|o| o.created).unwrap_or(t),
                    modified: t,
                    etag: etag.clone(),
                    displayname: old.as_ref().and_then(|o| o.displayname.clone()),
                    dead_props: old
                        .as_ref()
                        .map(|o| o.dead_props.clone())
                        .unwrap_or_default(),
                    kind: NodeKind::Resource(Resource {
                        content_type: req.content_type.clone(),
                        size: req.body.len() as u64,
                        uid: req.calendar.as_ref().map(|m| m.uid.clone()),
                        component: req.calendar.as_ref().map(|m| m.component.clone()),
                        change_seq: 0,
                        schedule_tag: schedule_tag.clone(),
                    }),
                };
                let old_bytes = old.as_ref().map_or(0, Node::stored_bytes);
                w.check_quota(&user, node.stored_bytes() as i64 - old_bytes as i64, quota)?;
                if let Some(settings) = req.policy {
                    let mut p = w.policy(&key)?.unwrap_or(super::Policy {
                        settings: settings.clone(),
                        taken: 0,
                        held: 0,
                        waiting: Vec::new(),
                        offered: Vec::new(),
                        chain: 0,
                    });
                    p.settings = settings;
                    w.put_policy(&key, &p)?;
                }
                w.write_resource(
                    &user,
                    &key,
                    node,
                    &req.body,
                    req.calendar.as_ref(),
                    old.as_ref(),
                )?;
                w.enqueue(&user, &path, req.outbox)?;
                if let Some((j, s)) = job {
                    w.apply_job_step(j, s)?;
                }
                Ok(PutOutcome {
                    created: old.is_none(),
                    etag,
                    schedule_tag,
                })
            })
            .await
    }

    /// DELETE a resource or a collection (with everything in it), queueing
    /// `outbox` (the CANCELs a deleted scheduling object causes) with it.
    pub async fn delete(&self, user: &str, path: &str, cond: DeleteConditions) -> Result<()> {
        let (user, path) = (user.to_string(), path.to_string());
        self.writer
            .write(move |txn| {
                let w = W(txn);
                if path.is_empty() {
                    return Err(StoreError::NotAllowedHere("the home cannot be deleted"));
                }
                let key = node_key(&user, &path);
                let node = w.node(&key)?.ok_or(StoreError::NotFound)?;
                check_conditions(Some(&node), cond.if_match.as_deref(), false)?;
                check_schedule_tag(Some(&node), cond.if_schedule_tag.as_deref())?;
                if let Some(expected) = &cond.expected_etag
                    && expected != &node.etag
                {
                    // The object changed since the caller computed `outbox` from it.
                    return Err(StoreError::PreconditionFailed);
                }
                w.remove_tree(&user, &key, &node)?;
                w.enqueue(&user, &path, cond.outbox)
            })
            .await
    }

    /// Apply property changes all-or-nothing.
    pub async fn proppatch(&self, user: &str, path: &str, changes: Vec<PropChange>) -> Result<()> {
        let (user, path) = (user.to_string(), path.to_string());
        let quota = self.quota();
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let key = node_key(&user, &path);
                let mut node = w.node(&key)?.ok_or(StoreError::NotFound)?;
                let before = node.stored_bytes() as i64;
                for change in &changes {
                    apply_prop_change(&mut node, change);
                }
                let delta = node.stored_bytes() as i64 - before;
                w.check_quota(&user, delta, quota)?;
                node.modified = now();
                w.add_usage(&user, delta)?;
                w.put_node(&key, &node)?;
                if node.is_collection() {
                    w.log_collection_change(&user, &path)?;
                }
                Ok(())
            })
            .await
    }

    /// Write calendar objects (from `herald import`) into a calendar,
    /// replacing objects with the same UID. Returns how many were written.
    pub async fn import(
        &self,
        user: &str,
        calendar: &str,
        objects: Vec<(String, Vec<u8>, CalendarObjectMeta)>,
    ) -> Result<usize> {
        let (user, calendar) = (user.to_string(), calendar.to_string());
        self.writer
            .write(move |txn| {
                let w = W(txn);
                let cal_key = node_key(&user, &calendar);
                match w.node(&cal_key)? {
                    Some(n) if n.calendar().is_some() => {}
                    _ => return Err(StoreError::NotFound),
                }
                let n = objects.len();
                for (name, body, meta) in objects {
                    let existing = txn
                        .open_table(UIDS)?
                        .get((cal_key.as_str(), meta.uid.as_str()))?
                        .map(|v| v.value().to_string());
                    let member = existing.unwrap_or(name);
                    let key = format!("{cal_key}{member}");
                    let old = w.node(&key)?;
                    let t = now();
                    let node = Node {
                        created: old.as_ref().map(|o| o.created).unwrap_or(t),
                        modified: t,
                        etag: w.new_etag()?,
                        displayname: None,
                        dead_props: Vec::new(),
                        kind: NodeKind::Resource(Resource {
                            content_type: "text/calendar; charset=utf-8".into(),
                            size: body.len() as u64,
                            uid: Some(meta.uid.clone()),
                            component: Some(meta.component.clone()),
                            change_seq: 0,
                            schedule_tag: None,
                        }),
                    };
                    w.write_resource(&user, &key, node, &body, Some(&meta), old.as_ref())?;
                }
                Ok(n)
            })
            .await
    }
}

/// Conditions and side effects of a DELETE.
#[derive(Debug, Clone, Default)]
pub struct DeleteConditions {
    pub if_match: Option<String>,
    pub if_schedule_tag: Option<String>,
    /// The ETag the caller read when it computed `outbox`.
    pub expected_etag: Option<String>,
    pub outbox: Vec<NewMessage>,
}

/// If-Schedule-Tag-Match (RFC 6638 section 8.3).
fn check_schedule_tag(current: Option<&Node>, expected: Option<&str>) -> Result<()> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let tag = current
        .and_then(Node::resource)
        .and_then(|r| r.schedule_tag.as_deref());
    if tag != Some(expected.trim()) {
        return Err(StoreError::PreconditionFailed);
    }
    Ok(())
}

/// RFC 4918 / RFC 7232 conditions on the current state of the target.
fn check_conditions(
    current: Option<&Node>,
    if_match: Option<&str>,
    if_none_match_any: bool,
) -> Result<()> {
    if let Some(m) = if_match {
        let ok = match current {
            None => false,
            Some(n) => m.trim() == "*" || m.split(',').any(|t| t.trim() == n.etag),
        };
        if !ok {
            return Err(StoreError::PreconditionFailed);
        }
    }
    if if_none_match_any && current.is_some() {
        return Err(StoreError::PreconditionFailed);
    }
    Ok(())
}
