//! redb table definitions and the key layouts (see docs/STORAGE.md).
//!
//! * `principals`: user name -> Principal (JSON).
//! * `addresses`: lower-cased `mailto:` address -> user name.
//! * `nodes`: "user/path" -> Node (JSON). Collections' paths end with '/';
//!   the home is "user/". A node's parent is the path up to the previous '/'.
//! * `bodies`: "user/path" -> resource body bytes.
//! * `time_index`: "user/path" -> encoded TimeIndex of a calendar object.
//! * `uids`: ("user/collection/", UID) -> member name; UID uniqueness per calendar.
//! * `sync_log`: (collection id, change number) -> "U name" or "D name"; a member
//!   has at most one entry (its latest), deletions stay as tombstones.
//! * `usage`: user name -> bytes stored; `counters`: named u64 sequences.
//! * `outbox`: message id -> OutboxEntry (JSON); `outbox_due`: (due unix
//!   time, id) for every pending entry, so a worker claims due ones by range.
//! * `ingested`: Message-ID (or hash) of every inbound mail processed -> its
//!   outcome (JSON), so the same mail delivered twice is processed once.
//! * `history`: ("user\0UID", n) -> HistoryEntry (JSON): who did what to an
//!   event by mail, accepted or rejected and why.
//! * `api_tokens`: SHA-256 (hex) of an API bearer token -> ApiToken (JSON);
//!   `api_token_ids`: token id -> that hash (list and revoke by id).
//! * `feeds`: SHA-256 (hex) of a feed token -> Feed (JSON); `feed_ids`: id -> hash.
//! * `idempotency`: ("principal", Idempotency-Key) -> IdempotencyRecord (JSON).
//! * `jobs`: job id -> Job (JSON), the API's resumable background work.
//! * `policies`: node key of an event -> Policy (JSON): capacity, waiting
//!   list and reminder settings with the seat counters (`seats.rs`).
//! * `holds`: hold id -> Hold (JSON), seats reserved for a checkout.
//! * `timers`: (due Unix second, id) -> TimerKind (JSON) (`timers.rs`).
//! * `invites`: (event node key, address) -> Invite (JSON): when an
//!   attendee was first invited and their reminders (`invites.rs`).

use redb::TableDefinition;

pub const PRINCIPALS: TableDefinition<&str, &[u8]> = TableDefinition::new("principals");
pub const ADDRESSES: TableDefinition<&str, &str> = TableDefinition::new("addresses");
pub const NODES: TableDefinition<&str, &[u8]> = TableDefinition::new("nodes");
pub const BODIES: TableDefinition<&str, &[u8]> = TableDefinition::new("bodies");
pub const BODY_PIECES: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("body_pieces");
pub const TIME_INDEX: TableDefinition<&str, &[u8]> = TableDefinition::new("time_index");
pub const UIDS: TableDefinition<(&str, &str), &str> = TableDefinition::new("uids");
pub const SYNC_LOG: TableDefinition<(u64, u64), &str> = TableDefinition::new("sync_log");
pub const USAGE: TableDefinition<&str, u64> = TableDefinition::new("usage");
pub const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");
pub const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
pub const OUTBOX_DUE: TableDefinition<(i64, u64), u8> = TableDefinition::new("outbox_due");
pub const INGESTED: TableDefinition<&str, &[u8]> = TableDefinition::new("ingested");
pub const HISTORY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("history");
pub const API_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_tokens");
pub const API_TOKEN_IDS: TableDefinition<&str, &str> = TableDefinition::new("api_token_ids");
pub const FEEDS: TableDefinition<&str, &[u8]> = TableDefinition::new("feeds");
pub const FEED_IDS: TableDefinition<&str, &str> = TableDefinition::new("feed_ids");
pub const IDEMPOTENCY: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("idempotency");
pub const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
pub const POLICIES: TableDefinition<&str, &[u8]> = TableDefinition::new("policies");
pub const HOLDS: TableDefinition<u64, &[u8]> = TableDefinition::new("holds");
pub const TIMERS: TableDefinition<(i64, u64), &[u8]> = TableDefinition::new("timers");
pub const INVITES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("invites");

/// Counter names.
pub const ETAG_COUNTER: &str = "etag";
pub const COLLECTION_COUNTER: &str = "collection";
pub const OUTBOX_COUNTER: &str = "outbox";
pub const HISTORY_COUNTER: &str = "history";
#[allow(dead_code)] // used by the API jobs (issue 10, in progress)
pub const JOB_COUNTER: &str = "job";
pub const HOLD_COUNTER: &str = "hold";
pub const TIMER_COUNTER: &str = "timer";

/// Key of a node: user, '/', path below the home.
pub fn node_key(user: &str, path: &str) -> String {
    format!("{user}/{path}")
}

/// The parent path of a node path ("a/b/" -> "a/", "a/x.ics" -> "a/", "a/" -> "").
/// None for the home itself ("").
pub fn parent_path(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    Some(match trimmed.rfind('/') {
        Some(i) => &trimmed[..=i],
        None => "",
    })
}

/// The last segment of a path, without a trailing '/'.
pub fn member_name(path: &str) -> &str {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    match trimmed.rfind('/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    }
}

/// A safe member name (without extension) made from a UID or Message-ID:
/// letters, digits and `-_.@` kept, anything else `_`, at most 120
/// characters, no leading dot; a hash when nothing usable is left.
pub fn resource_name(s: &str) -> String {
    let safe: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@') {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    let safe = safe.trim_start_matches('.');
    if safe.is_empty() {
        // FNV-1a of the original, for names with no usable character.
        let h = s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
        });
        format!("{h:x}")
    } else {
        safe.to_string()
    }
}

/// Encode a time index: exact flag, more_after flag and value, then spans.
pub fn encode_index(index: &crate::ical::TimeIndex) -> Vec<u8> {
    let mut out = Vec::with_capacity(10 + index.spans.len() * 16);
    out.push(u8::from(index.exact));
    out.push(u8::from(index.more_after.is_some()));
    out.extend_from_slice(&index.more_after.unwrap_or(0).to_le_bytes());
    for (s, e) in &index.spans {
        out.extend_from_slice(&s.to_le_bytes());
        out.extend_from_slice(&e.to_le_bytes());
    }
    out
}

pub fn decode_index(bytes: &[u8]) -> Option<crate::ical::TimeIndex> {
    let mut index = crate::ical::TimeIndex::default();
    decode_index_into(bytes, &mut index).then_some(index)
}

/// Decode into `index`, reusing its span buffer (queries scan thousands of
/// entries); false when the bytes are not a valid encoding.
pub fn decode_index_into(bytes: &[u8], index: &mut crate::ical::TimeIndex) -> bool {
    let read = |at: usize| -> Option<i64> {
        let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
        Some(i64::from_le_bytes(b))
    };
    let (Some(&exact), Some(&has_more), Some(more)) = (bytes.first(), bytes.get(1), read(2)) else {
        return false;
    };
    index.exact = exact != 0;
    index.more_after = (has_more != 0).then_some(more);
    index.spans.clear();
    let mut at = 10;
    while let (Some(s), Some(e)) = (read(at), read(at + 8)) {
        index.spans.push((s, e));
        at += 16;
    }
    at == bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents() {
        assert_eq!(parent_path("a/b/"), Some("a/"));
        assert_eq!(parent_path("a/x.ics"), Some("a/"));
        assert_eq!(parent_path("a/"), Some(""));
        assert_eq!(parent_path("x"), Some(""));
        assert_eq!(parent_path(""), None);
        assert_eq!(member_name("a/b/"), "b");
        assert_eq!(member_name("a/x.ics"), "x.ics");
        assert_eq!(resource_name("abc@x.org"), "abc@x.org");
        assert_eq!(resource_name("a/b c"), "a_b_c");
        assert!(!resource_name("...").is_empty());
    }

    #[test]
    fn index_roundtrip() {
        let idx = crate::ical::TimeIndex {
            spans: vec![(1, 2), (-5, 7)],
            more_after: Some(99),
            exact: true,
        };
        assert_eq!(decode_index(&encode_index(&idx)), Some(idx));
        assert_eq!(decode_index(&[1]), None);
    }
}
