//! Mutated manifests never make the readers (or the cross-object rules) panic or hang: each reader either reads a document
//! or reports it. (A cheap, deterministic cousin of the cargo-fuzz targets.)

use std::time::Instant;

const ALPHABET: &[&str] = &[
    ":",
    "-",
    " ",
    "\n",
    "[",
    "]",
    "{",
    "}",
    "&a",
    "*a",
    "<<",
    "!!str",
    "!!int",
    "---",
    "...",
    "\"",
    "'",
    "#",
    "|",
    ">",
    "\t",
    "?",
    ",",
    "%YAML 1.1\n",
    "yes",
    "0o7",
    "~",
    "\u{0}",
    "é",
];

fn fixtures() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["k8s", "compose"] {
        let d = format!("{}/tests/data/{dir}", env!("CARGO_MANIFEST_DIR"));
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap();
            if bytes.len() < 20_000 {
                out.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn mutated_fixtures_never_panic() {
    let iterations: usize = std::env::var("STOCKADE_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let fixtures = fixtures();
    let mut seed = 0x9E3779B97F4A7C15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut slowest = std::time::Duration::ZERO;
    for _ in 0..iterations {
        let start = Instant::now();
        let mut text = fixtures[(next() % fixtures.len() as u64) as usize].clone();
        for _ in 0..(1 + next() % 4) {
            let mut at = (next() % (text.len() as u64 + 1)) as usize;
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match next() % 3 {
                0 => text.insert_str(at, ALPHABET[(next() % ALPHABET.len() as u64) as usize]),
                1 => {
                    let mut end = (at + 1 + (next() % 8) as usize).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    text.replace_range(at..end, "");
                }
                _ => {
                    let copy: String = text.chars().skip(at / 2).take(40).collect();
                    text.insert_str(at, &copy);
                }
            }
        }
        let k = audit::k8s::read("m.yaml", &text);
        let objects: Vec<_> = k
            .items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| match &it.subject {
                audit::Subject::Cluster(c) => Some((i, c.as_ref())),
                _ => None,
            })
            .collect();
        let pods: Vec<_> = k
            .items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| match &it.subject {
                audit::Subject::Pod(p) => Some((i, p.as_ref())),
                _ => None,
            })
            .collect();
        for (i, v) in policy::cluster::evaluate(&objects, &pods) {
            assert!(k.items[i].lines.position(&v.field).is_some());
        }
        let c = audit::compose::read("m.yml", &text);
        for p in k.problems.iter().chain(&c.problems) {
            assert!(p.rule_id.as_str().starts_with("SKD-INPUT-"));
        }
        slowest = slowest.max(start.elapsed());
    }
    eprintln!("slowest mutation: {slowest:?}");
    assert!(slowest.as_secs() < 10, "a mutation took {slowest:?}");
}
