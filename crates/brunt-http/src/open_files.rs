//! The process's limit on open files, checked before a test whose VUs each hold a connection:
//! past it, connections fail mid-test with "too many open files", which says nothing of the
//! setting to raise.

/// Descriptors kept free for what else a run opens (outputs, the dashboard, monitors, name
/// lookups, a second connection of a redirect).
const MARGIN: u64 = 64;

/// Fails when `connections` more open files (one socket per VU) would pass this process's
/// limit on open files (`RLIMIT_NOFILE`), naming it and how to raise it.
pub fn check_open_files(connections: u64) -> Result<(), String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Ok(());
    }
    let open = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(16);
    // rlim_t is u64 on Linux but not everywhere.
    #[allow(clippy::unnecessary_cast)]
    room(connections, open, lim.rlim_cur as u64, lim.rlim_max as u64)
}

/// [`check_open_files`] with the descriptors open and the soft and hard limits given.
fn room(connections: u64, open: u64, soft: u64, hard: u64) -> Result<(), String> {
    let need = connections.saturating_add(open).saturating_add(MARGIN);
    if need <= soft {
        return Ok(());
    }
    let how = if need <= hard {
        format!("raise it with `ulimit -n {need}`")
    } else {
        format!(
            "its hard limit is {hard}: raise that as root (`ulimit -Hn {need}`, LimitNOFILE= \
             for a systemd service, nofile in /etc/security/limits.conf)"
        )
    };
    Err(format!(
        "{connections} VUs may each hold a connection, but this process may open at most {soft} \
         files (RLIMIT_NOFILE, {open} open now): {how}, or run fewer VUs"
    ))
}

#[cfg(test)]
mod tests {
    use super::room;

    #[test]
    fn more_vus_than_open_files_is_said_up_front() {
        assert!(room(15_000, 10, 20_000, 20_000).is_ok());
        let e = room(30_000, 10, 20_000, 20_000).unwrap_err();
        assert!(e.contains("30000 VUs may each hold a connection"), "{e}");
        assert!(e.contains("at most 20000 files (RLIMIT_NOFILE"), "{e}");
        assert!(e.contains("hard limit is 20000"), "{e}");
        let e = room(2_000, 10, 1_024, 1_048_576).unwrap_err();
        assert!(e.contains("ulimit -n 2074"), "{e}");
    }
}
