//! Personal data off the chain. The registration form's personal fields
//! (name, ID number, phone, employer…) live in a JetStream KV bucket,
//! encrypted with a key of the volunteer's own that lives in a second bucket.
//! Erasing a person purges that key: every copy of the record, backups
//! included, becomes unreadable, while the chain stays verifiable (it only
//! ever held the pseudonymous id and the identity commitment).

use std::sync::Arc;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use ledger_core::values::VolunteerId;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::names::{self, Names};
use crate::shard::Shard;

#[derive(Debug, Error)]
pub enum PersonalError {
    #[error("personal-data bucket {bucket}: {source}")]
    Bucket {
        bucket: String,
        source: async_nats::Error,
    },
    #[error("the personal record of {0} does not decrypt")]
    Undecryptable(VolunteerId),
    #[error("the personal record of {volunteer} does not read: {source}")]
    Unreadable {
        volunteer: VolunteerId,
        source: serde_json::Error,
    },
}

/// The personal part of the registration form (登记表) and roster (花名册).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalRecord {
    pub name: String,
    pub sex: Option<String>,
    /// 身份证号
    pub citizen_id: String,
    pub phone: Option<String>,
    /// 政治面貌
    pub political_status: Option<String>,
    pub employer: Option<String>,
    pub education: Option<String>,
    pub started_work: Option<String>,
    pub health: Option<String>,
    #[serde(default)]
    pub work_history: Vec<String>,
}

#[derive(Clone)]
pub struct PersonalStore {
    records: kv::Store,
    keys: kv::Store,
    /// Names for leaderboards, kept while the key bucket is watched.
    names: Arc<Names>,
}

async fn bucket(
    js: &jetstream::Context,
    name: String,
    replicas: usize,
) -> Result<kv::Store, PersonalError> {
    js.create_key_value(kv::Config {
        bucket: name.clone(),
        history: 1,
        storage: jetstream::stream::StorageType::File,
        num_replicas: replicas,
        ..Default::default()
    })
    .await
    .map_err(|e| PersonalError::Bucket {
        bucket: name,
        source: e.into(),
    })
}

impl PersonalStore {
    pub async fn open(
        js: &jetstream::Context,
        shard: &Shard,
        replicas: usize,
    ) -> Result<PersonalStore, PersonalError> {
        let keys = bucket(js, format!("{}_PERSONAL_KEYS", shard.stream()), replicas).await?;
        let names = Arc::new(Names::default());
        tokio::spawn(names::follow(keys.clone(), Arc::downgrade(&names)));
        Ok(PersonalStore {
            records: bucket(js, format!("{}_PERSONAL", shard.stream()), replicas).await?,
            keys,
            names,
        })
    }

    fn failed(&self, what: &str, e: impl Into<async_nats::Error>) -> PersonalError {
        PersonalError::Bucket {
            bucket: what.to_owned(),
            source: e.into(),
        }
    }

    /// Stores a volunteer's record under a fresh key of their own.
    pub async fn put(
        &self,
        volunteer: &VolunteerId,
        record: &PersonalRecord,
    ) -> Result<(), PersonalError> {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let cipher = XChaCha20Poly1305::new(&key);
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let plain = serde_json::to_vec(record).map_err(|source| PersonalError::Unreadable {
            volunteer: volunteer.clone(),
            source,
        })?;
        let sealed = cipher
            .encrypt(&nonce, plain.as_slice())
            .map_err(|_| PersonalError::Undecryptable(volunteer.clone()))?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        self.keys
            .put(volunteer.as_str(), Bytes::copy_from_slice(key.as_slice()))
            .await
            .map_err(|e| self.failed("keys", e))?;
        self.records
            .put(volunteer.as_str(), Bytes::from(stored))
            .await
            .map_err(|e| self.failed("records", e))?;
        // The watch tells every instance; this one need not wait for it.
        self.names.forget(volunteer);
        Ok(())
    }

    /// The name a leaderboard shows, if there is one: from this instance's
    /// cache when it can be (see [`crate::names`]). A store that cannot be
    /// read shows no name rather than failing the page.
    pub async fn name(&self, volunteer: &VolunteerId) -> Option<String> {
        let ticket = match self.names.cached(volunteer) {
            Ok(name) => return name,
            Err(ticket) => ticket,
        };
        let name = self.get(volunteer).await.ok()?.map(|record| record.name);
        self.names.remember(volunteer.clone(), name.clone(), ticket);
        name
    }

    /// The names of `volunteers` if every one of them is cached (an id
    /// that names no volunteer has no name), so that a page whose names
    /// are all known needs no task to fetch them.
    pub fn cached_names(&self, volunteers: &[String]) -> Option<Vec<Option<String>>> {
        let ids: Vec<Option<VolunteerId>> = volunteers
            .iter()
            .map(|volunteer| VolunteerId::new(volunteer.as_str()).ok())
            .collect();
        self.names.cached_all(&ids)
    }

    /// The names of several volunteers, asked for all at once: one round
    /// trip for those not cached, not one each. An id that names no
    /// volunteer has no name.
    pub async fn names(&self, volunteers: &[String]) -> Vec<Option<String>> {
        futures::future::join_all(volunteers.iter().map(|volunteer| async move {
            let id = VolunteerId::new(volunteer.as_str()).ok()?;
            self.name(&id).await
        }))
        .await
    }

    /// The record, or None if there is none or the person was erased.
    pub async fn get(
        &self,
        volunteer: &VolunteerId,
    ) -> Result<Option<PersonalRecord>, PersonalError> {
        // Two buckets, two round trips: taken together.
        let (key, stored) = tokio::join!(
            self.keys.get(volunteer.as_str()),
            self.records.get(volunteer.as_str())
        );
        let key = key.map_err(|e| self.failed("keys", e))?;
        let stored = stored.map_err(|e| self.failed("records", e))?;
        let (Some(key), Some(stored)) = (key, stored) else {
            return Ok(None);
        };
        if key.len() != 32 || stored.len() < 24 {
            return Err(PersonalError::Undecryptable(volunteer.clone()));
        }
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&key));
        let (nonce, sealed) = stored.split_at(24);
        let plain = cipher
            .decrypt(XNonce::from_slice(nonce), sealed)
            .map_err(|_| PersonalError::Undecryptable(volunteer.clone()))?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|source| PersonalError::Unreadable {
                volunteer: volunteer.clone(),
                source,
            })
    }

    /// Whether a record was ever stored for the volunteer: one there now,
    /// or one erased (a purge leaves its marker).
    pub async fn ever_stored(&self, volunteer: &VolunteerId) -> Result<bool, PersonalError> {
        let entry = self
            .keys
            .entry(volunteer.as_str())
            .await
            .map_err(|e| self.failed("keys", e))?;
        Ok(entry.is_some())
    }

    /// Erases a person: purges their key (so any copy of the record is
    /// unreadable) and the record itself.
    pub async fn erase(&self, volunteer: &VolunteerId) -> Result<(), PersonalError> {
        self.keys
            .purge(volunteer.as_str())
            .await
            .map_err(|e| self.failed("keys", e))?;
        self.records
            .purge(volunteer.as_str())
            .await
            .map_err(|e| self.failed("records", e))?;
        self.names.forget(volunteer);
        Ok(())
    }

    /// The sealed bytes as stored, for tests that check nothing is in clear.
    pub async fn sealed(&self, volunteer: &VolunteerId) -> Result<Option<Bytes>, PersonalError> {
        self.records
            .get(volunteer.as_str())
            .await
            .map_err(|e| self.failed("records", e))
    }
}
