//! A process that never turns mimalloc on (the runtime, the webhook, watch) gets every block
//! from glibc, on every thread: nothing of mimalloc's is in use.

#[global_allocator]
static HEAP: heap::Heap = heap::Heap;

#[test]
fn without_the_switch_every_block_is_glibcs() {
    let blocks: Vec<Vec<u8>> = (1..2000).map(|n| vec![1u8; n * 7]).collect();
    let threads: Vec<Vec<String>> = (0..4)
        .map(|t| {
            std::thread::spawn(move || (0..5000).map(|i| format!("{t}-{i}")).collect())
                .join()
                .unwrap()
        })
        .collect();
    assert!(!heap::uses_mimalloc());
    // Nothing of mimalloc's ran: its load-time constructor is compiled out (.cargo/config.toml).
    assert!(
        !heap::mimalloc_started(),
        "mimalloc started without use_mimalloc: was libmimalloc-sys built without \
         -DMI_PRIM_HAS_PROCESS_ATTACH (.cargo/config.toml)?"
    );
    for b in &blocks {
        assert!(!heap::from_mimalloc(b.as_ptr()));
    }
    for s in threads.iter().flatten() {
        assert!(!heap::from_mimalloc(s.as_ptr()));
    }
    let mut grown = vec![3u8; 10];
    grown.resize(1 << 20, 4);
    assert!(!heap::from_mimalloc(grown.as_ptr()));
    assert_eq!(grown[9], 3);
}
