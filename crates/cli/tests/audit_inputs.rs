//! `stockade audit` on the inputs people give it: fail closed on what cannot be read whole
//! (size, NUL bytes, encoding, empty stdin, dangling links), symbolic links followed with loop
//! detection, repositories with files that are not manifests, and PersistentVolumes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn stockade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stockade"))
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .expect("run stockade")
}

fn stockade_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stockade"))
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stockade");
    let mut stdin = child.stdin.take().expect("stdin");
    // The auditor stops reading past the limit: a closed pipe is expected then.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().expect("wait")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// (rule id, severity) of every unsuppressed finding.
fn findings(v: &serde_json::Value) -> Vec<(String, String)> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["suppressed"].is_null())
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or("").to_string(),
                f["severity"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// A scratch directory unique to this test process and name, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("stockade-audit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    fn s(&self, rel: &str) -> String {
        self.path(rel).to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const PRIVILEGED_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: x\n    securityContext:\n      privileged: true\n";

fn assert_unreadable(o: &Output, what: &str) {
    assert_eq!(o.status.code(), Some(2), "{what}: exit 2; {o:?}");
    let v = json(o);
    let f = findings(&v);
    assert!(
        f.contains(&("SKD-INPUT-004".into(), "critical".into())),
        "{what}: SKD-INPUT-004 critical in {f:?}"
    );
}

#[test]
fn oversized_input_fails_closed_from_a_file_and_from_stdin() {
    let d = Scratch::new("oversized");
    // A privileged pod followed by 20 KB of comments: over a 16 KiB limit, under 1 MiB.
    let text = format!("{PRIVILEGED_POD}---\n{}", "# padding\n".repeat(2000));
    std::fs::write(d.path("big.yaml"), &text).unwrap();
    let o = stockade(&[
        "audit",
        "-f",
        "json",
        "--max-input-size",
        "16K",
        &d.s("big.yaml"),
    ]);
    assert_unreadable(&o, "file over the limit");
    let o = stockade_stdin(
        &["audit", "-f", "json", "--max-input-size", "16K", "-"],
        text.as_bytes(),
    );
    assert_unreadable(&o, "stdin over the limit");
    // Under the limit, the same input is audited: its privileged pod is found (exit 1).
    let o = stockade_stdin(
        &["audit", "-f", "json", "--max-input-size", "1M", "-"],
        text.as_bytes(),
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(findings(&json(&o)).contains(&("SKD-PSS-002".into(), "critical".into())));
}

#[test]
fn nul_bytes_and_invalid_utf8_fail_closed() {
    let d = Scratch::new("encoding");
    // The NUL byte is past the first 8 KiB, where a prefix check would not look.
    let mut nul = PRIVILEGED_POD.as_bytes().to_vec();
    nul.extend(std::iter::repeat_n(b'#', 9000));
    nul.push(0);
    std::fs::write(d.path("nul.yaml"), &nul).unwrap();
    let mut latin1 = PRIVILEGED_POD.as_bytes().to_vec();
    latin1.extend(b"# caf\xe9\n");
    std::fs::write(d.path("latin1.yaml"), &latin1).unwrap();
    for name in ["nul.yaml", "latin1.yaml"] {
        let o = stockade(&["audit", "-f", "json", &d.s(name)]);
        assert_unreadable(&o, name);
        // Also inside a directory walk, and at --fail-on critical.
        let o = stockade(&["audit", "-f", "json", "--fail-on", "critical", &d.s("")]);
        assert_unreadable(&o, "walk");
    }
    let o = stockade_stdin(&["audit", "-f", "json", "-"], &latin1);
    assert_unreadable(&o, "stdin latin1");
}

#[test]
fn empty_stdin_is_an_error() {
    let o = stockade_stdin(&["audit", "-"], b"");
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("stdin is empty"), "{err}");
}

#[test]
fn max_input_size_must_be_a_size() {
    let o = stockade(&["audit", "--max-input-size", "lots", "examples/k8s"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid size"));
}

#[test]
fn symlinks_in_a_walk_are_followed_once_and_loops_end() {
    let d = Scratch::new("links");
    std::fs::create_dir_all(d.path("real")).unwrap();
    std::fs::create_dir_all(d.path("tree")).unwrap();
    std::fs::write(d.path("real/pod.yaml"), PRIVILEGED_POD).unwrap();
    // A linked directory, a linked file, and a link back up to the walk's root.
    std::os::unix::fs::symlink(d.path("real"), d.path("tree/linked-dir")).unwrap();
    std::os::unix::fs::symlink(d.path("real/pod.yaml"), d.path("tree/linked.yaml")).unwrap();
    std::os::unix::fs::symlink(d.path("tree"), d.path("tree/loop")).unwrap();
    let o = stockade(&["audit", "-f", "json", &d.s("tree")]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let v = json(&o);
    assert_eq!(v["summary"]["files"], 2, "{v}");
    assert_eq!(v["summary"]["symlinks_followed"], 3, "{v}");
    let f = findings(&v);
    assert_eq!(
        f.iter().filter(|(id, _)| id == "SKD-PSS-002").count(),
        2,
        "{f:?}"
    );
    let text = stockade(&["audit", "--color", "never", &d.s("tree")]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("3 symbolic links followed"));

    // A link whose target is missing is not a silent skip.
    std::os::unix::fs::symlink(d.path("gone.yaml"), d.path("tree/dangling.yaml")).unwrap();
    let o = stockade(&["audit", "-f", "json", &d.s("tree")]);
    assert_unreadable(&o, "dangling link");
}

#[test]
fn a_repository_with_helm_ansible_grafana_and_json_exits_by_its_findings() {
    let repo = "crates/cli/tests/data/repo";
    let o = stockade(&["audit", "-f", "json", repo]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let v = json(&o);
    let f = findings(&v);
    assert!(
        f.contains(&("SKD-PSS-002".into(), "critical".into())),
        "{f:?}"
    );
    assert!(
        !f.iter().any(|(id, _)| id.starts_with("SKD-INPUT")),
        "nothing in the repository is an input error: {f:?}"
    );
    assert_eq!(v["summary"]["not_manifests"], 7, "{v}");
    let skipped = v["skipped"].to_string();
    for what in [
        "helm template",
        "Ansible playbook",
        "Grafana provisioning",
        "JSON document",
    ] {
        assert!(skipped.contains(what), "{what} in {skipped}");
    }
    // At --fail-on high the repository still fails on its privileged pod, and not otherwise:
    // with the pod's findings suppressed it passes.
    let o = stockade(&["audit", "--fail-on", "critical", repo]);
    assert_eq!(o.status.code(), Some(1));
    let o = stockade(&[
        "audit",
        &format!("{repo}/ansible"),
        &format!("{repo}/grafana"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    // --strict fails on them.
    let o = stockade(&[
        "audit",
        "-f",
        "json",
        "--strict",
        &format!("{repo}/ansible"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(
        findings(&json(&o)),
        vec![("SKD-INPUT-005".to_string(), "high".to_string())]
    );
}

#[test]
fn a_helm_chart_directory_is_recognised_with_advice() {
    let o = stockade(&[
        "audit",
        "--color",
        "never",
        "crates/cli/tests/data/repo/charts/web",
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("helm template crates/cli/tests/data/repo/charts/web | stockade audit -"),
        "{out}"
    );
    assert!(out.contains("3 files skipped as not manifests"), "{out}");
}

#[test]
fn persistent_volumes_on_host_directories_are_audited() {
    let o = stockade(&[
        "audit",
        "-f",
        "json",
        "crates/cli/tests/data/pv/volumes.yaml",
    ]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let v = json(&o);
    let mut f = findings(&v);
    f.sort();
    assert_eq!(
        f,
        vec![
            ("SKD-ESC-020".to_string(), "critical".to_string()),
            ("SKD-K8S-012".to_string(), "high".to_string()),
        ],
        "only the hostPath PV, not the NFS one"
    );
    for fd in v["findings"].as_array().unwrap() {
        assert_eq!(fd["object"]["name"], "sock");
        assert_eq!(fd["line"], 9);
    }
}

/// (rule id, line) of every unsuppressed finding.
fn findings_at(v: &serde_json::Value) -> Vec<(String, u64)> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["suppressed"].is_null())
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// `n` privileged pods, each a document of 11 lines (its `---` first).
fn pod_docs(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "---\n{}",
                PRIVILEGED_POD.replace("name: p\n", &format!("name: p{i}\n"))
            )
        })
        .collect()
}

/// A stream of `n` privileged pods, with the line each pod's `privileged: true` is on.
fn pod_stream(n: usize) -> (String, Vec<u64>) {
    let lines = (0..n).map(|i| (i * 11 + 11) as u64).collect();
    (pod_docs(n).concat(), lines)
}

#[test]
fn a_stream_larger_than_a_document_is_read_document_by_document() {
    let d = Scratch::new("stream");
    let (text, lines) = pod_stream(400);
    std::fs::write(d.path("stream.yaml"), &text).unwrap();
    // Read whole (the default) and as a stream of documents (a document limit under the
    // input's size), from a file and from stdin: the same findings at the same lines.
    let whole = stockade(&["audit", "-f", "json", &d.s("stream.yaml")]);
    assert_eq!(whole.status.code(), Some(1), "{whole:?}");
    let whole = findings_at(&json(&whole));
    let privileged: Vec<u64> = whole
        .iter()
        .filter(|(id, _)| id == "SKD-PSS-002")
        .map(|(_, l)| *l)
        .collect();
    assert_eq!(privileged, lines);
    let args = ["audit", "-f", "json", "--max-document-size", "2K"];
    let file = stockade(&[&args[..], &[&d.s("stream.yaml")]].concat());
    assert_eq!(file.status.code(), Some(1), "{file:?}");
    assert_eq!(findings_at(&json(&file)), whole);
    let stdin = stockade_stdin(&[&args[..], &["-"]].concat(), text.as_bytes());
    assert_eq!(stdin.status.code(), Some(1), "{stdin:?}");
    let v = json(&stdin);
    assert_eq!(findings_at(&v), whole);
    assert_eq!(v["summary"]["objects"], 400, "{v}");
}

#[test]
fn a_streamed_document_that_cannot_be_read_is_a_finding_at_its_line() {
    let (text, lines) = pod_stream(300);
    let doc_line = |i: usize| (i * 11 + 1) as u64;
    // Document 100 gets a NUL byte, 150 a Latin-1 byte, 200 is padded past the document
    // limit: each is SKD-INPUT-004 at its first line, and the pods around them are audited,
    // with their own line numbers.
    let mut docs: Vec<Vec<u8>> = pod_docs(300).into_iter().map(String::into_bytes).collect();
    docs[100].extend(b"# \0\n");
    docs[150].extend(b"# caf\xe9\n");
    docs[200].extend("# padding\n".repeat(300).as_bytes());
    let input: Vec<u8> = docs.concat();
    let d = Scratch::new("stream-bad");
    std::fs::write(d.path("s.yaml"), &input).unwrap();
    let args = ["audit", "-f", "json", "--max-document-size", "2K"];
    for o in [
        stockade(&[&args[..], &[&d.s("s.yaml")]].concat()),
        stockade_stdin(&[&args[..], &["-"]].concat(), &input),
    ] {
        assert_eq!(o.status.code(), Some(2), "{o:?}");
        let f = findings_at(&json(&o));
        let bad: Vec<u64> = f
            .iter()
            .filter(|(id, _)| id == "SKD-INPUT-004")
            .map(|(_, l)| *l)
            .collect();
        // Lines shift by one after the NUL and Latin-1 comment lines.
        assert_eq!(
            bad,
            vec![doc_line(100), doc_line(150) + 1, doc_line(200) + 2]
        );
        let privileged: Vec<u64> = f
            .iter()
            .filter(|(id, _)| id == "SKD-PSS-002")
            .map(|(_, l)| *l)
            .collect();
        let expected: Vec<u64> = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| ![100, 150, 200].contains(i))
            .map(|(i, l)| l + u64::from(i > 100) + u64::from(i > 150) + 300 * u64::from(i > 200))
            .collect();
        assert_eq!(privileged, expected);
    }
    // Past --max-input-size the rest is not audited: a finding names the line it starts on.
    let o = stockade_stdin(
        &[
            "audit",
            "-f",
            "json",
            "--max-document-size",
            "2K",
            "--max-input-size",
            "20K",
            "-",
        ],
        text.as_bytes(),
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let f = findings_at(&json(&o));
    let last = f.last().expect("findings");
    assert_eq!(last.0, "SKD-INPUT-004", "{f:?}");
    // The document in which the input passes 20 KiB is where reading stopped.
    let mut end = 0;
    let stop = pod_docs(300)
        .iter()
        .position(|d| {
            end += d.len();
            end > 20 * 1024
        })
        .expect("the stream is over 20 KiB");
    assert_eq!(last.1, doc_line(stop), "{f:?}");
    assert_eq!(f.iter().filter(|(id, _)| id == "SKD-PSS-002").count(), stop);
}

/// `n` privileged pods as the entries of a List's `items:` at `indent` (kubectl writes them at
/// 0), each entry 10 lines, with `kind` left out when `typed` (a typed list's items inherit it).
fn list_entries(n: usize, indent: usize, typed: bool) -> String {
    let pad = " ".repeat(indent);
    (0..n)
        .map(|i| {
            let pod = PRIVILEGED_POD.replace("name: p\n", &format!("name: p{i}\n"));
            let pod = if typed {
                pod.replace("kind: Pod\n", "")
            } else {
                pod
            };
            pod.lines()
                .enumerate()
                .map(|(j, l)| {
                    let lead = if j == 0 { "- " } else { "  " };
                    format!("{pad}{lead}{l}\n")
                })
                .collect::<String>()
        })
        .collect()
}

/// (rule id, line, column, object name) of every finding, sorted.
fn findings_where(v: &serde_json::Value) -> Vec<(String, u64, u64, String)> {
    let mut f: Vec<_> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or("").to_string(),
                f["line"].as_u64().unwrap_or(0),
                f["column"].as_u64().unwrap_or(0),
                f["object"]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    f.sort();
    f
}

#[test]
fn a_list_larger_than_a_document_is_read_item_by_item() {
    // `kubectl get pods -A -o yaml` writes one document, a List: its items at column 0, and
    // `kind` after them. Read whole (the default limits) and item by item (a document limit
    // far under the List's size, which would refuse it as one document): the same findings at
    // the same lines and columns, from a file and from stdin.
    let d = Scratch::new("list");
    let kubectl = format!(
        "apiVersion: v1\nitems:\n{}kind: List\nmetadata:\n  resourceVersion: \"\"\n",
        list_entries(300, 0, false)
    );
    // A typed list written by hand: `kind` first, entries indented, items without `kind`.
    let typed = format!(
        "apiVersion: v1\nkind: PodList\nmetadata: {{}}\nitems:\n{}",
        list_entries(300, 2, true)
    );
    for (name, text) in [("kubectl", &kubectl), ("typed", &typed)] {
        assert!(text.len() > 4 * 8 * 1024, "{}", text.len());
        std::fs::write(d.path(name), text).unwrap();
        let whole = stockade(&["audit", "-f", "json", &d.s(name)]);
        assert_eq!(whole.status.code(), Some(1), "{name}: {whole:?}");
        let whole = json(&whole);
        assert_eq!(whole["summary"]["objects"], 300, "{name}: {whole}");
        let whole = findings_where(&whole);
        assert_eq!(
            whole.iter().filter(|f| f.0 == "SKD-PSS-002").count(),
            300,
            "{name}: {whole:?}"
        );
        let args = ["audit", "-f", "json", "--max-document-size", "8K"];
        for o in [
            stockade(&[&args[..], &[&d.s(name)]].concat()),
            stockade_stdin(&[&args[..], &["-"]].concat(), text.as_bytes()),
        ] {
            assert_eq!(o.status.code(), Some(1), "{name}: {o:?}");
            let v = json(&o);
            assert_eq!(v["summary"]["objects"], 300, "{name}: {v}");
            assert_eq!(findings_where(&v), whole, "{name}");
        }
    }
}

#[test]
fn a_list_read_item_by_item_fails_closed() {
    let d = Scratch::new("list-bad");
    let args = ["audit", "-f", "json", "--max-document-size", "8K"];
    let entries = list_entries(300, 0, false);
    let entry_lines = entries.lines().count() as u64;
    // What follows the items does not parse: SKD-INPUT-001 at its line; every item is audited.
    let broken = format!("apiVersion: v1\nitems:\n{entries}kind: List\nmetadata: [\n");
    // The kind that follows the items is not a list's: the items were read as objects where
    // Kubernetes would not read them, which is said.
    let not_list = format!("apiVersion: v1\nitems:\n{entries}kind: Deployment\n");
    for text in [&broken, &not_list] {
        std::fs::write(d.path("l.yaml"), text).unwrap();
        let o = stockade(&[&args[..], &[&d.s("l.yaml")]].concat());
        assert_eq!(o.status.code(), Some(2), "{o:?}");
        let f = findings_at(&json(&o));
        let input: Vec<u64> = f
            .iter()
            .filter(|x| x.0 == "SKD-INPUT-001")
            .map(|x| x.1)
            .collect();
        // One problem, after the items (the broken flow sequence at its end of input).
        assert_eq!(input.len(), 1, "{input:?}");
        assert!(input[0] > 2 + entry_lines, "{input:?}");
        assert_eq!(f.iter().filter(|x| x.0 == "SKD-PSS-002").count(), 300);
    }
    // A NUL byte in entry 200: the entries of the piece it is in and after it are not audited
    // (SKD-INPUT-004 at the piece's first line), those before it are.
    let mut bytes = format!("apiVersion: v1\nitems:\n{entries}kind: List\n").into_bytes();
    let at = 2 + 200 * 10 + 3; // entry 200's `  metadata:` line (0-based)
    let offset: usize = bytes
        .split_inclusive(|&b| b == b'\n')
        .take(at)
        .map(<[u8]>::len)
        .sum();
    bytes.splice(offset..offset, b"  # \0\n".iter().copied());
    let o = stockade_stdin(&[&args[..], &["-"]].concat(), &bytes);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let f = findings_at(&json(&o));
    let bad: Vec<u64> = f
        .iter()
        .filter(|x| x.0 == "SKD-INPUT-004")
        .map(|x| x.1)
        .collect();
    assert_eq!(bad.len(), 1, "{f:?}");
    let audited = f.iter().filter(|x| x.0 == "SKD-PSS-002").count() as u64;
    // Entries start at line 3, ten lines each: the piece dropped starts at an entry at or
    // before entry 200, and every entry before that piece was audited.
    assert!(bad[0] >= 3 && (bad[0] - 3) % 10 == 0, "{bad:?}");
    assert_eq!(audited, (bad[0] - 3) / 10, "{f:?}");
    assert!(audited <= 200 && audited > 100, "{audited}");
}

/// A List of `n` privileged pods as `kubectl get -o json` writes it (pretty, `indent` spaces).
fn json_list(n: usize, indent: usize) -> String {
    use serde::Serialize;
    let items: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": format!("p{i}"), "namespace": "default"},
                "spec": {"containers": [{
                    "name": "c",
                    "image": "x",
                    "securityContext": {"privileged": true}
                }]}
            })
        })
        .collect();
    let list = serde_json::json!({
        "apiVersion": "v1",
        "items": items,
        "kind": "List",
        "metadata": {"resourceVersion": ""}
    });
    let pad = " ".repeat(indent);
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(pad.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    list.serialize(&mut ser).unwrap();
    out.push(b'\n');
    String::from_utf8(out).unwrap()
}

#[test]
fn a_json_list_larger_than_a_document_is_read_item_by_item() {
    // `kubectl get pods -A -o json`: one JSON document. Read whole and item by item, the same
    // findings at the same lines and columns; a truncated one is an error, not a pass.
    let d = Scratch::new("json-list");
    for indent in [4, 2] {
        let text = json_list(300, indent);
        assert!(text.len() > 4 * 8 * 1024, "{}", text.len());
        std::fs::write(d.path("l.json"), &text).unwrap();
        let whole = stockade(&["audit", "-f", "json", &d.s("l.json")]);
        assert_eq!(whole.status.code(), Some(1), "{whole:?}");
        let whole = json(&whole);
        assert_eq!(whole["summary"]["objects"], 300, "{whole}");
        let whole = findings_where(&whole);
        assert_eq!(whole.iter().filter(|f| f.0 == "SKD-PSS-002").count(), 300);
        let args = ["audit", "-f", "json", "--max-document-size", "8K"];
        for o in [
            stockade(&[&args[..], &[&d.s("l.json")]].concat()),
            stockade_stdin(&[&args[..], &["-"]].concat(), text.as_bytes()),
        ] {
            assert_eq!(o.status.code(), Some(1), "{indent}: {o:?}");
            let v = json(&o);
            assert_eq!(v["summary"]["objects"], 300, "{v}");
            assert_eq!(findings_where(&v), whole, "{indent}");
        }
        // Cut off after its items (a failed `kubectl` in the middle): the items are audited
        // and the List's end that never came is SKD-INPUT-001.
        let cut = text.rfind("\"kind\": \"List\"").unwrap();
        let o = stockade_stdin(&[&args[..], &["-"]].concat(), &text.as_bytes()[..cut]);
        assert_eq!(o.status.code(), Some(2), "{o:?}");
        let f = findings_at(&json(&o));
        assert!(f.iter().any(|x| x.0 == "SKD-INPUT-001"), "{indent}");
        assert_eq!(f.iter().filter(|x| x.0 == "SKD-PSS-002").count(), 300);
    }
}
