//! Fork detection. After `fork()` the child has one thread, and every lock, runtime and
//! connection pool it inherited may be mid-use by a parent thread that no longer exists.
//! A `pthread_atfork` child handler bumps a generation number; the library's state
//! (see `runtime`) belongs to one generation and is rebuilt, never reused, in a child.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTER: Once = Once::new();
static HANDLER_REGISTERED: AtomicBool = AtomicBool::new(false);

/// The current fork generation of this process image (0 until the first fork).
pub(crate) fn generation() -> u64 {
    REGISTER.call_once(register);
    if HANDLER_REGISTERED.load(Ordering::Relaxed) {
        GENERATION.load(Ordering::Acquire)
    } else {
        // Without the handler, fall back to the pid (a system call per use, but correct).
        (1 << 63) | u64::from(std::process::id())
    }
}

extern "C" fn on_fork_child() {
    // Only an atomic add: async-signal-safe, no allocation, no lock.
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

fn register() {
    // SAFETY: pthread_atfork only records the function pointers. `on_fork_child` is an
    // `extern "C"` function with the required signature that touches one atomic. The library
    // is linked `-z nodelete` (build.rs), so the handler's code is never unmapped.
    let rc = unsafe { libc::pthread_atfork(None, None, Some(on_fork_child)) };
    if rc == 0 {
        HANDLER_REGISTERED.store(true, Ordering::Relaxed);
    } else {
        crate::log::log_at!(
            crate::log::Level::Warn,
            "pthread_atfork failed ({rc}); detecting fork by process id instead"
        );
    }
}
