//! The GlobalAlloc contract of `sable::Sable`, called directly: every
//! alignment, zero sizes, alloc_zeroed, realloc keeping alignment and
//! contents, failure as null.

use sable::Sable;
use std::alloc::{GlobalAlloc, Layout};
use std::collections::HashSet;

const MAX_ALIGN_SHIFT: u32 = 22; // 4 MiB

fn aligned(p: *mut u8, align: usize) -> bool {
    !p.is_null() && (p as usize) % align == 0
}

fn sizes_for(align: usize) -> Vec<usize> {
    let mut v = vec![0, 1, align - 1, align, align + 1];
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn every_alignment_and_size() {
    for shift in 0..=MAX_ALIGN_SHIFT {
        let align = 1usize << shift;
        for size in sizes_for(align) {
            let layout = Layout::from_size_align(size, align).unwrap();
            unsafe {
                let p = Sable.alloc(layout);
                assert!(aligned(p, align), "alloc(size {}, align {}) = {:p}", size, align, p);
                assert!(sable::memalignment(p) >= align);
                // every byte is usable
                std::ptr::write_bytes(p, 0xa5, size);
                if size > 0 {
                    assert_eq!(*p.add(size - 1), 0xa5);
                }
                let z = Sable.alloc_zeroed(layout);
                assert!(aligned(z, align), "alloc_zeroed(size {}, align {}) = {:p}", size, align, z);
                assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0),
                        "alloc_zeroed(size {}, align {}) not zero", size, align);
                assert_ne!(p, z);
                Sable.dealloc(p, layout);
                Sable.dealloc(z, layout);
            }
        }
    }
}

#[test]
fn zero_size_align_4096_unique() {
    let layout = Layout::from_size_align(0, 4096).unwrap();
    let mut seen = HashSet::new();
    let mut ptrs = Vec::new();
    for _ in 0..64 {
        let p = unsafe { Sable.alloc(layout) };
        assert!(aligned(p, 4096), "zero-size alloc of align 4096 = {:p}", p);
        assert!(seen.insert(p as usize), "{:p} handed out twice while live", p);
        ptrs.push(p);
    }
    let z = unsafe { Sable.alloc_zeroed(layout) };
    assert!(aligned(z, 4096) && !seen.contains(&(z as usize)));
    for p in ptrs {
        unsafe { Sable.dealloc(p, layout) };
    }
    unsafe { Sable.dealloc(z, layout) };
}

fn fill(p: *mut u8, n: usize, seed: u8) {
    for i in 0..n {
        unsafe { *p.add(i) = (i as u8).wrapping_mul(31).wrapping_add(seed) };
    }
}

fn check(p: *mut u8, n: usize, seed: u8) -> bool {
    (0..n).all(|i| unsafe { *p.add(i) } == (i as u8).wrapping_mul(31).wrapping_add(seed))
}

#[test]
fn realloc_keeps_contents_and_alignment() {
    // across small, large (above 8 KiB), page-sized and huge (above 2 MiB)
    // classes, growing then shrinking
    let steps: &[usize] = &[1, 8, 24, 100, 1000, 5000, 9000, 70_000, 300_000, 3 << 20, 9 << 20,
                            1 << 20, 65_536, 4000, 200, 17, 1];
    for shift in [0u32, 3, 4, 5, 6, 7, 12, 13, 16, 21, 22] {
        let align = 1usize << shift;
        let mut layout = Layout::from_size_align(steps[0], align).unwrap();
        let mut p = unsafe { Sable.alloc(layout) };
        assert!(aligned(p, align));
        fill(p, layout.size(), shift as u8);
        for &n in &steps[1..] {
            let q = unsafe { Sable.realloc(p, layout, n) };
            assert!(aligned(q, align), "realloc to {} with align {} = {:p}", n, align, q);
            let kept = layout.size().min(n);
            assert!(check(q, kept, shift as u8),
                    "realloc {} -> {} (align {}) lost contents", layout.size(), n, align);
            layout = Layout::from_size_align(n, align).unwrap();
            fill(q, n, shift as u8);
            p = q;
        }
        unsafe { Sable.dealloc(p, layout) };
    }
}

#[test]
fn huge_requests_fail_as_null() {
    unsafe {
        let l = Layout::from_size_align(isize::MAX as usize - 8192, 16).unwrap();
        assert!(Sable.alloc(l).is_null());
        let l = Layout::from_size_align(isize::MAX as usize - (1 << 22), 1 << 12).unwrap();
        assert!(Sable.alloc(l).is_null());
        assert!(Sable.alloc_zeroed(l).is_null());
        let small = Layout::from_size_align(64, 64).unwrap();
        let p = Sable.alloc(small);
        assert!(!p.is_null());
        fill(p, 64, 7);
        // a failed realloc leaves the block as it was
        assert!(Sable.realloc(p, small, isize::MAX as usize - (1 << 22)).is_null());
        assert!(check(p, 64, 7));
        Sable.dealloc(p, small);
    }
}
