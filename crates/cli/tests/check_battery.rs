//! `stockade check` end to end: the battery under runc, crun and stockade, the profiles, and the
//! `--compare` matrix. Needs root, runc, crun, busybox-static, losetup and mkfs.ext4
//! (scripts/install-deps); without them each test prints `SKIP` (a failure under `CI=true`).

mod check_support;
use check_support::{ids_with, outcome, prerequisites, result_of, run, runs};

/// The host-root escapes the issue names: none may escape under any runtime's default.
const HOST_ROOT: [&str; 4] = [
    "release-agent",
    "core-pattern",
    "block-dev-mount",
    "shocker",
];

/// What stockade's default still leaves *exposed* (never escaped) on this branch: a missing
/// seccomp profile, masks Docker has and `stockade spec` lacks, and missing pids/memory limits.
/// The hardening branch (user namespace, default seccomp profile, Docker's masked paths, limits,
/// Landlock) closes all of them; after it merges this list must become empty, which turns the
/// test into "every technique is blocked or not applicable under stockade's default".
const EXPOSED_UNTIL_HARDENING: &[&str] = &[];

#[test]
fn privileged_under_runc_escapes_for_real() {
    let Some(probe) = prerequisites("privileged_under_runc_escapes_for_real") else {
        return;
    };
    let r = runs(
        &probe,
        &["--runtime", "runc", "--profile", "privileged"],
        &[],
    );
    assert_eq!(r.len(), 1);
    let escaped = ids_with(&r[0], "escaped");
    assert!(
        escaped.len() >= 8,
        "only {} escaped: {escaped:?}",
        escaped.len()
    );
    for id in HOST_ROOT.iter().chain(&[
        "host-canary",
        "runtime-socket",
        "procsys-write",
        "sysfs-write",
    ]) {
        assert!(
            escaped.iter().any(|e| e == id),
            "{id} did not escape: {escaped:?}"
        );
    }
}

#[test]
fn stockade_default_stops_the_host_root_escapes() {
    let Some(probe) = prerequisites("stockade_default_stops_the_host_root_escapes") else {
        return;
    };
    let r = runs(&probe, &["--profile", "default"], &[]);
    for id in HOST_ROOT {
        let (res, layer) = outcome(&r[0], id);
        assert!(
            res == "blocked" || res == "not-applicable",
            "{id} under stockade's default: {res} {layer}"
        );
    }
}

#[test]
fn stockade_default_blocks_every_technique() {
    let Some(probe) = prerequisites("stockade_default_blocks_every_technique") else {
        return;
    };
    let r = runs(&probe, &[], &[]);
    let results = r[0]["results"].as_array().unwrap();
    assert!(
        results.len() >= 30,
        "battery has {} techniques",
        results.len()
    );
    let mut bad = Vec::new();
    for t in results {
        let id = t["id"].as_str().unwrap();
        let res = t["result"].as_str().unwrap();
        let ok = match res {
            "blocked" | "not-applicable" => true,
            "exposed" => EXPOSED_UNTIL_HARDENING.contains(&id),
            _ => false,
        };
        if !ok {
            bad.push(format!("{id}: {res} ({})", t["detail"]));
        }
    }
    assert!(
        bad.is_empty(),
        "under stockade's default:\n{}",
        bad.join("\n")
    );
    // Report what the hardening branch still has to close.
    let exposed = ids_with(&r[0], "exposed");
    if !exposed.is_empty() {
        eprintln!("stockade default still exposes (until the hardening merge): {exposed:?}");
    }
}

#[test]
fn runc_and_crun_defaults_let_nothing_escape() {
    let Some(probe) = prerequisites("runc_and_crun_defaults_let_nothing_escape") else {
        return;
    };
    for rt in ["runc", "crun"] {
        let r = runs(&probe, &["--runtime", rt], &[]);
        let escaped = ids_with(&r[0], "escaped");
        assert!(escaped.is_empty(), "{rt} default: {escaped:?}");
        // Neither loads a seccomp profile from `spec`.
        assert_eq!(outcome(&r[0], "no-seccomp").0, "exposed", "{rt}");
    }
}

#[test]
fn docker_profile_is_docker_like() {
    let Some(probe) = prerequisites("docker_profile_is_docker_like") else {
        return;
    };
    let r = runs(&probe, &["--profile", "docker"], &[]);
    let r = &r[0];
    // Docker's 14 capabilities include NET_RAW and MKNOD: mknod works, the device cgroup stops
    // the open; the seccomp profile stops keyrings, io_uring, mounts and shocker.
    assert_eq!(outcome(r, "dangerous-caps").0, "exposed");
    assert_eq!(outcome(r, "af-packet").0, "exposed");
    // Today the device cgroup refuses the mount of the mknod'ed node; with stockade's Landlock
    // (hardening branch) the mount itself is refused first, so only "blocked" is asserted.
    let (res, layer) = outcome(r, "block-dev-mount");
    assert_eq!(res, "blocked", "block-dev-mount: {res} {layer}");
    for id in [
        "keyctl",
        "io-uring",
        "userfaultfd",
        "perf-event",
        "no-seccomp",
    ] {
        assert_eq!(outcome(r, id), ("blocked".into(), "seccomp".into()), "{id}");
    }
    assert_eq!(outcome(r, "shocker").0, "blocked");
    assert_eq!(
        outcome(r, "masked-paths"),
        ("blocked".into(), "masked-path".into())
    );
    assert!(ids_with(r, "escaped").is_empty());
    // Docker sets no limits.
    assert_eq!(outcome(r, "fork-bomb").0, "exposed");
}

#[test]
fn compare_prints_one_matrix() {
    let Some(probe) = prerequisites("compare_prints_one_matrix") else {
        return;
    };
    let (code, out, err) = run(&probe, &["--compare"], &[]);
    assert_eq!(code, 0, "{err}\n{out}");
    let mut lines = out.lines();
    let head: Vec<&str> = lines
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    // runsc (gVisor) has a column where it is installed (scripts/install-deps installs it)
    let runsc = check::locate::which("runsc").is_some();
    if !runsc {
        testkit::skip("runsc column: runsc not installed (scripts/install-deps installs it)");
        assert!(err.contains("SKIP column runsc default"), "{err}");
    }
    let mut want = vec![
        "TECHNIQUE",
        "E",
        "stockade default",
        "runc default",
        "crun default",
    ];
    if runsc {
        want.push("runsc default");
    }
    want.extend(["stockade docker", "stockade privileged"]);
    assert_eq!(head, want);
    assert!(out.lines().count() > 35, "{out}");
    let escaped: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("total escaped"))
        .expect("totals")
        .split_whitespace()
        .skip(2)
        .collect();
    assert_eq!(escaped.len(), want.len() - 2, "{out}");
    assert_eq!(escaped[0], "0", "stockade default: {out}");
    let last = escaped.len() - 1;
    assert!(
        escaped[last].parse::<u32>().unwrap() >= 8,
        "privileged: {out}"
    );
    if runsc {
        assert_eq!(escaped[3], "0", "runsc default: {out}");
    }
    assert!(out.contains("blocked(capability)"));
    assert!(!out.contains("did not run"), "{out}");
}

#[test]
fn only_selects_techniques() {
    let Some(probe) = prerequisites("only_selects_techniques") else {
        return;
    };
    let r = runs(
        &probe,
        &["--runtime", "runc", "--only", "core-pattern,E26"],
        &[],
    );
    let ids: Vec<&str> = r[0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["core-pattern", "shocker"]);
}

#[test]
fn a_bad_profile_file_is_one_clear_error() {
    let Some(probe) = prerequisites("a_bad_profile_file_is_one_clear_error") else {
        return;
    };
    let (code, out, err) = run(&probe, &["--profile", "/nonexistent/config.json"], &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("/nonexistent/config.json") && out.contains("did not run"),
        "{out}{err}"
    );
}

/// `--fail-on`: the exit status says whether the profile under test let something through.
#[test]
fn fail_on_gives_a_non_zero_exit_when_something_gets_through() {
    let Some(probe) = prerequisites("fail_on_gives_a_non_zero_exit_when_something_gets_through")
    else {
        return;
    };
    let (code, out, err) = run(
        &probe,
        &["--fail-on", "escaped", "--profile", "privileged"],
        &[],
    );
    assert_eq!(code, 3, "privileged under --fail-on escaped: {err}\n{out}");
    for id in HOST_ROOT {
        assert!(
            err.contains(&format!("stockade privileged: {id} escaped")),
            "{id} not named: {err}"
        );
    }
    // the report is printed as without --fail-on
    assert!(out.contains("release-agent"), "{out}");
    // stockade's default lets nothing through, not even an exposed primitive
    for level in ["escaped", "exposed"] {
        let (code, out, err) = run(&probe, &["--fail-on", level], &[]);
        assert_eq!(code, 0, "stockade default, --fail-on {level}: {err}\n{out}");
    }
    // runc's default escapes nothing but exposes what no seccomp profile stops; one matrix
    // of both runtimes fails as soon as one column lets something through
    let (code, _, err) = run(&probe, &["--runtime", "runc", "--fail-on", "escaped"], &[]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(
        &probe,
        &["--runtime", "stockade,runc", "--fail-on", "exposed"],
        &[],
    );
    assert_eq!(code, 3, "{err}\n{out}");
    assert!(err.contains("runc default: no-seccomp exposed"), "{err}");
    assert!(!err.contains("stockade default:"), "{err}");
    // a bad level is a usage error naming the values
    let (code, _, err) = run(&probe, &["--fail-on", "blocked"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("escaped") && err.contains("exposed"), "{err}");
}

/// `--runtime` and `--profile` take lists: the matrix names exactly the runs asked for.
#[test]
fn runtime_list_names_any_set_of_runtimes() {
    let Some(probe) = prerequisites("runtime_list_names_any_set_of_runtimes") else {
        return;
    };
    let (code, out, err) = run(
        &probe,
        &[
            "--compare",
            "--runtime",
            "crun,stockade,runc",
            "--profile",
            "default,docker",
            "--only",
            "keyctl,core-pattern",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}\n{out}");
    let head: Vec<&str> = out
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        head,
        [
            "TECHNIQUE",
            "E",
            "crun default",
            "stockade default",
            "runc default",
            "crun docker",
            "stockade docker",
            "runc docker"
        ]
    );
    let keyctl: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("keyctl"))
        .expect("keyctl row")
        .split_whitespace()
        .collect();
    assert_eq!(
        keyctl[2..],
        [
            "exposed",
            "blocked(seccomp)",
            "exposed",
            "blocked(seccomp)",
            "blocked(seccomp)",
            "blocked(seccomp)"
        ],
        "{out}"
    );
    // several runs without --compare are one matrix too
    let (code, out, err) = run(&probe, &["--runtime", "runc,crun", "--only", "keyctl"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("TECHNIQUE"), "{out}");
    // a runtime named twice is one clear error, before anything runs
    let (code, out, err) = run(&probe, &["--runtime", "runc,crun,runc"], &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("--runtime names runc twice"), "{err}");
    assert!(out.is_empty(), "{out}");
}

/// gVisor (`runsc`, Debian's package) as a column: the battery runs inside its sandbox, whose
/// user-space kernel lacks some subsystems the host kernel has.
#[test]
fn runsc_column_where_runsc_runs() {
    let Some(probe) = prerequisites("runsc_column_where_runsc_runs") else {
        return;
    };
    if !testkit::require(&["runsc"]) {
        return;
    }
    let r = runs(&probe, &["--runtime", "runsc,runc"], &[]);
    assert_eq!(r[0]["runtime"], "runsc");
    assert_eq!(r[1]["runtime"], "runc");
    let total = r[0]["results"].as_array().unwrap().len();
    assert_eq!(total, r[1]["results"].as_array().unwrap().len());
    assert!(ids_with(&r[0], "escaped").is_empty(), "{}", r[0]);
    assert!(ids_with(&r[0], "inconclusive").is_empty(), "{}", r[0]);
    // the host kernel's nf_tables is reachable from runc's default, not through gVisor's
    // sentry, which has no nf_tables; the reason is in the JSON
    assert_eq!(outcome(&r[1], "nf-tables").0, "exposed");
    assert_eq!(outcome(&r[0], "nf-tables").0, "not-applicable");
    let detail = r[0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "nf-tables")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("NETLINK_NETFILTER"), "{detail}");
}

/// The reachability probes of the kernel-bug classes (E41 nf-tables, E42 tc-qdisc, E43
/// overlay-userns, E47 netns-admin), each in its three states: blocked under stockade's default
/// (seccomp stops the fresh user namespace; the capability set stops CAP_NET_ADMIN over the
/// container's own network namespace), exposed under the privileged profile, and not applicable
/// under gVisor, whose sentry has no nf_tables, no tc and no SIOCSIFTXQLEN (where runsc is
/// installed; overlay stays blocked there, it is not a missing feature). The reason is in the
/// JSON.
#[test]
fn reachability_probes_three_states() {
    let Some(probe) = prerequisites("reachability_probes_three_states") else {
        return;
    };
    let ids = "nf-tables,tc-qdisc,overlay-userns,netns-admin";
    let r = runs(
        &probe,
        &["--profile", "default,privileged", "--only", ids],
        &[],
    );
    assert_eq!(r.len(), 2);
    let detail = |run: &serde_json::Value, id: &str| {
        run["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .map(|t| t["detail"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    for (id, layer) in [
        ("nf-tables", "seccomp"),
        ("tc-qdisc", "seccomp"),
        ("overlay-userns", "seccomp"),
        ("netns-admin", "capability"),
    ] {
        assert_eq!(
            outcome(&r[0], id),
            ("blocked".into(), layer.into()),
            "stockade default {id}: {}",
            detail(&r[0], id)
        );
        assert_eq!(
            outcome(&r[1], id).0,
            "exposed",
            "stockade privileged {id}: {}",
            detail(&r[1], id)
        );
    }
    assert!(
        detail(&r[0], "netns-admin").contains("SIOCSIFTXQLEN"),
        "{}",
        detail(&r[0], "netns-admin")
    );
    assert!(
        detail(&r[1], "netns-admin").contains("unchanged"),
        "{}",
        detail(&r[1], "netns-admin")
    );
    if !testkit::require(&["runsc"]) {
        return;
    }
    let g = runs(&probe, &["--runtime", "runsc", "--only", ids], &[]);
    for (id, why) in [
        ("nf-tables", "NETLINK_NETFILTER"),
        ("tc-qdisc", "RTM_NEWQDISC"),
        ("netns-admin", "SIOC"),
    ] {
        assert_eq!(
            outcome(&g[0], id).0,
            "not-applicable",
            "runsc {id}: {}",
            detail(&g[0], id)
        );
        assert!(detail(&g[0], id).contains(why), "{}", detail(&g[0], id));
    }
}

/// E44 node services: the check's fake node (metadata, kubelet, Docker API listeners in a
/// network namespace of its own, joined to the docker-like and privileged containers by a
/// veth, as Docker's bridge does) is unreachable from stockade's default (an empty network
/// namespace of its own), reachable from the Docker-like and privileged profiles; the reason is
/// in the JSON. The n/a state (no targets) is in crates/probe/tests/units.rs.
#[test]
fn host_services_blocked_by_default_exposed_on_a_bridge() {
    let Some(probe) = prerequisites("host_services_blocked_by_default_exposed_on_a_bridge") else {
        return;
    };
    let r = runs(
        &probe,
        &[
            "--profile",
            "default,docker,privileged",
            "--only",
            "host-services",
        ],
        &[],
    );
    let detail =
        |run: &serde_json::Value| run["results"][0]["detail"].as_str().unwrap().to_string();
    assert_eq!(
        outcome(&r[0], "host-services"),
        ("blocked".into(), "net-ns".into()),
        "{}",
        detail(&r[0])
    );
    assert!(
        detail(&r[0]).contains("metadata 169.254.169.254:80 (ENETUNREACH)"),
        "{}",
        detail(&r[0])
    );
    for run in &r[1..] {
        assert_eq!(
            outcome(run, "host-services").0,
            "exposed",
            "{}",
            run["profile"]
        );
        let d = detail(run);
        for s in [
            "metadata 169.254.169.254:80",
            "kubelet 10.254.0.1:10250",
            "docker-api 10.254.0.1:2375",
        ] {
            assert!(d.contains(s), "{}: {d}", run["profile"]);
        }
        // the node's loopback is the node's own: not reachable from a bridged container
        assert!(
            d.contains("not reached: node-loopback 127.0.0.1:10248"),
            "{d}"
        );
    }
    // nothing of the stand-in network is left behind: a namespace mount under the work dir
    // of a check that has exited (the dir is stockade-check-PID-...). Checks of other tests in
    // this binary run beside this one, and their live namespaces are theirs, not leaks.
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let leaked: Vec<&str> = mi
        .lines()
        .filter(|l| l.contains("netns-node") || l.contains("netns-ctr"))
        .filter(|l| {
            let pid = l
                .split("/stockade-check-")
                .nth(1)
                .and_then(|rest| rest.split('-').next())
                .and_then(|p| p.parse::<u32>().ok());
            match pid {
                Some(pid) => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                None => true,
            }
        })
        .collect();
    assert!(leaked.is_empty(), "left behind: {leaked:#?}");
}

/// E45 inheritable-caps: stockade's default and the Docker-like profile (Docker today) leave
/// nothing beyond runc's default three in the inheritable and ambient sets; the privileged
/// profile fills the inheritable set as runc before 1.1.2 did (CVE-2022-29162). The n/a state
/// (no CapAmb line) is in crates/probe/tests/units.rs.
#[test]
fn inheritable_caps_blocked_by_default_exposed_when_privileged() {
    let Some(probe) = prerequisites("inheritable_caps_blocked_by_default_exposed_when_privileged")
    else {
        return;
    };
    let r = runs(
        &probe,
        &[
            "--runtime",
            "stockade,runc",
            "--profile",
            "default,docker,privileged",
            "--only",
            "inheritable-caps",
        ],
        &[],
    );
    let detail =
        |run: &serde_json::Value| run["results"][0]["detail"].as_str().unwrap().to_string();
    for run in &r[..4] {
        assert_eq!(
            outcome(run, "inheritable-caps"),
            ("blocked".into(), "capability".into()),
            "{} {}: {}",
            run["runtime"],
            run["profile"],
            detail(run)
        );
    }
    // stockade's own spec asks for runc's three in the ambient set: named, not counted
    assert!(
        detail(&r[0]).contains("only runc's default"),
        "{}",
        detail(&r[0])
    );
    for run in &r[4..] {
        assert_eq!(
            outcome(run, "inheritable-caps").0,
            "exposed",
            "{}",
            run["runtime"]
        );
        assert!(detail(run).contains("SYS_ADMIN"), "{}", detail(run));
    }
}

/// E46 devices-allow: stockade's default and the Docker-like profile cannot write devices.allow
/// (user namespace, read-only cgroupfs); the privileged profile can (its allow-list already
/// allows every device) and opens the stand-in disk. A config that keeps runc's restricted
/// allow-list but hands out CAP_SYS_ADMIN and a writable cgroupfs loses the allow-list to the
/// rewrite: escaped, and the allow-list is put back afterwards. n/a (cgroup v2 only) is in
/// crates/probe/tests/units.rs.
#[test]
fn devices_allow_rewrite_three_states() {
    let Some(probe) = prerequisites("devices_allow_rewrite_three_states") else {
        return;
    };
    let r = runs(
        &probe,
        &[
            "--profile",
            "default,docker,privileged",
            "--only",
            "devices-allow",
        ],
        &[],
    );
    let detail =
        |run: &serde_json::Value| run["results"][0]["detail"].as_str().unwrap().to_string();
    assert_eq!(
        outcome(&r[0], "devices-allow").0,
        "blocked",
        "{}",
        detail(&r[0])
    );
    assert_eq!(
        outcome(&r[1], "devices-allow"),
        ("blocked".into(), "read-only-mount".into()),
        "{}",
        detail(&r[1])
    );
    assert_eq!(
        outcome(&r[2], "devices-allow").0,
        "escaped",
        "{}",
        detail(&r[2])
    );
    // runc's own config with CAP_SYS_ADMIN, CAP_MKNOD and a writable cgroupfs
    let dir = std::env::temp_dir().join(format!("skd-devallow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new("runc")
        .arg("spec")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let p = dir.join("config.json");
    let mut c: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    for set in ["bounding", "effective", "permitted"] {
        let a = c["process"]["capabilities"][set].as_array_mut().unwrap();
        a.push("CAP_SYS_ADMIN".into());
        a.push("CAP_MKNOD".into());
    }
    for m in c["mounts"].as_array_mut().unwrap() {
        if m["type"] == "cgroup" {
            m["options"].as_array_mut().unwrap().retain(|o| o != "ro");
        }
    }
    std::fs::write(&p, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    let r = runs(
        &probe,
        &[
            "--runtime",
            "runc",
            "--profile",
            p.to_str().unwrap(),
            "--only",
            "devices-allow",
        ],
        &[],
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let d = detail(&r[0]);
    assert_eq!(outcome(&r[0], "devices-allow").0, "escaped", "{d}");
    assert!(
        !d.contains("already allowed") && !d.contains("restoring"),
        "{d}"
    );
    // a real rewrite (the list was restricted), and put back: the technique compares
    // devices.list after the restore with the list before and says so when they differ
}

/// Whether the read-write lxcfs technique can run here: the lxcfs binary (scripts/install-deps;
/// a failure under CI=true), /dev/fuse and a cgroup v1 devices controller (this host's kernel
/// and cgroup layout: a visible SKIP elsewhere).
fn lxcfs_host() -> bool {
    if !testkit::require(&["lxcfs"]) {
        return false;
    }
    if !std::path::Path::new("/dev/fuse").exists() {
        testkit::not_on_this_host("no /dev/fuse");
        return false;
    }
    let cg = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    if probe::techniques::devices_allow::devices_path(&cg).is_none() {
        testkit::not_on_this_host("no cgroup v1 devices controller");
        return false;
    }
    true
}

/// E48 lxcfs-rw. Exposed: the lxcfs profile (the Docker-like config plus a read-write bind of
/// the check's own lxcfs at /var/lib/lxcfs) writes `a` to its own devices.allow through lxcfs
/// past the read-only cgroupfs that stops E46 in the same run; under runc the stand-in disk is
/// then mknod'ed and read (escaped); stockade's hybrid-host second layer (the cgroup v2 device
/// program, docs/runtime.md) still refuses the open there, so it stays exposed: the write itself
/// went through. Blocked under stockade's default three ways: it never gets the mount (mount
/// namespace); a config binding /var/lib/lxcfs read-write is refused by the default policy gate
/// (SKD-ESC-021); and given a read-write bind anyway (of the check's instance, whose path the
/// gate does not know) its user namespace makes lxcfs refuse the open (the caller's host uid is
/// not root). The allow-list is put back in every run.
#[test]
fn lxcfs_rw_exposed_with_the_rw_mount_blocked_by_default() {
    let Some(probe) = prerequisites("lxcfs_rw_exposed_with_the_rw_mount_blocked_by_default") else {
        return;
    };
    if !lxcfs_host() {
        return;
    }
    let r = runs(
        &probe,
        &[
            "--runtime",
            "stockade,runc",
            "--profile",
            "default,lxcfs",
            "--only",
            "lxcfs-rw,devices-allow",
        ],
        &[],
    );
    for run in &r[..2] {
        let (res, layer, d) = result_of(run, "lxcfs-rw");
        assert_eq!(
            (res.as_str(), layer.as_str()),
            ("blocked", "mount-ns"),
            "{}: {d}",
            run["runtime"]
        );
        assert!(d.contains("no lxcfs mount in this container"), "{d}");
    }
    for run in &r[2..] {
        let (res, layer, _) = result_of(run, "devices-allow");
        assert_eq!(
            (res.as_str(), layer.as_str()),
            ("blocked", "read-only-mount")
        );
        let (res, _, d) = result_of(run, "lxcfs-rw");
        assert!(
            d.contains("devices.list became \"a *:* rwm\""),
            "{}: {d}",
            run["runtime"]
        );
        assert!(!d.contains("restoring"), "{d}");
        if run["runtime"] == "runc" {
            assert_eq!(res, "escaped", "{d}");
            assert!(d.contains("read 512 bytes"), "{d}");
        } else {
            assert!(res == "exposed" || res == "escaped", "{res}: {d}");
        }
    }
    // stockade's default with the same read-write bind (a config file from `stockade spec`)
    let dir = std::env::temp_dir().join(format!("skd-lxcfs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new(check_support::stockade())
        .arg("spec")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let p = dir.join("config.json");
    let mut c: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
        "destination": "/var/lib/lxcfs", "type": "bind", "source": "@lxcfs", "options": ["rbind", "rw"]
    }));
    std::fs::write(&p, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    let r = runs(
        &probe,
        &["--profile", p.to_str().unwrap(), "--only", "lxcfs-rw"],
        &[],
    );
    let (res, layer, d) = result_of(&r[0], "lxcfs-rw");
    assert_eq!((res.as_str(), layer.as_str()), ("blocked", "userns"), "{d}");
    assert!(
        d.contains("open devices.allow through lxcfs: EACCES"),
        "{d}"
    );
    // the same bind from where lxcfs lives on a host: stockade's default policy gate refuses the
    // config at create (SKD-ESC-021), so the container never gets the mount
    c["mounts"].as_array_mut().unwrap().last_mut().unwrap()["source"] = "/var/lib/lxcfs".into();
    std::fs::write(&p, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    let (code, stdout, stderr) = run(
        &probe,
        &[
            "--profile",
            p.to_str().unwrap(),
            "--only",
            "lxcfs-rw",
            "--json",
        ],
        &[],
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 1, "{stdout}{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let err = v["runs"][0]["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("violates the default") && err.contains("SKD-ESC-021"),
        "{err}"
    );
}

/// E48's n/a state, with the reason in `--json`: the check runs no lxcfs when the host has no
/// lxcfs binary (PATH without it) or no FUSE device (the check in a mount namespace of its own
/// whose /dev/fuse is an empty file), so the lxcfs profile has nothing to bind and the
/// technique says why. The cgroup-v2-only case is the probe's (E46's devices_path, units.rs).
#[test]
fn lxcfs_rw_not_applicable_without_lxcfs_or_fuse() {
    let Some(probe) = prerequisites("lxcfs_rw_not_applicable_without_lxcfs_or_fuse") else {
        return;
    };
    if !lxcfs_host() {
        return;
    }
    // PATH: every program of the test's PATH but lxcfs, as symlinks in a directory of our own
    let dir = std::env::temp_dir().join(format!("skd-nolxcfs-{}", std::process::id()));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for d in std::env::split_paths(&std::env::var_os("PATH").unwrap()) {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name();
            if name == "lxcfs" || bin.join(&name).exists() {
                continue;
            }
            let _ = std::os::unix::fs::symlink(e.path(), bin.join(&name));
        }
    }
    let args = [
        "--runtime",
        "runc",
        "--profile",
        "lxcfs",
        "--only",
        "lxcfs-rw",
    ];
    let r = runs(&probe, &args, &[("PATH", bin.to_str().unwrap())]);
    let (res, _, d) = result_of(&r[0], "lxcfs-rw");
    assert_eq!(res, "not-applicable", "{d}");
    assert!(d.contains("no lxcfs binary"), "{d}");
    // no FUSE device: /dev/fuse covered by an empty file in the check's own mount namespace
    let empty = dir.join("not-fuse");
    std::fs::write(&empty, "").unwrap();
    let out = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "mount --bind {} /dev/fuse && exec \"$0\" \"$@\"",
            empty.display()
        ))
        .arg(check_support::stockade())
        .arg("check")
        .args(args)
        .args(["--json", "--probe"])
        .arg(&probe)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let (res, _, d) = result_of(&v["runs"][0], "lxcfs-rw");
    assert_eq!(res, "not-applicable", "{d}");
    assert!(d.contains("/dev/fuse is not the FUSE device"), "{d}");
}

/// Whether a mount of device `dev` (`major:minor`) stands in any process's mount namespace.
fn mounted_anywhere(dev: &str) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.flatten().any(|p| {
        std::fs::read_to_string(p.path().join("mountinfo"))
            .is_ok_and(|t| t.lines().any(|l| l.split(' ').nth(2) == Some(dev)))
    })
}

/// The kernel's open FUSE connections (their ids), from a fusectl file system mounted in a
/// mount namespace of its own (the host need not have it mounted).
fn fuse_connections() -> Vec<String> {
    let out = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("mount -t fusectl fusectl /sys/fs/fuse/connections && ls /sys/fs/fuse/connections")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// The check's lxcfs instance leaves nothing behind: while the targets exist, a FUSE mount
/// served by a daemon of the check's (its /run private, so no /run/lxcfs appears on the host);
/// after they are dropped, no mount, no process, no FUSE connection.
#[test]
fn lxcfs_instance_is_torn_down() {
    let Some(probe) = prerequisites("lxcfs_instance_is_torn_down") else {
        return;
    };
    if !lxcfs_host() {
        return;
    }
    let run_lxcfs_before = std::path::Path::new("/run/lxcfs").exists();
    let fx = check::targets::Fixture::new(&probe, None).unwrap();
    let mnt = fx
        .lxcfs
        .clone()
        .unwrap_or_else(|| panic!("no lxcfs: {:?}", fx.no_lxcfs));
    let pid = fx.lxcfs_pid().unwrap();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    // the top mount at the mount point (under it: the check's private bind of the directory)
    let line = mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(mnt.to_str().unwrap()))
        .unwrap_or_else(|| panic!("{} not mounted", mnt.display()));
    assert!(line.contains(" - fuse.lxcfs lxcfs "), "{line}");
    // the FUSE connection's id is the minor of the mount's device
    let minor = line
        .split(' ')
        .nth(2)
        .unwrap()
        .split(':')
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        fuse_connections().contains(&minor),
        "connection {minor} not in {:?}",
        fuse_connections()
    );
    assert!(mnt.join("cgroup/devices/devices.list").exists());
    assert!(std::fs::read_link(format!("/proc/{pid}/exe"))
        .unwrap()
        .ends_with("lxcfs"));
    assert_eq!(
        std::path::Path::new("/run/lxcfs").exists(),
        run_lxcfs_before
    );
    drop(fx);
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(&format!(" {} ", mnt.display())),
        "still mounted"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "lxcfs {pid} still runs"
    );
    // Another test's lxcfs, started meanwhile, may be given the freed device minor: a connection
    // of that id is ours left behind only when no mount of any process holds it.
    assert!(
        !fuse_connections().contains(&minor) || mounted_anywhere(&format!("0:{minor}")),
        "FUSE connection {minor} still open"
    );
    assert_eq!(
        std::path::Path::new("/run/lxcfs").exists(),
        run_lxcfs_before
    );
}
