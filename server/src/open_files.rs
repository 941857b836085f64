//! The process's open-files limit, which every connection counts against.
//!
//! A shell or a service manager usually starts a process with a soft limit of 1,024 and a
//! much higher hard one. Left there, an instance could not hold more than about a thousand
//! phones, whatever `FILA_MAX_SOCKETS` says: past the limit, `accept` fails, and a phone's
//! connection waits unanswered instead of being told to try again (close code 1013). So the
//! soft limit is raised to the hard one at start (as Go's runtime does), and the
//! socket cap is kept below what that allows, with room left for everything else.

/// Raise the soft open-files limit to the hard one; the soft limit now in force, which is
/// the old one, logged, if it could not be raised (the cap is then fitted to that).
pub fn raise_to_hard() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` and `setrlimit` only read or write the struct passed to them.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        } else {
            let e = std::io::Error::last_os_error();
            tracing::warn!(error = %e, soft = limit.rlim_cur, hard = limit.rlim_max,
                "cannot raise the open-files limit");
        }
    }
    Ok(limit.rlim_cur)
}

/// The most WebSockets an instance can hold with `open_files` descriptors: `max_sockets`,
/// or fewer, so that a tenth of the descriptors (at least 256, or half of a tiny limit) stay
/// for plain HTTP connections, the database and Redis pools, files being served and logs.
pub fn socket_cap(max_sockets: usize, open_files: u64) -> usize {
    let open_files = usize::try_from(open_files).unwrap_or(usize::MAX);
    let kept = (open_files / 10).max(256.min(open_files / 2));
    max_sockets.min(open_files - kept)
}

/// `max_sockets`, lowered if the open-files limit (raised first) cannot hold that many,
/// which is logged with what to do about it.
pub fn fit(max_sockets: usize) -> usize {
    let open_files = match raise_to_hard() {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open-files limit");
            return max_sockets;
        }
    };
    let cap = socket_cap(max_sockets, open_files);
    if cap < max_sockets {
        tracing::warn!(
            "FILA_MAX_SOCKETS={max_sockets} lowered to {cap}: the open-files limit is \
             {open_files}; raise it (ulimit -n, or LimitNOFILE= in a systemd unit) to hold more"
        );
    }
    cap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_everything_but_websockets() {
        // A generous limit does not lower the setting.
        assert_eq!(socket_cap(15_000, 524_288), 15_000);
        assert_eq!(socket_cap(15_000, 20_000), 15_000);
        // A shell's default: 256 kept.
        assert_eq!(socket_cap(15_000, 1_024), 768);
        // A tenth kept when that is more.
        assert_eq!(socket_cap(15_000, 4_096), 4_096 - 409);
        // A tiny limit keeps half.
        assert_eq!(socket_cap(15_000, 200), 100);
        // A lower setting stands.
        assert_eq!(socket_cap(1, 1_024), 1);
    }

    fn limit() -> libc::rlimit {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as in `raise_to_hard`.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        limit
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        // One below the hard limit, so that there is something to raise (and nothing that
        // the tests running beside this one would notice).
        let hard = limit().rlim_max;
        let lowered = libc::rlimit {
            rlim_cur: hard - 1,
            rlim_max: hard,
        };
        // SAFETY: as in `raise_to_hard`.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);
        assert_eq!(limit().rlim_cur, hard - 1);
        assert_eq!(raise_to_hard().unwrap(), hard);
        assert_eq!(limit().rlim_cur, hard);
    }
}
