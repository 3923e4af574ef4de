//! sable as the global allocator of a program: run with
//!   SABLE_STATS=1 cargo run --example collections
//! and it prints what sable served.

use std::collections::HashMap;

#[global_allocator]
static GLOBAL: sable::Sable = sable::Sable;

fn main() {
    let mut words: HashMap<String, usize> = HashMap::new();
    for i in 0..100_000u64 {
        *words.entry(format!("w{}", i % 7919)).or_insert(0) += 1;
    }
    let st = sable::stats();
    if st.counts_kept() {
        println!("sable {}: {} distinct words; {} small allocations, {} frees, {} bytes live",
                 sable::version(), words.len(), st.allocs_small, st.frees, st.live_bytes);
    } else {
        println!("sable {}: {} distinct words; {} bytes of address space reserved \
                  (SABLE_STATS=1 for counts)", sable::version(), words.len(), st.reserved_bytes);
    }
}
