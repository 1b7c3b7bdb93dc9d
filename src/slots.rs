//! Writes into disjoint slots of one vector's capacity from several threads (the clean pipeline's
//! parallel counting sort, the KPI scan's visitor rows).

/// A vector's buffer that several threads write into, each into slots no other thread writes.
pub(crate) struct SlotWriter<T>(pub(crate) *mut T);

// SAFETY: the writer only hands out writes to slots its users keep disjoint across threads.
unsafe impl<T: Send> Sync for SlotWriter<T> {}
unsafe impl<T: Send> Send for SlotWriter<T> {}

impl<T> SlotWriter<T> {
    /// # Safety
    /// `i` is within the vector's capacity and no other thread writes slot `i`.
    pub(crate) unsafe fn write(&self, i: usize, value: T) {
        // SAFETY: as the caller promises.
        unsafe { self.0.add(i).write(value) }
    }
}
