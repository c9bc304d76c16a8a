//! Eight lanes in AVX2 registers, written with the intrinsics.
//!
//! The portable lane code (`hash_lanes`) becomes vector code when the
//! compiler sees loops over sixteen lanes, but sixteen lanes of state need
//! 32 registers of 256 bits and AVX2 has 16, so every step of every round
//! goes through memory; and over eight lanes the compiler left the loops
//! scalar. Here each of the sixteen state words is one register holding
//! that word of eight messages, and the message words are read from
//! memory as each step needs them. Each message's block comes in with two
//! vector loads and eight of them are transposed in registers: gathered
//! word by word, the blocks took two fifths of the hashing.

use std::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_blendv_epi8, _mm256_cmpeq_epi32, _mm256_cmpgt_epi32,
    _mm256_loadu_si256, _mm256_maskload_epi32, _mm256_or_si256, _mm256_permute2x128_si256,
    _mm256_set1_epi32, _mm256_setr_epi32, _mm256_setr_epi8, _mm256_setzero_si256,
    _mm256_shuffle_epi8, _mm256_slli_epi32, _mm256_srli_epi32, _mm256_storeu_si256,
    _mm256_unpackhi_epi32, _mm256_unpackhi_epi64, _mm256_unpacklo_epi32, _mm256_unpacklo_epi64,
    _mm256_xor_si256,
};

use super::{BLOCK, CHUNK_END, CHUNK_START, IV, ROOT, SCHEDULE};

pub const LANES: usize = 8;

/// Hashes each lane's message (at most `MAX_LANE_BLOCKS` blocks) as the
/// root of its own tree, as `hash_lanes` does.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub unsafe fn hash_lanes(lanes: &[&[u8]; LANES], key: &[u32; 8], flags: u32) -> [[u8; 32]; LANES] {
    let blocks: [usize; LANES] = std::array::from_fn(|l| lanes[l].len().div_ceil(BLOCK).max(1));
    let most = blocks.iter().copied().max().unwrap_or(1);
    // Loops, not closures, fill the registers: every step stays in this
    // function, compiled for AVX2.
    let mut cv = [_mm256_setzero_si256(); 8];
    for (word, key) in cv.iter_mut().zip(key) {
        *word = _mm256_set1_epi32(*key as i32);
    }
    for block in 0..most {
        let mut block_len = [0u32; LANES];
        let mut block_flags = [flags; LANES];
        // All ones where the lane's message has this block.
        let mut live = [0u32; LANES];
        // Each lane's block as it stands in memory, eight words in each
        // half, to be turned into sixteen registers of one word each.
        let mut low = [_mm256_setzero_si256(); LANES];
        let mut high = [_mm256_setzero_si256(); LANES];
        for l in 0..LANES {
            let start = (block * BLOCK).min(lanes[l].len());
            let bytes = &lanes[l][start..lanes[l].len().min(start + BLOCK)];
            (low[l], high[l]) = match <&[u8; BLOCK]>::try_from(bytes) {
                Ok(whole) => load_block(whole),
                Err(_) => load_short_block(bytes),
            };
            block_len[l] = bytes.len() as u32;
            if block == 0 {
                block_flags[l] |= CHUNK_START;
            }
            if block + 1 == blocks[l] {
                block_flags[l] |= CHUNK_END | ROOT;
            }
            if block < blocks[l] {
                live[l] = u32::MAX;
            }
        }
        let mut vectors = [_mm256_setzero_si256(); 16];
        vectors[..8].copy_from_slice(&transpose(low));
        vectors[8..].copy_from_slice(&transpose(high));
        let next = compress(&cv, &vectors, load(&block_len), load(&block_flags));
        let live = load(&live);
        for (word, next) in cv.iter_mut().zip(next) {
            *word = _mm256_blendv_epi8(*word, next, live);
        }
    }
    let mut digests = [[0u8; 32]; LANES];
    for (i, word) in cv.into_iter().enumerate() {
        for (digest, word) in digests.iter_mut().zip(store(word)) {
            digest[4 * i..4 * i + 4].copy_from_slice(&word.to_le_bytes());
        }
    }
    digests
}

/// A block's two halves, words 0-7 and 8-15, little-endian as x86 reads.
#[inline]
#[target_feature(enable = "avx2")]
fn load_block(block: &[u8; BLOCK]) -> (__m256i, __m256i) {
    // SAFETY: reads the array's 64 bytes in two unaligned loads of 32.
    unsafe {
        (
            _mm256_loadu_si256(block.as_ptr().cast()),
            _mm256_loadu_si256(block.as_ptr().add(32).cast()),
        )
    }
}

/// As [`load_block`] for a last block shorter than 64 bytes, padded with
/// zeros as BLAKE3 pads it. Copying it into a padded block first cost a
/// tenth of the hashing: a call for the copy, and loads that waited on its
/// stores. So its whole words are read with masked loads, which touch
/// nothing past them, and its last, partial word is put together apart.
#[inline]
#[target_feature(enable = "avx2")]
fn load_short_block(bytes: &[u8]) -> (__m256i, __m256i) {
    let whole = bytes.len().min(BLOCK) / 4;
    // Shifted in, not copied into an array: the compiler makes a copy of a
    // few bytes a call, and the word read back waits for its stores.
    let mut last = 0u32;
    for (i, byte) in bytes[4 * whole..].iter().enumerate() {
        last |= u32::from(*byte) << (8 * i);
    }
    let last = _mm256_set1_epi32(last as i32);
    let whole = _mm256_set1_epi32(whole as i32);
    let at = bytes.as_ptr().cast::<i32>();
    (
        short_half(at, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), whole, last),
        short_half(
            at.wrapping_add(8),
            _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15),
            whole,
            last,
        ),
    )
}

/// Words `index` of a short block whose first `whole` words are whole
/// from `at` on, and whose word after them is `last`.
#[inline]
#[target_feature(enable = "avx2")]
fn short_half(at: *const i32, index: __m256i, whole: __m256i, last: __m256i) -> __m256i {
    let read = _mm256_cmpgt_epi32(whole, index);
    // SAFETY: a masked load reads only the words whose mask is set, here
    // those before `whole`, which `load_short_block` took from the slice.
    let words = unsafe { _mm256_maskload_epi32(at, read) };
    _mm256_blendv_epi8(words, last, _mm256_cmpeq_epi32(whole, index))
}

/// Eight rows of eight words to eight columns: register `w` of the result
/// holds word `w` of every row, row `l` in lane `l`.
#[inline]
#[target_feature(enable = "avx2")]
fn transpose(r: [__m256i; 8]) -> [__m256i; 8] {
    // Within each 128-bit half, words and then pairs of words interleave,
    // so that half `h` of `q[w]` holds word `w + 4h` of rows 0-3 (or 4-7);
    // then the halves are paired across.
    let p = [
        _mm256_unpacklo_epi32(r[0], r[1]),
        _mm256_unpackhi_epi32(r[0], r[1]),
        _mm256_unpacklo_epi32(r[2], r[3]),
        _mm256_unpackhi_epi32(r[2], r[3]),
        _mm256_unpacklo_epi32(r[4], r[5]),
        _mm256_unpackhi_epi32(r[4], r[5]),
        _mm256_unpacklo_epi32(r[6], r[7]),
        _mm256_unpackhi_epi32(r[6], r[7]),
    ];
    let q = [
        _mm256_unpacklo_epi64(p[0], p[2]),
        _mm256_unpackhi_epi64(p[0], p[2]),
        _mm256_unpacklo_epi64(p[1], p[3]),
        _mm256_unpackhi_epi64(p[1], p[3]),
        _mm256_unpacklo_epi64(p[4], p[6]),
        _mm256_unpackhi_epi64(p[4], p[6]),
        _mm256_unpacklo_epi64(p[5], p[7]),
        _mm256_unpackhi_epi64(p[5], p[7]),
    ];
    [
        _mm256_permute2x128_si256::<0x20>(q[0], q[4]),
        _mm256_permute2x128_si256::<0x20>(q[1], q[5]),
        _mm256_permute2x128_si256::<0x20>(q[2], q[6]),
        _mm256_permute2x128_si256::<0x20>(q[3], q[7]),
        _mm256_permute2x128_si256::<0x31>(q[0], q[4]),
        _mm256_permute2x128_si256::<0x31>(q[1], q[5]),
        _mm256_permute2x128_si256::<0x31>(q[2], q[6]),
        _mm256_permute2x128_si256::<0x31>(q[3], q[7]),
    ]
}

#[inline]
#[target_feature(enable = "avx2")]
fn load(words: &[u32; LANES]) -> __m256i {
    // SAFETY: reads the array's 32 bytes; unaligned loads are allowed.
    unsafe { _mm256_loadu_si256(words.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn store(word: __m256i) -> [u32; LANES] {
    let mut words = [0u32; LANES];
    // SAFETY: writes the array's 32 bytes, unaligned stores allowed.
    unsafe { _mm256_storeu_si256(words.as_mut_ptr().cast(), word) };
    words
}

/// The compression function for a chunk's first block counter (0), on
/// eight lanes, truncated to the chaining value.
#[inline]
#[target_feature(enable = "avx2")]
fn compress(
    cv: &[__m256i; 8],
    message: &[__m256i; 16],
    block_len: __m256i,
    flags: __m256i,
) -> [__m256i; 8] {
    let mut s = [_mm256_setzero_si256(); 16];
    s[..8].copy_from_slice(cv);
    for i in 0..4 {
        s[8 + i] = _mm256_set1_epi32(IV[i] as i32);
    }
    // s[12] and s[13], the chunk counter, stay 0.
    s[14] = block_len;
    s[15] = flags;
    for schedule in &SCHEDULE {
        // A loop rather than `map`: a closure left out of line would take
        // and return the registers through memory, compiled without AVX2.
        let mut m = [_mm256_setzero_si256(); 16];
        for (word, &i) in m.iter_mut().zip(schedule) {
            // `% 16` costs nothing and spares a bounds check on every word.
            *word = message[i % 16];
        }
        g(&mut s, [0, 4, 8, 12], m[0], m[1]);
        g(&mut s, [1, 5, 9, 13], m[2], m[3]);
        g(&mut s, [2, 6, 10, 14], m[4], m[5]);
        g(&mut s, [3, 7, 11, 15], m[6], m[7]);
        g(&mut s, [0, 5, 10, 15], m[8], m[9]);
        g(&mut s, [1, 6, 11, 12], m[10], m[11]);
        g(&mut s, [2, 7, 8, 13], m[12], m[13]);
        g(&mut s, [3, 4, 9, 14], m[14], m[15]);
    }
    let mut next = [_mm256_setzero_si256(); 8];
    for (i, word) in next.iter_mut().enumerate() {
        *word = _mm256_xor_si256(s[i], s[i + 8]);
    }
    next
}

#[inline]
#[target_feature(enable = "avx2")]
fn g(s: &mut [__m256i; 16], [a, b, c, d]: [usize; 4], x: __m256i, y: __m256i) {
    s[a] = _mm256_add_epi32(_mm256_add_epi32(s[a], s[b]), x);
    s[d] = rotate_16(_mm256_xor_si256(s[d], s[a]));
    s[c] = _mm256_add_epi32(s[c], s[d]);
    s[b] = rotate_12(_mm256_xor_si256(s[b], s[c]));
    s[a] = _mm256_add_epi32(_mm256_add_epi32(s[a], s[b]), y);
    s[d] = rotate_8(_mm256_xor_si256(s[d], s[a]));
    s[c] = _mm256_add_epi32(s[c], s[d]);
    s[b] = rotate_7(_mm256_xor_si256(s[b], s[c]));
}

// Rotations by whole bytes are one byte shuffle; the others two shifts.
#[inline]
#[target_feature(enable = "avx2")]
fn rotate_16(x: __m256i) -> __m256i {
    _mm256_shuffle_epi8(
        x,
        _mm256_setr_epi8(
            2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, //
            2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,
        ),
    )
}

#[inline]
#[target_feature(enable = "avx2")]
fn rotate_8(x: __m256i) -> __m256i {
    _mm256_shuffle_epi8(
        x,
        _mm256_setr_epi8(
            1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12, //
            1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12,
        ),
    )
}

#[inline]
#[target_feature(enable = "avx2")]
fn rotate_12(x: __m256i) -> __m256i {
    _mm256_or_si256(_mm256_srli_epi32::<12>(x), _mm256_slli_epi32::<20>(x))
}

#[inline]
#[target_feature(enable = "avx2")]
fn rotate_7(x: __m256i) -> __m256i {
    _mm256_or_si256(_mm256_srli_epi32::<7>(x), _mm256_slli_epi32::<25>(x))
}
