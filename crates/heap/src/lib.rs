//! The process allocator of the `stockade` binary.
//!
//! By default every block comes from the C library's `malloc`, exactly as with Rust's
//! [`System`] allocator: the runtime's start-up and the admission webhook's memory behaviour
//! (which tunes glibc with `mallopt` and `malloc_trim`, crates/admission/src/server.rs) are
//! measured against it. A command that allocates many small, short-lived blocks across threads
//! — the audit: every scalar of every document, every finding, freed by another thread than
//! the one that made it — calls [`use_mimalloc`] once before it starts its workers; from then
//! on new blocks come from mimalloc, with which the audit takes 15–30 % less CPU time than with
//! glibc (docs/benchmarks.md).
//!
//! Blocks made before the switch are still glibc's. Every free asks mimalloc whether it owns
//! the block (`mi_is_in_heap_region`, a lookup in mimalloc's own page map, false for any
//! address it never handed out, and false before mimalloc has handed out anything), so each
//! block goes back to the allocator it came from. A block that mimalloc cannot provide is
//! asked of glibc instead.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

/// The allocator: `#[global_allocator] static HEAP: heap::Heap = heap::Heap;`
pub struct Heap;

/// Whether new blocks come from mimalloc; only ever turned on.
static MIMALLOC: AtomicBool = AtomicBool::new(false);

// mimalloc's own start-up, and whether it has run. mimalloc runs it from a load-time
// constructor in every process that links it: 0.1 ms and ~20 page faults per exec here (its
// page map, options from the environment, /proc/sys/vm/overcommit_memory and the THP setting,
// CPUID, which traps to the hypervisor in a VM), and the runtime execs several times per
// container. .cargo/config.toml builds it with `MI_PRIM_HAS_PROCESS_ATTACH` (no constructor),
// and `use_mimalloc` starts it; until then nothing of mimalloc's runs or is mapped. These are
// the two functions the constructor itself calls and checks (libmimalloc-sys is pinned).
extern "C" {
    fn _mi_auto_process_init();
    fn _mi_preloading() -> bool;
}

/// mimalloc's `mi_option_allow_thp` (its place in `mi_option_t`, mimalloc.h of the pinned v3
/// sources; libmimalloc-sys names no constant for it). Off: no transparent huge pages for this
/// process (mimalloc sets PR_SET_THP_DISABLE). With them, every first touch of an arena faults
/// in 2 MiB: the 10,000-file audit peaked at ~71 MB instead of ~50, and on a VM whose free
/// memory the host takes back (a run just after another process freed 700 MB) it took
/// 0.36–0.44 s instead of 0.29–0.32 s; on warm memory both take 0.23 s (docs/benchmarks.md).
const MI_OPTION_ALLOW_THP: mi::mi_option_t = 43;

/// From now on, new blocks of every thread come from mimalloc. Blocks allocated earlier are
/// freed by glibc as before. There is no way back: it is meant for the whole of a command.
/// Call it before the command starts threads.
pub fn use_mimalloc() {
    static START: std::sync::Once = std::sync::Once::new();
    START.call_once(|| {
        if !mimalloc_started() {
            // SAFETY: mi_option_set only stores the value, read when mimalloc starts. Then what
            // mimalloc's load-time constructor would have run, once (this Once; and not at all
            // if a build without the define ran the constructor already), before any block of
            // mimalloc's exists.
            unsafe {
                mi::mi_option_set(MI_OPTION_ALLOW_THP, 0);
                _mi_auto_process_init();
            }
        }
    });
    MIMALLOC.store(true, Ordering::Release);
}

/// Whether mimalloc has started (in a process that never calls [`use_mimalloc`]: false, unless
/// the build lost the define that keeps its constructor out; tests/glibc_default.rs checks).
pub fn mimalloc_started() -> bool {
    // SAFETY: reads one flag of mimalloc's; no other effect.
    !unsafe { _mi_preloading() }
}

/// Whether new blocks come from mimalloc (see [`use_mimalloc`]).
pub fn uses_mimalloc() -> bool {
    MIMALLOC.load(Ordering::Acquire)
}

/// mimalloc's `mi_malloc` aligns to 16 bytes (`MI_MAX_ALIGN_SIZE`); larger alignments, or an
/// alignment above the size, go through the `_aligned` calls.
const MI_MIN_ALIGN: usize = 16;

fn plain(align: usize, size: usize) -> bool {
    align <= MI_MIN_ALIGN && align <= size
}

/// Whether mimalloc handed out the block at `p` (any address may be asked).
pub fn from_mimalloc(p: *const u8) -> bool {
    // SAFETY: mi_is_in_heap_region only reads mimalloc's page map (and returns false for an
    // address beyond it or before the map exists); it never dereferences `p`.
    unsafe { mi::mi_is_in_heap_region(p.cast()) }
}

impl Heap {
    /// A new block of `layout` (zero-filled if `zeroed`): mimalloc's after the switch, unless it
    /// has none to give; glibc's otherwise.
    ///
    /// # Safety
    /// `layout` has a non-zero size (GlobalAlloc::alloc's contract).
    unsafe fn new_block(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        if uses_mimalloc() {
            let (size, align) = (layout.size(), layout.align());
            // SAFETY: the size is non-zero (the caller's contract) and the alignment a power of
            // two, which is all these calls need.
            let p = unsafe {
                match (plain(align, size), zeroed) {
                    (true, false) => mi::mi_malloc(size),
                    (true, true) => mi::mi_zalloc(size),
                    (false, false) => mi::mi_malloc_aligned(size, align),
                    (false, true) => mi::mi_zalloc_aligned(size, align),
                }
            };
            if !p.is_null() {
                return p.cast();
            }
        }
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe {
            if zeroed {
                System.alloc_zeroed(layout)
            } else {
                System.alloc(layout)
            }
        }
    }
}

// SAFETY: every block is returned by the allocator that made it (`from_mimalloc` tells them
// apart), each of which meets GlobalAlloc's contract for the layouts it is given: mimalloc's
// `mi_malloc` for alignments up to 16 bytes (no larger than the size), `mi_malloc_aligned`
// otherwise, and Rust's `System` (glibc) as before.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { self.new_block(layout, false) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc_zeroed` is passed on unchanged.
        unsafe { self.new_block(layout, true) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if from_mimalloc(ptr) {
            // SAFETY: mimalloc made this live block (the caller's contract: it came from this
            // allocator and is freed once).
            unsafe { mi::mi_free(ptr.cast()) }
        } else {
            // SAFETY: not mimalloc's, so System made it with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if from_mimalloc(ptr) {
            // SAFETY: mimalloc made this live block; on failure it is left as it was and null
            // is returned, as GlobalAlloc::realloc requires.
            return unsafe {
                if plain(layout.align(), new_size) {
                    mi::mi_realloc(ptr.cast(), new_size)
                } else {
                    mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align())
                }
            }
            .cast();
        }
        if !uses_mimalloc() {
            // SAFETY: System made this block with `layout`; the caller's contract is passed on.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // A glibc block grown after the switch moves to mimalloc.
        // SAFETY: `new_size` with the old alignment is a valid layout (the caller's contract).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` has a non-zero size (the caller's contract).
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live, distinct, and at least this long; the old one is
            // System's (not mimalloc's, checked above) and freed once.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                System.dealloc(ptr, layout);
            }
        }
        new
    }
}
