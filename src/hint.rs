//! Cache hints for the scans that touch large arrays in an order of their own (items in visitor
//! order, parsed rows in sort order): asking for an element a few iterations ahead hides the memory
//! access. Hints change no result.

/// Asks the CPU to bring `values[index]` into cache; nothing when `index` is out of range or on
/// other architectures.
#[inline(always)]
pub(crate) fn prefetch<T>(values: &[T], index: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(slot) = values.get(index) {
        // SAFETY: a prefetch reads nothing architecturally; the pointer is to a live element.
        #[allow(unused_unsafe)]
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (slot as *const T).cast::<i8>(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (values, index);
}
