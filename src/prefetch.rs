//! A hint to the processor to start loading memory the next steps will read: where a loop jumps
//! around a buffer too large for the cache, or reads what another core wrote. A hint only: it
//! never faults and changes no result, only when the bytes arrive.

/// The most of a slice prefetched: four cache lines.
const MOST: usize = 256;

/// Starts loading the first bytes of `bytes` (up to four cache lines) into this core's cache.
#[inline]
pub fn slice(bytes: &[u8]) {
    lines(bytes.as_ptr(), bytes.len());
}

#[inline]
fn lines(start: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    for line in (0..len.min(MOST)).step_by(64) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch reads nothing into the program and never faults, whatever the
        // address; `wrapping_add` keeps the arithmetic defined (and it stays in the slice).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(line).cast()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, len);
}
