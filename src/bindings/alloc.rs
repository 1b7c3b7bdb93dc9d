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
//! - Freed maps are kept in a pool and handed out again, whole or split: the kernel zeroes every
//!   fresh page on its first touch, and on this kind of virtual machine those page faults were the
//!   largest single cost of a build (12-25 % of its CPU samples; a first touch of memory the host has
//!   not backed yet runs at about 0.45 GB/s here). The pool holds freed memory only below the
//!   process's peak resident memory so far (see [`Pool`]), so it does not raise the peak, and at most
//!   [`POOL_CAP`]. Huge-page ranges serve blocks of at least 4 MiB, small-page ranges (maps of 1-4 MiB:
//!   column chunks) the smaller ones: a small block on a range of huge pages never touched before
//!   would be faulted in 2 MiB at a time for a part of one. `SHOPLENS_POOL_MB` sets the cap (0 turns
//!   the pool off, for measuring).
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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

/// Marks a pooled range of a small-page map (below [`HUGE_THRESHOLD`]) in the low bit of its start
/// (maps are page aligned, so the bit is free).
const SMALL: usize = 1;

fn kind_of(len: usize) -> usize {
    if len >= HUGE_THRESHOLD {
        0
    } else {
        SMALL
    }
}

/// At most this many bytes of freed maps are kept for reuse.
const POOL_CAP: usize = 512 << 20;
const POOL_SLOTS: usize = 512;

/// The process's peak resident memory so far and its resident memory now, in bytes (from the kernel;
/// zeros when unreadable, which keeps the pool empty).
fn memory() -> (usize, usize) {
    // SAFETY: getrusage fills the struct it is given; open/read/close use a stack buffer and
    // allocate nothing.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return (0, 0);
        }
        let peak = usage.ru_maxrss.max(0) as usize * 1024;
        let fd = libc::open(
            c"/proc/self/statm".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return (0, 0);
        }
        let mut buf = [0u8; 128];
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        if n <= 0 {
            return (0, 0);
        }
        // "size resident shared ...": the second field, in pages.
        let resident = buf[..n as usize]
            .split(|&b| b == b' ')
            .nth(1)
            .and_then(|f| std::str::from_utf8(f).ok())
            .and_then(|f| f.parse::<usize>().ok());
        match resident {
            Some(pages) => (peak, pages * PAGE),
            None => (0, 0),
        }
    }
}

/// Freed ranges of maps (start, length) kept for reuse, guarded by a spin lock: the allocator must
/// not allocate, and the critical sections are a scan of the slots.
///
/// The bound: keeping a freed range adds nothing to resident memory, and before a fresh map (or a
/// map grown in place) the pool gives back, largest ranges first, what resident memory plus the new
/// pages would take past the peak so far. So the pool is handed out again below a build's high point
/// and never raises it by a fresh map (only small blocks of the system allocator grow memory without
/// asking it).
struct Pool {
    lock: AtomicBool,
    slots: std::cell::UnsafeCell<[(usize, usize); POOL_SLOTS]>,
}

// SAFETY: `slots` is only touched while `lock` is held (see `Pool::with`).
unsafe impl Sync for Pool {}

static POOL: Pool = Pool {
    lock: AtomicBool::new(false),
    slots: std::cell::UnsafeCell::new([(0, 0); POOL_SLOTS]),
};

/// Fork safety: the lock is taken around `fork` and released on both sides, so a child never starts
/// with it held by a thread that does not exist there (registered once, on the pool's first use).
static AT_FORK: std::sync::Once = std::sync::Once::new();

extern "C" fn fork_prepare() {
    POOL.acquire();
}

extern "C" fn fork_release() {
    POOL.lock.store(false, Ordering::Release);
}

impl Pool {
    fn acquire(&self) {
        while self
            .lock
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut [(usize, usize); POOL_SLOTS]) -> R) -> R {
        AT_FORK.call_once(|| {
            // SAFETY: registers plain functions that only touch the lock.
            unsafe {
                libc::pthread_atfork(Some(fork_prepare), Some(fork_release), Some(fork_release));
            }
        });
        self.acquire();
        // SAFETY: the lock is held, so this is the only reference to the slots.
        let out = f(unsafe { &mut *self.slots.get() });
        self.lock.store(false, Ordering::Release);
        out
    }

    /// A pooled range of exactly `len` bytes of the same kind of map (the best fitting one; its rest
    /// stays pooled), or null. The kind is the length's: huge-page ranges serve lengths from
    /// [`HUGE_THRESHOLD`], small-page ranges the shorter ones, so a block never lands on huge pages
    /// that were never touched (they would be faulted in 2 MiB at a time for a part of one).
    fn take(&self, len: usize) -> *mut u8 {
        let kind = kind_of(len);
        self.with(|slots| {
            let best = (0..POOL_SLOTS)
                .filter(|&i| slots[i].1 >= len && slots[i].0 & SMALL == kind)
                .min_by_key(|&i| slots[i].1);
            match best {
                None => std::ptr::null_mut(),
                Some(i) => {
                    let (start, have) = slots[i];
                    slots[i] = if have > len {
                        (start + len, have - len)
                    } else {
                        (0, 0)
                    };
                    (start & !SMALL) as *mut u8
                }
            }
        })
    }

    /// Keeps the freed range [ptr, ptr + len) if the cap and the slots allow; false when the caller
    /// must unmap it. Keeping a range adds nothing to resident memory (its pages are resident
    /// already); the peak is guarded where memory grows: [`Pool::trim`] before every fresh map. A
    /// range joins a non-empty pool only while the pool holds no more than the headroom under the
    /// peak (the memory query is skipped when the pool is empty, as it is while a build's memory rises).
    fn give(&self, ptr: *mut u8, len: usize) -> bool {
        let cap = pool_cap();
        let held = self.with(|slots| slots.iter().map(|s| s.1).sum::<usize>());
        if held + len > cap || (held > 0 && held > headroom()) {
            return false;
        }
        self.with(|slots| match slots.iter_mut().find(|s| s.1 == 0) {
            Some(slot) => {
                *slot = (ptr as usize | kind_of(len), len);
                true
            }
            None => false,
        })
    }

    /// Before `len` fresh bytes are mapped: unmaps pooled ranges, largest first, until resident
    /// memory plus `len` fits under the peak so far (or the pool is empty).
    fn trim(&self, len: usize) {
        if self.with(|slots| slots.iter().all(|s| s.1 == 0)) {
            return;
        }
        let (peak, resident) = memory();
        let mut excess = (resident + len).saturating_sub(peak);
        self.with(|slots| {
            while excess > 0 {
                let Some(i) = (0..POOL_SLOTS)
                    .filter(|&i| slots[i].1 > 0)
                    .max_by_key(|&i| slots[i].1)
                else {
                    break;
                };
                let (start, held) = slots[i];
                // SAFETY: a pooled range is a part of one of our maps that nothing uses.
                unsafe {
                    libc::munmap((start & !SMALL) as *mut libc::c_void, held);
                }
                slots[i] = (0, 0);
                excess = excess.saturating_sub(held);
            }
        })
    }
}

static CAP: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The pool's cap in bytes: [`POOL_CAP`], or `SHOPLENS_POOL_MB` megabytes when set (read once).
fn pool_cap() -> usize {
    let cap = CAP.load(Ordering::Relaxed);
    if cap != usize::MAX {
        return cap;
    }
    // SAFETY: getenv with a NUL-terminated name.
    let v = unsafe { libc::getenv(c"SHOPLENS_POOL_MB".as_ptr()) };
    let cap = if v.is_null() {
        POOL_CAP
    } else {
        let s = unsafe { std::ffi::CStr::from_ptr(v) };
        s.to_str()
            .ok()
            .and_then(|t| t.parse::<usize>().ok())
            .map_or(POOL_CAP, |mb| mb << 20)
    };
    CAP.store(cap, Ordering::Relaxed);
    cap
}

fn headroom() -> usize {
    let (peak, resident) = memory();
    peak.saturating_sub(resident)
}

/// A map of `size` bytes, from the pool when it holds a fitting range, else fresh; zero-filled when
/// `zeroed` (a fresh map is zeroed by the kernel, a reused range is cleared here without page faults:
/// its pages are already there), else with unspecified contents. Null when mapping fails.
fn map_reused(size: usize, zeroed: bool) -> *mut u8 {
    let len = map_len(size);
    let ptr = POOL.take(len);
    if !ptr.is_null() {
        if zeroed {
            // SAFETY: the range is `len >= size` bytes of one of our maps that nothing uses.
            unsafe { std::ptr::write_bytes(ptr, 0, size) };
        }
        return ptr;
    }
    POOL.trim(len);
    map(size)
}

/// Gives a map back: to the pool when the bound allows, else to the kernel.
fn unmap(ptr: *mut u8, size: usize) {
    let len = map_len(size);
    if POOL.give(ptr, len) {
        return;
    }
    // SAFETY: [ptr, ptr + len) is a map (or a whole range of one) of ours that nothing uses any more.
    unsafe {
        libc::munmap(ptr.cast(), len);
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
            map_reused(layout.size(), false)
        } else {
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if mapped(layout) {
            map_reused(layout.size(), true)
        } else {
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if mapped(layout) {
            unmap(ptr, layout.size());
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
                if new_len > old_len {
                    POOL.trim(new_len - old_len);
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
