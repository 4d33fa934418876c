//! Counts the memory a runtime holds, so a call's memory can be bounded and its garbage
//! measured without walking the heap (a walk costs milliseconds on a large spec).

use std::cell::Cell;
use std::ptr;
use std::rc::Rc;

use rquickjs::allocator::{Allocator, RustAllocator};

/// The bytes one runtime holds and the most it may hold.
pub(crate) struct Meter {
    held: Cell<usize>,
    limit: Cell<usize>,
    refused: Cell<bool>,
}

impl Meter {
    /// A meter with no limit, and the allocator that reports to it.
    pub(crate) fn new() -> (Rc<Meter>, Metered) {
        let meter = Rc::new(Meter {
            held: Cell::new(0),
            limit: Cell::new(usize::MAX),
            refused: Cell::new(false),
        });
        (meter.clone(), Metered(meter))
    }

    /// Bytes currently allocated by the runtime.
    pub(crate) fn held(&self) -> usize {
        self.held.get()
    }

    /// Refuses allocations that would take the runtime past `extra` more bytes than it holds
    /// now, and forgets earlier refusals.
    pub(crate) fn allow(&self, extra: usize) {
        self.limit.set(self.held().saturating_add(extra));
        self.refused.set(false);
    }

    /// Removes the limit.
    pub(crate) fn lift(&self) {
        self.limit.set(usize::MAX);
    }

    /// Forgets a refusal the code was told about (it can go on, with what it holds).
    pub(crate) fn forgive(&self) {
        self.refused.set(false);
    }

    /// Whether an allocation was refused since the last `allow`.
    pub(crate) fn refused(&self) -> bool {
        self.refused.get()
    }

    fn admits(&self, bytes: usize) -> bool {
        let fits = self.held().saturating_add(bytes) <= self.limit.get();
        if !fits {
            self.refused.set(true);
        }
        fits
    }

    fn took(&self, block: *mut u8) {
        if !block.is_null() {
            // SAFETY: `block` was just returned, non-null, by RustAllocator.
            let size = unsafe { RustAllocator::usable_size(block) };
            self.held.set(self.held().saturating_add(size));
        }
    }

    fn gave_back(&self, bytes: usize) {
        self.held.set(self.held().saturating_sub(bytes));
    }
}

/// Rust's global allocator, reporting to a [`Meter`] and refusing what the meter does not
/// admit (QuickJS then throws "out of memory").
pub(crate) struct Metered(Rc<Meter>);

// SAFETY: every block comes from RustAllocator and is measured with its `usable_size`, as
// the trait requires; refusals return null, which QuickJS handles as out of memory.
unsafe impl Allocator for Metered {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.0.admits(size) {
            return ptr::null_mut();
        }
        let block = RustAllocator.alloc(size);
        self.0.took(block);
        block
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        match count.checked_mul(size) {
            Some(total) if self.0.admits(total) => {
                let block = RustAllocator.calloc(count, size);
                self.0.took(block);
                block
            }
            _ => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&mut self, block: *mut u8) {
        // SAFETY: the caller passes a block this allocator returned.
        unsafe {
            self.0.gave_back(RustAllocator::usable_size(block));
            RustAllocator.dealloc(block);
        }
    }

    unsafe fn realloc(&mut self, block: *mut u8, new_size: usize) -> *mut u8 {
        // SAFETY: the caller passes a block this allocator returned.
        let old_size = unsafe { RustAllocator::usable_size(block) };
        if new_size > old_size && !self.0.admits(new_size - old_size) {
            return ptr::null_mut();
        }
        // SAFETY: as above; on failure the old block is left untouched and still counted.
        let moved = unsafe { RustAllocator.realloc(block, new_size) };
        if !moved.is_null() {
            self.0.gave_back(old_size);
            self.0.took(moved);
        }
        moved
    }

    unsafe fn usable_size(block: *mut u8) -> usize {
        // SAFETY: the caller passes a block this allocator returned.
        unsafe { RustAllocator::usable_size(block) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meter_counts_blocks_and_refuses_past_its_limit() {
        let (meter, mut allocator) = Meter::new();
        let block = allocator.alloc(100);
        assert!(!block.is_null());
        assert!(meter.held() >= 100);
        meter.allow(1_000);
        assert!(allocator.alloc(2_000).is_null());
        assert!(meter.refused());
        // SAFETY: `block` came from this allocator.
        let grown = unsafe { allocator.realloc(block, 500) };
        assert!(!grown.is_null());
        // SAFETY: `grown` came from this allocator.
        unsafe { allocator.dealloc(grown) };
        assert_eq!(meter.held(), 0);
        meter.lift();
        let big = allocator.calloc(10, 1_000);
        assert!(!big.is_null());
        // SAFETY: `big` came from this allocator.
        unsafe { allocator.dealloc(big) };
    }
}
