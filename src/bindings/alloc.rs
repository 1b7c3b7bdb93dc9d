//! The extension's allocator: the system allocator, with large blocks marked for transparent huge
//! pages (`madvise(MADV_HUGEPAGE)`; the kernel's default mode here is "madvise", so nothing is huge
//! unless asked). The pipeline fills a few gigabytes of fresh columns per build; with 4 KiB pages the
//! kernel takes one page fault per 4 KiB, with 2 MiB pages one per 2 MiB, and `shoplens build` at
//! RetailRocket scale runs about 10 % faster (docs/benchmarks.md). This is what glibc itself does
//! when started with `GLIBC_TUNABLES=glibc.malloc.hugetlb=1`, which a library cannot set for its host
//! process. Small blocks are untouched.
use std::alloc::{GlobalAlloc, Layout, System};

pub struct HugePageAlloc;

/// Blocks at least this large are advised (a huge page is 2 MiB; a block must hold one whole).
const THRESHOLD: usize = 4 << 20;
const HUGE_PAGE: usize = 2 << 20;

fn advise(ptr: *mut u8, size: usize) {
    if ptr.is_null() || size < THRESHOLD {
        return;
    }
    let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
    let end = (ptr as usize + size) / HUGE_PAGE * HUGE_PAGE;
    if end > start {
        // SAFETY: [start, end) lies inside the block just allocated; MADV_HUGEPAGE is a hint that
        // changes no contents. A failure (e.g. a kernel without THP) leaves normal pages.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

// SAFETY: every method delegates to `System`; `advise` only adds a paging hint.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        advise(new, new_size);
        new
    }
}
