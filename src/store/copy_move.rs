//! COPY and MOVE inside one user's home (RFC 4918 sections 9.8, 9.9):
//! whole subtrees, calendar rules (only calendar objects, unique UIDs) at
//! the destination, sync-log entries on both sides, in one transaction.

use super::Store;
use super::error::{Result, StoreError};
use super::model::*;
use super::tables::*;
use super::write::{W, now};
use redb::ReadableTable;

impl Store {
    /// COPY or MOVE `src` to `dst` within one user's home. Returns true when
    /// `dst` was created (201), false when it replaced something (204).
    pub async fn copy_move(&self, user: &str, src: &str, dst: &str, op: CopyMove) -> Result<bool> {
        let (user, src, dst) = (user.to_string(), src.to_string(), dst.to_string());
        let quota = self.quota();
        self.writer
            .write(move |txn| copy_move_in(&W(txn), &user, &src, &dst, op, quota))
            .await
    }
}

/// COPY/MOVE options (RFC 4918 sections 9.8, 9.9).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CopyMove {
    pub is_move: bool,
    pub overwrite: bool,
    /// Depth: 0 copies a collection without its members.
    pub shallow: bool,
}

fn copy_move_in(
    w: &W<'_>,
    user: &str,
    src: &str,
    dst: &str,
    op: CopyMove,
    quota: u64,
) -> Result<bool> {
    let src_key = node_key(user, src);
    let src_node = w.node(&src_key)?.ok_or(StoreError::NotFound)?;
    let dst_key = node_key(user, dst);
    if dst_key.starts_with(&src_key) && src_node.is_collection() {
        return Err(StoreError::NotAllowedHere("destination inside the source"));
    }
    let dst_parent = w.parent(user, dst)?;
    let existing = match w.node(&dst_key)? {
        Some(n) => Some(n),
        None => w.node(&node_key(user, &toggle_slash(dst)))?,
    };
    if existing.is_some() && !op.overwrite {
        return Err(StoreError::PreconditionFailed);
    }
    // Collect what to copy before changing anything.
    let mut items: Vec<(String, Node)> = vec![(src.to_string(), src_node.clone())];
    if src_node.is_collection() && !op.shallow {
        let nodes = w.0.open_table(NODES)?;
        for entry in nodes.range(src_key.as_str()..)? {
            let (k, v) = entry?;
            let k = k.value();
            if !k.starts_with(src_key.as_str()) {
                break;
            }
            if k != src_key {
                items.push((
                    k[user.len() + 1..].to_string(),
                    serde_json::from_slice(v.value())?,
                ));
            }
        }
    }
    let mut bodies = Vec::new();
    {
        let it = w.0.open_table(TIME_INDEX)?;
        for (path, _) in &items {
            let key = node_key(user, path);
            let body = w.body(&key)?;
            let index = it.get(key.as_str())?.and_then(|v| decode_index(v.value()));
            bodies.push((body, index));
        }
    }
    if !op.is_move {
        // A copy adds everything it copies (what it replaces is not credited:
        // the check stays conservative and needs no second walk).
        let added: u64 = items.iter().map(|(_, n)| n.stored_bytes()).sum();
        w.check_quota(user, added as i64, quota)?;
    }
    // Calendar rules at the destination: only calendar objects, unique UIDs.
    if let Some(res) = src_node.resource()
        && dst_parent.calendar().is_some()
    {
        let Some(uid) = res.uid.as_deref() else {
            return Err(StoreError::NotAllowedHere(
                "only calendar object resources may be stored in a calendar",
            ));
        };
        // RFC 4791 section 5.3.2.1: MOVE/COPY must not "overwrite an
        // existing calendar object resource with one that has a different
        // UID property value".
        if let Some(other_uid) = existing
            .as_ref()
            .and_then(Node::resource)
            .and_then(|r| r.uid.as_deref())
            && other_uid != uid
        {
            return Err(StoreError::UidConflict(
                dst.trim_end_matches('/').to_string(),
            ));
        }
        let parent_key = node_key(user, parent_path(dst).unwrap_or(""));
        if let Some(other) = w.0.open_table(UIDS)?.get((parent_key.as_str(), uid))? {
            let other = other.value();
            let replaced = member_name(dst);
            let moving_within = op.is_move && parent_path(src) == parent_path(dst);
            if other != replaced && !(moving_within && other == member_name(src)) {
                let prefix = parent_path(dst).unwrap_or("");
                return Err(StoreError::UidConflict(format!("{prefix}{other}")));
            }
        }
    }
    if src_node.is_collection() && dst_parent.calendar().is_some() {
        return Err(StoreError::NotAllowedHere(
            "calendar collections cannot contain collections",
        ));
    }
    if let Some(old) = &existing {
        let old_path = if old.is_collection() {
            toggle_to_dir(dst)
        } else {
            dst.trim_end_matches('/').to_string()
        };
        w.remove_tree(user, &node_key(user, &old_path), old)?;
    }
    if op.is_move {
        w.remove_tree(user, &src_key, &src_node)?;
    }
    let src_base = src.to_string();
    let dst_base = if src_node.is_collection() {
        toggle_to_dir(dst)
    } else {
        dst.trim_end_matches('/').to_string()
    };
    for ((path, node), (body, index)) in items.into_iter().zip(bodies) {
        let new_path = format!("{dst_base}{}", &path[src_base.len()..]);
        let key = node_key(user, &new_path);
        match &node.kind {
            NodeKind::Collection(c) => {
                let mut fresh = w.new_collection(c.calendar.clone())?;
                fresh.displayname = node.displayname.clone();
                fresh.dead_props = node.dead_props.clone();
                if op.is_move {
                    fresh.created = node.created;
                }
                w.insert_collection(user, &new_path, &fresh)?;
            }
            NodeKind::Resource(r) => {
                let cal = match (&r.uid, &r.component, index) {
                    (Some(uid), Some(comp), Some(index)) => Some(CalendarObjectMeta {
                        uid: uid.clone(),
                        component: comp.clone(),
                        index,
                    }),
                    _ => None,
                };
                let mut fresh = node.clone();
                fresh.etag = if op.is_move {
                    node.etag.clone()
                } else {
                    w.new_etag()?
                };
                fresh.modified = now();
                w.write_resource(
                    user,
                    &key,
                    fresh,
                    &body.unwrap_or_default(),
                    cal.as_ref(),
                    None,
                )?;
            }
        }
    }
    Ok(existing.is_none())
}

fn toggle_slash(p: &str) -> String {
    match p.strip_suffix('/') {
        Some(s) => s.to_string(),
        None => format!("{p}/"),
    }
}

fn toggle_to_dir(p: &str) -> String {
    if p.ends_with('/') {
        p.to_string()
    } else {
        format!("{p}/")
    }
}
