//! The process's limit on open files, which bounds both the merge's partition files and the
//! sender's connections (one per request in flight over HTTP/1.1).

/// Raises the soft limit on open files as far as the hard limit allows, as Go's runtime does at
/// start (many systems start processes at a soft 1,024 under a far higher hard limit), and
/// returns the soft limit in force afterwards. macOS refuses more than its per-process maximum
/// (10,240 by default) whatever the hard limit says, so that is tried second.
#[cfg(unix)]
pub fn raise_soft_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `getrlimit` writes one `rlimit` through the pointer, which points to one.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return soft_limit();
    }
    for wanted in [limit.rlim_max, limit.rlim_max.min(10_240)] {
        if wanted <= limit.rlim_cur {
            break;
        }
        let raised = libc::rlimit { rlim_cur: wanted, rlim_max: limit.rlim_max };
        // SAFETY: `setrlimit` reads one `rlimit` through the pointer, which points to one.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            break;
        }
    }
    soft_limit()
}

#[cfg(not(unix))]
pub fn raise_soft_limit() -> u64 {
    soft_limit()
}

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
