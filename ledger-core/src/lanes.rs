//! BLAKE3 over many short messages at once, one message per vector lane.
//!
//! A verifier hashes every frame and every Merkle leaf: millions of
//! messages of one to a few 64-byte blocks. The `blake3` crate's SIMD code
//! spreads the chunks of one long message across lanes; a short message it
//! compresses one block at a time. Compressing the same block of sixteen
//! messages side by side does the same work in less than half the time
//! (measured: a 33-byte leaf 57 → 25 ns, a 65-byte node 103 → 46 ns).
//!
//! The result is BLAKE3, bit for bit: tests hold every lane to the `blake3`
//! crate, for every length and both modes used. With AVX-512 the portable
//! code below is compiled for its registers; with AVX2 alone `avx2.rs`
//! hashes eight lanes at a time in registers of its own; on a machine
//! without AVX2 every message goes to the `blake3` crate instead.

use blake3::hazmat::{ContextKey, HasherExt};

use crate::values::Digest;

#[cfg(target_arch = "x86_64")]
mod avx2;

/// Messages hashed as one group: compressed side by side, all sixteen at
/// once on AVX-512, eight at a time on AVX2 (`avx2.rs`).
pub const LANES: usize = 16;

/// Longer messages go to the `blake3` crate one by one: within a group the
/// longest lane sets the number of blocks for all, and frames this long
/// are rare (an activity's full description, a key rotation).
const MAX_LANE_BLOCKS: usize = 8;
const BLOCK: usize = 64;

/// What the hash is keyed with: plain hashing, or key derivation with a
/// context already hashed into its key.
#[derive(Clone, Copy)]
pub enum Mode {
    Hash,
    DeriveKey(&'static ContextKey),
}

/// Hashes each of `messages` into the same place of `out`.
///
/// # Panics
/// If `out` is shorter than `messages` (a caller's bug, not input's).
pub fn hash_each(mode: Mode, messages: &[&[u8]], out: &mut [Digest]) {
    assert!(out.len() >= messages.len(), "one digest per message");
    for (group, out) in messages.chunks(LANES).zip(out.chunks_mut(LANES)) {
        hash_group(mode, group, out);
    }
}

fn hash_group(mode: Mode, group: &[&[u8]], out: &mut [Digest]) {
    let fits = |m: &&[u8]| m.len() <= MAX_LANE_BLOCKS * BLOCK;
    if group.len() < 2 || !vectors_available() {
        for (message, digest) in group.iter().zip(out.iter_mut()) {
            *digest = one(mode, message);
        }
        return;
    }
    let mut lanes: [&[u8]; LANES] = [&[]; LANES];
    for (lane, message) in lanes.iter_mut().zip(group) {
        if fits(message) {
            *lane = message;
        }
    }
    let (key, flags) = match mode {
        Mode::Hash => (IV, 0),
        Mode::DeriveKey(context) => (words(context), DERIVE_KEY_MATERIAL),
    };
    let digests = vectorised(&lanes, &key, flags);
    for ((message, digest), lane) in group.iter().zip(out.iter_mut()).zip(digests) {
        *digest = if fits(message) {
            Digest(lane)
        } else {
            one(mode, message)
        };
    }
}

/// One message through the `blake3` crate.
fn one(mode: Mode, message: &[u8]) -> Digest {
    let hash = match mode {
        Mode::Hash => blake3::hash(message),
        Mode::DeriveKey(context) => blake3::Hasher::new_from_context_key(context)
            .update(message)
            .finalize(),
    };
    Digest(*hash.as_bytes())
}

/// Which vector code hashes the groups on this CPU, as benchmarks print
/// it: the verifier's lead over chained hashing depends on it.
pub fn vectors_in_use() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        return "AVX-512";
    }
    if vectors_available() {
        "AVX2"
    } else {
        "none (each message hashed alone)"
    }
}

#[cfg(target_arch = "x86_64")]
fn vectors_available() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

#[cfg(not(target_arch = "x86_64"))]
fn vectors_available() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn vectorised(lanes: &[&[u8]; LANES], key: &[u32; 8], flags: u32) -> [[u8; 32]; LANES] {
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has just been seen to support AVX-512F, the only
        // thing `on_avx512` requires beyond safe Rust.
        unsafe { on_avx512(lanes, key, flags) }
    } else {
        let mut digests = [[0u8; 32]; LANES];
        for (half, out) in lanes
            .chunks_exact(avx2::LANES)
            .zip(digests.chunks_exact_mut(avx2::LANES))
        {
            let half: [&[u8]; avx2::LANES] = std::array::from_fn(|l| half[l]);
            // SAFETY: callers only get here when `vectors_available` has
            // seen AVX2, the only thing `avx2::hash_lanes` requires beyond
            // safe Rust.
            out.copy_from_slice(&unsafe { avx2::hash_lanes(&half, key, flags) });
        }
        digests
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn vectorised(lanes: &[&[u8]; LANES], key: &[u32; 8], flags: u32) -> [[u8; 32]; LANES] {
    hash_lanes(lanes, key, flags)
}

// The same code, compiled for wider registers: each loop over the lanes
// becomes one vector instruction.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn on_avx512(lanes: &[&[u8]; LANES], key: &[u32; 8], flags: u32) -> [[u8; 32]; LANES] {
    hash_lanes(lanes, key, flags)
}

// BLAKE3's constants (the specification, section 2).
const IV: [u32; 8] = [
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
];
const CHUNK_START: u32 = 1;
const CHUNK_END: u32 = 1 << 1;
const ROOT: u32 = 1 << 3;
const DERIVE_KEY_MATERIAL: u32 = 1 << 6;
const PERMUTATION: [usize; 16] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];

/// Which message word each of a round's sixteen inputs is: the
/// permutation applied round after round, worked out once.
const SCHEDULE: [[usize; 16]; 7] = {
    let mut schedule = [[0; 16]; 7];
    let mut i = 0;
    while i < 16 {
        schedule[0][i] = i;
        i += 1;
    }
    let mut round = 1;
    while round < 7 {
        let mut i = 0;
        while i < 16 {
            schedule[round][i] = schedule[round - 1][PERMUTATION[i]];
            i += 1;
        }
        round += 1;
    }
    schedule
};

/// One 32-bit word of every lane.
type Word = [u32; LANES];

/// Hashes each lane's message (at most `MAX_LANE_BLOCKS` blocks, so one
/// chunk) as the root of its own tree. Lanes end after different numbers
/// of blocks; a lane that has ended keeps its chaining value.
#[inline(always)]
fn hash_lanes(lanes: &[&[u8]; LANES], key: &[u32; 8], flags: u32) -> [[u8; 32]; LANES] {
    let blocks: [usize; LANES] = std::array::from_fn(|l| lanes[l].len().div_ceil(BLOCK).max(1));
    let most = blocks.iter().copied().max().unwrap_or(1);
    let mut cv: [Word; 8] = std::array::from_fn(|i| [key[i]; LANES]);
    for block in 0..most {
        let mut message = [[0u32; LANES]; 16];
        let mut block_len = [0u32; LANES];
        let mut block_flags = [flags; LANES];
        let mut live = [false; LANES];
        for l in 0..LANES {
            let start = (block * BLOCK).min(lanes[l].len());
            let bytes = &lanes[l][start..lanes[l].len().min(start + BLOCK)];
            for (word, value) in message.iter_mut().zip(words_of(bytes)) {
                word[l] = value;
            }
            block_len[l] = bytes.len() as u32;
            if block == 0 {
                block_flags[l] |= CHUNK_START;
            }
            if block + 1 == blocks[l] {
                block_flags[l] |= CHUNK_END | ROOT;
            }
            live[l] = block < blocks[l];
        }
        let next = compress(&cv, &message, &block_len, &block_flags);
        for (word, next) in cv.iter_mut().zip(next) {
            for l in 0..LANES {
                if live[l] {
                    word[l] = next[l];
                }
            }
        }
    }
    std::array::from_fn(|l| {
        let mut digest = [0u8; 32];
        for (i, word) in cv.iter().enumerate() {
            digest[4 * i..4 * i + 4].copy_from_slice(&word[l].to_le_bytes());
        }
        digest
    })
}

/// The compression function on every lane at once, for the first block
/// counter of a chunk (0: every message here is one chunk), truncated to
/// the chaining value.
#[inline(always)]
fn compress(cv: &[Word; 8], message: &[Word; 16], block_len: &Word, flags: &Word) -> [Word; 8] {
    let mut s: [Word; 16] = [[0; LANES]; 16];
    s[..8].copy_from_slice(cv);
    for i in 0..4 {
        s[8 + i] = [IV[i]; LANES];
    }
    // s[12] and s[13], the chunk counter, stay 0.
    s[14] = *block_len;
    s[15] = *flags;
    for schedule in &SCHEDULE {
        let m = |i: usize| &message[schedule[i]];
        g(&mut s, [0, 4, 8, 12], m(0), m(1));
        g(&mut s, [1, 5, 9, 13], m(2), m(3));
        g(&mut s, [2, 6, 10, 14], m(4), m(5));
        g(&mut s, [3, 7, 11, 15], m(6), m(7));
        g(&mut s, [0, 5, 10, 15], m(8), m(9));
        g(&mut s, [1, 6, 11, 12], m(10), m(11));
        g(&mut s, [2, 7, 8, 13], m(12), m(13));
        g(&mut s, [3, 4, 9, 14], m(14), m(15));
    }
    std::array::from_fn(|i| {
        let mut word = s[i];
        for l in 0..LANES {
            word[l] ^= s[i + 8][l];
        }
        word
    })
}

#[inline(always)]
fn g(s: &mut [Word; 16], [a, b, c, d]: [usize; 4], x: &Word, y: &Word) {
    for l in 0..LANES {
        s[a][l] = s[a][l].wrapping_add(s[b][l]).wrapping_add(x[l]);
        s[d][l] = (s[d][l] ^ s[a][l]).rotate_right(16);
        s[c][l] = s[c][l].wrapping_add(s[d][l]);
        s[b][l] = (s[b][l] ^ s[c][l]).rotate_right(12);
        s[a][l] = s[a][l].wrapping_add(s[b][l]).wrapping_add(y[l]);
        s[d][l] = (s[d][l] ^ s[a][l]).rotate_right(8);
        s[c][l] = s[c][l].wrapping_add(s[d][l]);
        s[b][l] = (s[b][l] ^ s[c][l]).rotate_right(7);
    }
}

/// A block's sixteen little-endian words, zero-padded. Copying a short
/// block into a padded buffer first would cost a `memcpy` call per lane.
#[inline(always)]
fn words_of(block: &[u8]) -> [u32; 16] {
    let mut words = [0u32; 16];
    let whole = block.chunks_exact(4);
    let rest = whole.remainder();
    let mut filled = 0;
    for (word, bytes) in words.iter_mut().zip(whole) {
        *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        filled += 1;
    }
    if let Some(word) = words.get_mut(filled) {
        for (k, byte) in rest.iter().enumerate() {
            *word |= u32::from(*byte) << (8 * k);
        }
    }
    words
}

fn words(key: &[u8; 32]) -> [u32; 8] {
    std::array::from_fn(|i| {
        u32::from_le_bytes([key[4 * i], key[4 * i + 1], key[4 * i + 2], key[4 * i + 3]])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::LazyLock;

    static CONTEXT: LazyLock<ContextKey> =
        LazyLock::new(|| blake3::hazmat::hash_derive_key_context("ledger lanes test"));

    fn reference(mode: Mode, message: &[u8]) -> [u8; 32] {
        match mode {
            Mode::Hash => *blake3::hash(message).as_bytes(),
            Mode::DeriveKey(_) => blake3::derive_key("ledger lanes test", message),
        }
    }

    fn modes() -> [Mode; 2] {
        [Mode::Hash, Mode::DeriveKey(&CONTEXT)]
    }

    fn messages(lengths: &[usize]) -> Vec<Vec<u8>> {
        lengths
            .iter()
            .enumerate()
            .map(|(i, &len)| (0..len).map(|k| (i * 131 + k * 7 + len) as u8).collect())
            .collect()
    }

    #[test]
    fn every_length_up_to_the_lane_limit_and_past_it_hashes_as_blake3() {
        // Lengths around every block boundary, the empty message, and
        // lengths that leave the lanes for the crate.
        let lengths: Vec<usize> = (0..=MAX_LANE_BLOCKS * BLOCK + 70).collect();
        let owned = messages(&lengths);
        let refs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        for mode in modes() {
            let mut out = vec![Digest::ZERO; refs.len()];
            hash_each(mode, &refs, &mut out);
            for (message, digest) in refs.iter().zip(&out) {
                assert_eq!(
                    digest.0,
                    reference(mode, message),
                    "length {}",
                    message.len()
                );
            }
        }
    }

    fn key_and_flags(mode: Mode) -> ([u32; 8], u32) {
        match mode {
            Mode::Hash => (IV, 0),
            Mode::DeriveKey(context) => (words(context), DERIVE_KEY_MATERIAL),
        }
    }

    const LENGTHS: [usize; 16] = [
        0, 1, 33, 63, 64, 65, 128, 163, 200, 511, 512, 3, 97, 145, 300, 64,
    ];

    #[test]
    fn the_lanes_themselves_hash_as_blake3_on_any_machine() {
        // `hash_each` leaves the lanes to the crate on a machine without
        // AVX2, and takes only one of the two kernels on a machine with it;
        // the portable kernel is checked here whatever the machine.
        let owned = messages(&LENGTHS);
        let lanes: [&[u8]; LANES] = std::array::from_fn(|l| owned[l].as_slice());
        for mode in modes() {
            let (key, flags) = key_and_flags(mode);
            for (lane, digest) in lanes.iter().zip(hash_lanes(&lanes, &key, flags)) {
                assert_eq!(digest, reference(mode, lane), "length {}", lane.len());
            }
        }
    }

    /// The AVX2 kernel on any messages, where the CPU has AVX2 (on a
    /// machine with AVX-512 `hash_each` never takes it).
    #[cfg(target_arch = "x86_64")]
    fn check_avx2(owned: &[Vec<u8>]) {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        for mode in modes() {
            let (key, flags) = key_and_flags(mode);
            for group in owned.chunks(avx2::LANES) {
                let lanes: [&[u8]; avx2::LANES] =
                    std::array::from_fn(|l| group.get(l).map_or(&[][..], Vec::as_slice));
                // SAFETY: AVX2 has just been seen on this CPU.
                let digests = unsafe { avx2::hash_lanes(&lanes, &key, flags) };
                for (lane, digest) in lanes.iter().zip(digests) {
                    assert_eq!(digest, reference(mode, lane), "length {}", lane.len());
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_kernel_hashes_as_blake3() {
        check_avx2(&messages(&LENGTHS));
        let every_length: Vec<usize> = (0..=MAX_LANE_BLOCKS * BLOCK).collect();
        check_avx2(&messages(&every_length));
    }

    proptest! {
        #[test]
        fn any_messages_hash_as_blake3_one_by_one(
            owned in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..700), 0..40),
            derive in any::<bool>(),
        ) {
            let mode = if derive { Mode::DeriveKey(&CONTEXT) } else { Mode::Hash };
            let refs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
            let mut out = vec![Digest::ZERO; refs.len()];
            hash_each(mode, &refs, &mut out);
            for (message, digest) in refs.iter().zip(&out) {
                prop_assert_eq!(digest.0, reference(mode, message));
            }
        }

        #[cfg(target_arch = "x86_64")]
        #[test]
        fn any_messages_hash_as_blake3_on_the_avx2_kernel(
            owned in proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..=MAX_LANE_BLOCKS * BLOCK),
                0..20,
            ),
        ) {
            check_avx2(&owned);
        }
    }
}
