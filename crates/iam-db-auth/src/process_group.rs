//! Ending a child's process group: the one signal call the `credential_process` runner needs
//! (the tool runs in a group of its own, so everything it started dies with it).

/// Sends SIGKILL to every process of the group `pgid`. Groups 0 and 1 (ours, init's) are
/// never signalled, whatever the caller passes.
pub(crate) fn kill(pgid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    if pgid <= 1 {
        return;
    }
    // SAFETY: killpg takes two integers and touches no memory of ours; a group that has
    // already ended gives ESRCH, which is ignored.
    unsafe { libc::killpg(pgid, libc::SIGKILL) };
}
