//! The process's limit on open files, which bounds both the merge's partition files and the
//! sender's connections (one per request in flight over HTTP/1.1).

/// What to do about a limit on open files that holds a run back: the soft limit is already raised
/// as far as the hard one allows, so `ulimit -n` alone does not help.
pub const REMEDY: &str = "for more, raise the hard limit on open files (ulimit -Hn as root, systemd's LimitNOFILE, or /etc/security/limits.conf)";

/// The most `raise_soft_limit` asks for.
#[cfg(unix)]
const RAISED: libc::rlim_t = 65_536;

/// Raises the soft limit on open files towards the hard limit, as Go's runtime does at start (many
/// systems start processes at a soft 1,024 under a far higher hard limit), and returns the soft
/// limit in force afterwards. At most `RAISED` (a run needs about twice `auto`'s cap of 1,024),
/// because child processes (a profile's `credential_process`) inherit the limit, and some size
/// tables from it or close every descriptor up to it. macOS refuses more than its per-process
/// maximum (10,240 by default) whatever the hard limit says, so that is tried second.
#[cfg(unix)]
pub fn raise_soft_limit() -> u64 {
    let Some(limit) = limits() else { return soft_limit() };
    for wanted in [limit.rlim_max.min(RAISED), limit.rlim_max.min(10_240)] {
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
    // (`rlim_t` is `u64` on Linux and macOS, not on every Unix.)
    #[allow(clippy::unnecessary_cast)]
    limits().map_or(256, |limit| limit.rlim_cur as u64)
}

/// The soft and hard limits on open files.
#[cfg(unix)]
fn limits() -> Option<libc::rlimit> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `getrlimit` writes one `rlimit` through the pointer, which points to one.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0).then_some(limit)
}

#[cfg(not(unix))]
pub fn soft_limit() -> u64 {
    // Windows: thousands of handles; the C runtime's 512 does not apply to `std::fs::File`.
    1 << 13
}

/// How many connections, one per request in flight, a process that may have `open_files` files
/// open gives the sender: half, the rest left to the inputs, the merge's partition files (a
/// quarter) and the report.
pub fn connections_allowed(open_files: u64) -> usize {
    usize::try_from(open_files / 2).unwrap_or(usize::MAX)
}
