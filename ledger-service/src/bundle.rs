//! The bundle file: the whole chain as stored, for auditors to check with no
//! network and for operators to restore a stream from (docs/audit.md,
//! "The bundle").
//!
//! One JSON line describes it, then one record per block as stored: a flag
//! byte (1 when the block is sealed), the 64-byte seal (zeros when not),
//! the frames' length (u32 LE), and the frames exactly as stored. The
//! first line is padded with spaces, so that a writer can stream the
//! blocks and fill the line in once it knows what they hold.

use std::fs::File;
use std::io::{BufRead, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use ledger_core::values::Signature;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub const BUNDLE_FORMAT: &str = "union-volunteer-ledger bundle";
/// A block larger than NATS's largest message cannot be genuine.
pub const MAX_BLOCK_BYTES: usize = 64 << 20;
/// The first line's room, newline included: the header needs about 300
/// bytes, so the rest is spaces.
const HEADER_ROOM: usize = 1024;
/// A record's fixed part: the flag, the seal and the frames' length.
pub const RECORD_HEAD: usize = 1 + 64 + 4;

#[derive(Debug, Error)]
pub enum BundleError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is not a ledger bundle: {1}")]
    NotABundle(String, String),
}

/// The first line of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleHeader {
    pub format: String,
    pub version: u32,
    pub shard: String,
    pub stream: String,
    pub blocks: u64,
    pub events: u64,
    pub head_hash: String,
    pub exported_at: String,
}

/// One block as a bundle holds it: a seal flag, the seal (or zeros), the
/// frames' length and the frames.
pub fn bundle_record(seal: Option<&Signature>, frames: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&record_head(seal, frames.len()));
    out.extend_from_slice(frames);
}

/// A record's fixed part, for a block of `len` bytes of frames.
fn record_head(seal: Option<&Signature>, len: usize) -> [u8; RECORD_HEAD] {
    let mut head = [0u8; RECORD_HEAD];
    if let Some(seal) = seal {
        head[0] = 1;
        head[1..65].copy_from_slice(&seal.0);
    }
    head[65..].copy_from_slice(&(len as u32).to_le_bytes());
    head
}

/// What comes next in a bundle after a record's frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// A block of `len` bytes of frames, to be read next.
    Block {
        seal: Option<Signature>,
        len: usize,
    },
    /// The file ends inside a record's fixed part, or a record claims more
    /// than a block can hold.
    Cut {
        needed: usize,
        available: usize,
    },
    End,
}

/// Reads a bundle: its first line, then each record's fixed part; the
/// caller reads each block's frames from [`BundleReader::frames`] into a
/// buffer of its own (a verifier reads them straight into its batch).
pub struct BundleReader<R> {
    reader: R,
    name: String,
}

impl<R: BufRead> BundleReader<R> {
    /// Reads and checks the first line.
    pub fn open(mut reader: R, name: &str) -> Result<(BundleHeader, BundleReader<R>), BundleError> {
        let mut first = String::new();
        reader
            .read_line(&mut first)
            .map_err(|source| BundleError::Io {
                path: name.to_owned(),
                source,
            })?;
        let header: BundleHeader = serde_json::from_str(first.trim_end())
            .map_err(|e| BundleError::NotABundle(name.to_owned(), e.to_string()))?;
        if header.format != BUNDLE_FORMAT || header.version != 1 {
            return Err(BundleError::NotABundle(
                name.to_owned(),
                format!("format {:?} version {}", header.format, header.version),
            ));
        }
        let name = name.to_owned();
        Ok((header, BundleReader { reader, name }))
    }

    /// The next record's seal and length. Its frames must be read from
    /// [`BundleReader::frames`] before this is called again.
    pub fn next_record(&mut self) -> Result<Next, BundleError> {
        let mut head = [0u8; RECORD_HEAD];
        let got = read_full(&mut self.reader, &mut head).map_err(|e| self.io(e))?;
        if got == 0 {
            return Ok(Next::End);
        }
        if got < head.len() {
            return Ok(Next::Cut {
                needed: head.len(),
                available: got,
            });
        }
        let seal = (head[0] == 1).then(|| {
            let mut s = [0u8; 64];
            s.copy_from_slice(&head[1..65]);
            Signature(s)
        });
        let len = u32::from_le_bytes([head[65], head[66], head[67], head[68]]) as usize;
        if len > MAX_BLOCK_BYTES {
            return Ok(Next::Cut {
                needed: len,
                available: MAX_BLOCK_BYTES,
            });
        }
        Ok(Next::Block { seal, len })
    }

    /// The current block's frames: appends up to `len` bytes to `out` and
    /// says how many came (fewer when the file ends first).
    pub fn frames(&mut self, len: usize, out: &mut Vec<u8>) -> Result<usize, BundleError> {
        // Room for the whole block first, so it is read in place and not
        // grown and probed for as it comes.
        out.reserve(len);
        self.reader
            .by_ref()
            .take(len as u64)
            .read_to_end(out)
            .map_err(|e| self.io(e))
    }
}

impl<R> BundleReader<R> {
    /// The file's name, for errors.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn io(&self, source: std::io::Error) -> BundleError {
        BundleError::Io {
            path: self.name.clone(),
            source,
        }
    }
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Writes a bundle block by block, so that a chain of any length is never
/// held in memory. It writes to a file beside the one named and puts it in
/// its place only once whole: an export that stops half-way leaves no
/// file that looks like a bundle.
pub struct BundleWriter {
    out: BufWriter<File>,
    partial: PathBuf,
    path: PathBuf,
    finished: bool,
}

impl BundleWriter {
    pub fn create(path: &Path) -> Result<BundleWriter, BundleError> {
        let partial = partial_name(path);
        let io = |source| BundleError::Io {
            path: partial.display().to_string(),
            source,
        };
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&partial).map_err(io)?);
        // The first line's room, filled in by `finish`.
        let mut room = vec![b' '; HEADER_ROOM];
        room[HEADER_ROOM - 1] = b'\n';
        out.write_all(&room).map_err(io)?;
        Ok(BundleWriter {
            out,
            partial,
            path: path.to_owned(),
            finished: false,
        })
    }

    pub fn block(&mut self, seal: Option<&Signature>, frames: &[u8]) -> Result<(), BundleError> {
        self.out
            .write_all(&record_head(seal, frames.len()))
            .and_then(|()| self.out.write_all(frames))
            .map_err(|e| self.io(e))
    }

    /// Fills in the first line, syncs the file and puts it in its place.
    pub fn finish(mut self, header: &BundleHeader) -> Result<(), BundleError> {
        let mut line = serde_json::to_vec(header)
            .map_err(|e| self.io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        if line.len() >= HEADER_ROOM {
            let too_long = format!("the header takes {} bytes, more than its room", line.len());
            return Err(self.io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                too_long,
            )));
        }
        line.resize(HEADER_ROOM - 1, b' ');
        line.push(b'\n');
        let result = (|| {
            self.out.flush()?;
            let file = self.out.get_mut();
            file.seek(SeekFrom::Start(0))?;
            file.write_all(&line)?;
            file.sync_all()?;
            std::fs::rename(&self.partial, &self.path)
        })();
        result.map_err(|e| self.io(e))?;
        self.finished = true;
        Ok(())
    }

    fn io(&self, source: std::io::Error) -> BundleError {
        BundleError::Io {
            path: self.partial.display().to_string(),
            source,
        }
    }
}

impl Drop for BundleWriter {
    /// An export that failed leaves nothing behind.
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// `dir/name` → `dir/name.partial`.
fn partial_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor};

    fn header(blocks: u64) -> BundleHeader {
        BundleHeader {
            format: BUNDLE_FORMAT.into(),
            version: 1,
            shard: "lyg".into(),
            stream: "LEDGER_lyg".into(),
            blocks,
            events: 7,
            head_hash: "ab".repeat(32),
            exported_at: "2026-12-07T20:00:00+00:00".into(),
        }
    }

    /// Each block's seal and frames.
    type Blocks = Vec<(Option<Signature>, Vec<u8>)>;

    fn read_all(bytes: &[u8]) -> (BundleHeader, Blocks, Next) {
        let (header, mut reader) = BundleReader::open(Cursor::new(bytes), "test").unwrap();
        let mut blocks = Vec::new();
        loop {
            match reader.next_record().unwrap() {
                Next::Block { seal, len } => {
                    let mut frames = Vec::new();
                    assert_eq!(reader.frames(len, &mut frames).unwrap(), len);
                    blocks.push((seal, frames));
                }
                other => return (header, blocks, other),
            }
        }
    }

    #[test]
    fn a_written_bundle_reads_back_as_the_records_built_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lyg.bundle");
        let blocks = [
            (None, b"first block".to_vec()),
            (Some(Signature([9; 64])), b"second".to_vec()),
            (Some(Signature([1; 64])), Vec::new()),
        ];
        let mut writer = BundleWriter::create(&path).unwrap();
        assert!(!path.exists(), "the bundle appears only once whole");
        for (seal, frames) in &blocks {
            writer.block(seal.as_ref(), frames).unwrap();
        }
        writer.finish(&header(3)).unwrap();
        assert!(!partial_name(&path).exists());
        let abandoned = BundleWriter::create(&dir.path().join("other.bundle")).unwrap();
        assert!(partial_name(&dir.path().join("other.bundle")).exists());
        drop(abandoned);
        assert!(!partial_name(&dir.path().join("other.bundle")).exists());

        let written = std::fs::read(&path).unwrap();
        let mut in_memory = Vec::new();
        for (seal, frames) in &blocks {
            bundle_record(seal.as_ref(), frames, &mut in_memory);
        }
        assert_eq!(&written[HEADER_ROOM..], &in_memory[..]);
        let (read_header, read_blocks, end) = read_all(&written);
        assert_eq!(read_header, header(3));
        assert_eq!(read_blocks, blocks.to_vec());
        assert_eq!(end, Next::End);
        // Read through a file as `ledger verify` does.
        let file = BufReader::new(File::open(&path).unwrap());
        assert_eq!(BundleReader::open(file, "file").unwrap().0, header(3));
    }

    #[test]
    fn a_record_cut_or_too_long_is_named_with_what_it_needed() {
        let mut bytes = serde_json::to_vec(&header(1)).unwrap();
        bytes.push(b'\n');
        let body_at = bytes.len();
        bundle_record(None, b"frames", &mut bytes);
        let (_, _, end) = read_all(&bytes[..body_at + 10]);
        assert_eq!(
            end,
            Next::Cut {
                needed: RECORD_HEAD,
                available: 10
            }
        );
        let mut huge = bytes[..body_at].to_vec();
        huge.extend_from_slice(&[0; 65]);
        huge.extend_from_slice(&((MAX_BLOCK_BYTES as u32) + 1).to_le_bytes());
        let (_, _, end) = read_all(&huge);
        assert_eq!(
            end,
            Next::Cut {
                needed: MAX_BLOCK_BYTES + 1,
                available: MAX_BLOCK_BYTES
            }
        );
        // Frames cut short: fewer bytes come than the record says.
        let (_, mut reader) =
            BundleReader::open(Cursor::new(&bytes[..bytes.len() - 2]), "t").unwrap();
        let Next::Block { len, .. } = reader.next_record().unwrap() else {
            panic!("a block comes first")
        };
        assert_eq!(reader.frames(len, &mut Vec::new()).unwrap(), len - 2);
    }

    #[test]
    fn a_first_line_of_another_kind_is_not_a_bundle() {
        for first in [&b"not json\n"[..], br#"{"format":"other","version":1}"#] {
            assert!(matches!(
                BundleReader::open(Cursor::new(first), "x"),
                Err(BundleError::NotABundle(..))
            ));
        }
        let mut other = header(0);
        other.version = 2;
        let line = serde_json::to_vec(&other).unwrap();
        assert!(matches!(
            BundleReader::open(Cursor::new(line), "x"),
            Err(BundleError::NotABundle(_, why)) if why.contains("version 2")
        ));
    }
}
