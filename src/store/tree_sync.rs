//! sync-collection over a whole tree (RFC 6578 section 3.3, sync-level
//! infinite), e.g. a calendar home: the changes of the root's own members
//! (calendars created, deleted or with changed properties) and of the
//! members of every collection below it.
//!
//! Change numbers are per collection, so the token of a tree lists the
//! root's and every sub-collection's: `…/sync/{root id}-{seq};{id}-{seq}…`.
//! A collection missing from the token is new to the client: all its
//! members are reported. A deleted collection is reported (404) by its
//! parent's tombstone; its members' log went with it.

use super::Store;
use super::error::{Result, StoreError};
use super::model::*;
use super::read::SyncToken;
use super::tables::*;
use redb::ReadableDatabase;
use std::collections::{HashMap, HashSet};

/// A tree token: the root's token and (collection id, change number) of
/// the collections below it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TreeToken {
    root: SyncToken,
    below: HashMap<u64, u64>,
}

impl TreeToken {
    fn parse(s: &str) -> Option<TreeToken> {
        let mut parts = s.trim().split(';');
        // A plain collection token is a tree token without sub-collections.
        let root = SyncToken::parse(parts.next()?)?;
        let mut below = HashMap::new();
        for p in parts {
            let (c, n) = p.split_once('-')?;
            below.insert(c.parse().ok()?, n.parse().ok()?);
        }
        Some(TreeToken { root, below })
    }
}

fn format_tree(root: SyncToken, below: &[(u64, u64)]) -> String {
    let mut s = root.format();
    for (id, seq) in below {
        s.push_str(&format!(";{id}-{seq}"));
    }
    s
}

impl Store {
    /// Changes below the collection at `path` since `token` (None: initial
    /// sync), at every depth. Names are relative to `path`; collections end
    /// with '/'. `limit` caps the number of names; the token then covers
    /// what was returned.
    pub fn tree_changes_since(
        &self,
        user: &str,
        path: &str,
        token: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Changes> {
        let txn = self.db.begin_read()?;
        let nodes = txn.open_table(NODES)?;
        let log = txn.open_table(SYNC_LOG)?;
        let prefix = node_key(user, path);
        let root: Node = match nodes.get(prefix.as_str())? {
            Some(v) => serde_json::from_slice(v.value())?,
            None => return Err(StoreError::NotFound),
        };
        let root = root.collection().ok_or(StoreError::NotFound)?;
        let old = match token {
            None => None,
            Some(t) => {
                let t = TreeToken::parse(t).ok_or(StoreError::InvalidSyncToken)?;
                if t.root.collection != root.id || t.root.seq > root.sync_seq {
                    return Err(StoreError::InvalidSyncToken);
                }
                Some(t)
            }
        };
        // Every collection below the root: (path relative to it, id, change number).
        let mut colls: Vec<(String, u64, u64)> = Vec::new();
        for entry in nodes.range(prefix.as_str()..)? {
            let (k, v) = entry?;
            let Some(rest) = k.value().strip_prefix(prefix.as_str()) else {
                break;
            };
            if rest.is_empty() || !rest.ends_with('/') {
                continue;
            }
            let node: Node = serde_json::from_slice(v.value())?;
            if let Some(c) = node.collection() {
                if old
                    .as_ref()
                    .and_then(|o| o.below.get(&c.id))
                    .is_some_and(|s| *s > c.sync_seq)
                {
                    return Err(StoreError::InvalidSyncToken);
                }
                colls.push((rest.to_string(), c.id, c.sync_seq));
            }
        }
        let is_coll: HashSet<String> = colls.iter().map(|(p, ..)| p.clone()).collect();
        let sources = std::iter::once((String::new(), root.id, root.sync_seq)).chain(colls);
        // (name, deleted) in log order; the last word on a name wins.
        let mut seen: Vec<(String, bool)> = Vec::new();
        let mut count = 0usize;
        let mut truncated = false;
        let mut root_seq = root.sync_seq;
        let mut below: Vec<(u64, u64)> = Vec::new();
        for (rel, id, seq) in sources {
            let since = match &old {
                None => None,
                Some(o) if rel.is_empty() => Some(o.root.seq),
                Some(o) => o.below.get(&id).copied(),
            };
            let mut last = since.unwrap_or(0);
            if !truncated {
                for entry in log.range((id, last + 1)..=(id, u64::MAX))? {
                    let (k, v) = entry?;
                    let (n, e) = (k.value().1, v.value());
                    let deleted = e.starts_with('D');
                    // A collection new to the client: only what exists now.
                    if since.is_none() && deleted {
                        last = n;
                        continue;
                    }
                    if limit.is_some_and(|l| count >= l) {
                        truncated = true;
                        break;
                    }
                    count += 1;
                    last = n;
                    let mut name = format!("{rel}{}", e.get(2..).unwrap_or_default());
                    if !deleted && is_coll.contains(&format!("{name}/")) {
                        name.push('/');
                    }
                    seen.push((name, deleted));
                }
                if !truncated {
                    last = seq;
                }
            }
            if rel.is_empty() {
                root_seq = last;
            } else if !truncated || since.is_some() || last > 0 {
                below.push((id, last));
            }
        }
        let mut latest: HashMap<&str, usize> = HashMap::new();
        for (i, (name, _)) in seen.iter().enumerate() {
            latest.insert(name.trim_end_matches('/'), i);
        }
        let mut changes = Changes {
            token: format_tree(
                SyncToken {
                    collection: root.id,
                    seq: root_seq,
                },
                &below,
            ),
            changed: Vec::new(),
            removed: Vec::new(),
            truncated,
        };
        for (i, (name, deleted)) in seen.iter().enumerate() {
            if latest.get(name.trim_end_matches('/')) != Some(&i) {
                continue;
            }
            if *deleted {
                changes.removed.push(name.clone());
            } else {
                changes.changed.push(name.clone());
            }
        }
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_tokens_roundtrip() {
        let root = SyncToken {
            collection: 3,
            seq: 9,
        };
        let s = format_tree(root, &[(4, 2), (7, 0)]);
        let t = TreeToken::parse(&s).unwrap();
        assert_eq!(t.root, root);
        assert_eq!(t.below, HashMap::from([(4, 2), (7, 0)]));
        // A plain token is a tree token with nothing below.
        assert!(TreeToken::parse(&root.format()).unwrap().below.is_empty());
        assert!(TreeToken::parse(&format!("{};x-1", root.format())).is_none());
        // A tree token is not a plain one.
        assert!(SyncToken::parse(&s).is_none());
    }
}
