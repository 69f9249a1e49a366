//! Resource bodies. A body of up to `PIECE` bytes is kept whole in
//! `bodies`; a larger one is kept in `body_pieces` as consecutive pieces
//! of `PIECE` bytes keyed (node key, n). Rewriting a large calendar object
//! then writes only the pieces that changed: guests added to an event with
//! thousands of them change its LAST-MODIFIED line and its tail, so a
//! commit writes a few pieces instead of the whole value, which redb would
//! copy to new pages on every change. Bodies written before pieces existed
//! are whole in `bodies` and read as they are.

use super::error::Result;
use super::tables::{BODIES, BODY_PIECES};
use redb::{ReadableTable, WriteTransaction};

/// Size of a piece; bodies up to this size stay whole.
pub(super) const PIECE: usize = 16 * 1024;

/// The body at `key`, from the two tables of one transaction.
pub(super) fn read(
    whole: &impl ReadableTable<&'static str, &'static [u8]>,
    pieces: &impl ReadableTable<(&'static str, u32), &'static [u8]>,
    key: &str,
) -> Result<Option<Vec<u8>>> {
    if let Some(v) = whole.get(key)? {
        return Ok(Some(v.value().to_vec()));
    }
    let mut out: Option<Vec<u8>> = None;
    for piece in pieces.range((key, 0)..=(key, u32::MAX))? {
        let (_, v) = piece?;
        out.get_or_insert_with(Vec::new)
            .extend_from_slice(v.value());
    }
    Ok(out)
}

/// Store `body` at `key`, replacing what was there.
pub(super) fn write(txn: &WriteTransaction, key: &str, body: &[u8]) -> Result<()> {
    let mut whole = txn.open_table(BODIES)?;
    let mut pieces = txn.open_table(BODY_PIECES)?;
    let kept = if body.len() <= PIECE {
        whole.insert(key, body)?;
        0
    } else {
        whole.remove(key)?;
        let mut n = 0u32;
        for piece in body.chunks(PIECE) {
            let same = pieces.get((key, n))?.is_some_and(|v| v.value() == piece);
            if !same {
                pieces.insert((key, n), piece)?;
            }
            n += 1;
        }
        n
    };
    // Pieces past the new end (or all of them, for a body now whole).
    let mut n = kept;
    while pieces.remove((key, n))?.is_some() {
        n += 1;
    }
    Ok(())
}

/// Remove the body at `key`.
pub(super) fn remove(txn: &WriteTransaction, key: &str) -> Result<()> {
    txn.open_table(BODIES)?.remove(key)?;
    let mut pieces = txn.open_table(BODY_PIECES)?;
    let mut n = 0u32;
    while pieces.remove((key, n))?.is_some() {
        n += 1;
    }
    Ok(())
}

/// The body at `key` in a write transaction.
pub(super) fn read_in(txn: &WriteTransaction, key: &str) -> Result<Option<Vec<u8>>> {
    read(&txn.open_table(BODIES)?, &txn.open_table(BODY_PIECES)?, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, redb::Database) {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("t.redb")).unwrap();
        (dir, db)
    }

    fn put(db: &redb::Database, key: &str, body: &[u8]) {
        let txn = db.begin_write().unwrap();
        write(&txn, key, body).unwrap();
        txn.commit().unwrap();
    }

    fn get(db: &redb::Database, key: &str) -> Option<Vec<u8>> {
        let txn = db.begin_write().unwrap();
        read_in(&txn, key).unwrap()
    }

    fn pieces(db: &redb::Database) -> usize {
        let txn = db.begin_write().unwrap();
        let t = txn.open_table(BODY_PIECES).unwrap();
        t.iter().unwrap().count()
    }

    #[test]
    fn bodies_of_every_size_read_back_as_written() {
        let (_d, db) = db();
        let big: Vec<u8> = (0..PIECE * 3 + 17).map(|i| (i % 251) as u8).collect();
        for len in [0, 1, PIECE - 1, PIECE, PIECE + 1, PIECE * 2, big.len()] {
            put(&db, "u/a", &big[..len]);
            assert_eq!(get(&db, "u/a").as_deref(), Some(&big[..len]), "{len}");
            // A neighbour's key sorts right after: never mixed in.
            put(&db, "u/a0", b"other");
            assert_eq!(get(&db, "u/a").as_deref(), Some(&big[..len]), "{len}");
        }
        // Shrinking to whole leaves no pieces behind; removal takes all.
        put(&db, "u/a", &big);
        assert_eq!(pieces(&db), 4);
        put(&db, "u/a", b"small");
        assert_eq!(pieces(&db), 0);
        put(&db, "u/a", &big);
        let txn = db.begin_write().unwrap();
        remove(&txn, "u/a").unwrap();
        txn.commit().unwrap();
        assert_eq!((get(&db, "u/a"), pieces(&db)), (None, 0));
        assert_eq!(get(&db, "u/a0").as_deref(), Some(&b"other"[..]));
    }

    #[test]
    fn growing_at_the_end_rewrites_only_the_last_pieces() {
        let (_d, db) = db();
        let mut body = vec![b'x'; PIECE * 4 + 100];
        put(&db, "u/e", &body);
        body.splice(PIECE * 4 + 50..PIECE * 4 + 50, vec![b'y'; 300]);
        let txn = db.begin_write().unwrap();
        let before: Vec<Vec<u8>> = {
            let t = txn.open_table(BODY_PIECES).unwrap();
            t.iter()
                .unwrap()
                .map(|e| e.unwrap().1.value().to_vec())
                .collect()
        };
        write(&txn, "u/e", &body).unwrap();
        txn.commit().unwrap();
        assert_eq!(get(&db, "u/e"), Some(body.clone()));
        let txn = db.begin_write().unwrap();
        let t = txn.open_table(BODY_PIECES).unwrap();
        let after: Vec<Vec<u8>> = t
            .iter()
            .unwrap()
            .map(|e| e.unwrap().1.value().to_vec())
            .collect();
        assert_eq!(before[..4], after[..4]);
        assert_ne!(before[4], after[4]);
    }
}
