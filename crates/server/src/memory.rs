//! Handing memory back to the operating system after much of it was freed at once (many
//! sessions closed, a spec loaded): the allocator keeps freed pages until a thread collects,
//! and an idle runtime thread never does, so each collects once, when it next parks.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many times memory was released in bulk; each thread collects when this passes the
/// count it last collected at.
static RELEASED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COLLECTED: Cell<u64> = const { Cell::new(0) };
}

/// Says that much memory was just freed (idle sessions closed, a spec loaded), so that every
/// runtime thread returns its free pages the next time it parks.
pub fn released() {
    RELEASED.fetch_add(1, Ordering::Relaxed);
}

/// Whether this thread has not collected since the last [`released`]; marks it as collected.
pub fn collect_due() -> bool {
    let released = RELEASED.load(Ordering::Relaxed);
    COLLECTED.with(|collected| collected.replace(released) != released)
}
