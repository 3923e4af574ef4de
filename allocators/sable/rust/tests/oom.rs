//! Out-of-memory handlers under RLIMIT_AS (one test: the limit is the whole
//! process's, and this file is its own test binary).

use std::sync::atomic::{AtomicUsize, Ordering};

#[repr(C)]
struct Rlimit {
    cur: u64,
    max: u64,
}
extern "C" {
    fn setrlimit(resource: i32, rl: *const Rlimit) -> i32;
    fn getrlimit(resource: i32, rl: *mut Rlimit) -> i32;
}
const RLIMIT_AS: i32 = 9; // Linux, x86-64 and aarch64

static GLOBAL_CALLS: AtomicUsize = AtomicUsize::new(0);
static THREAD_CALLS: AtomicUsize = AtomicUsize::new(0);
static LAST_SIZE: AtomicUsize = AtomicUsize::new(0);

fn global_handler(size: usize) -> bool {
    GLOBAL_CALLS.fetch_add(1, Ordering::SeqCst);
    LAST_SIZE.store(size, Ordering::SeqCst);
    false
}

// asks for two more tries, then gives up
fn thread_handler(size: usize) -> bool {
    LAST_SIZE.store(size, Ordering::SeqCst);
    THREAD_CALLS.fetch_add(1, Ordering::SeqCst) < 2
}

fn vm_size() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[test]
fn handlers_called_when_the_os_refuses() {
    // room for the test's threads, but not for 2 GiB
    let limit = vm_size() + (1 << 30);
    let mut old = Rlimit { cur: 0, max: 0 };
    unsafe {
        assert_eq!(getrlimit(RLIMIT_AS, &mut old), 0);
        assert_eq!(setrlimit(RLIMIT_AS, &Rlimit { cur: limit, max: old.max }), 0);
    }
    let want = 2usize << 30;
    sable::set_oom_handler(Some(global_handler));
    assert!(sable::Block::new(want).is_none());
    assert_eq!(GLOBAL_CALLS.load(Ordering::SeqCst), 1);
    assert!(LAST_SIZE.load(Ordering::SeqCst) >= want);

    // a thread's own handler comes first: three calls (two retries asked)
    std::thread::spawn(move || {
        sable::set_thread_oom_handler(Some(thread_handler));
        assert!(sable::Block::new(want).is_none());
        sable::set_thread_oom_handler(None);
    })
    .join()
    .unwrap();
    assert_eq!(THREAD_CALLS.load(Ordering::SeqCst), 3);
    assert_eq!(GLOBAL_CALLS.load(Ordering::SeqCst), 1);

    // a Vec's fallible reservation fails cleanly, and the handler is gone
    sable::set_oom_handler(None);
    let mut v: Vec<u8> = Vec::new();
    assert!(v.try_reserve_exact(want).is_err());
    assert_eq!(GLOBAL_CALLS.load(Ordering::SeqCst), 1);
    assert!(sable::Block::new(1 << 20).is_some());
    unsafe { setrlimit(RLIMIT_AS, &old) };
}
