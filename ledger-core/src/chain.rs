//! Linking frames into a chain, and verifying one.
//!
//! A [`Chain`] is the writer's side: it numbers and links each record.
//! A [`Verifier`] is the auditor's side: fed frames in order, it re-hashes
//! and re-links each and names the first one that is wrong, at the sequence
//! where it should stand.

use thiserror::Error;

use crate::event::EventRecord;
use crate::frame::{self, BodyError, FrameError, FrameRef, FORMAT_VERSION};
use crate::values::Digest;

/// The last link of a chain: its sequence and hash. The empty chain's head
/// is sequence 0 with a hash of zeros, which the first frame links to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Head {
    pub sequence: u64,
    pub hash: Digest,
}

impl Head {
    pub const EMPTY: Head = Head {
        sequence: 0,
        hash: Digest::ZERO,
    };
}

/// What is wrong with a frame.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Fault {
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("frame format {0} is not known")]
    UnknownFormat(u16),
    #[error("bad hash: the frame's bytes hash to {computed}, its trailer says {stored}")]
    BadHash { computed: Digest, stored: Digest },
    #[error("gap: sequence {found} where {expected} was due")]
    Gap { expected: u64, found: u64 },
    #[error("bad link: the frame names {found} as previous, but the previous frame's hash is {expected}")]
    BadLink { expected: Digest, found: Digest },
    #[error("{0}")]
    Body(#[from] BodyError),
    #[error("{0} bytes follow the frame")]
    TrailingBytes(usize),
}

/// The first bad frame of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("sequence {sequence}: {fault}")]
pub struct ChainError {
    /// Where the bad frame stands: the sequence that was due there.
    pub sequence: u64,
    pub fault: Fault,
}

/// The writer's end: turns records into linked frames.
#[derive(Clone, Debug, Default)]
pub struct Chain {
    head: Head,
}

impl Chain {
    pub fn new() -> Chain {
        Chain { head: Head::EMPTY }
    }

    /// Continues a chain whose last verified frame is `head`.
    pub fn resume(head: Head) -> Chain {
        Chain { head }
    }

    pub fn head(&self) -> Head {
        self.head
    }

    /// Appends the frame for `record` to `out` and advances the head.
    pub fn append(&mut self, record: &EventRecord, out: &mut Vec<u8>) -> Result<Head, FrameError> {
        let sequence = self.head.sequence + 1;
        let hash = frame::encode_frame(sequence, &self.head.hash, record, out)?;
        self.head = Head { sequence, hash };
        Ok(self.head)
    }
}

/// One verified frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub head: Head,
    pub record: EventRecord,
}

/// The auditor's end: checks frames one by one, in order.
#[derive(Clone, Debug, Default)]
pub struct Verifier {
    head: Head,
}

impl Verifier {
    pub fn new() -> Verifier {
        Verifier { head: Head::EMPTY }
    }

    /// Verifies a suffix of a chain whose earlier part is known good up to `head`.
    pub fn resume(head: Head) -> Verifier {
        Verifier { head }
    }

    pub fn head(&self) -> Head {
        self.head
    }

    /// Checks one frame that fills `bytes` exactly.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Verified, ChainError> {
        let (verified, rest) = self.push_front(bytes)?;
        if !rest.is_empty() {
            return Err(self.fault(Fault::TrailingBytes(rest.len())));
        }
        Ok(verified)
    }

    /// Checks the frame at the front of `buf` (frames stored back to back)
    /// and returns what follows it.
    pub fn push_front<'b>(&mut self, buf: &'b [u8]) -> Result<(Verified, &'b [u8]), ChainError> {
        let (frame, rest) = frame::parse_frame(buf).map_err(|e| self.fault(e.into()))?;
        let record = self.check(&frame)?;
        self.head = Head {
            sequence: frame.header.sequence,
            hash: frame.stored_hash,
        };
        Ok((
            Verified {
                head: self.head,
                record,
            },
            rest,
        ))
    }

    /// The frame's own integrity first (so a changed byte is blamed on the
    /// frame that holds it), then its place in the chain, then its body.
    fn check(&self, frame: &FrameRef<'_>) -> Result<EventRecord, ChainError> {
        if frame.header.format != FORMAT_VERSION {
            return Err(self.fault(Fault::UnknownFormat(frame.header.format)));
        }
        let computed = frame.computed_hash();
        if computed != frame.stored_hash {
            return Err(self.fault(Fault::BadHash {
                computed,
                stored: frame.stored_hash,
            }));
        }
        let expected = self.head.sequence + 1;
        if frame.header.sequence != expected {
            return Err(self.fault(Fault::Gap {
                expected,
                found: frame.header.sequence,
            }));
        }
        if frame.header.previous != self.head.hash {
            return Err(self.fault(Fault::BadLink {
                expected: self.head.hash,
                found: frame.header.previous,
            }));
        }
        frame.decode().map_err(|e| self.fault(e.into()))
    }

    fn fault(&self, fault: Fault) -> ChainError {
        ChainError {
            sequence: self.head.sequence + 1,
            fault,
        }
    }
}

/// Verifies a whole chain from its first frame, one frame per item, and
/// returns its head (sequence 0 for an empty chain).
pub fn verify<'a>(frames: impl IntoIterator<Item = &'a [u8]>) -> Result<Head, ChainError> {
    let mut verifier = Verifier::new();
    for bytes in frames {
        verifier.push(bytes)?;
    }
    Ok(verifier.head())
}

/// Verifies frames stored back to back in one buffer (a block, a bundle).
pub fn verify_concatenated(mut buf: &[u8], from: Head) -> Result<Head, ChainError> {
    let mut verifier = Verifier::resume(from);
    while !buf.is_empty() {
        let (_, rest) = verifier.push_front(buf)?;
        buf = rest;
    }
    Ok(verifier.head())
}
