//! sable, heapmark's allocator, from Rust.
//!
//! [`Sable`] implements [`GlobalAlloc`] over sable's C API:
//!
//! ```no_run
//! #[global_allocator]
//! static GLOBAL: sable::Sable = sable::Sable;
//! ```
//!
//! The `Layout` contract: every alignment (a power of two, up to what the
//! address space allows) is honoured by `alloc`, `alloc_zeroed` and
//! `realloc`; `realloc` keeps the layout's alignment (in place when sable can
//! resize the block, else by a new block of the same alignment). A size of
//! zero, which `GlobalAlloc` callers must not pass, still gets a unique,
//! aligned, non-null pointer that `dealloc` accepts. A request sable cannot
//! meet returns null, so `Vec::try_reserve` and friends fail cleanly.
//!
//! Safe wrappers of sable's own calls: [`Block`] (a block that can be
//! resized in place and partly freed), [`set_oom_handler`] and
//! [`set_thread_oom_handler`], [`stats`], [`purge`], [`version`].
//!
//! The crate links the static `libsable.a` built by heapmark's Makefile
//! (see `build.rs`): its `malloc` then serves the whole program, C code
//! included, as when a C program links `-lsable`.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::{c_void, CStr};
use std::fmt;
use std::os::raw::{c_char, c_int};
use std::ptr::{self, NonNull};

/// The statistics of `sable_stats` (see sable(3)). The per-operation figures
/// (`live_bytes`, `peak_live_bytes`, the counts) are only kept when the
/// program runs with `SABLE_STATS=1` (or secure mode, `SABLE_LOG`, Valgrind);
/// otherwise they read `usize::MAX`. The address-space figures are always kept.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub live_bytes: usize,
    pub peak_live_bytes: usize,
    pub committed_bytes: usize,
    pub reserved_bytes: usize,
    pub allocs_small: usize,
    pub allocs_large: usize,
    pub allocs_huge: usize,
    pub frees: usize,
    pub reallocs: usize,
    pub partial_frees: usize,
    pub segments: usize,
    pub heaps: usize,
    pub purge_delay_ms: usize,
}

impl Stats {
    /// Whether the per-operation figures are kept (`SABLE_STATS=1`).
    pub fn counts_kept(&self) -> bool {
        self.allocs_small != usize::MAX
    }
}

type OomHandler = Option<unsafe extern "C" fn(usize, *mut c_void) -> c_int>;

/// sable's C API, as declared in `sable.h`.
pub mod ffi {
    use super::*;
    extern "C" {
        pub fn sable_malloc(n: usize) -> *mut c_void;
        pub fn sable_free(p: *mut c_void);
        pub fn sable_calloc(count: usize, n: usize) -> *mut c_void;
        pub fn sable_realloc(p: *mut c_void, n: usize) -> *mut c_void;
        pub fn sable_aligned_alloc(align: usize, n: usize) -> *mut c_void;
        pub fn sable_usable_size(p: *const c_void) -> usize;
        pub fn sable_resize_in_place(p: *mut c_void, n: usize) -> *mut c_void;
        pub fn sable_aligned_alloc_any(align: usize, n: usize) -> *mut c_void;
        pub fn sable_free_range(p: *mut c_void, n: usize) -> c_int;
        pub fn sable_set_oom_handler(fn_: OomHandler, arg: *mut c_void) -> OomHandler;
        pub fn sable_set_thread_oom_handler(fn_: OomHandler, arg: *mut c_void) -> OomHandler;
        pub fn sable_stats(st: *mut Stats) -> c_int;
        pub fn sable_memalignment(p: *const c_void) -> usize;
        pub fn sable_version() -> *const c_char;
        pub fn sable_purge() -> c_int;
    }
}

/// Every sable block is at least this aligned (malloc, calloc, realloc).
pub const MIN_ALIGN: usize = 16;

/// sable as a [`GlobalAlloc`]: `#[global_allocator] static A: Sable = Sable;`
#[derive(Clone, Copy, Debug, Default)]
pub struct Sable;

#[inline]
unsafe fn alloc_aligned(layout: &Layout) -> *mut u8 {
    // aligned_alloc: any power of two, any size (not only multiples of the
    // alignment), and a unique pointer for size zero
    ffi::sable_aligned_alloc(layout.align(), layout.size()) as *mut u8
}

unsafe impl GlobalAlloc for Sable {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MIN_ALIGN {
            ffi::sable_malloc(layout.size()) as *mut u8
        } else {
            alloc_aligned(&layout)
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= MIN_ALIGN {
            ffi::sable_calloc(1, layout.size()) as *mut u8
        } else {
            let p = alloc_aligned(&layout);
            if !p.is_null() {
                ptr::write_bytes(p, 0, layout.size());
            }
            p
        }
    }

    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, _layout: Layout) {
        ffi::sable_free(p as *mut c_void)
    }

    #[inline]
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= MIN_ALIGN {
            // realloc's result is 16-byte aligned wherever it moves the block
            return ffi::sable_realloc(p as *mut c_void, new_size) as *mut u8;
        }
        // above 16 bytes only an unmoved block keeps the alignment: in place,
        // or a new block of the layout's alignment
        if !ffi::sable_resize_in_place(p as *mut c_void, new_size).is_null() {
            return p;
        }
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let q = alloc_aligned(&new_layout);
        if !q.is_null() {
            ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
            ffi::sable_free(p as *mut c_void);
        }
        q
    }
}

/// The version of the linked sable ("major.minor.patch").
pub fn version() -> &'static str {
    // a static string in the library
    unsafe { CStr::from_ptr(ffi::sable_version()) }.to_str().unwrap_or("?")
}

/// sable's statistics now (see [`Stats`]).
pub fn stats() -> Stats {
    // room to spare: a library whose struct sable_stats has grown since this
    // crate was written writes its new fields there, not past the struct
    #[repr(C)]
    struct Room {
        st: Stats,
        spare: [usize; 32],
    }
    let mut room = Room { st: Stats::default(), spare: [0; 32] };
    // sable_stats fails only for NULL
    unsafe { ffi::sable_stats(&mut room.st) };
    room.st
}

/// How many fields [`Stats`] has (`struct sable_stats` in sable.h must have
/// as many: the crate's tests compare them).
pub const STATS_FIELDS: usize = std::mem::size_of::<Stats>() / std::mem::size_of::<usize>();

/// Gives the calling thread's free pages and the cached segments back to the
/// OS now.
pub fn purge() {
    unsafe { ffi::sable_purge() };
}

/// Why [`Block::free_range`] refused a range (nothing was changed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeRangeError {
    /// Outside the block's usable size, empty, or overlapping a range
    /// released before (sable's EINVAL).
    Invalid,
    /// The block would have more than 15 released pieces, or too many blocks
    /// are partly freed at once (sable's ENOMEM).
    TooManyPieces,
}

impl fmt::Display for FreeRangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FreeRangeError::Invalid => "range outside the block or released already",
            FreeRangeError::TooManyPieces => "too many released pieces",
        })
    }
}

impl std::error::Error for FreeRangeError {}

/// A block of sable memory, owned, zero-filled when made, that can change
/// size in place ([`Block::resize_in_place`]) and give back parts of itself
/// ([`Block::free_range`]). Freed when dropped (what remains of it).
pub struct Block {
    ptr: NonNull<u8>,
    len: usize,
    /// no range released: every byte up to `len` is valid and initialised
    whole: bool,
}

// a Block owns its memory like a Box<[u8]>; sable frees from any thread
unsafe impl Send for Block {}
unsafe impl Sync for Block {}

impl Block {
    /// `len` zero bytes, 16-byte aligned; `None` when memory is short.
    pub fn new(len: usize) -> Option<Block> {
        let p = unsafe { ffi::sable_calloc(1, len) } as *mut u8;
        NonNull::new(p).map(|ptr| Block { ptr, len, whole: true })
    }

    /// `len` zero bytes at a multiple of `align`, any `align` > 0 (3, 24,
    /// 1000, 12288 ...); `None` for `align` 0 or when memory is short.
    pub fn with_alignment(align: usize, len: usize) -> Option<Block> {
        let p = unsafe { ffi::sable_aligned_alloc_any(align, len) } as *mut u8;
        let ptr = NonNull::new(p)?;
        unsafe { ptr::write_bytes(ptr.as_ptr(), 0, len) };
        Some(Block { ptr, len, whole: true })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// The bytes sable gave the block (at least `len`): the extent
    /// [`Block::free_range`] works in.
    pub fn usable_size(&self) -> usize {
        unsafe { ffi::sable_usable_size(self.ptr.as_ptr() as *const c_void) }
    }

    /// The contents, while no range was released.
    pub fn as_slice(&self) -> Option<&[u8]> {
        if self.whole {
            Some(unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) })
        } else {
            None
        }
    }

    /// The contents, while no range was released.
    pub fn as_mut_slice(&mut self) -> Option<&mut [u8]> {
        if self.whole {
            Some(unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) })
        } else {
            None
        }
    }

    /// Grows or shrinks the block to `len` bytes without moving it: true when
    /// done (new bytes are zero), false when sable cannot (nothing changed).
    /// A block with released ranges is not resized (false).
    pub fn resize_in_place(&mut self, len: usize) -> bool {
        if !self.whole {
            return false;
        }
        let p = unsafe { ffi::sable_resize_in_place(self.ptr.as_ptr() as *mut c_void, len) };
        if p.is_null() {
            return false;
        }
        if len > self.len {
            unsafe { ptr::write_bytes(self.ptr.as_ptr().add(self.len), 0, len - self.len) };
        }
        self.len = len;
        true
    }

    /// Gives `[offset, offset + len)` of the block back to sable; the other
    /// bytes stay valid (through [`Block::as_ptr`]), and the slices are no
    /// longer available. Ranges lie within [`Block::usable_size`]; the block
    /// is freed when every byte is released or when it is dropped.
    pub fn free_range(&mut self, offset: usize, len: usize) -> Result<(), FreeRangeError> {
        if len == 0 || offset.checked_add(len).map_or(true, |end| end > self.usable_size()) {
            return Err(FreeRangeError::Invalid);
        }
        let r = unsafe { ffi::sable_free_range(self.ptr.as_ptr().add(offset) as *mut c_void, len) };
        match r {
            0 => {
                self.whole = false;
                Ok(())
            }
            e if e == ENOMEM => Err(FreeRangeError::TooManyPieces),
            _ => Err(FreeRangeError::Invalid),
        }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        unsafe { ffi::sable_free(self.ptr.as_ptr() as *mut c_void) }
    }
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Block")
            .field("ptr", &self.ptr)
            .field("len", &self.len)
            .field("whole", &self.whole)
            .finish()
    }
}

const ENOMEM: c_int = 12; // Linux, every architecture

/// An out-of-memory handler: gets the size sable could not get from the OS
/// (after giving back its own cache); returns true for one more try (at most
/// 64 in a row), after freeing memory, or false to let the request fail.
pub type OomFn = fn(usize) -> bool;

unsafe extern "C" fn oom_trampoline(size: usize, arg: *mut c_void) -> c_int {
    let f: OomFn = std::mem::transmute::<*mut c_void, OomFn>(arg);
    // a panic must not unwind into C
    match std::panic::catch_unwind(move || f(size)) {
        Ok(retry) => retry as c_int,
        Err(_) => std::process::abort(),
    }
}

fn install(set: unsafe extern "C" fn(OomHandler, *mut c_void) -> OomHandler, f: Option<OomFn>) {
    unsafe {
        match f {
            Some(f) => set(Some(oom_trampoline), f as *mut c_void),
            None => set(None, ptr::null_mut()),
        };
    }
}

/// The process-wide out-of-memory handler (`None` removes it).
pub fn set_oom_handler(f: Option<OomFn>) {
    install(ffi::sable_set_oom_handler, f)
}

/// The calling thread's out-of-memory handler, tried before the
/// process-wide one (`None` removes it).
pub fn set_thread_oom_handler(f: Option<OomFn>) {
    install(ffi::sable_set_thread_oom_handler, f)
}

/// The largest power of two dividing `p`'s address (0 for null).
pub fn memalignment<T>(p: *const T) -> usize {
    unsafe { ffi::sable_memalignment(p as *const c_void) }
}
