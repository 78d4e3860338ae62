//! OS bits: timer slack, open-files limit, SO_LINGER, RSS and sleeping until an instant.
use super::*;

// ------------------------------------------------------------------------------------------ OS bits

/// Lets nanosleep wake within ~1 µs of the planned instant instead of the default 50 µs slack,
/// so the injector can be paced without spinning (spinning would steal a core from the broker).
pub(crate) fn tight_timer_slack() {
    // SAFETY: prctl(PR_SET_TIMERSLACK) only changes the calling thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong);
    }
}

/// Raises the soft open-files limit to the hard one; returns (soft, hard) after.
pub(crate) fn raise_nofile() -> (u64, u64) {
    // SAFETY: plain getrlimit/setrlimit on a stack struct.
    unsafe {
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 {
            if r.rlim_cur < r.rlim_max {
                let want = libc::rlimit { rlim_cur: r.rlim_max, rlim_max: r.rlim_max };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                    r = want;
                }
            }
            return (r.rlim_cur as u64, r.rlim_max as u64);
        }
    }
    (0, 0)
}

/// SO_LINGER {on, 0}: the next close() sends RST instead of FIN.
pub(crate) fn set_zero_linger(s: &TcpStream) -> std::io::Result<()> {
    let l = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: valid fd and a correctly sized linger struct.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// VmRSS of `pid` in KiB.
pub(crate) fn rss_kb(pid: u32) -> Res<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("VmRSS:") {
            let kb = rest.trim().trim_end_matches("kB").trim();
            return Ok(kb.parse()?);
        }
    }
    err(format!("no VmRSS in /proc/{pid}/status"))
}

/// Sleeps until `t` (returns at once if it has passed).
pub(crate) fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        thread::sleep(t - now);
    }
}
