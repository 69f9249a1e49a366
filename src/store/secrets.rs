//! Bearer secrets kept by hash: API tokens (one principal each) and feed
//! tokens (one calendar each). The store never sees a token itself, only
//! its SHA-256; each record also has a public id to list and revoke it by.

use super::Store;
use super::error::{Result, StoreError};
use super::model::{ApiToken, Feed};
use super::tables::*;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

type Secrets = TableDefinition<'static, &'static str, &'static [u8]>;
type Ids = TableDefinition<'static, &'static str, &'static str>;

impl Store {
    async fn secret_add(
        &self,
        secrets: Secrets,
        ids: Ids,
        hash: String,
        id: String,
        record: Vec<u8>,
        owner: String,
    ) -> Result<()> {
        self.writer
            .write(move |txn| {
                if txn.open_table(PRINCIPALS)?.get(owner.as_str())?.is_none() {
                    return Err(StoreError::NotFound);
                }
                let mut by_id = txn.open_table(ids)?;
                if by_id.get(id.as_str())?.is_some() {
                    return Err(StoreError::AlreadyExists);
                }
                by_id.insert(id.as_str(), hash.as_str())?;
                txn.open_table(secrets)?
                    .insert(hash.as_str(), record.as_slice())?;
                Ok(())
            })
            .await
    }

    fn secret_get<T: serde::de::DeserializeOwned>(
        &self,
        secrets: Secrets,
        hash: &str,
    ) -> Result<Option<T>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(secrets)?;
        match t.get(hash)? {
            Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
            None => Ok(None),
        }
    }

    fn secret_list<T: serde::de::DeserializeOwned>(&self, secrets: Secrets) -> Result<Vec<T>> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(secrets)?;
        let mut out = Vec::new();
        for row in t.iter()? {
            let (_, v) = row?;
            out.push(serde_json::from_slice(v.value())?);
        }
        Ok(out)
    }

    /// Remove the record with `id`; `owner`, when given, must own it
    /// (another owner's record is NotFound, as if it did not exist).
    async fn secret_revoke<T>(
        &self,
        secrets: Secrets,
        ids: Ids,
        id: String,
        owner_of: fn(&T) -> &str,
        owner: Option<String>,
    ) -> Result<()>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        self.writer
            .write(move |txn| {
                let mut by_id = txn.open_table(ids)?;
                let Some(hash) = by_id.get(id.as_str())?.map(|v| v.value().to_string()) else {
                    return Err(StoreError::NotFound);
                };
                let mut t = txn.open_table(secrets)?;
                if let Some(owner) = &owner {
                    let record: Option<T> = match t.get(hash.as_str())? {
                        Some(v) => Some(serde_json::from_slice(v.value())?),
                        None => None,
                    };
                    if record.as_ref().is_none_or(|r| owner_of(r) != owner) {
                        return Err(StoreError::NotFound);
                    }
                }
                by_id.remove(id.as_str())?;
                t.remove(hash.as_str())?;
                Ok(())
            })
            .await
    }

    /// Store an API token (by `hash`) for an existing principal.
    pub async fn token_add(&self, hash: String, token: ApiToken) -> Result<()> {
        let record = serde_json::to_vec(&token)?;
        self.secret_add(
            API_TOKENS,
            API_TOKEN_IDS,
            hash,
            token.id,
            record,
            token.principal,
        )
        .await
    }

    /// The token whose SHA-256 is `hash`.
    pub fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        self.secret_get(API_TOKENS, hash)
    }

    /// Every API token, oldest first.
    pub fn tokens(&self) -> Result<Vec<ApiToken>> {
        let mut all: Vec<ApiToken> = self.secret_list(API_TOKENS)?;
        all.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(all)
    }

    pub async fn token_revoke(&self, id: &str) -> Result<()> {
        self.secret_revoke::<ApiToken>(
            API_TOKENS,
            API_TOKEN_IDS,
            id.to_string(),
            |t| &t.principal,
            None,
        )
        .await
    }

    /// Store a feed (by `hash`) for an existing principal's calendar.
    pub async fn feed_add(&self, hash: String, feed: Feed) -> Result<()> {
        let record = serde_json::to_vec(&feed)?;
        self.secret_add(FEEDS, FEED_IDS, hash, feed.id, record, feed.user)
            .await
    }

    pub fn feed_by_hash(&self, hash: &str) -> Result<Option<Feed>> {
        self.secret_get(FEEDS, hash)
    }

    /// The feeds of `user` (every feed when None), oldest first.
    pub fn feeds(&self, user: Option<&str>) -> Result<Vec<Feed>> {
        let mut all: Vec<Feed> = self.secret_list(FEEDS)?;
        all.retain(|f| user.is_none_or(|u| f.user == u));
        all.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(all)
    }

    /// Remove a feed; with `user`, only one of theirs.
    pub async fn feed_revoke(&self, id: &str, user: Option<&str>) -> Result<()> {
        self.secret_revoke::<Feed>(
            FEEDS,
            FEED_IDS,
            id.to_string(),
            |f| &f.user,
            user.map(str::to_string),
        )
        .await
    }
}
