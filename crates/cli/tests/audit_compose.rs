//! `stockade audit` reads compose files the way `docker compose config` does: `${VAR}`
//! interpolation from the environment and the `.env` beside the file (the environment wins),
//! and `include:` of other compose files, relative to the including file. An unset variable
//! where it decides a security setting, a `${VAR:?err}` without a value, a missing included file
//! and an include loop are input errors (exit 2) that name the field or file, never a pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Run `stockade audit -f json FILE` with exactly these environment variables added (and none
/// of the test's own that a compose file here could name).
fn audit(file: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stockade"));
    c.args(["audit", "-f", "json"])
        .arg(file)
        .stdin(Stdio::null())
        .env_remove("STOCKADE_T_PRIV")
        .env_remove("STOCKADE_T_SOCK")
        .env_remove("STOCKADE_T_USER");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run stockade")
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

/// (rule id, file, field, message) of every finding.
fn findings(o: &Output) -> Vec<(String, String, String, String)> {
    json(o)["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
            (s("rule_id"), s("file"), s("field"), s("message"))
        })
        .collect()
}

fn has(f: &[(String, String, String, String)], rule: &str) -> bool {
    f.iter().any(|x| x.0 == rule)
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!(
            "stockade-audit-compose-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const SERVICE: &str = "services:
  web:
    image: nginx:${STOCKADE_T_TAG}
    privileged: ${STOCKADE_T_PRIV}
    user: \"1000\"
    security_opt: [no-new-privileges:true]
    volumes:
      - ${STOCKADE_T_SOCK:-/var/run/docker.sock}:/var/run/docker.sock
      - $${STOCKADE_T_PRIV}:/literal
";

#[test]
fn interpolation_reads_the_environment_and_dotenv() {
    let d = Scratch::new("interp");
    let file = d.write("compose.yaml", SERVICE);
    // From .env: privileged, and the socket from the default.
    d.write(".env", "# settings\nSTOCKADE_T_PRIV=true\n");
    let o = audit(&file, &[]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let f = findings(&o);
    assert!(has(&f, "SKD-ESC-001"), "privileged from .env: {f:?}");
    assert!(has(&f, "SKD-ESC-020"), "the socket from the default: {f:?}");
    // The unset image tag decides nothing: no error for it.
    assert!(!has(&f, "SKD-INPUT-001"), "{f:?}");
    // The environment wins over .env (as in docker compose), and a set variable replaces the
    // default.
    let o = audit(
        &file,
        &[
            ("STOCKADE_T_PRIV", "false"),
            ("STOCKADE_T_SOCK", "/srv/data"),
        ],
    );
    let f = findings(&o);
    assert!(!has(&f, "SKD-ESC-001"), "{f:?}");
    assert!(!has(&f, "SKD-ESC-020"), "{f:?}");
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    // `$$` is a literal dollar: `${STOCKADE_T_PRIV}` there is a named volume, not a variable.
    assert!(!f.iter().any(|x| x.2.contains("volumes[1]")), "{f:?}");
}

#[test]
fn an_unset_variable_in_a_security_field_is_an_error_not_empty() {
    let d = Scratch::new("unset");
    let file = d.write("compose.yaml", SERVICE);
    let o = audit(&file, &[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let f = findings(&o);
    let e = f
        .iter()
        .find(|x| x.0 == "SKD-INPUT-001" && x.3.contains("${STOCKADE_T_PRIV}"))
        .unwrap_or_else(|| panic!("an error naming the variable: {f:?}"));
    assert_eq!(e.2, "services.web.privileged", "{e:?}");
    // `${VAR:?message}` without a value: docker compose refuses the file, and so do we.
    let file = d.write(
        "required.yaml",
        "services:\n  web:\n    image: x\n    user: ${STOCKADE_T_USER:?set the uid}\n",
    );
    let o = audit(&file, &[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let f = findings(&o);
    assert!(
        f.iter().any(|x| x.0 == "SKD-INPUT-001"
            && x.3.contains("required variable STOCKADE_T_USER")
            && x.3.contains("set the uid")),
        "{f:?}"
    );
    let o = audit(&file, &[("STOCKADE_T_USER", "1000")]);
    assert!(!has(&findings(&o), "SKD-INPUT-001"), "{o:?}");
}

#[test]
fn include_reads_the_included_files_relative_to_the_includer() {
    let d = Scratch::new("include");
    // An include-only file (no `services`): recognised as compose, not skipped.
    let main = d.write("compose.yaml", "include:\n  - sub/more.yaml\n");
    d.write(
        "sub/more.yaml",
        "services:\n  agent:\n    image: x\n    privileged: ${STOCKADE_T_PRIV}\n    volumes: [\"./data:/data\", \"/var/run/docker.sock:/s\"]\n",
    );
    // The included file's own .env (its project directory) gives its variables.
    d.write("sub/.env", "STOCKADE_T_PRIV=yes\n");
    let o = audit(&main, &[]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let f = findings(&o);
    let more = d.0.join("sub/more.yaml").to_string_lossy().into_owned();
    let privileged: Vec<_> = f.iter().filter(|x| x.0 == "SKD-ESC-001").collect();
    assert_eq!(privileged.len(), 1, "{f:?}");
    assert_eq!(privileged[0].1, more, "the finding names the included file");
    assert!(
        f.iter().any(|x| x.0 == "SKD-ESC-020" && x.1 == more),
        "{f:?}"
    );
    assert_eq!(json(&o)["summary"]["not_manifests"], 0);
}

#[test]
fn a_missing_included_file_and_an_include_loop_are_errors_naming_the_file() {
    let d = Scratch::new("include-bad");
    let missing = d.write("compose.yaml", "include:\n  - path: nope.yaml\n");
    let o = audit(&missing, &[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let f = findings(&o);
    assert!(
        f.iter()
            .any(|x| x.0 == "SKD-INPUT-001" && x.2 == "include[0]" && x.3.contains("nope.yaml")),
        "{f:?}"
    );
    let a = d.write(
        "a.yaml",
        "include: [b.yaml]\nservices:\n  a:\n    image: x\n    privileged: true\n",
    );
    d.write(
        "b.yaml",
        "include: [a.yaml]\nservices:\n  b:\n    image: x\n",
    );
    let o = audit(&a, &[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let f = findings(&o);
    let lp = f
        .iter()
        .find(|x| x.3.contains("include loop"))
        .unwrap_or_else(|| panic!("an include loop error: {f:?}"));
    assert!(
        lp.3.contains("a.yaml -> ") && lp.3.contains("b.yaml -> "),
        "{lp:?}"
    );
    // The files are still audited.
    assert!(has(&f, "SKD-ESC-001"), "{f:?}");
}
