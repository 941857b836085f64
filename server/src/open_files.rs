//! The process's open-files limit, which every connection counts against.
//!
//! A shell or a service manager usually starts a process with a soft limit of 1,024 and a
//! much higher hard one. Left there, an instance could not hold more than about a thousand
//! phones, whatever `FILA_MAX_SOCKETS` says: past the limit, `accept` fails, and a phone's
//! connection waits unanswered instead of being told to try again (close code 1013). So the
//! soft limit is raised to the hard one at start (as Go's runtime does), and the
//! socket cap is kept below what that allows, with room left for everything else.
//!
//! Connections of any kind are capped too, a little higher: a burst of them (phones opening
//! the page, a slowloris) waits in the listen queue instead of taking the descriptors the
//! instance needs to answer those already in, for the files it serves and its database.

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

/// How many connections an instance takes, and how many of them may be WebSockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    /// WebSockets (`FILA_MAX_SOCKETS`, or fewer); past it, "try again" (close code 1013).
    pub sockets: usize,
    /// Connections of any kind. At it the instance closes those kept alive after an answer
    /// and stops accepting until one closes; new ones wait in the kernel's listen queue
    /// (`http::serve`). The descriptors above it stay for the database and Redis pools, the
    /// files being served, and logs, so the requests already in are answered instead of
    /// failing to open a file or a database connection.
    pub connections: usize,
}

/// The caps for `open_files` descriptors. A twentieth of them (at least 256, or half of a
/// tiny limit) is kept from WebSockets, so that pages and "try again" are still answered when
/// they are all taken; half of that share is kept from connections altogether. A twentieth,
/// not more: at a limit of 20,000 (this project's benchmark machine) an instance must hold
/// 19,000 phones, and 1,000 descriptors are plenty for pages, pools, files and logs.
pub fn caps(max_sockets: usize, open_files: u64) -> Caps {
    let open_files = usize::try_from(open_files).unwrap_or(usize::MAX);
    let kept = (open_files / 20).max(256.min(open_files / 2));
    Caps {
        sockets: max_sockets.min(open_files - kept),
        connections: open_files - kept / 2,
    }
}

/// The caps for the open-files limit (raised first). A `max_sockets` the limit cannot hold
/// is lowered, and that is logged with what to do about it.
pub fn fit(max_sockets: usize) -> Caps {
    let open_files = match raise_to_hard() {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open-files limit");
            return Caps {
                sockets: max_sockets,
                connections: usize::MAX,
            };
        }
    };
    let caps = caps(max_sockets, open_files);
    if caps.sockets < max_sockets {
        tracing::warn!(
            "FILA_MAX_SOCKETS={max_sockets} lowered to {}: the open-files limit is \
             {open_files}; raise it (ulimit -n, or LimitNOFILE= in a systemd unit) to hold more",
            caps.sockets
        );
    }
    caps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caps_leave_room_for_everything_else() {
        let sockets = |max, open| caps(max, open).sockets;
        // A generous limit does not lower the setting.
        assert_eq!(sockets(15_000, 524_288), 15_000);
        assert_eq!(sockets(15_000, 20_000), 15_000);
        // 19,000 watchers on one instance at a limit of 20,000 (issue 5's fan-out).
        assert_eq!(sockets(19_100, 20_000), 19_000);
        // A shell's default: 256 kept.
        assert_eq!(sockets(15_000, 1_024), 768);
        assert_eq!(sockets(15_000, 4_096), 4_096 - 256);
        // A twentieth kept when that is more.
        assert_eq!(sockets(15_000, 10_000), 10_000 - 500);
        // A tiny limit keeps half.
        assert_eq!(sockets(15_000, 200), 100);
        // A lower setting stands.
        assert_eq!(sockets(1, 1_024), 1);

        // Connections: half the kept share stays for files, pools and logs, whatever the
        // WebSocket setting.
        let connections = |max, open| caps(max, open).connections;
        assert_eq!(connections(15_000, 1_024), 1_024 - 128);
        assert_eq!(connections(1, 1_024), 1_024 - 128);
        assert_eq!(connections(15_000, 20_000), 20_000 - 500);
        assert_eq!(connections(15_000, 200), 150);
        // Always room for pages and "try again" beyond the WebSockets.
        for open in [64, 200, 400, 1_024, 4_096, 65_536, 1 << 20] {
            let c = caps(usize::MAX, open);
            assert!(c.connections > c.sockets, "{open}: {c:?}");
            assert!((c.connections as u64) < open, "{open}: {c:?}");
        }
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
