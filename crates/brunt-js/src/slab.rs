//! The allocator of the VUs' QuickJS runtimes: small blocks come from slabs of one size class
//! each, with no per-block header and 8-byte size steps; larger blocks come from libc.
//!
//! A VU's heap is mostly blocks of 16 to 200 bytes (objects, shapes, property arrays, atoms,
//! function bytecode), and a few up to 1 KiB. glibc puts an 8-byte header on each and rounds it
//! up to 16 bytes, about 11% of a VU's QuickJS heap measured (75 KB -> 67 KB per VU with the
//! script of the memory bar).
//!
//! Slabs are carved from one region of address space reserved (not committed) at first use, so
//! that `usable_size` knows a slab block from a libc block by its address alone, and a block's
//! size class is found in a table indexed by its pages. A thread takes the region a huge page's
//! worth at a time (a chunk) and cuts its slabs (a page for a class's first, up to 64 KiB for a
//! busy class's later ones) from its current chunk, so that the slabs in use lie close together:
//! a full chunk is then made one huge page (see [`collapse`]).
//! The runtimes of a thread share that thread's slabs (a runtime is used by one thread only); its
//! chunks go back to a process-wide pool when the thread and its last runtime are gone.

use rquickjs::allocator::Allocator;
use rquickjs::qjs;
use std::cell::UnsafeCell;
use std::ffi::c_void;
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Blocks up to this size come from slabs: with them a VU's bytecode and larger property tables,
/// which an iteration reads, lie in the chunks that become huge pages.
const MAX_SMALL: usize = 1024;
const STEP: usize = 8;
const CLASSES: usize = MAX_SMALL / STEP + 1;
/// The unit slabs are cut in. A class's first slab in a thread is one page, so that a class the
/// thread seldom uses holds little memory unused; each next one is twice as long, up to
/// [`MAX_SLAB`], so that a class in wide use wastes little at its slabs' ends.
const PAGE: usize = 4096;
const MAX_SLAB: usize = 64 * 1024;
/// A full chunk is made a huge page once no more than this much of it is still uncut (the rest
/// of some classes' current slabs), which the huge page would make resident unused.
const COLLAPSE_UNCUT: usize = 256 * 1024;
/// While a full chunk waits, it is looked at again every this many blocks cut from slabs.
const RECHECK_CUTS: u32 = 256;
/// What a thread takes from the region at a time: one huge page of slabs.
const CHUNK: usize = 2 << 20;
/// Address space reserved for slabs: 16 GiB, far beyond what VUs use; reserving costs nothing.
const REGION: usize = 16 << 30;
const PAGES: usize = REGION / PAGE;
const CHUNKS: usize = REGION / CHUNK;

/// The size class of the slab each page of the region is in (0: in no slab yet).
static CLASS: [AtomicU8; PAGES] = [const { AtomicU8::new(0) }; PAGES];
/// Chunks handed out so far (bump index into the region).
static NEXT: AtomicUsize = AtomicUsize::new(0);
/// Chunks given back by threads whose runtimes are all freed, for the next ones.
static POOL: Mutex<Vec<usize>> = Mutex::new(Vec::new());
static BASE: OnceLock<usize> = OnceLock::new();
/// The region's start once reserved (0 before, or when it could not be): what [`page_of`] reads
/// on every free and size query, one plain load instead of `BASE`'s initialisation check.
static START: AtomicUsize = AtomicUsize::new(0);

extern "C" {
    fn mmap(addr: *mut c_void, len: usize, prot: i32, flags: i32, fd: i32, off: i64)
        -> *mut c_void;
    fn mprotect(addr: *mut c_void, len: usize, prot: i32) -> i32;
    fn madvise(addr: *mut c_void, len: usize, advice: i32) -> i32;
    fn malloc(size: usize) -> *mut c_void;
    fn calloc(count: usize, size: usize) -> *mut c_void;
    fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void;
    fn free(ptr: *mut c_void);
    fn malloc_usable_size(ptr: *mut c_void) -> usize;
}

const PROT_NONE: i32 = 0;
const PROT_RW: i32 = 1 | 2;
const MAP_PRIVATE_ANON_NORESERVE: i32 = 0x02 | 0x20 | 0x4000;
const MADV_DONTNEED: i32 = 4;
/// Not in every libc's headers yet (Linux 6.1).
const MADV_COLLAPSE: i32 = 25;

/// The region's start, or 0 when it could not be reserved (then every block comes from libc).
fn base() -> usize {
    *BASE.get_or_init(|| {
        // SAFETY: a fresh private mapping with no access; nothing else refers to it.
        let p = unsafe {
            mmap(
                std::ptr::null_mut(),
                REGION + CHUNK,
                PROT_NONE,
                MAP_PRIVATE_ANON_NORESERVE,
                -1,
                0,
            )
        };
        // Chunks start on huge page boundaries, so that each can become one.
        let start = if p as isize == -1 {
            0
        } else {
            (p as usize).next_multiple_of(CHUNK)
        };
        START.store(start, Ordering::Relaxed);
        start
    })
}

/// Asks the kernel to back the chunk at `start` with one huge page (`MADV_COLLAPSE`, Linux 6.1).
/// An iteration of 50 VUs touches their objects, shapes and bytecode on more 4 KiB pages than
/// the CPU's TLB holds; in huge pages, the slabs of a hundred VUs take a few of its entries
/// (docs/benchmarks.md, session 16). Only a chunk all cut into slabs and little of it still uncut
/// is collapsed ([`State::collapse_ready`]), so that what the collapse makes resident is nearly
/// all in use, and a small run (whose one chunk never fills) stays in small pages. A kernel
/// without it, or without a free huge page, leaves the pages as they are.
fn collapse(start: usize) {
    // SAFETY: advice on a chunk of our own region, readable and writable; its contents stay.
    unsafe { madvise(start as *mut c_void, CHUNK, MADV_COLLAPSE) };
}

/// The index of `p`'s page in the region (and in [`CLASS`]) when it lies in the region.
#[inline]
fn page_of(p: *const u8) -> Option<usize> {
    // Set before this thread's first block (`State::new` calls `base`).
    let base = START.load(Ordering::Relaxed);
    let a = (p as usize).wrapping_sub(base);
    (base != 0 && a < REGION).then_some(a / PAGE)
}

/// The block size of a class.
#[inline]
fn size_of_class(c: usize) -> usize {
    c * STEP
}

/// The slabs of one thread: a free list and a partly carved slab per size class. The runtimes of
/// a thread share them, so a runtime costs no partly used slab of its own.
struct State {
    free: [*mut u8; CLASSES],
    cur: [*mut u8; CLASSES],
    end: [*mut u8; CLASSES],
    /// Slabs taken per class, up to the doubling that makes one [`MAX_SLAB`] long.
    taken: [u8; CLASSES],
    /// The rest of the chunk slabs are being cut from (both null before the first).
    chunk_cur: *mut u8,
    chunk_end: *mut u8,
    /// Full chunks not made huge pages yet: too much of them was uncut (see [`COLLAPSE_UNCUT`]).
    pending: Vec<usize>,
    /// Blocks cut from slabs while a chunk was pending, to look at the pending ones now and then.
    cuts: u32,
    /// Every chunk this thread took, given back when the last runtime and the thread are gone.
    owned: Vec<usize>,
}

thread_local! {
    static THREAD: Rc<UnsafeCell<State>> = Rc::new(UnsafeCell::new(State::new()));
}

/// The allocator of one runtime: a handle on its thread's slabs. A runtime is used, and so
/// allocates and frees, on the thread that created it only. The state is reached without a
/// `RefCell`'s borrow flag: it is touched only by that thread (`Rc` is not `Send`), and no
/// reference to it outlives one call of this allocator, which calls nothing that allocates
/// through it again.
pub(crate) struct Slabs(Rc<UnsafeCell<State>>);

impl Slabs {
    pub(crate) fn new() -> Slabs {
        Slabs(THREAD.with(|t| t.clone()))
    }

    fn state(&mut self) -> &mut State {
        // SAFETY: see [`Slabs`]: this thread's only live reference to the state.
        unsafe { &mut *self.0.get() }
    }
}

impl State {
    fn new() -> State {
        let _ = base();
        State {
            free: [std::ptr::null_mut(); CLASSES],
            cur: [std::ptr::null_mut(); CLASSES],
            end: [std::ptr::null_mut(); CLASSES],
            taken: [0; CLASSES],
            chunk_cur: std::ptr::null_mut(),
            chunk_end: std::ptr::null_mut(),
            pending: Vec::new(),
            cuts: 0,
            owned: Vec::new(),
        }
    }

    /// A new slab for class `c`, or None when the region is used up or unavailable.
    fn new_slab(&mut self, c: usize) -> Option<*mut u8> {
        if self.chunk_cur == self.chunk_end {
            self.new_chunk()?;
        }
        let want = PAGE << self.taken[c];
        if want < MAX_SLAB {
            self.taken[c] += 1;
        }
        // The chunk's last slab may be shorter: a chunk is used up before the next is taken.
        let len = want.min(self.chunk_end as usize - self.chunk_cur as usize);
        let p = self.chunk_cur;
        // SAFETY: the chunk has `len` bytes left.
        self.chunk_cur = unsafe { p.add(len) };
        let first = (p as usize - START.load(Ordering::Relaxed)) / PAGE;
        for class in &CLASS[first..first + len / PAGE] {
            class.store(c as u8, Ordering::Release);
        }
        self.cur[c] = p;
        self.end[c] = self.chunk_cur;
        // Class `c` is done with its last slab, which may have been what held a chunk back.
        self.collapse_ready();
        Some(p)
    }

    /// Makes each pending chunk a huge page once no more than [`COLLAPSE_UNCUT`] of it is uncut:
    /// the rest of the current slabs of classes whose current slab lies in it.
    fn collapse_ready(&mut self) {
        let mut i = 0;
        while i < self.pending.len() {
            let start = self.pending[i];
            let uncut: usize = (0..CLASSES)
                .filter(|&c| (start..start + CHUNK).contains(&(self.cur[c] as usize)))
                .map(|c| self.end[c] as usize - self.cur[c] as usize)
                .sum();
            if uncut <= COLLAPSE_UNCUT {
                collapse(start);
                self.pending.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Takes a chunk to cut slabs from, once the current one is all cut.
    fn new_chunk(&mut self) -> Option<()> {
        let base = base();
        if base == 0 {
            return None;
        }
        if !self.chunk_end.is_null() {
            self.pending.push(self.chunk_end as usize - CHUNK);
            self.chunk_cur = std::ptr::null_mut();
            self.chunk_end = std::ptr::null_mut();
        }
        let pooled = POOL.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let i = match pooled {
            Some(i) => i,
            None => {
                let i = NEXT.fetch_add(1, Ordering::Relaxed);
                if i >= CHUNKS {
                    return None;
                }
                let p = (base + i * CHUNK) as *mut c_void;
                // SAFETY: chunk `i` of our reserved region, handed out to no one before. Its pages
                // are committed only when touched.
                if unsafe { mprotect(p, CHUNK, PROT_RW) } != 0 {
                    return None;
                }
                i
            }
        };
        self.owned.push(i);
        self.chunk_cur = (base + i * CHUNK) as *mut u8;
        // SAFETY: within the region.
        self.chunk_end = unsafe { self.chunk_cur.add(CHUNK) };
        Some(())
    }

    fn alloc_small(&mut self, size: usize) -> *mut u8 {
        let c = size.max(1).div_ceil(STEP);
        let p = self.free[c];
        if !p.is_null() {
            // SAFETY: a freed block of this class holds the next free block's address.
            self.free[c] = unsafe { *(p as *mut *mut u8) };
            return p;
        }
        let n = size_of_class(c);
        if (self.end[c] as usize) - (self.cur[c] as usize) < n && self.new_slab(c).is_none() {
            // SAFETY: plain libc allocation.
            return unsafe { malloc(size) as *mut u8 };
        }
        let p = self.cur[c];
        // SAFETY: at least `n` bytes are left in the current slab.
        self.cur[c] = unsafe { p.add(n) };
        if !self.pending.is_empty() {
            // Cutting blocks is what readies a pending chunk; look again now and then.
            self.cuts = self.cuts.wrapping_add(1);
            if self.cuts.is_multiple_of(RECHECK_CUTS) {
                self.collapse_ready();
            }
        }
        p
    }
}

impl Drop for State {
    fn drop(&mut self) {
        let base = base();
        for &i in &self.owned {
            // SAFETY: our own chunk; no block of it is in use once its runtimes are freed. The
            // pages read as zeros when reused.
            unsafe { madvise((base + i * CHUNK) as *mut c_void, CHUNK, MADV_DONTNEED) };
        }
        POOL.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(self.owned.drain(..));
    }
}

impl State {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if size <= MAX_SMALL {
            self.alloc_small(size)
        } else {
            // SAFETY: plain libc allocation.
            unsafe { malloc(size) as *mut u8 }
        }
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else {
            return std::ptr::null_mut();
        };
        if total > MAX_SMALL {
            // SAFETY: plain libc allocation.
            return unsafe { calloc(count, size) as *mut u8 };
        }
        let p = self.alloc_small(total);
        if !p.is_null() {
            // SAFETY: `p` has at least `total` bytes.
            unsafe { std::ptr::write_bytes(p, 0, total) };
        }
        p
    }

    /// # Safety
    /// `ptr` is a live block of this allocator.
    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        match page_of(ptr) {
            Some(i) => {
                let c = CLASS[i].load(Ordering::Acquire) as usize;
                *(ptr as *mut *mut u8) = self.free[c];
                self.free[c] = ptr;
            }
            None => free(ptr as *mut c_void),
        }
    }

    /// # Safety
    /// `ptr` is null or a live block of this allocator.
    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.alloc(new_size);
        }
        if new_size == 0 {
            self.dealloc(ptr);
            return std::ptr::null_mut();
        }
        let Some(i) = page_of(ptr) else {
            if new_size > MAX_SMALL {
                return realloc(ptr as *mut c_void, new_size) as *mut u8;
            }
            let old = malloc_usable_size(ptr as *mut c_void);
            let q = self.alloc_small(new_size);
            if !q.is_null() {
                std::ptr::copy_nonoverlapping(ptr, q, old.min(new_size));
                free(ptr as *mut c_void);
            }
            return q;
        };
        let old = size_of_class(CLASS[i].load(Ordering::Acquire) as usize);
        if new_size <= old && new_size + STEP > old {
            return ptr;
        }
        let q = self.alloc(new_size);
        if !q.is_null() {
            std::ptr::copy_nonoverlapping(ptr, q, old.min(new_size));
            self.dealloc(ptr);
        }
        q
    }
}

/// The usable size of a live block of this allocator.
///
/// # Safety
/// `ptr` is a live block of this allocator.
unsafe fn usable_size(ptr: *mut u8) -> usize {
    match page_of(ptr) {
        Some(i) => size_of_class(CLASS[i].load(Ordering::Acquire) as usize),
        None => malloc_usable_size(ptr as *mut c_void),
    }
}

// SAFETY: blocks are at least `size` bytes, aligned to 8 (QuickJS needs no more: its values and
// structs hold at most 8-byte fields), valid until freed through this allocator, and
// `usable_size` reports at least the requested size.
unsafe impl Allocator for Slabs {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        self.state().alloc(size)
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        self.state().calloc(count, size)
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        self.state().dealloc(ptr)
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        self.state().realloc(ptr, new_size)
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        usable_size(ptr)
    }
}

/// QuickJS's `JSMallocState` (quickjs.c), which follows `JSMallocFunctions` in `JSRuntime`.
#[repr(C)]
struct MallocState {
    count: usize,
    size: usize,
    limit: usize,
    opaque: *mut c_void,
}

/// Has runtime `rt`, made with a [`Slabs`] of this thread as its rquickjs allocator, call the slab functions below
/// directly. rquickjs's own functions reach the same slabs through a forwarding wrapper and a
/// `dyn Allocator` on each of the runtime's allocations, frees and size queries, about 180 of
/// them per request of the order script. The functions and their opaque pointer live in
/// `JSRuntime` (`mf`, then `malloc_state`), which is not QuickJS's public API: the state's
/// place is checked first against `JS_ComputeMemoryUsage` and `JS_SetMemoryLimit`, and nothing
/// is changed (false) when it does not match. Blocks made before keep working: both ways lead to
/// the same slabs. The opaque pointer is this thread's slab state, which that `Slabs` (kept by
/// rquickjs until after it frees the runtime) keeps alive.
///
/// # Safety
/// `rt` is a live runtime used by this thread only, whose rquickjs allocator is a [`Slabs`]
/// made on this thread.
pub(crate) unsafe fn call_directly(rt: *mut qjs::JSRuntime) -> bool {
    let mf = rt as *mut qjs::JSMallocFunctions;
    let st = (rt as *mut u8).add(std::mem::size_of::<qjs::JSMallocFunctions>()) as *mut MallocState;
    let mut usage = std::mem::MaybeUninit::<qjs::JSMemoryUsage>::zeroed();
    qjs::JS_ComputeMemoryUsage(rt, usage.as_mut_ptr());
    let usage = usage.assume_init();
    let limit = (*st).limit;
    let probe: usize = 0x5eed_0000;
    qjs::JS_SetMemoryLimit(rt, probe as _);
    let moved = (*st).limit == probe;
    qjs::JS_SetMemoryLimit(rt, limit as _);
    let matches = moved
        && (*st).count as i64 == usage.malloc_count
        && (*st).size as i64 == usage.malloc_size
        && limit as i64 == usage.malloc_limit
        && (*mf).js_malloc.is_some()
        && (*mf).js_malloc_usable_size.is_some();
    if matches {
        (*st).opaque = THREAD.with(Rc::as_ptr) as *mut c_void;
        *mf = qjs::JSMallocFunctions {
            js_calloc: Some(direct_calloc),
            js_malloc: Some(direct_malloc),
            js_free: Some(direct_free),
            js_realloc: Some(direct_realloc),
            js_malloc_usable_size: Some(direct_usable_size),
        };
    }
    matches
}

/// The slab state an opaque pointer set by [`call_directly`] names.
///
/// # Safety
/// `opaque` is that pointer, and the runtime calling is used by this thread only.
unsafe fn state_of<'a>(opaque: *mut c_void) -> &'a mut State {
    &mut *(*(opaque as *const UnsafeCell<State>)).get()
}

unsafe extern "C" fn direct_calloc(
    opaque: *mut c_void,
    count: qjs::size_t,
    size: qjs::size_t,
) -> *mut c_void {
    state_of(opaque).calloc(count as usize, size as usize) as *mut c_void
}

unsafe extern "C" fn direct_malloc(opaque: *mut c_void, size: qjs::size_t) -> *mut c_void {
    state_of(opaque).alloc(size as usize) as *mut c_void
}

unsafe extern "C" fn direct_free(opaque: *mut c_void, ptr: *mut c_void) {
    if !ptr.is_null() {
        state_of(opaque).dealloc(ptr as *mut u8);
    }
}

unsafe extern "C" fn direct_realloc(
    opaque: *mut c_void,
    ptr: *mut c_void,
    size: qjs::size_t,
) -> *mut c_void {
    state_of(opaque).realloc(ptr as *mut u8, size as usize) as *mut c_void
}

unsafe extern "C" fn direct_usable_size(ptr: *const c_void) -> qjs::size_t {
    if ptr.is_null() {
        return 0;
    }
    usable_size(ptr as *mut u8) as qjs::size_t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runtime made with slabs calls them directly (the check in `call_directly` matches this
    /// QuickJS: were it not, every allocation would quietly take rquickjs's wrapper again), and
    /// runs scripts, collects and frees itself with blocks made both before and after.
    #[test]
    fn a_runtime_calls_the_slabs_directly() {
        let rt = rquickjs::Runtime::new_with_alloc(Slabs::new()).unwrap();
        let early = rquickjs::Context::full(&rt).unwrap();
        // SAFETY: a live runtime of this thread, made with slabs of this thread.
        let raw = unsafe { crate::shared_rt::rquickjs_raw(&rt) };
        assert!(unsafe { call_directly(raw) });
        let st = unsafe {
            &*((raw as *const u8).add(std::mem::size_of::<qjs::JSMallocFunctions>())
                as *const MallocState)
        };
        assert_eq!(st.opaque, THREAD.with(Rc::as_ptr) as *mut c_void);
        let late = rquickjs::Context::full(&rt).unwrap();
        for ctx in [&early, &late] {
            ctx.with(|ctx| {
                let n: i32 = ctx
                    .eval("let a = []; for (let i = 0; i < 5000; i++) a.push({ i, s: 'x'.repeat(i % 700) }); a.length")
                    .unwrap();
                assert_eq!(n, 5000);
            });
        }
        drop(early);
        rt.run_gc();
        drop(late);
    }

    #[test]
    fn blocks_keep_their_bytes_through_free_and_realloc() {
        let mut s = Slabs::new();
        let mut blocks: Vec<(*mut u8, usize)> = Vec::new();
        for i in 0..5000usize {
            let size = (i * 37) % 900;
            let p = s.alloc(size);
            assert!(!p.is_null());
            assert_eq!(p as usize % 8, 0);
            assert!(unsafe { Slabs::usable_size(p) } >= size);
            unsafe { std::ptr::write_bytes(p, (i % 251) as u8, size) };
            blocks.push((p, size));
            if i % 3 == 0 {
                let (p, size) = blocks.swap_remove(i % blocks.len());
                unsafe { s.dealloc(p) };
                let _ = size;
            }
        }
        for (p, size) in blocks.iter_mut() {
            let first = if *size > 0 { unsafe { *(*p) } } else { 0 };
            let new = (*size * 3) % 1000 + 1;
            let q = unsafe { s.realloc(*p, new) };
            for k in 0..(*size).min(new) {
                assert_eq!(unsafe { *q.add(k) }, first);
            }
            *p = q;
            *size = new;
        }
        for (p, _) in blocks {
            unsafe { s.dealloc(p) };
        }
        let z = s.calloc(3, 40);
        assert!((0..120).all(|k| unsafe { *z.add(k) } == 0));
        unsafe { s.dealloc(z) };
    }

    /// A thread cuts its slabs from chunks: once a chunk is full and little of it is uncut, it
    /// is made a huge page, and the blocks in it keep their bytes; a chunk with much of it uncut
    /// waits until its classes have used it.
    #[test]
    fn full_chunks_become_huge_pages_with_their_blocks_intact() {
        // A thread of its own, so that its slabs start with a fresh chunk.
        std::thread::spawn(|| {
            let mut s = Slabs::new();
            let mut blocks = Vec::new();
            // One busy class fills more than a chunk; a few others each hold a slab.
            for i in 0..(3 * CHUNK / 64) {
                let p = s.alloc(64);
                unsafe { std::ptr::write_bytes(p, (i % 251) as u8, 64) };
                blocks.push((p, 64, i));
                if i % 4096 == 0 {
                    let size = 8 * (1 + i % 40);
                    let q = s.alloc(size);
                    unsafe { std::ptr::write_bytes(q, (i % 251) as u8, size) };
                    blocks.push((q, size, i));
                }
            }
            let st = s.state();
            assert!(st.owned.len() >= 3, "chunks taken: {}", st.owned.len());
            assert!(
                st.pending.is_empty(),
                "full chunks left in small pages: {:?}",
                st.pending
            );
            for &(p, size, i) in &blocks {
                assert!((0..size).all(|k| unsafe { *p.add(k) } == (i % 251) as u8));
            }
            // A chunk filled while a class's long slab in it is mostly uncut waits for it.
            let start = st.chunk_end as usize - CHUNK;
            st.pending.push(start);
            st.cur[1] = start as *mut u8;
            st.end[1] = unsafe { st.cur[1].add(COLLAPSE_UNCUT + PAGE) };
            st.collapse_ready();
            assert_eq!(st.pending, [start]);
            st.cur[1] = unsafe { st.end[1].sub(PAGE) };
            st.collapse_ready();
            assert!(st.pending.is_empty());
            st.cur[1] = st.end[1];
            for (p, _, _) in blocks {
                unsafe { s.dealloc(p) };
            }
        })
        .join()
        .unwrap();
    }
}
