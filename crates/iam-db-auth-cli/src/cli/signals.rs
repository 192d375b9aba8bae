//! Signals for the long-running commands (`pgpass --watch`, `exec`), without handlers: the
//! signals are blocked and then waited for, so nothing runs in signal context.
//!
//! Block them first thing, before any token is made: the library's credential runtime starts
//! threads, and a thread that does not block a signal would take it (and, with the default
//! action, end the process before the command can clean up or forward it). Threads started
//! later inherit the mask. Children inherit it too (`std::process::Command` does not reset
//! it), so a child must be started through [`unblock_in_child`].

use std::time::Duration;

/// A blocked set of signals to wait for.
pub struct Blocked {
    set: libc::sigset_t,
}

/// A signal taken from the pending set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caught {
    /// The signal number.
    pub signal: i32,
    /// True when a process sent it (`kill`, `systemctl stop`, `timeout`), false when the
    /// kernel did (a terminal's Ctrl-C goes to the whole foreground process group).
    pub from_process: bool,
}

impl Blocked {
    /// Blocks `signals` in the calling thread (and so in threads it starts later).
    pub fn block(signals: &[i32]) -> std::io::Result<Blocked> {
        // SAFETY: sigset_t is plain data; sigemptyset initialises it before any other use,
        // and the set lives on this stack frame for the calls below.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &signal in signals {
                if libc::sigaddset(&mut set, signal) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(std::io::Error::from_raw_os_error(rc));
            }
            Ok(Blocked { set })
        }
    }

    /// Waits up to `timeout` for one of the blocked signals; `None` on timeout.
    #[cfg(target_os = "linux")]
    pub fn wait(&self, timeout: Duration) -> Option<Caught> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().min(i64::MAX as u64) as _,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        loop {
            // SAFETY: `self.set` is an initialised sigset_t, `info` is written by the kernel
            // before it is read, and `ts` is a valid timespec.
            let (signal, info) = unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                let signal = libc::sigtimedwait(&self.set, &mut info, &ts);
                (signal, info)
            };
            if signal > 0 {
                // si_code <= 0 (SI_USER, SI_QUEUE, SI_TKILL...) means a process sent it.
                return Some(Caught {
                    signal,
                    from_process: info.si_code <= 0,
                });
            }
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                _ => return None,
            }
        }
    }

    /// Waits up to `timeout` for one of the blocked signals; `None` on timeout. Without
    /// `sigtimedwait` (macOS), the pending set is polled and a pending signal taken with
    /// `sigwait`, which then returns at once. `sigwait` says nothing of the sender, so every
    /// signal counts as sent by a process (exec forwards it; a terminal's Ctrl-C may then reach
    /// the child twice).
    #[cfg(not(target_os = "linux"))]
    pub fn wait(&self, timeout: Duration) -> Option<Caught> {
        const POLL: Duration = Duration::from_millis(10);
        let deadline = std::time::Instant::now() + timeout;
        loop {
            // SAFETY: sigpending writes the initialised `pending` set; sigismember reads it and
            // `self.set`, both initialised sigset_t values on this frame or in `self`.
            let ready = unsafe {
                let mut pending: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut pending);
                libc::sigpending(&mut pending) == 0
                    && (1..32).any(|signal| {
                        libc::sigismember(&pending, signal) == 1
                            && libc::sigismember(&self.set, signal) == 1
                    })
            };
            if ready {
                let mut signal: libc::c_int = 0;
                // SAFETY: `self.set` is initialised and one of its signals is pending, so
                // sigwait returns at once, writing `signal`.
                let rc = unsafe { libc::sigwait(&self.set, &mut signal) };
                if rc == 0 {
                    return Some(Caught {
                        signal,
                        from_process: true,
                    });
                }
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return None;
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }

    /// A blocked signal already pending, if any (does not wait).
    pub fn pending(&self) -> Option<Caught> {
        self.wait(Duration::ZERO)
    }
}

/// Makes `command`'s child start with no signal blocked: it inherits this process's mask
/// otherwise, and a child that blocks SIGTERM would never see the SIGTERM forwarded to it.
pub fn unblock_in_child(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: sigemptyset and pthread_sigmask (sigprocmask) are.
    // It allocates nothing and touches only its own stack.
    unsafe {
        command.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            let rc = libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            if rc == 0 {
                Ok(())
            } else {
                Err(std::io::Error::from_raw_os_error(rc))
            }
        });
    }
}

/// Makes `command`'s child end (SIGKILL) when this process dies, however it dies: a child left
/// running after its `exec` was killed would hold a token and outlive its supervision. The
/// kernel sends the signal when the thread that forked exits; `exec` forks from its main
/// thread, which lives until the process ends. A parent already gone before the setting took
/// effect is caught by comparing the parent pid.
#[cfg(target_os = "linux")]
pub fn die_with_parent(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: getpid is called before the fork; in the child, between fork and exec, only
    // async-signal-safe calls are made (prctl, getppid, kill); nothing is allocated.
    unsafe {
        let parent = libc::getpid();
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            Ok(())
        });
    }
}

/// Without `PR_SET_PDEATHSIG` (macOS) the child is not tied to this process's life: only a
/// parent already gone at the fork is caught. A known gap, said in docs/platforms.md.
#[cfg(not(target_os = "linux"))]
pub fn die_with_parent(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: getpid is called before the fork; in the child, between fork and exec, only
    // async-signal-safe calls are made (getppid, kill); nothing is allocated.
    unsafe {
        let parent = libc::getpid();
        command.pre_exec(move || {
            if libc::getppid() != parent {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            Ok(())
        });
    }
}

/// Sets a signal back to its default action (a parent may have left SIGCHLD ignored, which
/// would make the kernel reap our child before we can read its status).
pub fn reset_default(signal: i32) {
    // SAFETY: installing SIG_DFL has no handler to run and no memory to share.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
    }
}

/// Sends `signal` to process `pid`. Errors (the process is already gone) are ignored.
pub fn send(pid: u32, signal: i32) {
    // SAFETY: kill(2) with a plain pid and signal number; no memory is involved.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

/// The name of a signal (for log lines).
pub fn name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGQUIT => "SIGQUIT".into(),
        libc::SIGCHLD => "SIGCHLD".into(),
        other => format!("signal {other}"),
    }
}
