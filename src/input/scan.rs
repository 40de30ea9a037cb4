//! Finding the bytes that shape a CSV line (commas, line ends, quotes) 64 at a time: one bit per
//! byte in a mask for each of the three, taken with SSE2 sixteen bytes at a go (a plain loop on
//! other processors). Fields in an export are a dozen bytes apart, too close for a search that
//! starts over at each one to pay (memchr's start-up costs more than the field); with the masks,
//! the line's end is the lowest bit of one mask, and its commas the bits of another below it.

/// Bytes looked at in one go: one bit per byte of a `u64`.
pub const BLOCK: usize = 64;

/// Where the commas, line ends and quotes of one block are: bit `i` for byte `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Masks {
    pub commas: u64,
    pub line_ends: u64,
    pub quotes: u64,
}

/// The masks of the block of `bytes` at `at` (bytes past the end count as none of the three).
#[inline]
pub fn masks(bytes: &[u8], at: usize) -> Masks {
    match bytes.get(at..at + BLOCK) {
        Some(block) => masks_of(block.try_into().unwrap_or(&[0; BLOCK])),
        None => {
            let mut block = [0u8; BLOCK];
            let rest = bytes.get(at..).unwrap_or_default();
            block[..rest.len()].copy_from_slice(rest);
            masks_of(&block)
        }
    }
}

/// SSE2 is part of every x86-64.
#[cfg(target_arch = "x86_64")]
#[inline]
fn masks_of(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let mut masks = Masks { commas: 0, line_ends: 0, quotes: 0 };
    for (i, sixteen) in block.chunks_exact(16).enumerate() {
        // SAFETY: the load reads the 16 bytes of `sixteen` (unaligned loads are allowed); the rest
        // only compute on values. All need SSE2, which every x86-64 processor has.
        unsafe {
            let bytes = _mm_loadu_si128(sixteen.as_ptr().cast::<__m128i>());
            let bits = |byte: u8| u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(byte as i8))) as u16);
            masks.commas |= bits(b',') << (16 * i);
            masks.line_ends |= bits(b'\n') << (16 * i);
            masks.quotes |= bits(b'"') << (16 * i);
        }
    }
    masks
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn masks_of(block: &[u8; BLOCK]) -> Masks {
    let mut masks = Masks { commas: 0, line_ends: 0, quotes: 0 };
    for (i, &byte) in block.iter().enumerate() {
        masks.commas |= u64::from(byte == b',') << i;
        masks.line_ends |= u64::from(byte == b'\n') << i;
        masks.quotes |= u64::from(byte == b'"') << i;
    }
    masks
}

/// The bits of a mask below bit `bit` (all of them for 64).
#[inline]
pub fn below(bit: u32) -> u64 {
    1u64.checked_shl(bit).map_or(u64::MAX, |b| b - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Each mask has a bit for each byte that is its character, and no other, at any
        /// offset, whether or not a whole block is left.
        #[test]
        fn masks_mark_exactly_their_bytes(
            bytes in prop::collection::vec(prop::sample::select(
                vec![b',', b'\n', b'"', b'a', 0, 0x80, 0xff, b'\r', 0x2c ^ 0x80, 0x0a ^ 0x80, 0x22 ^ 0x80, b'-']), 0..200),
            at in 0usize..200,
        ) {
            let at = at.min(bytes.len());
            let found = masks(&bytes, at);
            let want = |c: u8| bytes[at..].iter().take(BLOCK).enumerate().filter(|&(_, &b)| b == c).fold(0u64, |m, (i, _)| m | 1 << i);
            prop_assert_eq!(found, Masks { commas: want(b','), line_ends: want(b'\n'), quotes: want(b'"') });
        }
    }

    #[test]
    fn below_takes_the_lower_bits() {
        assert_eq!(below(0), 0);
        assert_eq!(below(3), 0b111);
        assert_eq!(below(63), u64::MAX >> 1);
        assert_eq!(below(64), u64::MAX);
    }
}
