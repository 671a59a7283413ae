//! The switch to mimalloc in a process that uses crates/heap as its allocator: blocks made
//! before it stay glibc's and are freed or grown correctly after it, blocks made after it are
//! mimalloc's on every thread, and blocks cross threads both ways. One test: the switch is
//! process-wide (tests/glibc_default.rs checks a process that never switches).

use std::alloc::Layout;

#[global_allocator]
static HEAP: heap::Heap = heap::Heap;

#[test]
fn every_block_goes_back_to_the_allocator_that_made_it() {
    // Before: glibc's, also on other threads.
    let before: Vec<u64> = (0..1000).collect();
    let mut grown = vec![7u8; 100];
    let early: Vec<String> = std::thread::spawn(|| (0..1000).map(|i| i.to_string()).collect())
        .join()
        .unwrap();
    assert!(!heap::uses_mimalloc());
    assert!(!heap::mimalloc_started());
    assert!(!heap::from_mimalloc(before.as_ptr().cast()));
    assert!(!heap::from_mimalloc(grown.as_ptr()));
    assert!(!heap::from_mimalloc(early[10].as_ptr()));

    heap::use_mimalloc();
    assert!(heap::uses_mimalloc());
    assert!(heap::mimalloc_started());
    // A second call changes nothing.
    heap::use_mimalloc();
    // mimalloc started with transparent huge pages off for the process (the option's place in
    // mimalloc's option list is right): the kernel says so.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().eq(["THP_enabled:", "0"])),
        "THP still enabled after use_mimalloc:\n{status}"
    );

    // After: mimalloc's.
    let after: Vec<u64> = (0..1000).collect();
    assert!(heap::from_mimalloc(after.as_ptr().cast()));
    let zeroed = vec![0u64; 10_000];
    assert!(heap::from_mimalloc(zeroed.as_ptr().cast()));
    assert!(zeroed.iter().all(|&x| x == 0));

    // A glibc block grown after the switch moves to mimalloc with its contents.
    grown.resize(100_000, 9);
    assert!(heap::from_mimalloc(grown.as_ptr()));
    assert!(grown[..100].iter().all(|&b| b == 7));
    assert!(grown[100..].iter().all(|&b| b == 9));
    // ... and a mimalloc block grows and shrinks in place or moves, keeping its contents.
    grown.truncate(50);
    grown.shrink_to_fit();
    assert!(heap::from_mimalloc(grown.as_ptr()));
    assert_eq!(grown, vec![7u8; 50]);

    // Alignments above mimalloc's 16 bytes, allocated, grown and freed.
    for align in [32usize, 4096, 1 << 16] {
        let layout = Layout::from_size_align(24, align).unwrap();
        // SAFETY: the layout has a non-zero size; the block is written within its size, grown
        // with the same alignment and freed once with the layout it has then.
        unsafe {
            let p = std::alloc::alloc(layout);
            assert!(!p.is_null());
            assert_eq!(p as usize % align, 0);
            assert!(heap::from_mimalloc(p));
            p.write_bytes(5, 24);
            let q = std::alloc::realloc(p, layout, 3 * align);
            assert!(!q.is_null());
            assert_eq!(q as usize % align, 0);
            assert_eq!(std::slice::from_raw_parts(q, 24), &[5u8; 24]);
            std::alloc::dealloc(q, Layout::from_size_align(3 * align, align).unwrap());
        }
    }

    // Blocks made on worker threads and freed on this one, and the other way round.
    let mine: Vec<Vec<String>> = (0..4)
        .map(|t| (0..2000).map(|i| format!("{t}:{i}")).collect())
        .collect();
    let workers: Vec<_> = mine
        .into_iter()
        .enumerate()
        .map(|(t, given)| {
            std::thread::spawn(move || {
                assert_eq!(given[1999], format!("{t}:1999"));
                drop(given);
                (0..20_000)
                    .map(|i| format!("{t}/{i}"))
                    .collect::<Vec<String>>()
            })
        })
        .collect();
    for (t, w) in workers.into_iter().enumerate() {
        let made = w.join().unwrap();
        assert!(heap::from_mimalloc(made.as_ptr().cast()));
        assert!(heap::from_mimalloc(made[123].as_ptr()));
        assert_eq!(made[19_999], format!("{t}/19999"));
    }

    // The blocks made before the switch are still intact and go back to glibc.
    assert_eq!(before.iter().sum::<u64>(), 499_500);
    assert_eq!(early[999], "999");
    drop(before);
    drop(early);
}
