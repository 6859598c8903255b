//! VU coroutine stacks carved from large reservations, so that the number of memory mappings
//! does not grow with the VU count.
//!
//! A stack in a mapping of its own (corosensei's `DefaultStack`) costs two mappings, the stack and
//! its guard page, and Linux allows a process 65,530 by default (`vm.max_map_count`): about 32,700
//! VUs, after which a VU fails with "Cannot allocate memory" however much memory is free. Here
//! stacks are cut from slabs of [`PER_SLAB`], one mapping each; a stack's guard page is a
//! lightweight guard region (`MADV_GUARD_INSTALL`, Linux 6.13), a marker in the page tables that
//! faults on access without splitting the mapping. Where the kernel has none, the guard page is
//! made with `mprotect`, which splits the slab: two mappings per stack again, and [`check_room`]
//! says so before the VUs are created. A dropped VU's stack is kept for the next VU (its pages
//! given back to the kernel); the slabs stay reserved, uncommitted, for the process's life.

use corosensei::stack::valgrind::ValgrindStackRegistration;
use corosensei::stack::{Stack, StackPointer};
use std::io;
use std::mem::ManuallyDrop;
use std::sync::{Mutex, OnceLock};

/// Usable bytes of a VU's stack. Pages are only committed when touched.
pub(crate) const STACK_SIZE: usize = 1024 * 1024;
/// Stacks per slab: about 128 MiB of address space per mapping, none of it committed until used.
const PER_SLAB: usize = 128;
/// Mappings kept free for what else grows with a run (heaps of worker threads, libraries, the
/// outputs' threads).
const MAPPING_MARGIN: u64 = 1024;
/// `madvise` advice that installs a guard region (Linux 6.13); not in the libc crate yet.
#[cfg(target_os = "linux")]
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Stacks given back by dropped VUs, and the rest of the slab being carved.
struct Pool {
    free: Vec<usize>,
    next: usize,
    end: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    free: Vec::new(),
    next: 0,
    end: 0,
});

fn page() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    // SAFETY: sysconf only reads a system constant.
    *PAGE.get_or_init(|| match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 => n as usize,
        _ => 4096,
    })
}

/// A stack and the guard page below it.
fn stride() -> usize {
    STACK_SIZE + page()
}

/// Whether each guard page costs mappings of its own (no lightweight guard regions here).
fn guard_splits() -> bool {
    static SPLITS: OnceLock<bool> = OnceLock::new();
    *SPLITS.get_or_init(|| {
        let len = 2 * page();
        // SAFETY: a fresh private mapping, probed and unmapped here; nothing else sees it.
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                return true;
            }
            let ok = install_guard(p as usize);
            libc::munmap(p, len);
            !ok
        }
    })
}

/// Makes the page at `addr` a lightweight guard region; false where the kernel cannot.
///
/// # Safety
/// `addr` is a page of a private anonymous mapping of ours that nothing uses.
#[cfg(target_os = "linux")]
unsafe fn install_guard(addr: usize) -> bool {
    libc::madvise(addr as *mut libc::c_void, page(), MADV_GUARD_INSTALL) == 0
}

#[cfg(not(target_os = "linux"))]
unsafe fn install_guard(_addr: usize) -> bool {
    false
}

impl Pool {
    /// The usable bottom of a new stack from the current slab, reserving a new slab when it is
    /// used up.
    fn carve(&mut self) -> io::Result<usize> {
        let (page, stride) = (page(), stride());
        if self.next == self.end {
            let len = stride * PER_SLAB;
            #[cfg(target_os = "linux")]
            let flags =
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK;
            #[cfg(not(target_os = "linux"))]
            let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
            // SAFETY: a fresh private mapping that only this pool hands out.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    flags,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            self.next = p as usize;
            self.end = self.next + len;
        }
        let guard = self.next;
        // SAFETY: the lowest page of a stride of our slab, which no stack uses yet.
        let installed = !guard_splits() && unsafe { install_guard(guard) };
        // SAFETY: as above.
        if !installed
            && unsafe { libc::mprotect(guard as *mut libc::c_void, page, libc::PROT_NONE) } != 0
        {
            return Err(io::Error::last_os_error());
        }
        self.next += stride;
        Ok(guard + page)
    }
}

fn pool() -> std::sync::MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A VU's coroutine stack: [`STACK_SIZE`] bytes above a guard page, from the process's pool.
pub(crate) struct VuStack {
    /// The lowest usable address (the guard page is just below).
    bottom: usize,
    valgrind: ManuallyDrop<ValgrindStackRegistration>,
}

impl VuStack {
    pub(crate) fn new() -> io::Result<VuStack> {
        let bottom = {
            let mut pool = pool();
            match pool.free.pop() {
                Some(b) => b,
                None => pool.carve()?,
            }
        };
        Ok(VuStack {
            bottom,
            valgrind: ManuallyDrop::new(ValgrindStackRegistration::new(
                (bottom - page()) as *mut u8,
                stride(),
            )),
        })
    }

    /// The lowest usable address.
    pub(crate) fn bottom(&self) -> usize {
        self.bottom
    }
}

impl Drop for VuStack {
    fn drop(&mut self) {
        // SAFETY: the coroutine that ran on this stack is gone (it owned the stack), so nothing
        // uses its pages; they read as zeros when the next VU touches them.
        unsafe {
            ManuallyDrop::drop(&mut self.valgrind);
            libc::madvise(
                self.bottom as *mut libc::c_void,
                STACK_SIZE,
                libc::MADV_DONTNEED,
            );
        }
        pool().free.push(self.bottom);
    }
}

// SAFETY: [bottom, bottom + STACK_SIZE) is ours alone, readable and writable, page-aligned (so
// aligned to STACK_ALIGNMENT), with a guard page right below it that faults on any access.
unsafe impl Stack for VuStack {
    fn base(&self) -> StackPointer {
        StackPointer::new(self.bottom + STACK_SIZE).expect("a stack is never at address 0")
    }

    fn limit(&self) -> StackPointer {
        StackPointer::new(self.bottom - page()).expect("a stack is never at address 0")
    }
}

/// Fails, before any VU is created, when `vus` VU stacks would need more memory mappings than
/// the kernel allows a process (`vm.max_map_count`), naming the setting to raise.
pub(crate) fn check_room(vus: u64) -> Result<(), String> {
    let Some(max) = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
    else {
        return Ok(());
    };
    let in_use = std::fs::read_to_string("/proc/self/maps")
        .map(|m| m.lines().count() as u64)
        .unwrap_or(0);
    room(vus, max, in_use, guard_splits())
}

/// [`check_room`] with the limit, the mappings in use and the kind of guard pages given.
fn room(vus: u64, max: u64, in_use: u64, splits: bool) -> Result<(), String> {
    let stacks = if splits {
        vus.saturating_mul(2)
    } else {
        vus.div_ceil(PER_SLAB as u64)
    };
    let need = in_use.saturating_add(stacks).saturating_add(MAPPING_MARGIN);
    if need <= max {
        return Ok(());
    }
    let why = if splits {
        "two for each VU's stack, as this kernel has no lightweight guard pages (Linux 6.13)"
    } else {
        "one for each 128 VU stacks"
    };
    Err(format!(
        "{vus} VUs need about {need} memory mappings ({why}, {in_use} in use now), but the \
         kernel allows a process {max}: raise vm.max_map_count (sysctl -w \
         vm.max_map_count={need}) or run fewer VUs"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mappings() -> usize {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .count()
    }

    /// 1,000 stacks cost a handful of mappings, not two each; each one's memory is its own.
    #[test]
    fn stacks_share_mappings_and_are_disjoint() {
        let before = mappings();
        let stacks: Vec<VuStack> = (0..1000).map(|_| VuStack::new().unwrap()).collect();
        let grown = mappings().saturating_sub(before);
        if guard_splits() {
            eprintln!(
                "no lightweight guard pages on this kernel: {grown} mappings for 1000 stacks"
            );
        } else {
            // Other tests of this binary run meanwhile (threads, heaps): a generous bound, far
            // below the 2,000 that stacks of their own would take.
            assert!(grown < 100, "1000 stacks took {grown} more mappings");
        }
        let mut bottoms: Vec<usize> = stacks.iter().map(VuStack::bottom).collect();
        bottoms.sort_unstable();
        assert!(bottoms.windows(2).all(|w| w[1] - w[0] >= stride()));
        for s in &stacks {
            // SAFETY: the top and bottom bytes of our own stacks.
            unsafe {
                std::ptr::write_volatile((s.bottom() + STACK_SIZE - 1) as *mut u8, 7);
                std::ptr::write_volatile(s.bottom() as *mut u8, 9);
            }
        }
        drop(stacks);
        // A given-back stack is reused, zeroed.
        let again = VuStack::new().unwrap();
        // SAFETY: our own stack's lowest byte.
        assert_eq!(
            unsafe { std::ptr::read_volatile(again.bottom() as *const u8) },
            0
        );
    }

    /// Run in a child process by the test below: touches the guard page under a stack.
    #[test]
    #[ignore]
    fn touch_guard_page() {
        if std::env::var_os("BRUNT_TOUCH_GUARD").is_none() {
            return;
        }
        let stack = VuStack::new().unwrap();
        // SAFETY: not safe at all, on purpose: the guard page must stop this write.
        unsafe { std::ptr::write_volatile((stack.bottom() - 1) as *mut u8, 1) };
        std::process::exit(0);
    }

    /// A stack that overflows faults on its guard page instead of writing over its neighbour.
    #[test]
    fn the_guard_page_faults() {
        use std::os::unix::process::ExitStatusExt;
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "stack::tests::touch_guard_page",
                "--ignored",
                "--nocapture",
            ])
            .env("BRUNT_TOUCH_GUARD", "1")
            .output()
            .unwrap();
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGSEGV),
            "{:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
    }

    #[test]
    fn too_many_vus_for_the_mapping_limit_is_said_up_front() {
        assert!(room(100_000, 65_530, 300, false).is_ok());
        let e = room(40_000, 65_530, 300, true).unwrap_err();
        assert!(e.contains("vm.max_map_count"), "{e}");
        assert!(e.contains("sysctl -w vm.max_map_count=81324"), "{e}");
        assert!(e.contains("Linux 6.13"), "{e}");
        let e = room(10_000_000, 65_530, 300, false).unwrap_err();
        assert!(e.contains("10000000 VUs need about 79449"), "{e}");
    }
}
