//! The stored form of one event: a fixed little-endian header, the postcard
//! body, and the frame's own BLAKE3 hash. Anyone can re-link a chain of
//! frames with nothing but BLAKE3; `docs/chain.md` is the exact definition.
//!
//! ```text
//! offset  size  field
//!      0     2  format version (u16 LE) = 1
//!      2     2  schema version of the body (u16 LE) = 1
//!      4     8  ledger sequence (u64 LE), 1 for the first event
//!     12    32  hash of the previous frame (zeros before sequence 1)
//!     44     4  body length n (u32 LE), at most 1 MiB
//!     48     n  body: postcard encoding of an EventRecord
//!   48+n    32  hash = BLAKE3 derive_key(HASH_CONTEXT, bytes 0 .. 48+n)
//! ```

use std::sync::LazyLock;

use blake3::hazmat::{ContextKey, HasherExt};
use serde::Deserialize;
use thiserror::Error;

use crate::event::EventRecord;
use crate::lanes;
use crate::values::Digest;

pub const FORMAT_VERSION: u16 = 1;
/// The schema of [`EventRecord`] this build writes and reads.
pub const SCHEMA_VERSION: u16 = 1;
pub const HEADER_LEN: usize = 48;
pub const HASH_LEN: usize = 32;
pub const MAX_BODY_LEN: usize = 1 << 20;
/// BLAKE3's key-derivation mode with this context separates frame hashes
/// from every other use of BLAKE3 (attachments, Merkle nodes, identities).
pub const HASH_CONTEXT: &str = "union-volunteer-ledger 2026-11-23 event frame v1";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    #[error("frame is truncated: {needed} bytes needed, {available} present")]
    Truncated { needed: usize, available: usize },
    #[error("body length {0} exceeds the 1 MiB limit")]
    BodyTooLong(usize),
    #[error("event does not encode: {0}")]
    Encode(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BodyError {
    #[error("schema version {0} is not known to this verifier")]
    UnknownSchema(u16),
    #[error("body does not decode: {0}")]
    Undecodable(String),
    /// A kind of event added after this build: the chain is newer than
    /// the program reading it, which is not a fault of the chain.
    #[error("event kind {0} is not known to this verifier: the chain was written by a newer ledger; read it with a `ledger` at least as new as its writer")]
    UnknownEvent(u32),
    #[error("body has {0} bytes after the event")]
    TrailingBytes(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub format: u16,
    pub schema: u16,
    pub sequence: u64,
    pub previous: Digest,
    pub body_len: u32,
}

/// A frame read from a buffer, not yet verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    pub header: FrameHeader,
    pub body: &'a [u8],
    /// The hash stored in the frame's trailer.
    pub stored_hash: Digest,
    /// Header and body: the bytes the hash covers.
    pub hashed: &'a [u8],
}

impl FrameRef<'_> {
    pub fn computed_hash(&self) -> Digest {
        hash_frame(self.hashed)
    }

    pub fn len(&self) -> usize {
        self.hashed.len() + HASH_LEN
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// The event inside, if the schema is known and the body is canonical
    /// postcard with nothing after it.
    pub fn decode(&self) -> Result<EventRecord, BodyError> {
        if self.header.schema != SCHEMA_VERSION {
            return Err(BodyError::UnknownSchema(self.header.schema));
        }
        decode_body(self.body)
    }
}

/// An event record from a frame's body: canonical postcard, nothing after.
pub fn decode_body(body: &[u8]) -> Result<EventRecord, BodyError> {
    // Decoding in place rather than through `take_from_bytes` saves moving
    // the record through a tuple: a tenth of the decoding a verifier does.
    let mut decoder = postcard::Deserializer::from_bytes(body);
    let record = EventRecord::deserialize(&mut decoder).map_err(|e| undecodable(body, &e))?;
    let rest = decoder.finalize().map_err(|e| undecodable(body, &e))?;
    if !rest.is_empty() {
        return Err(BodyError::TrailingBytes(rest.len()));
    }
    Ok(record)
}

/// What is wrong with a body that did not decode: a kind of event this
/// build does not know, or bytes that are no record at all.
pub(crate) fn undecodable(body: &[u8], error: &postcard::Error) -> BodyError {
    match unknown_kind(body) {
        Some(kind) => BodyError::UnknownEvent(kind),
        None => BodyError::Undecodable(error.to_string()),
    }
}

/// The kind index of the event in `body` when this build knows no such
/// kind. The record's fields before the event decode as they always have;
/// the event's index alone, with nothing after it, fails as an unknown
/// variant where a known one would only run out of bytes for its fields.
fn unknown_kind(body: &[u8]) -> Option<u32> {
    use crate::values::{ActorId, SubmissionKey};
    type Before = (crate::time::Timestamp, ActorId, Option<SubmissionKey>);
    let (_, event) = postcard::take_from_bytes::<Before>(body).ok()?;
    let (kind, _) = postcard::take_from_bytes::<u32>(event).ok()?;
    let alone = postcard::to_allocvec(&kind).ok()?;
    match postcard::from_bytes::<crate::event::Event>(&alone) {
        Err(postcard::Error::SerdeDeCustom) => Some(kind),
        _ => None,
    }
}

/// `HASH_CONTEXT` hashed into its key once: deriving it again for every
/// frame would cost a quarter of the frame's hash.
static CONTEXT_KEY: LazyLock<ContextKey> =
    LazyLock::new(|| blake3::hazmat::hash_derive_key_context(HASH_CONTEXT));

pub fn hash_frame(hashed: &[u8]) -> Digest {
    let hash = blake3::Hasher::new_from_context_key(&CONTEXT_KEY)
        .update(hashed)
        .finalize();
    Digest(*hash.as_bytes())
}

/// [`hash_frame`] of each of `hashed`, into the same place of `out`,
/// several at a time.
pub fn hash_frames(hashed: &[&[u8]], out: &mut [Digest]) {
    lanes::hash_each(lanes::Mode::DeriveKey(&CONTEXT_KEY), hashed, out);
}

/// Appends the frame for `record` at `sequence` after `previous` to `out`
/// and returns its hash.
pub fn encode_frame(
    sequence: u64,
    previous: &Digest,
    record: &EventRecord,
    out: &mut Vec<u8>,
) -> Result<Digest, FrameError> {
    let start = out.len();
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&SCHEMA_VERSION.to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(&previous.0);
    out.extend_from_slice(&[0; 4]);
    let body_start = out.len();
    let encoded = postcard::to_extend(record, std::mem::take(out));
    *out = match encoded {
        Ok(buf) => buf,
        Err(e) => return Err(FrameError::Encode(e.to_string())),
    };
    let body_len = out.len() - body_start;
    if body_len > MAX_BODY_LEN {
        out.truncate(start);
        return Err(FrameError::BodyTooLong(body_len));
    }
    out[body_start - 4..body_start].copy_from_slice(&(body_len as u32).to_le_bytes());
    let hash = hash_frame(&out[start..]);
    out.extend_from_slice(&hash.0);
    Ok(hash)
}

fn le_u16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

/// Reads one frame from the front of `buf`; returns it and what follows.
pub fn parse_frame(buf: &[u8]) -> Result<(FrameRef<'_>, &[u8]), FrameError> {
    if buf.len() < HEADER_LEN {
        return Err(FrameError::Truncated {
            needed: HEADER_LEN,
            available: buf.len(),
        });
    }
    let mut sequence = [0u8; 8];
    sequence.copy_from_slice(&buf[4..12]);
    let mut previous = [0u8; 32];
    previous.copy_from_slice(&buf[12..44]);
    let body_len = u32::from_le_bytes([buf[44], buf[45], buf[46], buf[47]]);
    let header = FrameHeader {
        format: le_u16(&buf[0..2]),
        schema: le_u16(&buf[2..4]),
        sequence: u64::from_le_bytes(sequence),
        previous: Digest(previous),
        body_len,
    };
    let body_len = body_len as usize;
    if body_len > MAX_BODY_LEN {
        return Err(FrameError::BodyTooLong(body_len));
    }
    let total = HEADER_LEN + body_len + HASH_LEN;
    if buf.len() < total {
        return Err(FrameError::Truncated {
            needed: total,
            available: buf.len(),
        });
    }
    let mut stored = [0u8; 32];
    stored.copy_from_slice(&buf[HEADER_LEN + body_len..total]);
    let frame = FrameRef {
        header,
        body: &buf[HEADER_LEN..HEADER_LEN + body_len],
        stored_hash: Digest(stored),
        hashed: &buf[..HEADER_LEN + body_len],
    };
    Ok((frame, &buf[total..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{actor, world};
    use crate::time::Timestamp;

    /// A frame whose event's kind index is `kind`, its hash made anew: a
    /// frame as a newer writer would write it.
    fn frame_of_kind(kind: u8) -> Vec<u8> {
        let record = EventRecord {
            recorded_at: Timestamp(0),
            actor: actor("a"),
            submission: None,
            event: world().events().remove(0),
        };
        let mut frame = Vec::new();
        encode_frame(1, &Digest::ZERO, &record, &mut frame).expect("frame");
        let event = postcard::to_allocvec(&record.event).expect("event");
        let at = frame.len() - HASH_LEN - event.len();
        frame[at] = kind;
        let hashed = frame.len() - HASH_LEN;
        let hash = hash_frame(&frame[..hashed]);
        frame[hashed..].copy_from_slice(&hash.0);
        frame
    }

    #[test]
    fn a_kind_of_event_newer_than_this_build_is_named_as_such() {
        let newer = frame_of_kind(100);
        let body = parse_frame(&newer).expect("parses").0.body;
        assert_eq!(decode_body(body), Err(BodyError::UnknownEvent(100)));
        let fault = crate::chain::Verifier::new()
            .push(&newer)
            .expect_err("not decoded")
            .fault;
        assert_eq!(
            fault,
            crate::chain::Fault::Body(BodyError::UnknownEvent(100))
        );
        // A known kind whose fields do not read is no newer kind.
        let known = frame_of_kind(1);
        let body = parse_frame(&known).expect("parses").0.body;
        assert!(
            matches!(decode_body(body), Err(BodyError::Undecodable(_))),
            "{:?}",
            decode_body(body)
        );
    }

    #[test]
    fn header_fields_sit_where_the_layout_says() {
        let record = EventRecord {
            recorded_at: Timestamp(0),
            actor: actor("a"),
            submission: None,
            event: world().events().remove(0),
        };
        let mut out = Vec::new();
        let previous = Digest([0xAB; 32]);
        let hash = encode_frame(7, &previous, &record, &mut out).unwrap();
        assert_eq!(&out[0..2], &[1, 0]);
        assert_eq!(&out[2..4], &[1, 0]);
        assert_eq!(&out[4..12], &7u64.to_le_bytes());
        assert_eq!(&out[12..44], &[0xAB; 32]);
        let body_len = u32::from_le_bytes(out[44..48].try_into().unwrap()) as usize;
        assert_eq!(out.len(), HEADER_LEN + body_len + HASH_LEN);
        assert_eq!(&out[out.len() - 32..], &hash.0);
        assert_eq!(hash, hash_frame(&out[..out.len() - 32]));
        // The context separates frame hashes from plain BLAKE3.
        assert_ne!(hash, Digest::of(&out[..out.len() - 32]));
        let (frame, rest) = parse_frame(&out).unwrap();
        assert!(rest.is_empty());
        assert_eq!(frame.decode().unwrap(), record);
    }

    #[test]
    fn short_and_oversized_frames_are_refused() {
        assert!(matches!(
            parse_frame(&[0; 47]),
            Err(FrameError::Truncated { needed: 48, .. })
        ));
        let mut header = vec![0u8; 48];
        header[44..48].copy_from_slice(&(MAX_BODY_LEN as u32 + 1).to_le_bytes());
        assert!(matches!(
            parse_frame(&header),
            Err(FrameError::BodyTooLong(_))
        ));
    }
}
