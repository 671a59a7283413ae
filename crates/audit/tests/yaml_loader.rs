//! The YAML loader reads what Kubernetes reads (YAML 1.1 scalars, merges, last duplicate wins)
//! and reports what it cannot read, without panicking or blowing the stack.

use audit::yaml::{self, Limits, YValue};
use serde_json::json;

fn one(text: &str) -> (serde_json::Value, Vec<audit::Problem>) {
    let docs = yaml::load(text).expect("loads");
    assert_eq!(docs.len(), 1, "{docs:?}");
    let d = &docs[0];
    let root = d.root.as_ref().expect("document reads");
    (root.to_json().expect("json"), d.problems.clone())
}

#[test]
fn yaml11_scalars_resolve_like_kubernetes() {
    let (v, problems) = one(
        "a: On\nb: yes\nc: y\nd: off\ne: 00\nf: 0o17\ng: 0x1f\nh: 017\ni: 0b101\nj: +1\nk: -0\n\
         l: 1_000\nm: ~\nnn:\no: \"yes\"\np: 'On'\nq: 08\nr: 1.5\ns: true\nt: 12\nu: !!str 12\n",
    );
    assert_eq!(
        v,
        json!({"a": true, "b": true, "c": true, "d": false, "e": 0, "f": 15, "g": 31, "h": 15,
               "i": 5, "j": 1, "k": 0, "l": 1000, "m": null, "nn": null, "o": "yes", "p": "On",
               "q": 8, "r": 1.5, "s": true, "t": 12, "u": "12"})
    );
    let flagged: Vec<&str> = problems
        .iter()
        .filter(|p| p.rule_id == "SKD-INPUT-003")
        .map(|p| p.field.as_str())
        .collect();
    assert_eq!(
        flagged,
        ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "l", "q"]
    );
}

#[test]
fn yaml11_keys_become_strings() {
    let (v, _) = one("yes: 1\n3: 2\nn: 3\n");
    assert_eq!(v, json!({"true": 1, "3": 2, "false": 3}));
}

#[test]
fn duplicate_key_is_reported_and_last_wins() {
    let (v, problems) = one("spec:\n  privileged: false\n  privileged: true\n");
    assert_eq!(v, json!({"spec": {"privileged": true}}));
    let p = problems
        .iter()
        .find(|p| p.rule_id == "SKD-INPUT-002")
        .expect("duplicate reported");
    assert_eq!(p.line, Some(3));
    assert_eq!(p.field, "spec.privileged");
}

#[test]
fn merge_keys_single_and_list() {
    let text = "\
base: &base {privileged: true, user: 1}
other: &other {user: 2, x: 1}
single:
  <<: *base
  user: 3
list:
  <<: [*other, *base]
";
    let (v, problems) = one(text);
    assert_eq!(v["single"], json!({"privileged": true, "user": 3}));
    // Earlier maps in a merge list win.
    assert_eq!(v["list"], json!({"privileged": true, "user": 2, "x": 1}));
    assert!(problems.iter().all(|p| p.rule_id != "SKD-INPUT-002"));
}

#[test]
fn merge_after_explicit_key_overrides_it_and_is_reported() {
    // go-yaml v2 applies `<<` in order, so the merged value wins over the earlier key.
    let (v, problems) = one("b: &b {privileged: true}\nc:\n  privileged: false\n  <<: *b\n");
    assert_eq!(v["c"], json!({"privileged": true}));
    assert!(problems.iter().any(|p| p.rule_id == "SKD-INPUT-002"));
}

#[test]
fn quoted_merge_key_is_a_plain_key() {
    let (v, _) = one("b: &b {x: 1}\nc: {'<<': *b}\n");
    assert_eq!(v["c"], json!({"<<": {"x": 1}}));
}

#[test]
fn field_lines_point_at_keys_and_items() {
    let docs = yaml::load(
        "# c\nspec:\n  containers:\n  - name: a\n    securityContext:\n      privileged: true\n",
    )
    .unwrap();
    let lines = docs[0].root.as_ref().unwrap().field_lines();
    assert_eq!(
        lines.position("spec.containers[0].securityContext.privileged"),
        Some((6, 7))
    );
    assert_eq!(lines.position("spec.containers[0]"), Some((4, 5)));
    assert_eq!(lines.position(""), Some((2, 1)));
}

#[test]
fn broken_document_in_the_middle_does_not_hide_the_others() {
    let text = "a: 1\n---\nb: [1, 2\nc: 3\n---\nd: 4\n";
    let docs = yaml::load(text).unwrap();
    assert_eq!(docs.len(), 3);
    assert!(docs[0].root.is_ok());
    let err = docs[1].root.as_ref().unwrap_err();
    assert_eq!(err.rule_id, "SKD-INPUT-001");
    let line = err.line.unwrap();
    assert!((3..=5).contains(&line), "line {line}");
    assert_eq!(docs[2].root.as_ref().unwrap().get("d").unwrap().line, 6);
}

#[test]
fn deep_nesting_is_bounded() {
    let deep = "[".repeat(200_000);
    let docs = yaml::load(&deep).unwrap();
    assert_eq!(docs.len(), 1);
    let err = docs[0].root.as_ref().unwrap_err();
    assert!(
        err.message.contains("nesting") || err.message.contains("recursion"),
        "{}",
        err.message
    );

    let mut block = String::new();
    for i in 0..2000 {
        block.push_str(&" ".repeat(i));
        block.push_str("k:\n");
    }
    let docs = yaml::load(&block).unwrap();
    assert!(docs[0].root.is_err());
}

#[test]
fn alias_bomb_is_bounded() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        text.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            std::iter::repeat_n(prev.as_str(), 10)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let start = std::time::Instant::now();
    let docs = yaml::load(&text).unwrap();
    let err = docs[0].root.as_ref().unwrap_err();
    assert!(err.message.contains("alias"), "{}", err.message);
    assert!(start.elapsed().as_secs() < 5);
}

#[test]
fn self_referencing_alias_is_an_error() {
    let docs = yaml::load("a: &a [1, *a]\n").unwrap();
    assert!(docs[0].root.is_err());
}

#[test]
fn binary_garbage_never_panics() {
    let mut seed = 0x2545F4914F6CDD1Du64;
    for _ in 0..200 {
        let mut s = String::new();
        for _ in 0..256 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let c = char::from_u32((seed % 0x250) as u32).unwrap_or('?');
            s.push(c);
        }
        let _ = yaml::load(&s);
    }
    let bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let _ = yaml::load(&String::from_utf8_lossy(&bytes));
}

#[test]
fn json_is_yaml() {
    let (v, _) = one("{\"kind\": \"Pod\", \"spec\": {\"hostPID\": true, \"n\": 1e3}}");
    assert_eq!(
        v,
        json!({"kind": "Pod", "spec": {"hostPID": true, "n": 1000}})
    );
}

#[test]
fn infinity_cannot_become_json() {
    let docs = yaml::load("a: .inf\n").unwrap();
    let root = docs[0].root.as_ref().unwrap();
    assert!(matches!(root.get("a").unwrap().value, YValue::Float(f) if f.is_infinite()));
    assert_eq!(root.to_json().unwrap_err().field, "a");
}

#[test]
fn limits_are_enforced() {
    let limits = Limits {
        max_documents: 3,
        ..Limits::default()
    };
    let text = "a: 1\n---\n".repeat(10);
    let docs = yaml::load_with(&text, &limits).unwrap();
    assert_eq!(docs.len(), 4);
    assert!(docs[3].root.is_err());
    let small = Limits {
        max_bytes: 4,
        ..Limits::default()
    };
    assert!(yaml::load_with("a: 12345", &small).is_err());
    let few = Limits {
        max_nodes: 10,
        ..Limits::default()
    };
    let docs = yaml::load_with("a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n---\nb: 1\n", &few).unwrap();
    assert!(docs[0]
        .root
        .as_ref()
        .unwrap_err()
        .message
        .contains("more than 10 nodes"));
    assert!(docs[1].root.is_ok());
}

#[test]
fn concatenated_json_objects_are_a_stream() {
    let text = "{\"kind\": \"Pod\", \"n\": 1}\n\n{\n  \"kind\": \"Service\",\n  \"x\": [true, null, \"s\"]\n}\n";
    let docs = yaml::load(text).unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].line, 1);
    assert_eq!(docs[1].line, 3);
    let second = docs[1].root.as_ref().unwrap().to_json().unwrap();
    assert_eq!(second, json!({"kind": "Service", "x": [true, null, "s"]}));
    // Broken JSON is still reported.
    let docs = yaml::load("{\"a\": 1}\n{\"b\": \n").unwrap();
    assert!(docs.iter().any(|d| d.root.is_err()));
}

#[test]
fn under_indented_quoted_continuation_lines_read_as_kubernetes_reads_them() {
    // go-yaml does not check a quoted scalar's continuation indentation; YAML 1.2 does. The
    // whole document (and its findings) used to be lost.
    let text = "metadata:\n  annotations:\n    d: \"a long\n  text \\\"under\\\"\n by two\"\n    s: 'it''s\nfine'\nspec: {x: 1}\n";
    let docs = audit::yaml::load(text).unwrap();
    let root = docs[0].root.as_ref().expect("loads");
    let a = root.get("metadata").unwrap().get("annotations").unwrap();
    assert_eq!(
        a.get("d").unwrap().as_str(),
        Some("a long text \"under\" by two")
    );
    assert_eq!(a.get("s").unwrap().as_str(), Some("it's fine"));
    // Positions are kept: `spec` is still on line 8.
    assert_eq!(root.entry("spec").unwrap().line, 8);
    // An unterminated quoted scalar is still refused.
    let docs = audit::yaml::load("a: \"x\nb\n").unwrap();
    assert!(docs[0].root.is_err());
}

#[test]
fn the_alias_budget_is_per_input_not_per_document() {
    // One document expands to about 222,000 nodes: under the budget alone, but six of them in
    // one input draw more than the 1,000,000 nodes every document shares.
    let one = "a: &a [x, x, x, x, x, x, x, x, x, x]\n\
               b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
               c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n\
               d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
               e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n\
               f: [*e, *e]\n";
    let docs = audit::yaml::load(one).unwrap();
    assert!(
        docs[0].root.is_ok(),
        "one document alone is within the budget"
    );
    let stream = [one; 6].join("---\n");
    let docs = audit::yaml::load(&stream).unwrap();
    assert_eq!(docs.len(), 6);
    assert!(docs[0].root.is_ok());
    let refused: Vec<usize> = docs
        .iter()
        .filter(|d| d.root.is_err())
        .map(|d| d.index)
        .collect();
    assert!(!refused.is_empty(), "the budget is shared by the input");
    for d in docs.iter().filter(|d| d.root.is_err()) {
        let p = d.root.as_ref().unwrap_err();
        assert_eq!(p.rule_id, "SKD-INPUT-001");
        assert!(p.message.contains("alias"), "{}", p.message);
    }
}
