//! A program whose global allocator is sable: a collections-heavy workload
//! on four threads, then sable's statistics must show that sable served it.
//! With SABLE_STATS=1 (as `make test-sable-rust` runs it) the counts of
//! allocations and frees are checked; without, the address space sable
//! reserved for the workload's large buffers.

use std::collections::{BTreeMap, HashMap, VecDeque};

#[global_allocator]
static GLOBAL: sable::Sable = sable::Sable;

#[repr(align(4096))]
struct Page([u8; 4096]);

fn workload(seed: u64) -> u64 {
    let mut sum = 0u64;
    let mut map: HashMap<String, Vec<u64>> = HashMap::new();
    let mut tree: BTreeMap<u64, Box<[u8]>> = BTreeMap::new();
    let mut queue: VecDeque<String> = VecDeque::new();
    let mut x = seed;
    for i in 0..20_000u64 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let key = format!("key-{}", x % 5000);
        map.entry(key.clone()).or_insert_with(Vec::new).push(i);
        tree.insert(x % 3000, vec![(i & 0xff) as u8; (x % 700) as usize].into_boxed_slice());
        queue.push_back(key);
        if queue.len() > 100 {
            sum += queue.pop_front().unwrap().len() as u64;
        }
        if i % 1000 == 0 {
            let pages: Vec<Box<Page>> = (0..8).map(|_| Box::new(Page([i as u8; 4096]))).collect();
            assert!(pages.iter().all(|p| (&**p as *const Page as usize) % 4096 == 0));
            sum += pages.iter().map(|p| p.0[4095] as u64).sum::<u64>();
        }
    }
    sum += map.values().map(|v| v.len() as u64).sum::<u64>();
    sum += tree.values().map(|b| b.len() as u64).sum::<u64>();
    sum
}

#[test]
fn sable_serves_the_collections() {
    let before = sable::stats();
    let threads: Vec<_> = (0..4u64).map(|t| std::thread::spawn(move || workload(t + 1))).collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    // a large buffer that must come from sable's own mappings
    let big: Vec<u64> = vec![total; 8 << 20]; // 64 MiB
    let during = sable::stats();
    assert!(during.reserved_bytes >= before.reserved_bytes + (64 << 20) - (4 << 20),
            "sable reserved {} bytes before, {} with a 64 MiB Vec live",
            before.reserved_bytes, during.reserved_bytes);
    drop(big);
    let after = sable::stats();
    if after.counts_kept() {
        let allocs = (after.allocs_small - before.allocs_small)
            + (after.allocs_large - before.allocs_large)
            + (after.allocs_huge - before.allocs_huge);
        let frees = after.frees - before.frees;
        println!("sable {}: served {} allocations, {} frees, {} reallocs; peak {} bytes live",
                 sable::version(), allocs, frees, after.reallocs - before.reallocs,
                 after.peak_live_bytes);
        // 4 x 20,000 iterations, each with at least a String and a boxed slice
        assert!(allocs >= 160_000, "only {} allocations counted", allocs);
        assert!(frees >= 100_000, "only {} frees counted", frees);
        assert!(after.allocs_huge > before.allocs_huge);
    } else {
        println!("sable {}: reserved {} bytes (SABLE_STATS=1 for counts)", sable::version(),
                 during.reserved_bytes);
    }
}
