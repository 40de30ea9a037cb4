//! The process's limit on open files, which bounds both the merge's partition files and the
//! sender's connections (one per request in flight over HTTP/1.1).

/// The process's soft limit on open files.
#[cfg(unix)]
pub fn soft_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `getrlimit` writes one `rlimit` through the pointer, which points to one.
    match unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } {
        // (`rlim_t` is `u64` on Linux and macOS, not on every Unix.)
        #[allow(clippy::unnecessary_cast)]
        0 => limit.rlim_cur as u64,
        _ => 256,
    }
}

#[cfg(not(unix))]
pub fn soft_limit() -> u64 {
    // Windows: thousands of handles; the C runtime's 512 does not apply to `std::fs::File`.
    1 << 13
}
