//! A hint to the processor to start loading memory the next steps will read: where a loop jumps
//! around a buffer too large for the cache, or reads what another core wrote. A hint only: it
//! never faults and changes no result, only when the bytes arrive.

/// The most of a slice prefetched: four cache lines.
const MOST: usize = 256;

/// Starts loading the first bytes of `bytes` (up to four cache lines) into this core's cache.
#[inline]
pub fn slice(bytes: &[u8]) {
    lines::<READ>(bytes.as_ptr(), bytes.len());
}

/// Starts loading the cache lines a `Vec` is about to be appended to (the first of its spare
/// capacity, up to four lines), to be written.
#[inline]
pub fn spare(vec: &Vec<u8>) {
    let spare = vec.capacity() - vec.len();
    lines::<WRITE>(vec.as_ptr().wrapping_add(vec.len()), spare);
}

/// What the lines are loaded for: `_MM_HINT_T0`, or `_MM_HINT_ET0` (to write them: the line
/// comes over as this core's own, with no second request when the store comes).
#[cfg(target_arch = "x86_64")]
const READ: i32 = std::arch::x86_64::_MM_HINT_T0;
#[cfg(target_arch = "x86_64")]
const WRITE: i32 = std::arch::x86_64::_MM_HINT_ET0;
#[cfg(not(target_arch = "x86_64"))]
const READ: i32 = 0;
#[cfg(not(target_arch = "x86_64"))]
const WRITE: i32 = 1;

#[inline]
fn lines<const HINT: i32>(start: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    for line in (0..len.min(MOST)).step_by(64) {
        use std::arch::x86_64::_mm_prefetch;
        // SAFETY: a prefetch reads nothing into the program and never faults, whatever the
        // address; `wrapping_add` keeps the arithmetic defined (and it stays in the allocation).
        unsafe { _mm_prefetch::<HINT>(start.wrapping_add(line).cast()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, len);
}
