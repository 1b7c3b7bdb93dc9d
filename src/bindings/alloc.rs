//! The extension's allocator: large blocks are mapped from the kernel directly and marked for
//! transparent huge pages; small blocks come from the system allocator.
//!
//! Blocks of at least 1 MiB are anonymous maps of their own, those of at least 4 MiB marked for huge
//! pages (`madvise(MADV_HUGEPAGE)`; the kernel's default mode here is "madvise", so nothing is huge
//! unless asked); maps are returned to the kernel when freed (`munmap`) and grown in place or moved
//! without copying (`mremap`). Why:
//! - With 4 KiB pages the kernel takes one page fault per 4 KiB, with 2 MiB pages one per 2 MiB:
//!   `shoplens build` fills gigabytes of fresh columns (about 10 % faster, docs/benchmarks.md). This is
//!   what glibc itself does when started with `GLIBC_TUNABLES=glibc.malloc.hugetlb=1`, which a
//!   library cannot set for its host process.
//! - glibc serves blocks below its *dynamic* map threshold (it climbs to 32 MiB after the first large
//!   free) from per-thread arenas that keep freed memory: a build that frees its clean tables once they
//!   are written would keep them resident. Own maps give memory back as soon as a table is freed.
//! - A growing column (`Vec` doubling) is moved by the kernel's page tables, not copied.
use std::alloc::{GlobalAlloc, Layout, System};

pub struct HugePageAlloc;

/// Blocks at least this large are mapped on their own: column chunks of a few hundred thousand rows
/// (about 1-2 MiB a column) are among them, so a freed table leaves no holes in glibc's arenas.
const THRESHOLD: usize = 1 << 20;
/// Blocks at least this large are also marked for huge pages (a huge page is 2 MiB; such a block
/// holds two), in whole huge pages; smaller maps are whole 4 KiB pages, so that a huge page never
/// backs a block much smaller than itself.
const HUGE_THRESHOLD: usize = 4 << 20;
const HUGE_PAGE: usize = 2 << 20;
/// Maps are page aligned; larger alignments go to the system allocator.
const PAGE: usize = 4096;

fn mapped(layout: Layout) -> bool {
    layout.size() >= THRESHOLD && layout.align() <= PAGE
}

/// Length of the map holding `size` bytes.
fn map_len(size: usize) -> usize {
    if size >= HUGE_THRESHOLD {
        size.next_multiple_of(HUGE_PAGE)
    } else {
        size.next_multiple_of(PAGE)
    }
}

fn advise(ptr: *mut u8, len: usize) {
    if len < HUGE_THRESHOLD {
        return;
    }
    // SAFETY: [ptr, ptr + len) is a map of ours; MADV_HUGEPAGE is a hint that changes no contents.
    // A failure (e.g. a kernel without THP) leaves normal pages.
    unsafe {
        libc::madvise(ptr.cast(), len, libc::MADV_HUGEPAGE);
    }
}

/// A fresh zeroed map of `size` bytes, or null.
fn map(size: usize) -> *mut u8 {
    let len = map_len(size);
    // SAFETY: an anonymous private map at an address of the kernel's choosing touches no existing
    // memory.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return std::ptr::null_mut();
    }
    let ptr = ptr.cast::<u8>();
    advise(ptr, len);
    ptr
}

// SAFETY: small blocks go to `System` unchanged. A large block is a map of `map_len(size)` bytes
// created by `map` and released or resized only here, with the size Rust passes back (the layout it
// was allocated or last reallocated with), so the lengths always match the map.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if mapped(layout) {
            map(layout.size())
        } else {
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if mapped(layout) {
            // Anonymous maps are zero-filled by the kernel.
            map(layout.size())
        } else {
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if mapped(layout) {
            unsafe {
                libc::munmap(ptr.cast(), map_len(layout.size()));
            }
        } else {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY (all branches): `new_size` is non-zero and, with `layout.align()`, a valid layout
        // (GlobalAlloc's contract).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (mapped(layout), mapped(new_layout)) {
            (false, false) => unsafe { System.realloc(ptr, layout, new_size) },
            (true, true) => {
                let (old_len, new_len) = (map_len(layout.size()), map_len(new_size));
                if old_len == new_len {
                    return ptr;
                }
                let new =
                    unsafe { libc::mremap(ptr.cast(), old_len, new_len, libc::MREMAP_MAYMOVE) };
                if new == libc::MAP_FAILED {
                    return std::ptr::null_mut();
                }
                let new = new.cast::<u8>();
                advise(new, new_len);
                new
            }
            _ => {
                // Crossing the threshold: a new block, the common prefix copied, the old one freed.
                let new = unsafe { self.alloc(new_layout) };
                if !new.is_null() {
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                new
            }
        }
    }
}
