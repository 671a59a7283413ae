//! The Kubernetes reader on adversarial manifests: what it decodes, where the fields are, and
//! what it reports instead of passing.

use audit::{FileReport, Item, Subject};
use k8s_openapi::api::core::v1::PodSpec;
use policy::cluster::ClusterObject;
use policy::model::PodWorkload;

fn data(name: &str) -> String {
    format!("{}/tests/data/k8s/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> FileReport {
    let bytes = std::fs::read(data(name)).expect("fixture");
    let text = String::from_utf8_lossy(&bytes);
    audit::k8s::read(name, &text)
}

fn pod<'a>(r: &'a FileReport, name: &str) -> (&'a Item, &'a PodWorkload) {
    for item in &r.items {
        if item.object.name == name {
            if let Subject::Pod(p) = &item.subject {
                return (item, p);
            }
        }
    }
    panic!(
        "no pod-bearing object {name} in {:?}",
        r.items.iter().map(|i| &i.object).collect::<Vec<_>>()
    );
}

fn line(item: &Item, field: &str) -> u32 {
    item.lines.position(field).expect("position").0
}

fn privileged(spec: &PodSpec, i: usize) -> Option<bool> {
    spec.containers[i].security_context.as_ref()?.privileged
}

#[test]
fn yaml11_scalars_are_read_as_kubernetes_reads_them() {
    let r = read("yaml11-scalars.yaml");
    let (item, p) = pod(&r, "yaml11");
    assert_eq!(p.spec.host_pid, Some(true));
    assert_eq!(privileged(&p.spec, 0), Some(true));
    let sc = p.spec.containers[0].security_context.as_ref().unwrap();
    assert_eq!(sc.run_as_user, Some(0));
    assert_eq!(p.spec_path, "spec");
    assert_eq!(
        line(item, "spec.containers[0].securityContext.privileged"),
        12
    );
    assert_eq!(line(item, "spec.hostPID"), 7);
    let low: Vec<_> = r
        .problems
        .iter()
        .filter(|p| p.rule_id == "SKD-INPUT-003")
        .map(|p| (p.line.unwrap(), p.field.as_str()))
        .collect();
    assert_eq!(
        low,
        [
            (7, "spec.hostPID"),
            (12, "spec.containers[0].securityContext.privileged"),
            (13, "spec.containers[0].securityContext.runAsUser")
        ]
    );
    assert_eq!(r.problems[0].object.as_ref().unwrap().name, "yaml11");
}

#[test]
fn lists_are_expanded_with_their_own_positions() {
    let r = read("list-privileged.yaml");
    let (item, p) = pod(&r, "hidden");
    assert_eq!(privileged(&p.spec, 0), Some(true));
    assert_eq!(p.namespace(), Some("team"));
    assert_eq!(item.line, 8);
    assert_eq!(
        line(item, "spec.containers[0].securityContext.privileged"),
        18
    );
    assert!(r
        .items
        .iter()
        .any(|i| i.object.kind == "ConfigMap" && matches!(i.subject, Subject::Other)));
    let (typed, p) = pod(&r, "typed");
    assert_eq!(typed.object.kind, "Pod");
    assert_eq!(p.kind, "Pod");
    assert_eq!(p.spec.host_network, Some(true));
    assert_eq!(typed.document, 1);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
}

#[test]
fn duplicate_key_is_an_error_and_last_wins() {
    let r = read("duplicate-privileged.yaml");
    let (item, p) = pod(&r, "dup");
    assert_eq!(privileged(&p.spec, 0), Some(true));
    let dup = r
        .problems
        .iter()
        .find(|p| p.rule_id == "SKD-INPUT-002")
        .expect("reported");
    assert_eq!(dup.line, Some(11));
    assert_eq!(dup.field, "spec.containers[0].securityContext.privileged");
    assert_eq!(dup.object.as_ref().unwrap().name, "dup");
    assert_eq!(
        line(item, "spec.containers[0].securityContext.privileged"),
        11
    );
}

#[test]
fn merge_key_injecting_privileged_is_seen() {
    let r = read("anchor-merge.yaml");
    let (item, p) = pod(&r, "merged");
    assert_eq!(p.spec_path, "spec.template.spec");
    assert_eq!(privileged(&p.spec, 0), Some(true));
    let sc = p.spec.containers[0].security_context.as_ref().unwrap();
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    // The merged value's line is where the anchor defines it.
    assert_eq!(
        line(
            item,
            "spec.template.spec.containers[0].securityContext.privileged"
        ),
        9
    );
    assert_eq!(p.pod_metadata.labels.as_ref().unwrap()["app"], "merged");
}

#[test]
fn host_paths_reach_the_workload_in_any_spelling() {
    let r = read("docker-sock.yaml");
    let (item, p) = pod(&r, "socks");
    let paths: Vec<_> = p
        .spec
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .map(|v| v.host_path.as_ref().unwrap().path.as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "/var/run/docker.sock",
            "//run//docker.sock/",
            "/var/lib/../../run/containerd"
        ]
    );
    assert_eq!(line(item, "spec.volumes[1].hostPath.path"), 24);
    assert_eq!(
        policy::paths::engine_socket(paths[1]).as_deref(),
        Some("/run/docker.sock")
    );
}

#[test]
fn broken_document_is_reported_and_the_others_are_read() {
    let r = read("broken-middle.yaml");
    let names: Vec<_> = r.items.iter().map(|i| i.object.name.as_str()).collect();
    assert_eq!(names, ["first", "last"]);
    let (item, p) = pod(&r, "last");
    assert_eq!(p.spec.host_ipc, Some(true));
    assert_eq!(item.document, 2);
    assert_eq!(line(item, "spec.hostIPC"), 19);
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    let e = &r.problems[0];
    assert_eq!(e.rule_id, "SKD-INPUT-001");
    let l = e.line.unwrap();
    assert!((10..=13).contains(&l), "line {l}: {}", e.message);
    // The problem still names the object it hides.
    let o = e.object.as_ref().expect("object guessed");
    assert_eq!((o.kind.as_str(), o.name.as_str()), ("Pod", "broken"));
}

#[test]
fn undecodable_objects_fail_closed() {
    let r = read("type-mismatch.yaml");
    assert!(
        r.items.is_empty(),
        "{:?}",
        r.items.iter().map(|i| &i.object).collect::<Vec<_>>()
    );
    let msgs: Vec<_> = r
        .problems
        .iter()
        .map(|p| {
            (
                p.rule_id,
                p.line.unwrap(),
                p.field.as_str(),
                p.message.as_str(),
            )
        })
        .collect();
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    assert_eq!(msgs[0].1, 10);
    assert_eq!(msgs[0].2, "spec.containers[0].securityContext.privileged");
    assert!(msgs[0].3.contains("expected a boolean"), "{}", msgs[0].3);
    assert_eq!(r.problems[0].object.as_ref().unwrap().name, "maybe");
    assert_eq!(msgs[1].2, "spec.template.spec");
    assert!(msgs[1].3.contains("no pod spec"));
    assert!(msgs[2].3.contains("`kind`"), "{}", msgs[2].3);
    assert!(r.problems.iter().all(|p| p.rule_id == "SKD-INPUT-001"));
}

#[test]
fn every_kind_is_read() {
    let r = read("all-kinds.yaml");
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let spec_paths: Vec<_> = r
        .items
        .iter()
        .filter_map(|i| match &i.subject {
            Subject::Pod(p) => Some((p.kind.as_str(), p.spec_path.as_str())),
            _ => None,
        })
        .collect();
    // The fixture holds one object of every pod-bearing kind, in policy's order.
    let every_kind: Vec<_> = policy::k8s::POD_KINDS
        .iter()
        .map(|k| (k.kind, k.spec_path))
        .collect();
    assert_eq!(spec_paths, every_kind);
    assert_eq!(
        spec_paths[7],
        ("CronJob", "spec.jobTemplate.spec.template.spec")
    );
    let cluster: Vec<_> = r
        .items
        .iter()
        .filter_map(|i| match &i.subject {
            Subject::Cluster(c) => Some(c.kind()),
            _ => None,
        })
        .collect();
    assert_eq!(cluster, ClusterObject::KINDS);
    assert!(matches!(r.items.last().unwrap().subject, Subject::Other));

    let (deploy, _) = pod(&r, "deploy");
    let ids: Vec<_> = deploy
        .suppressions
        .iter()
        .map(|s| s.rule_ids.clone())
        .collect();
    assert_eq!(
        ids,
        [
            vec!["SKD-ESC-001".to_string()],
            vec!["SKD-PSS-001".into(), "SKD-PSS-002".into()]
        ]
    );
    assert_eq!(deploy.suppressions[1].reason, "node agent");

    let (cron_item, cron) = pod(&r, "cron");
    assert_eq!(privileged(&cron.spec, 0), Some(true));
    assert_eq!(
        line(
            cron_item,
            "spec.jobTemplate.spec.template.spec.containers[0].securityContext.privileged"
        ),
        58
    );
    let sa = r.items.iter().find_map(|i| match &i.subject {
        Subject::Cluster(c) => match c.as_ref() {
            ClusterObject::ServiceAccount(sa) => Some(sa.clone()),
            _ => None,
        },
        _ => None,
    });
    assert_eq!(sa.unwrap().automount_service_account_token, Some(false));
}

#[test]
fn json_manifest_is_read() {
    let r = read("pod.json");
    let (item, p) = pod(&r, "json-pod");
    assert_eq!(p.spec.host_network, Some(true));
    assert_eq!(
        line(item, "spec.containers[0].securityContext.privileged"),
        8
    );
}

#[test]
fn alias_bomb_is_bounded_and_later_documents_read() {
    let start = std::time::Instant::now();
    let r = read("alias-bomb.yaml");
    assert!(start.elapsed().as_secs() < 10);
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].rule_id, "SKD-INPUT-001");
    let (_, p) = pod(&r, "after-bomb");
    assert_eq!(p.spec.host_pid, Some(true));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let r = read("deep.yaml");
    assert!(r.items.is_empty());
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].rule_id, "SKD-INPUT-001");
}

#[test]
fn binary_garbage_is_an_error_not_a_crash() {
    let r = read("garbage.bin");
    assert!(r.items.is_empty());
    assert!(!r.problems.is_empty() || r.skipped.is_some());
}

#[test]
fn scalar_document_is_not_an_object() {
    let r = audit::k8s::read("x", "just a string\n");
    assert_eq!(r.problems.len(), 1);
    let r = audit::k8s::read("x", "---\n---\n# only comments\n");
    assert!(r.problems.is_empty() && r.items.is_empty());
}

#[test]
fn bad_suppression_is_reported() {
    let r = audit::k8s::read(
        "x",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    stockade.io/ignore: SKD-ESC-001\nspec: {containers: [{name: c, image: i}]}\n",
    );
    assert_eq!(r.items.len(), 1);
    assert!(r.items[0].suppressions.is_empty());
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].line, Some(6));
}

#[test]
fn value_without_json_form_in_a_list_item_is_reported() {
    let r = audit::k8s::read(
        "x",
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec:\n    activeDeadlineSeconds: .inf\n    containers: [{name: c, image: i}]\n",
    );
    assert!(r.items.is_empty());
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].field, "spec.activeDeadlineSeconds");
    assert!(r.problems[0].message.contains("JSON"));
    assert_eq!(r.problems[0].line, Some(8));
}

#[test]
fn quantities_and_int_or_string_decode_like_json() {
    let r = audit::k8s::read(
        "x",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec:\n  containers:\n  - name: c\n    image: i\n    resources: {limits: {memory: 512, cpu: 0.5}}\n    livenessProbe: {httpGet: {port: http}}\n    readinessProbe: {httpGet: {port: 8080}}\n    securityContext: {runAsUser: 1e3}\n",
    );
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let (_, p) = pod(&r, "q");
    let c = &p.spec.containers[0];
    let limits = c.resources.as_ref().unwrap().limits.as_ref().unwrap();
    assert_eq!(limits["memory"].0, "512");
    assert_eq!(limits["cpu"].0, "0.5");
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let port = |probe: &Option<k8s_openapi::api::core::v1::Probe>| {
        probe
            .as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap()
            .port
            .clone()
    };
    assert_eq!(port(&c.liveness_probe), IntOrString::String("http".into()));
    assert_eq!(port(&c.readiness_probe), IntOrString::Int(8080));
    assert_eq!(c.security_context.as_ref().unwrap().run_as_user, Some(1000));
}

#[test]
fn number_where_a_string_belongs_is_an_error_as_in_kubectl() {
    let r = audit::k8s::read(
        "x",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: e}\nspec:\n  containers:\n  - name: c\n    image: i\n    env:\n    - name: PORT\n      value: 8080\n",
    );
    assert!(r.items.is_empty());
    assert_eq!(r.problems[0].field, "spec.containers[0].env[0].value");
    assert_eq!(r.problems[0].line, Some(10));
}
