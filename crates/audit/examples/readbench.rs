//! Time the Kubernetes reader on one file: `cargo run --release --example readbench FILE`.
fn main() {
    let path = std::env::args().nth(1).expect("a manifest file");
    let text = std::fs::read_to_string(&path).expect("readable");
    let t = std::time::Instant::now();
    let mut docs = 0;
    audit::yaml::for_each_document(&text, &audit::yaml::Limits::default(), |_| docs += 1)
        .expect("loads");
    eprintln!("yaml: {docs} documents in {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let r = audit::k8s::read(&path, &text);
    eprintln!(
        "k8s::read: {} items, {} problems in {:?}",
        r.items.len(),
        r.problems.len(),
        t.elapsed()
    );
}
