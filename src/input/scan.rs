//! Finding the bytes that shape a CSV line (commas, line ends, quotes) sixteen at a time with
//! SSE2 (eight at a time by word-wide arithmetic on other processors). Fields in
//! an export are a dozen bytes apart, too close for a search that starts over at each one to pay
//! (memchr's start-up costs more than the field); this looks at each word of the line once.

// The word-wide arithmetic, for processors without SSE2 (tested everywhere).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
const ONES: u64 = 0x0101_0101_0101_0101;
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `word` that equals `byte`, and perhaps of bytes after one that
/// does: subtracting one from a zero byte borrows from the next byte, so a byte that differs from
/// `byte` in its lowest bit alone may show after it. (The caller looks at each byte it is given.)
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn maybe_equal_bytes(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x
}

/// Where `,`, `\n` and `"` are in `bytes`, in order, and (without SSE2) a few other bytes (see
/// [`maybe_equal_bytes`]): the caller looks at the byte at each offset.
pub fn structural(bytes: &[u8]) -> Structural<'_> {
    Structural { bytes, next_word: 0, word_at: 0, mask: 0 }
}

pub struct Structural<'a> {
    bytes: &'a [u8],
    /// The offset of the next word to look at.
    next_word: usize,
    /// The offset of the word `mask` was taken from.
    word_at: usize,
    /// A bit for each byte found in that word and not yet handed out (see [`BITS_PER_BYTE`]).
    mask: u64,
}

/// Bytes looked at in one go.
const WORD: usize = if cfg!(target_arch = "x86_64") { 16 } else { 8 };
/// How far apart the bits of neighbouring bytes are in a mask: SSE2 gives one bit per byte,
/// the word-wide arithmetic the high bit of each byte.
const BITS_PER_BYTE: u32 = if cfg!(target_arch = "x86_64") { 1 } else { 8 };

/// The word at `at` (padded with zeros, none of the three, past the end) and its mask.
#[inline]
fn word_mask(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; WORD];
    match bytes.get(at..at + WORD) {
        Some(whole) => word.copy_from_slice(whole),
        None => word[..bytes.len() - at].copy_from_slice(&bytes[at..]),
    }
    mask_of(word)
}

/// One bit per byte of `word` that is `,`, `\n` or `"` (SSE2 is part of every x86-64).
#[cfg(target_arch = "x86_64")]
#[inline]
fn mask_of(word: [u8; WORD]) -> u64 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x, _mm_set1_epi8};
    let half = |from: usize| i64::from_le_bytes(word[from..from + 8].try_into().unwrap_or_default());
    // SAFETY: these only compute on values, and need SSE2, which every x86-64 processor has
    // (the target enables it).
    unsafe {
        let bytes = _mm_set_epi64x(half(8), half(0));
        let equal = |byte: u8| _mm_cmpeq_epi8(bytes, _mm_set1_epi8(byte as i8));
        let found = _mm_or_si128(_mm_or_si128(equal(b','), equal(b'\n')), equal(b'"'));
        u64::from(_mm_movemask_epi8(found) as u16)
    }
}

/// The high bit of each byte of `word` that is `,`, `\n` or `"`, and perhaps of a few after one
/// (see [`maybe_equal_bytes`]).
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn mask_of(word: [u8; WORD]) -> u64 {
    let word = u64::from_le_bytes(word);
    (maybe_equal_bytes(word, b',') | maybe_equal_bytes(word, b'\n') | maybe_equal_bytes(word, b'"')) & HIGH
}

impl Iterator for Structural<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            let at = self.next_word;
            if at >= self.bytes.len() {
                return None;
            }
            self.word_at = at;
            self.next_word = at + WORD;
            self.mask = word_mask(self.bytes, at);
        }
        let at = self.word_at + (self.mask.trailing_zeros() / BITS_PER_BYTE) as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_equal_byte_is_marked_and_others_only_after_one() {
        for byte in 0..=255u8 {
            for other in [0u8, 1, 0x7f, 0x80, 0xff, byte ^ 1, byte.wrapping_add(1), byte] {
                let bytes = [other, byte, 0, 0xff, byte, byte ^ 1, other, 0x7f];
                let found = maybe_equal_bytes(u64::from_le_bytes(bytes), byte) & HIGH;
                for (i, &b) in bytes.iter().enumerate() {
                    let marked = found & (0x80 << (8 * i)) != 0;
                    if b == byte {
                        assert!(marked, "{byte:#x} at {i} of {bytes:x?}");
                    } else if marked {
                        // Only a byte one bit away from `byte`, after a match.
                        assert_eq!(b, byte ^ 1, "{byte:#x} at {i} of {bytes:x?}");
                        assert!(bytes[..i].contains(&byte), "{byte:#x} at {i} of {bytes:x?}");
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn structural_finds_what_a_byte_loop_finds(bytes in prop::collection::vec(
            prop::sample::select(vec![b',', b'\n', b'"', b'a', 0, 0x80, 0xff, b'\r', 0x2c ^ 0x80, b'-', b'#', 0x0b]), 0..70)
        ) {
            let wanted = |i: &usize| matches!(bytes[*i], b',' | b'\n' | b'"');
            let want: Vec<usize> = (0..bytes.len()).filter(wanted).collect();
            let found: Vec<usize> = structural(&bytes).collect();
            prop_assert!(found.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(found.into_iter().filter(wanted).collect::<Vec<_>>(), want);
        }
    }
}
