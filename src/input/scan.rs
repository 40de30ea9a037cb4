//! Finding the bytes that shape a CSV line (commas, line ends, quotes) eight at a time. Fields in
//! an export are a dozen bytes apart, too close for a search that starts over at each one to pay
//! (memchr's start-up costs more than the field); this looks at each word of the line once.

const ONES: u64 = 0x0101_0101_0101_0101;
const LOW_SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit of each byte of `word` that equals `byte`, and no other bit. (No carry crosses
/// a byte: seven bits plus 0x7f stay below 0x100.)
fn equal_bytes(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    !(((x & LOW_SEVEN) + LOW_SEVEN) | x | LOW_SEVEN)
}

/// Where `,`, `\n` and `"` are in `bytes`, in order.
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
            self.mask = equal_bytes(word, b',') | equal_bytes(word, b'\n') | equal_bytes(word, b'"');
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
    fn equal_bytes_marks_only_that_byte() {
        for byte in 0..=255u8 {
            for other in [0u8, 1, 0x7f, 0x80, 0xff, byte ^ 1, byte] {
                let word = u64::from_le_bytes([other, byte, 0, 0xff, byte, 0x80, other, 0x7f]);
                let want = (0..8).filter(|i| word.to_le_bytes()[*i] == byte).fold(0u64, |m, i| m | 0x80 << (8 * i));
                assert_eq!(equal_bytes(word, byte), want, "{byte:#x} in {word:#018x}");
            }
        }
    }

    proptest! {
        #[test]
        fn structural_finds_what_a_byte_loop_finds(bytes in prop::collection::vec(
            prop::sample::select(vec![b',', b'\n', b'"', b'a', 0, 0x80, 0xff, b'\r', 0x2c ^ 0x80]), 0..70)
        ) {
            let want: Vec<usize> = (0..bytes.len()).filter(|&i| matches!(bytes[i], b',' | b'\n' | b'"')).collect();
            prop_assert_eq!(structural(&bytes).collect::<Vec<_>>(), want);
        }
    }
}
