//! Fork detection. After `fork()` the child has one thread, and every lock, runtime and
//! connection pool it inherited may be mid-use by a parent thread that no longer exists.
//! A `pthread_atfork` child handler bumps a generation number; the library's state
//! (see `runtime`) belongs to one generation and is rebuilt, never reused, in a child.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

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

/// A value per fork generation of the process, created on first use and never freed.
///
/// `get` returns the value of the current generation, creating it if the process has forked
/// since (or it was never created). Values of earlier generations are kept, linked from the
/// current one: in a child they may be locked by parent threads that no longer exist, so they
/// are never touched or dropped again, only kept reachable (so leak checkers see them as such).
pub(crate) struct PerFork<T: 'static> {
    current: AtomicPtr<Slot<T>>,
}

struct Slot<T> {
    generation: u64,
    value: T,
    /// The previous generation's slot (kept reachable, never used).
    _previous: *mut Slot<T>,
}

impl<T: Sync + 'static> PerFork<T> {
    pub(crate) const fn new() -> Self {
        PerFork {
            current: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    pub(crate) fn get(&'static self, init: impl Fn() -> T) -> &'static T {
        let generation = generation();
        loop {
            let current = self.current.load(Ordering::Acquire);
            // SAFETY: every non-null pointer stored here comes from Box::into_raw below and is
            // never freed, so it is valid for 'static; `Slot<T>` is only read (T: Sync).
            if let Some(slot) = unsafe { current.as_ref() }
                && slot.generation == generation
            {
                return &slot.value;
            }
            let fresh = Box::into_raw(Box::new(Slot {
                generation,
                value: init(),
                _previous: current,
            }));
            match self
                .current
                .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
            {
                // SAFETY: just created above and now published; never freed.
                Ok(_) => return unsafe { &(*fresh).value },
                // Another thread published first. Ours was never shared: free it and retry.
                // SAFETY: `fresh` came from Box::into_raw and no one else has seen it.
                Err(_) => drop(unsafe { Box::from_raw(fresh) }),
            }
        }
    }
}
