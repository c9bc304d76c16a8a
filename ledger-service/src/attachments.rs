//! Report attachments (activity photos, summaries) in a JetStream object
//! store, named by their BLAKE3 hash. The chain keeps only the hash; the
//! store refuses bytes that do not hash to the name they are offered under.
//!
//! A file may be up to 1 GiB (`MAX_ATTACHMENT_BYTES`), more than a request
//! or an answer should hold in memory, so files pass through an unnamed
//! temporary file on their way in and out ([`Spooled`]), hashed as they go.

use std::io::SeekFrom;

use async_nats::jetstream::{self, object_store};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use ledger_core::values::Digest;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::shard::Shard;

#[derive(Debug, Error)]
pub enum AttachmentError {
    #[error("the bytes hash to {actual}, not {claimed}")]
    Mismatch { claimed: Digest, actual: Digest },
    #[error("an attachment is at most {limit} bytes; this one is larger")]
    TooLarge { limit: u64 },
    #[error("the upload broke off: {0}")]
    BrokenOff(String),
    #[error("a temporary file for the attachment: {0}")]
    Spool(#[source] std::io::Error),
    #[error("attachment store: {0}")]
    Store(async_nats::Error),
}

/// A file held in an unnamed temporary file (gone with it), its hash and
/// size taken on the way in.
pub struct Spooled {
    file: tokio::fs::File,
    pub hash: Digest,
    pub bytes: u64,
}

/// How much is read or written at a time.
const CHUNK: usize = 64 << 10;

impl Spooled {
    /// Spools `chunks` as they come, refusing the file as soon as it passes
    /// `limit` bytes.
    pub async fn from_chunks<E: std::fmt::Display>(
        mut chunks: impl Stream<Item = Result<Bytes, E>> + Unpin,
        limit: u64,
    ) -> Result<Spooled, AttachmentError> {
        let mut spooler = Spooler::new(limit)?;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| AttachmentError::BrokenOff(e.to_string()))?;
            spooler.take(&chunk).await?;
        }
        spooler.finish().await
    }

    /// Spools what `reader` gives until its end.
    async fn from_reader(
        mut reader: impl AsyncRead + Unpin,
        limit: u64,
    ) -> Result<Spooled, AttachmentError> {
        let mut spooler = Spooler::new(limit)?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = reader
                .read(&mut buf)
                .await
                .map_err(|e| AttachmentError::Store(e.into()))?;
            if n == 0 {
                return spooler.finish().await;
            }
            spooler.take(&buf[..n]).await?;
        }
    }

    /// The bytes again, from the start, in chunks.
    pub fn into_chunks(self) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        futures::stream::try_unfold(self.file, |mut file| async move {
            let mut buf = vec![0u8; CHUNK];
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            Ok(Some((Bytes::from(buf), file)))
        })
    }
}

/// A [`Spooled`] on its way in.
struct Spooler {
    file: tokio::fs::File,
    hasher: blake3::Hasher,
    bytes: u64,
    limit: u64,
}

impl Spooler {
    fn new(limit: u64) -> Result<Spooler, AttachmentError> {
        let file = tempfile::tempfile().map_err(AttachmentError::Spool)?;
        Ok(Spooler {
            file: tokio::fs::File::from_std(file),
            hasher: blake3::Hasher::new(),
            bytes: 0,
            limit,
        })
    }

    async fn take(&mut self, chunk: &[u8]) -> Result<(), AttachmentError> {
        self.bytes += chunk.len() as u64;
        if self.bytes > self.limit {
            return Err(AttachmentError::TooLarge { limit: self.limit });
        }
        self.hasher.update(chunk);
        self.file
            .write_all(chunk)
            .await
            .map_err(AttachmentError::Spool)
    }

    async fn finish(mut self) -> Result<Spooled, AttachmentError> {
        self.file.flush().await.map_err(AttachmentError::Spool)?;
        self.file
            .seek(SeekFrom::Start(0))
            .await
            .map_err(AttachmentError::Spool)?;
        Ok(Spooled {
            file: self.file,
            hash: Digest(*self.hasher.finalize().as_bytes()),
            bytes: self.bytes,
        })
    }
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

    /// Stores a file if it hashes to `claimed`.
    pub async fn put(&self, claimed: Digest, mut file: Spooled) -> Result<(), AttachmentError> {
        if file.hash != claimed {
            return Err(AttachmentError::Mismatch {
                claimed,
                actual: file.hash,
            });
        }
        self.store
            .put(claimed.to_hex().as_str(), &mut file.file)
            .await
            .map_err(|e| AttachmentError::Store(e.into()))?;
        Ok(())
    }

    /// The stored size of an attachment, if it is there.
    pub async fn size(&self, hash: &Digest) -> Option<u64> {
        let info = self.store.info(hash.to_hex()).await.ok()?;
        (!info.deleted).then_some(info.size as u64)
    }

    /// The file, checked against its name once more on the way out.
    pub async fn get(&self, hash: &Digest) -> Result<Option<Spooled>, AttachmentError> {
        let Ok(object) = self.store.get(hash.to_hex()).await else {
            return Ok(None);
        };
        let file = Spooled::from_reader(object, u64::MAX).await?;
        if file.hash != *hash {
            return Err(AttachmentError::Mismatch {
                claimed: *hash,
                actual: file.hash,
            });
        }
        Ok(Some(file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&[u8]]) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        let parts: Vec<Result<Bytes, String>> = parts
            .iter()
            .map(|p| Ok(Bytes::copy_from_slice(p)))
            .collect();
        futures::stream::iter(parts)
    }

    #[tokio::test]
    async fn a_file_spooled_in_chunks_comes_back_whole_with_its_hash() {
        let whole: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let parts: Vec<&[u8]> = whole.chunks(7_777).collect();
        let spooled = Spooled::from_chunks(chunks(&parts), 200_000)
            .await
            .expect("spooled");
        assert_eq!(spooled.hash, Digest::of(&whole));
        assert_eq!(spooled.bytes, whole.len() as u64);
        let back: Vec<Bytes> = spooled
            .into_chunks()
            .map(|c| c.expect("a chunk"))
            .collect()
            .await;
        assert_eq!(back.concat(), whole);
    }

    #[tokio::test]
    async fn a_file_over_the_limit_is_refused_as_it_comes() {
        let parts: [&[u8]; 3] = [b"0123456789", b"abc", b"never read"];
        let mut stream = chunks(&parts);
        match Spooled::from_chunks(&mut stream, 12).await {
            Err(AttachmentError::TooLarge { limit: 12 }) => {}
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("13 bytes taken under a limit of 12"),
        }
        // The refusal came at the chunk that passed the limit.
        assert_eq!(
            stream.next().await.map(|c| c.expect("a chunk")),
            Some(Bytes::from_static(b"never read"))
        );
    }

    #[tokio::test]
    async fn an_upload_that_breaks_off_is_named() {
        let parts: Vec<Result<Bytes, String>> = vec![
            Ok(Bytes::from_static(b"half a photo")),
            Err("connection reset".into()),
        ];
        match Spooled::from_chunks(futures::stream::iter(parts), 1 << 20).await {
            Err(AttachmentError::BrokenOff(why)) => assert_eq!(why, "connection reset"),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a broken upload spooled"),
        }
    }
}
