//! Finding the bytes that shape a CSV line (commas, line ends, quotes) eight at a time. Fields in
//! an export are a dozen bytes apart, too close for a search that starts over at each one to pay
//! (memchr's start-up costs more than the field); this looks at each word of the line once.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `word` that equals `byte`, and perhaps of bytes after one that
/// does: subtracting one from a zero byte borrows from the next byte, so a byte that differs from
/// `byte` in its lowest bit alone may show after it. (The caller looks at each byte it is given.)
fn maybe_equal_bytes(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x
}

/// Where `,`, `\n` and `"` are in `bytes`, in order, and a few other bytes (see
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
    /// The high bits of the bytes found in that word and not yet handed out.
    mask: u64,
}

impl Iterator for Structural<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            let at = self.next_word;
            let word = match self.bytes.get(at..at + 8) {
                Some(word) => <[u8; 8]>::try_from(word).unwrap_or_default(),
                // The last bytes, fewer than eight, padded with zeros (none of the three).
                None if at < self.bytes.len() => {
                    let mut padded = [0u8; 8];
                    padded[..self.bytes.len() - at].copy_from_slice(&self.bytes[at..]);
                    padded
                }
                None => return None,
            };
            let word = u64::from_le_bytes(word);
            self.word_at = at;
            self.next_word = at + 8;
            self.mask =
                (maybe_equal_bytes(word, b',') | maybe_equal_bytes(word, b'\n') | maybe_equal_bytes(word, b'"')) & HIGH;
        }
        let at = self.word_at + (self.mask.trailing_zeros() / 8) as usize;
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
