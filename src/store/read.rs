//! Read operations. Each runs on its own read transaction (a consistent
//! snapshot) and never blocks the writer.

use super::Store;
use super::error::{Result, StoreError};
use super::model::*;
use super::tables::*;
use redb::{ReadableDatabase, ReadableTable};

/// A parsed sync token: `http://herald.invalid/sync/{collection id}-{change number}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncToken {
    pub collection: u64,
    pub seq: u64,
}

const TOKEN_PREFIX: &str = "http://herald.invalid/sync/";

impl SyncToken {
    pub fn format(self) -> String {
        format!("{TOKEN_PREFIX}{}-{}", self.collection, self.seq)
    }
    pub fn parse(s: &str) -> Option<SyncToken> {
        let rest = s.trim().strip_prefix(TOKEN_PREFIX)?;
        let (c, n) = rest.split_once('-')?;
        Some(SyncToken {
            collection: c.parse().ok()?,
            seq: n.parse().ok()?,
        })
    }
}

impl Store {
    pub fn principal(&self, name: &str) -> Result<Option<Principal>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(PRINCIPALS)?;
        match t.get(name)? {
            Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
            None => Ok(None),
        }
    }

    pub fn principals(&self) -> Result<Vec<Principal>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(PRINCIPALS)?;
        let mut out = Vec::new();
        for entry in t.iter()? {
            let (_, v) = entry?;
            out.push(serde_json::from_slice(v.value())?);
        }
        Ok(out)
    }

    /// The user owning a calendar user address (`mailto:` optional, any case).
    pub fn principal_by_address(&self, address: &str) -> Result<Option<String>> {
        let key = normalize_address(address);
        let txn = self.db.begin_read()?;
        let t = txn.open_table(ADDRESSES)?;
        Ok(t.get(key.as_str())?.map(|v| v.value().to_string()))
    }

    pub fn node(&self, user: &str, path: &str) -> Result<Option<Node>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(NODES)?;
        match t.get(node_key(user, path).as_str())? {
            Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
            None => Ok(None),
        }
    }

    /// Direct members of the collection at `path` (which ends with '/'), as
    /// (member path, node), in key order.
    pub fn children(&self, user: &str, path: &str) -> Result<Vec<(String, Node)>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(NODES)?;
        let prefix = node_key(user, path);
        let mut out = Vec::new();
        for entry in t.range(prefix.as_str()..)? {
            let (k, v) = entry?;
            let key = k.value();
            let Some(rest) = key.strip_prefix(prefix.as_str()) else {
                break;
            };
            if rest.is_empty() {
                continue;
            }
            let direct = match rest.find('/') {
                None => true,
                Some(i) => i == rest.len() - 1,
            };
            if direct {
                out.push((format!("{path}{rest}"), serde_json::from_slice(v.value())?));
            }
        }
        Ok(out)
    }

    pub fn body(&self, user: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        super::bodies::read(
            &txn.open_table(BODIES)?,
            &txn.open_table(BODY_PIECES)?,
            &node_key(user, path),
        )
    }

    /// Several resources of one snapshot: (path, node, body) for each that exists.
    pub fn resources(&self, user: &str, paths: &[String]) -> Result<Vec<(String, Node, Vec<u8>)>> {
        let txn = self.db.begin_read()?;
        let nodes = txn.open_table(NODES)?;
        let bodies = txn.open_table(BODIES)?;
        let pieces = txn.open_table(BODY_PIECES)?;
        let mut out = Vec::with_capacity(paths.len());
        for path in paths {
            let key = node_key(user, path);
            let Some(n) = nodes.get(key.as_str())? else {
                continue;
            };
            let node: Node = serde_json::from_slice(n.value())?;
            if node.is_collection() {
                continue;
            }
            let body = super::bodies::read(&bodies, &pieces, &key)?.unwrap_or_default();
            out.push((path.clone(), node, body));
        }
        Ok(out)
    }

    /// Members of a calendar whose time index may overlap [start, end)
    /// (UTC seconds, open when None), as (member path, index is exact for it).
    pub fn time_candidates(
        &self,
        user: &str,
        calendar: &str,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<Vec<(String, bool)>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(TIME_INDEX)?;
        let prefix = node_key(user, calendar);
        let mut out = Vec::new();
        let mut index = crate::ical::TimeIndex::default();
        for entry in t.range(prefix.as_str()..)? {
            let (k, v) = entry?;
            let key = k.value();
            let Some(rest) = key.strip_prefix(prefix.as_str()) else {
                break;
            };
            if rest.contains('/') {
                continue;
            }
            if !decode_index_into(v.value(), &mut index) {
                // An unreadable index entry: let the precise filter decide.
                out.push((format!("{calendar}{rest}"), false));
                continue;
            }
            if index.may_overlap(start, end) {
                let past_cap = match (index.more_after, end) {
                    (Some(m), Some(e)) => e > m,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                out.push((format!("{calendar}{rest}"), index.exact && !past_cap));
            }
        }
        Ok(out)
    }

    /// Changes to members of the collection since `token` (None: initial
    /// sync, every member). `limit` caps the number of names returned.
    pub fn changes_since(
        &self,
        user: &str,
        path: &str,
        token: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Changes> {
        let txn = self.db.begin_read()?;
        let nodes = txn.open_table(NODES)?;
        let node: Node = match nodes.get(node_key(user, path).as_str())? {
            Some(v) => serde_json::from_slice(v.value())?,
            None => return Err(StoreError::NotFound),
        };
        let coll = node.collection().ok_or(StoreError::NotFound)?;
        let since = match token {
            None => 0,
            Some(t) => {
                let parsed = SyncToken::parse(t).ok_or(StoreError::InvalidSyncToken)?;
                if parsed.collection != coll.id || parsed.seq > coll.sync_seq {
                    return Err(StoreError::InvalidSyncToken);
                }
                parsed.seq
            }
        };
        let log = txn.open_table(SYNC_LOG)?;
        let mut changes = Changes {
            token: SyncToken {
                collection: coll.id,
                seq: coll.sync_seq,
            }
            .format(),
            changed: Vec::new(),
            removed: Vec::new(),
            truncated: false,
        };
        let mut count = 0usize;
        for entry in log.range((coll.id, since + 1)..=(coll.id, u64::MAX))? {
            let (k, v) = entry?;
            let entry = v.value();
            // The initial sync lists only what exists now.
            if token.is_none() && entry.starts_with('D') {
                continue;
            }
            if limit.is_some_and(|l| count >= l) {
                changes.truncated = true;
                changes.token = SyncToken {
                    collection: coll.id,
                    seq: k.value().1 - 1,
                }
                .format();
                break;
            }
            count += 1;
            let name = entry.get(2..).unwrap_or_default().to_string();
            if entry.starts_with('D') {
                changes.removed.push(name);
            } else {
                changes.changed.push(name);
            }
        }
        Ok(changes)
    }

    /// The member of calendar `calendar` (path ending with '/') holding `uid`.
    pub fn uid_in(&self, user: &str, calendar: &str, uid: &str) -> Result<Option<String>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(UIDS)?;
        let key = node_key(user, calendar);
        Ok(t.get((key.as_str(), uid))?.map(|v| v.value().to_string()))
    }

    /// The calendar object resources (paths) holding `uid` in the calendars
    /// directly under `user`'s home, with their bodies. One read
    /// transaction; the scan steps over each collection's members instead
    /// of walking them, so its cost is the number of collections.
    pub fn uid_in_home(&self, user: &str, uid: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let txn = self.db.begin_read()?;
        let nodes = txn.open_table(NODES)?;
        let uids = txn.open_table(UIDS)?;
        let bodies = txn.open_table(BODIES)?;
        let pieces = txn.open_table(BODY_PIECES)?;
        let home = node_key(user, "");
        let mut cursor = home.clone();
        let mut out = Vec::new();
        loop {
            let next = nodes
                .range(cursor.as_str()..)?
                .next()
                .transpose()?
                .map(|(k, _)| k.value().to_string());
            let Some(key) = next else { break };
            let Some(rest) = key.strip_prefix(home.as_str()) else {
                break;
            };
            match rest.find('/') {
                Some(i) => {
                    let coll = &key[..home.len() + i + 1];
                    if let Some(name) = uids.get((coll, uid))? {
                        let path = format!("{}{}", &rest[..=i], name.value());
                        let full = node_key(user, &path);
                        if let Some(b) = super::bodies::read(&bodies, &pieces, &full)? {
                            out.push((path, b));
                        }
                    }
                    // '0' follows '/': the first key after this collection's subtree.
                    cursor = format!("{}0", &coll[..coll.len() - 1]);
                }
                None => cursor = format!("{key}\0"),
            }
        }
        Ok(out)
    }

    /// Bytes stored by a user (quota-used-bytes).
    pub fn usage(&self, user: &str) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(USAGE)?;
        Ok(t.get(user)?.map(|v| v.value()).unwrap_or(0))
    }
}

/// `mailto:` addresses compared case-insensitively, with or without the scheme.
pub fn normalize_address(address: &str) -> String {
    let a = address.trim();
    // `get` rather than indexing: byte 7 need not be a character boundary.
    let bare = match (a.get(..7), a.get(7..)) {
        (Some(p), Some(rest)) if p.eq_ignore_ascii_case("mailto:") => rest,
        _ => a,
    };
    format!("mailto:{}", bare.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_roundtrip() {
        let t = SyncToken {
            collection: 7,
            seq: 42,
        };
        assert_eq!(SyncToken::parse(&t.format()), Some(t));
        assert_eq!(SyncToken::parse("http://other/sync/7-42"), None);
        assert_eq!(SyncToken::parse("http://herald.invalid/sync/x-1"), None);
    }

    #[test]
    fn addresses_normalized() {
        assert_eq!(
            normalize_address("MAILTO:Bob@Example.com"),
            "mailto:bob@example.com"
        );
        assert_eq!(
            normalize_address("bob@example.com"),
            "mailto:bob@example.com"
        );
    }
}
