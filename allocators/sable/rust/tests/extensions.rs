//! The safe wrappers of sable's extensions: Block (resize in place, partial
//! free, any alignment), statistics, version.

use sable::{Block, FreeRangeError};

#[test]
fn block_resize_in_place() {
    let mut b = Block::new(100).unwrap();
    assert_eq!(b.as_slice().unwrap(), &[0u8; 100][..]);
    b.as_mut_slice().unwrap().fill(7);
    let at = b.as_ptr();
    // within its 112-byte block: in place
    assert!(b.resize_in_place(110));
    assert_eq!(b.as_ptr(), at);
    assert_eq!(b.len(), 110);
    let s = b.as_slice().unwrap();
    assert!(s[..100].iter().all(|&x| x == 7) && s[100..].iter().all(|&x| x == 0));
    // a 1 MiB block cannot become 1 TiB: refused, nothing changed
    let mut big = Block::new(1 << 20).unwrap();
    assert!(!big.resize_in_place(1 << 40));
    assert_eq!(big.len(), 1 << 20);
    assert!(big.resize_in_place(1 << 19));
    assert_eq!(big.len(), 1 << 19);
}

#[test]
fn block_free_range() {
    let mut b = Block::new(4096).unwrap();
    let usable = b.usable_size();
    assert!(usable >= 4096);
    b.as_mut_slice().unwrap().fill(3);
    assert_eq!(b.free_range(usable, 1), Err(FreeRangeError::Invalid));
    assert_eq!(b.free_range(0, 0), Err(FreeRangeError::Invalid));
    b.free_range(1024, 1024).unwrap();
    assert!(b.as_slice().is_none() && !b.resize_in_place(8000));
    // overlapping what was released: refused
    assert_eq!(b.free_range(1500, 10), Err(FreeRangeError::Invalid));
    // the kept bytes are intact
    assert_eq!(unsafe { *b.as_ptr().add(1023) }, 3);
    assert_eq!(unsafe { *b.as_ptr().add(2048) }, 3);
    let before = sable::stats();
    b.free_range(0, 1024).unwrap();
    if before.counts_kept() {
        assert_eq!(sable::stats().partial_frees, before.partial_frees + 1);
    }
}

#[test]
fn block_any_alignment() {
    for align in [3usize, 24, 1000, 12288, 1 << 20] {
        let b = Block::with_alignment(align, 5000).unwrap();
        assert_eq!(b.as_ptr() as usize % align, 0, "alignment {}", align);
        assert!(b.as_slice().unwrap().iter().all(|&x| x == 0));
    }
    assert!(Block::with_alignment(0, 10).is_none());
    assert!(Block::new(usize::MAX / 2).is_none());
}

#[test]
fn version_and_stats() {
    assert_eq!(sable::version(), env!("CARGO_PKG_VERSION"));
    let b = Block::new(3 << 20).unwrap();
    let st = sable::stats();
    assert!(st.reserved_bytes >= 3 << 20 && st.committed_bytes > 0 && st.segments > 0);
    drop(b);
    sable::purge();
}

#[test]
fn stats_matches_the_header() {
    // struct sable_stats in sable.h: one size_t per field
    let h = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../include/sable.h"))
        .unwrap();
    let start = h.find("struct sable_stats {").expect("no struct sable_stats in sable.h");
    let body = &h[start..start + h[start..].find("};").unwrap()];
    let fields = body.lines().filter(|l| l.trim_start().starts_with("size_t ")).count();
    assert_eq!(fields, sable::STATS_FIELDS,
               "sable.h's struct sable_stats has {} fields, the crate's Stats {}", fields,
               sable::STATS_FIELDS);
}
