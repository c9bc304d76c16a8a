//! Report attachments (activity photos, summaries) in a JetStream object
//! store, named by their BLAKE3 hash. The chain keeps only the hash; the
//! store refuses bytes that do not hash to the name they are offered under.

use async_nats::jetstream::{self, object_store};
use ledger_core::values::Digest;
use thiserror::Error;
use tokio::io::AsyncReadExt;

use crate::shard::Shard;

#[derive(Debug, Error)]
pub enum AttachmentError {
    #[error("the bytes hash to {actual}, not {claimed}")]
    Mismatch { claimed: Digest, actual: Digest },
    #[error("attachment store: {0}")]
    Store(async_nats::Error),
}

#[derive(Clone)]
pub struct AttachmentStore {
    store: object_store::ObjectStore,
}

impl AttachmentStore {
    pub async fn open(
        js: &jetstream::Context,
        shard: &Shard,
        replicas: usize,
    ) -> Result<AttachmentStore, AttachmentError> {
        let store = js
            .create_object_store(object_store::Config {
                bucket: format!("{}_ATTACHMENTS", shard.stream()),
                storage: jetstream::stream::StorageType::File,
                num_replicas: replicas,
                ..Default::default()
            })
            .await
            .map_err(|e| AttachmentError::Store(e.into()))?;
        Ok(AttachmentStore { store })
    }

    /// Stores `bytes` if they hash to `claimed`.
    pub async fn put(&self, claimed: Digest, bytes: &[u8]) -> Result<(), AttachmentError> {
        let actual = Digest::of(bytes);
        if actual != claimed {
            return Err(AttachmentError::Mismatch { claimed, actual });
        }
        let mut reader = bytes;
        self.store
            .put(claimed.to_hex().as_str(), &mut reader)
            .await
            .map_err(|e| AttachmentError::Store(e.into()))?;
        Ok(())
    }

    /// The stored size of an attachment, if it is there.
    pub async fn size(&self, hash: &Digest) -> Option<u64> {
        let info = self.store.info(hash.to_hex()).await.ok()?;
        (!info.deleted).then_some(info.size as u64)
    }

    /// The bytes, checked against their name once more on the way out.
    pub async fn get(&self, hash: &Digest) -> Result<Option<Vec<u8>>, AttachmentError> {
        let Ok(mut object) = self.store.get(hash.to_hex()).await else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        object
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| AttachmentError::Store(e.into()))?;
        let actual = Digest::of(&bytes);
        if actual != *hash {
            return Err(AttachmentError::Mismatch {
                claimed: *hash,
                actual,
            });
        }
        Ok(Some(bytes))
    }
}
