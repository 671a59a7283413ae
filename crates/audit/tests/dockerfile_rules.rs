//! Dockerfile reader and rules: every rule both ways, and the lexing edge cases that decide
//! whether a rule sees the command at all (continuations, heredocs, ARG substitution, stages).

use audit::source::{FileReport, Subject};
use policy::dockerfile::{Args, Dockerfile};

fn report(text: &str) -> FileReport {
    audit::dockerfile::read("Dockerfile", text)
}

fn model(r: &FileReport) -> &Dockerfile {
    match &r.items[0].subject {
        Subject::Dockerfile(d) => d,
        other => panic!("not a Dockerfile subject: {other:?}"),
    }
}

/// (rule id, line) of every violation, in order.
fn findings(text: &str) -> Vec<(String, u32)> {
    let r = report(text);
    assert!(
        r.problems.is_empty(),
        "unexpected problems: {:?}",
        r.problems
    );
    let item = &r.items[0];
    policy::dockerfile::evaluate(model(&r))
        .into_iter()
        .map(|v| {
            let line = item
                .lines
                .position(&v.field)
                .unwrap_or_else(|| panic!("no line for {}", v.field))
                .0;
            (v.rule.id.clone(), line)
        })
        .collect()
}

fn ids(text: &str) -> Vec<String> {
    findings(text).into_iter().map(|(id, _)| id).collect()
}

fn has(text: &str, id: &str) -> bool {
    ids(text).iter().any(|i| i == id)
}

const OK_TAIL: &str = "\nUSER 10001\n";

fn data(name: &str) -> String {
    let p = format!(
        "{}/tests/data/dockerfile/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

#[test]
fn clean_file_has_no_findings() {
    assert_eq!(findings(&data("clean.Dockerfile")), vec![]);
}

#[test]
fn bad_file_reports_every_rule_on_its_line() {
    let got = findings(&data("bad.Dockerfile"));
    let want: Vec<(String, u32)> = [
        ("SKD-DKF-002", 2),
        ("SKD-DKF-002", 3),
        ("SKD-DKF-005", 3),
        ("SKD-DKF-002", 4),
        ("SKD-DKF-003", 5),
        ("SKD-DKF-003", 6),
        ("SKD-DKF-004", 7),
        ("SKD-DKF-004", 8),
        ("SKD-ESC-043", 9),
        ("SKD-DKF-001", 10),
    ]
    .iter()
    .map(|(i, l)| (i.to_string(), *l))
    .collect();
    assert_eq!(got, want);
}

// SKD-DKF-001 ------------------------------------------------------------------------------------

#[test]
fn dkf001_no_user_or_root_user() {
    assert_eq!(
        findings("FROM alpine\nRUN true\n"),
        vec![("SKD-DKF-001".into(), 1)]
    );
    assert_eq!(
        findings("FROM alpine\nUSER root\n"),
        vec![("SKD-DKF-001".into(), 2)]
    );
    assert!(has("FROM alpine\nUSER 0:0\n", "SKD-DKF-001"));
    assert!(has("FROM alpine\nUSER root:app\n", "SKD-DKF-001"));
    assert!(has("FROM alpine\nUSER app\nUSER 0\n", "SKD-DKF-001"));
    assert!(!has("FROM alpine\nUSER app\n", "SKD-DKF-001"));
    assert!(!has(
        "FROM alpine\nUSER 0\nRUN x\nUSER 1000:1000\n",
        "SKD-DKF-001"
    ));
}

#[test]
fn dkf001_multi_stage_only_final_counts() {
    let df =
        "FROM golang AS build\nRUN go build\nFROM alpine\nCOPY --from=build /a /a\nUSER 65532\n";
    assert_eq!(findings(df), vec![]);
    let df = "FROM golang AS build\nUSER app\nFROM alpine\nCOPY --from=build /a /a\n";
    assert_eq!(findings(df), vec![("SKD-DKF-001".into(), 3)]);
}

#[test]
fn dkf001_user_inherited_from_an_earlier_stage() {
    let df = "FROM alpine AS base\nUSER app\nFROM base\nRUN true\n";
    assert_eq!(findings(df), vec![]);
    // Stage names are case-insensitive, and stages can be referred to by index.
    assert_eq!(
        findings("FROM alpine AS Base\nUSER app\nFROM BASE\n"),
        vec![]
    );
    assert_eq!(findings("FROM alpine\nUSER app\nFROM 0\n"), vec![]);
    let df = "FROM alpine AS base\nUSER root\nFROM base\n";
    assert_eq!(findings(df), vec![("SKD-DKF-001".into(), 2)]);
}

#[test]
fn dkf001_arg_substitution() {
    assert!(!has("FROM a\nARG UID=1000\nUSER $UID\n", "SKD-DKF-001"));
    assert!(!has("FROM a\nARG UID=1000\nUSER ${UID}\n", "SKD-DKF-001"));
    assert!(has("FROM a\nARG UID\nUSER ${UID:-0}\n", "SKD-DKF-001"));
    assert!(!has("FROM a\nARG UID=7\nUSER ${UID:-0}\n", "SKD-DKF-001"));
    assert!(has("FROM a\nARG UID=7\nUSER ${UID:+root}\n", "SKD-DKF-001"));
    assert!(has("FROM a\nARG NAME=root\nUSER $NAME\n", "SKD-DKF-001"));
    assert!(!has("FROM a\nENV NAME=app\nUSER $NAME\n", "SKD-DKF-001"));
    // A global ARG is visible inside a stage only when the stage re-declares it.
    assert!(!has("ARG U=app\nFROM a\nARG U\nUSER $U\n", "SKD-DKF-001"));
    assert!(has("ARG U=app\nFROM a\nUSER ${U:-root}\n", "SKD-DKF-001"));
    // Unset and empty: an empty USER is root.
    assert!(has("FROM a\nUSER $NOPE\n", "SKD-DKF-001"));
    // Escaped dollar is literal.
    assert!(!has("FROM a\nARG U=0\nUSER \\$U\n", "SKD-DKF-001"));
}

#[test]
fn global_args_in_from_resolve_stage_references() {
    let df = "ARG BASE=builder\nFROM alpine AS builder\nUSER app\nFROM ${BASE}\n";
    assert_eq!(findings(df), vec![]);
}

// SKD-DKF-002 ------------------------------------------------------------------------------------

#[test]
fn dkf002_insecure_entitlements() {
    let t = |s: &str| has(&format!("FROM a\n{s}{OK_TAIL}"), "SKD-DKF-002");
    assert!(t("RUN --security=insecure make"));
    assert!(t("RUN --network=host make"));
    assert!(t(
        "RUN --mount=type=bind,source=/var/run/docker.sock,target=/s docker ps"
    ));
    assert!(t(
        "RUN --mount=source=/run/docker.sock,target=/run/docker.sock docker ps"
    ));
    assert!(t(
        "RUN --mount=type=bind,src=/run/containerd/containerd.sock,dst=/c ctr ps"
    ));
    assert!(t(
        "RUN --network=none --mount=type=bind,target=/var/run/docker.sock x"
    ));
    assert!(!t("RUN --security=sandbox make"));
    assert!(!t("RUN --network=none make"));
    assert!(!t("RUN --mount=type=cache,target=/root/.cache make"));
    assert!(!t("RUN --mount=type=bind,source=.,target=/src make"));
    assert!(!t(
        "RUN --mount=type=secret,id=npm,target=/run/secrets/npm npm ci"
    ));
    assert!(!t("RUN echo --security=insecure"));
}

// SKD-DKF-003 ------------------------------------------------------------------------------------

#[test]
fn dkf003_setuid_setgid_setcap() {
    let t = |s: &str| has(&format!("FROM a\n{s}{OK_TAIL}"), "SKD-DKF-003");
    for yes in [
        "RUN chmod u+s /bin/x",
        "RUN chmod g+s /bin/x",
        "RUN chmod 4755 /bin/x",
        "RUN chmod 2755 /bin/x",
        "RUN chmod 6755 /bin/x",
        "RUN chmod -R ug+s /opt/bin",
        "RUN apt-get update && chmod +s /bin/x && rm -rf /var/lib/apt",
        "RUN true; chmod 04755 /bin/x",
        "RUN setcap cap_net_bind_service=+ep /app",
        "RUN /sbin/setcap 'cap_net_raw+ep' /bin/ping",
        "RUN sudo chmod u+s /bin/x",
        "RUN find / -name x -exec chmod u+s {} \\;",
        "RUN install -m 4755 x /usr/bin/x",
        r#"RUN ["chmod", "u+s", "/bin/x"]"#,
        r#"RUN ["/bin/sh", "-c", "chmod u+s /bin/x"]"#,
        r#"RUN sh -c "chmod 4755 /bin/x""#,
        "RUN echo hi \\\n && chmod \\\n  u+s /bin/x",
    ] {
        assert!(t(yes), "{yes}");
    }
    for no in [
        "RUN chmod 755 /bin/x",
        "RUN chmod u-s /bin/x",
        "RUN chmod a+rX /srv",
        "RUN chmod 1777 /tmp",
        "RUN setcap -r /bin/ping",
        "RUN echo 'chmod u+s is bad'",
        "RUN echo chmod",
    ] {
        assert!(!t(no), "{no}");
    }
}

// SKD-DKF-004 ------------------------------------------------------------------------------------

#[test]
fn dkf004_add_from_url() {
    let t = |s: &str| has(&format!("FROM a\n{s}{OK_TAIL}"), "SKD-DKF-004");
    assert!(t("ADD https://example.com/x.tgz /x.tgz"));
    assert!(t("ADD http://example.com/x /x"));
    assert!(t("ADD HTTPS://EXAMPLE.COM/x /x"));
    assert!(t("ADD --chown=1:1 https://example.com/x /x"));
    assert!(t("ADD https://github.com/moby/buildkit.git#v0.12 /src"));
    assert!(t("ADD git@github.com:moby/buildkit.git /src"));
    assert!(t(r#"ADD ["https://example.com/x", "/x"]"#));
    assert!(t("ARG URL=https://example.com/x\nADD ${URL} /x"));
    assert!(!t("ADD --checksum=sha256:0123 https://example.com/x /x"));
    assert!(!t("ADD x.tgz /opt/"));
    assert!(!t("COPY https://example.com/x /x"));
    assert!(!t("ADD <<EOF /etc/motd\nhttps://example.com\nEOF"));
}

// SKD-DKF-005 ------------------------------------------------------------------------------------

#[test]
fn dkf005_pipe_to_shell() {
    let t = |s: &str| has(&format!("FROM a\n{s}{OK_TAIL}"), "SKD-DKF-005");
    for yes in [
        "RUN curl -fsSL https://get.example.sh | sh",
        "RUN curl -fsSL https://get.example.sh | bash -s -- --yes",
        "RUN wget -qO- https://x | /bin/bash",
        "RUN curl -s https://x | sudo -E bash -",
        "RUN set -e; curl -s https://x | tee /tmp/x | sh",
        "RUN apt-get update && curl https://x | sh && rm -rf /x",
        r#"RUN bash -c "$(curl -fsSL https://x)""#,
        r#"RUN sh -c "$(wget -qO- https://x)""#,
        "RUN bash <(curl -s https://x)",
        r#"RUN eval "$(curl -s https://x)""#,
        r#"RUN ["/bin/sh", "-c", "curl https://x | sh"]"#,
        "RUN curl https://x \\\n  | sh",
        "RUN /usr/bin/curl https://x |& bash",
    ] {
        assert!(t(yes), "{yes}");
    }
    for no in [
        "RUN curl -o /tmp/x https://x && sha256sum -c x.sha && sh /tmp/x",
        "RUN curl https://x || sh -c 'echo failed'",
        "RUN curl https://x | tar xz",
        "RUN echo 'curl https://x | sh'",
        "RUN cat script | sh",
        "RUN bash -c 'echo $(date)'",
    ] {
        assert!(!t(no), "{no}");
    }
}

// SKD-ESC-043 ------------------------------------------------------------------------------------

#[test]
fn esc043_workdir_through_fd() {
    let t = |s: &str| has(&format!("FROM a\n{s}{OK_TAIL}"), "SKD-ESC-043");
    assert!(t("WORKDIR /proc/self/fd/7"));
    assert!(t("WORKDIR /proc/self/fd/8/../../../"));
    assert!(t("WORKDIR /proc/1/cwd"));
    assert!(t("WORKDIR /proc/thread-self/fd/5"));
    assert!(t("WORKDIR /proc\nWORKDIR self/fd/7"));
    assert!(t("ARG FD=7\nWORKDIR /proc/self/fd/${FD}"));
    assert!(t("WORKDIR //proc//self/./fd/7"));
    assert!(!t("WORKDIR /app"));
    assert!(!t("WORKDIR /proc/self"));
    assert!(!t("WORKDIR /srv/proc/self/fd/7"));
    // In a build stage too: the CVE was exploitable at build time.
    assert!(has(
        "FROM a AS b\nWORKDIR /proc/self/fd/7\nFROM a\nUSER 1\n",
        "SKD-ESC-043"
    ));
}

// Lexing -----------------------------------------------------------------------------------------

#[test]
fn heredoc_scripts_are_checked_line_by_line() {
    let df = "FROM a\nRUN <<EOF\nset -e\napk add curl\nchmod u+s /bin/x\ncurl -s https://x | sh\nEOF\nUSER 1\n";
    assert_eq!(
        findings(df),
        vec![("SKD-DKF-003".into(), 3), ("SKD-DKF-005".into(), 3)]
    );
    let r = report(df);
    let ins = &model(&r).stages[0].instructions[0];
    assert_eq!(ins.heredocs.len(), 1);
    assert_eq!(ins.heredocs[0].name, "EOF");
    assert_eq!(ins.heredocs[0].line, 3);
    assert_eq!(ins.end_line, 7);
    assert_eq!(
        ins.heredocs[0].content,
        "set -e\napk add curl\nchmod u+s /bin/x\ncurl -s https://x | sh\n"
    );
    // The USER after the heredoc is an instruction, not body text.
    assert_eq!(model(&r).stages[0].instructions[1].keyword, "USER");
}

#[test]
fn heredoc_variants() {
    // <<- strips leading tabs, also before the delimiter.
    let df = "FROM a\nRUN <<-EOT\n\tchmod 4755 /x\n\tEOT\nUSER 1\n";
    assert_eq!(findings(df), vec![("SKD-DKF-003".into(), 3)]);
    // Quoted delimiter: no expansion, still a script.
    let df = "FROM a\nRUN <<'EOF'\nsetcap cap_sys_admin+ep /x\nEOF\nUSER 1\n";
    assert!(has(df, "SKD-DKF-003"));
    let r = report(df);
    assert!(!model(&r).stages[0].instructions[0].heredocs[0].expand);
    // A shell reading the heredoc.
    assert!(has(
        "FROM a\nRUN bash -e <<EOF\nchmod u+s /x\nEOF\nUSER 1\n",
        "SKD-DKF-003"
    ));
    // Several heredocs on one line, bodies in order.
    let df = "FROM a\nRUN <<A <<B\necho a\nA\nchmod g+s /y\nB\nUSER 1\n";
    let r = report(df);
    let ins = &model(&r).stages[0].instructions[0];
    assert_eq!(ins.heredocs.len(), 2);
    assert_eq!(ins.heredocs[1].content, "chmod g+s /y\n");
    assert_eq!(findings(df), vec![("SKD-DKF-003".into(), 5)]);
    // A heredoc written to a file is data, not a script.
    assert!(!has(
        "FROM a\nRUN cat <<EOF > /x.sh\nchmod u+s /x\nEOF\nUSER 1\n",
        "SKD-DKF-003"
    ));
    // COPY heredoc body never becomes instructions.
    let df = "FROM a\nCOPY <<EOF /etc/x\nUSER root\nEOF\nUSER 1\n";
    assert_eq!(findings(df), vec![]);
    // "<<EOF" in quotes is not a heredoc.
    let r = report("FROM a\nRUN echo \"<<EOF\"\nUSER 1\n");
    assert!(model(&r).stages[0].instructions[0].heredocs.is_empty());
}

#[test]
fn unterminated_heredoc_is_a_problem() {
    let r = report("FROM a\nRUN <<EOF\nchmod u+s /x\n");
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].rule_id, "SKD-INPUT-001");
    assert_eq!(r.problems[0].line, Some(2));
}

#[test]
fn continuations_comments_and_escape_directive() {
    let df = "FROM a\nRUN apt-get update \\\n\n    # comment inside\n    && chmod \\\n   u+s /x\nUSER 1\n";
    assert_eq!(findings(df), vec![("SKD-DKF-003".into(), 2)]);
    let r = report(df);
    assert_eq!(model(&r).stages[0].instructions.len(), 2);
    // Backtick escape: backslash is then an ordinary character (Windows paths).
    let df = "# escape=`\nFROM a\nRUN echo C:\\ `\n  && chmod u+s /x\nUSER 1\n";
    assert_eq!(findings(df), vec![("SKD-DKF-003".into(), 3)]);
    let r = report(df);
    assert_eq!(model(&r).escape, '`');
    // A directive after a comment is only a comment.
    let r = report("# hello\n# escape=`\nFROM a\n");
    assert_eq!(model(&r).escape, '\\');
    // Whitespace after the escape character still continues the line.
    assert!(has(
        "FROM a\nRUN true \\   \n && chmod 4755 /x\nUSER 1\n",
        "SKD-DKF-003"
    ));
}

#[test]
fn exec_and_shell_forms() {
    let r = report("FROM a\nRUN [\"echo\", \"hi\"]\nRUN [not json\nCMD echo\nUSER 1\n");
    let ins = &model(&r).stages[0].instructions;
    assert_eq!(ins[0].args, Args::Exec(vec!["echo".into(), "hi".into()]));
    assert_eq!(ins[1].args, Args::Shell("[not json".into()));
    assert_eq!(ins[2].args, Args::Shell("echo".into()));
}

#[test]
fn stages_and_field_paths() {
    let df = "ARG V=1\nFROM a:${V} AS One\nRUN x\n\nFROM one\nrun y\nuser 2\n";
    let r = report(df);
    let m = model(&r);
    assert_eq!(m.global_args.len(), 1);
    assert_eq!(m.global_args[0].field, "globalArgs[0]");
    assert_eq!(m.stages.len(), 2);
    assert_eq!(m.stages[0].name.as_deref(), Some("one"));
    assert_eq!(m.stages[1].base, "one");
    assert_eq!(m.stages[1].instructions[1].keyword, "USER");
    assert_eq!(
        m.stages[1].instructions[1].field,
        "stages[1].instructions[1]"
    );
    let l = &r.items[0].lines;
    assert_eq!(l.position("globalArgs[0]"), Some((1, 1)));
    assert_eq!(l.position("stages[0]"), Some((2, 1)));
    assert_eq!(l.position("stages[1].instructions[1]"), Some((7, 1)));
}

#[test]
fn bad_input_is_reported_not_skipped() {
    let r = report("");
    assert_eq!(r.problems.len(), 1);
    let r = report("RUN echo\nFROM a\n");
    assert!(r.problems.iter().any(|p| p.line == Some(1)));
    let r = report("FROM a\nFOO bar\n");
    assert!(r.problems.iter().any(|p| p.message.contains("FOO")));
    assert!(r.problems.iter().all(|p| p.rule_id == "SKD-INPUT-001"));
}

#[test]
fn suppression_comments() {
    let r = report(
        "# stockade:ignore SKD-DKF-001: distroless runs as nonroot\nFROM a\n# stockade:ignore skd-dkf-003,SKD-DKF-005: vendor installer\nRUN x\n",
    );
    let s = &r.items[0].suppressions;
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].rule_ids, vec!["SKD-DKF-001"]);
    assert_eq!(s[0].reason, "distroless runs as nonroot");
    assert_eq!(s[1].rule_ids, vec!["SKD-DKF-003", "SKD-DKF-005"]);
}

#[test]
fn crlf_and_bom() {
    let df = "\u{feff}FROM a\r\nRUN chmod u+s /x \\\r\n && true\r\nUSER 1\r\n";
    assert_eq!(findings(df), vec![("SKD-DKF-003".into(), 2)]);
}

// BuildKit parity ---------------------------------------------------------------------------------

#[test]
fn flags_are_unquoted_like_buildkit() {
    let t = |s: &str| has(&format!("FROM a\n{s}{OK_TAIL}"), "SKD-DKF-002");
    assert!(t("RUN --security=\"insecure\" make"));
    assert!(t("RUN --network='host' make"));
    assert!(t(
        "RUN --mount=type=bind,\"source=/var/run/docker.sock\",target=/s x"
    ));
    assert!(t(
        "RUN --mount=\"type=bind,source=/run/docker.sock,target=/s\" x"
    ));
    // `--` ends the flags: what follows is the command.
    assert!(!t("RUN -- --security=insecure"));
}

#[test]
fn escaped_escape_does_not_continue() {
    // `\\` at the end is an escaped backslash (BuildKit's continuation regex), so the next line
    // is an instruction of its own.
    let r = report("FROM a\nRUN echo \\\\\nUSER 1\n");
    let m = model(&r);
    assert_eq!(m.stages[0].instructions.len(), 2);
    assert_eq!(m.stages[0].instructions[1].keyword, "USER");
}

#[test]
fn onbuild_heredoc_body_is_not_instructions() {
    let r = report("FROM a\nONBUILD RUN <<EOF\nUSER root\nEOF\nUSER 1\n");
    let m = model(&r);
    assert_eq!(
        m.stages[0].instructions.len(),
        2,
        "{:?}",
        m.stages[0].instructions
    );
    assert_eq!(
        findings("FROM a\nONBUILD RUN <<EOF\nUSER root\nEOF\nUSER 1\n"),
        vec![]
    );
}

#[test]
fn directive_after_leading_blanks_and_heredoc_quotes() {
    let r = report("  # escape=`\nFROM a\n");
    assert_eq!(model(&r).escape, '`');
    // A partly quoted delimiter: no expansion, delimiter without quotes.
    let r = report("FROM a\nRUN <<E\"O\"F\nx\nEOF\nUSER 1\n");
    let h = &model(&r).stages[0].instructions[0].heredocs[0];
    assert_eq!(h.name, "EOF");
    assert!(!h.expand);
    // The delimiter line may end in \r\n.
    let r = report("FROM a\nRUN <<EOF\r\nchmod u+s /x\r\nEOF\r\nUSER 1\r\n");
    assert!(r.problems.is_empty());
    assert_eq!(model(&r).stages[0].instructions.len(), 2);
}

#[test]
fn one_finding_per_rule_and_instruction() {
    assert_eq!(
        findings("FROM a\nRUN bash -c \"$(curl -fsSL https://x)\" && chmod u+s /a && chmod g+s /b\nUSER 1\n"),
        vec![("SKD-DKF-005".into(), 2), ("SKD-DKF-003".into(), 2)]
    );
}

#[test]
fn scripts_behind_other_commands() {
    let t = |s: &str, id: &str| has(&format!("FROM a\n{s}{OK_TAIL}"), id);
    assert!(t("RUN echo \"$(curl -s https://x)\" | sh", "SKD-DKF-005"));
    assert!(t("RUN cat <(wget -qO- https://x) | bash", "SKD-DKF-005"));
    assert!(t("RUN su root -c 'chmod u+s /bin/x'", "SKD-DKF-003"));
    assert!(t(
        "RUN find /opt -type f -exec sh -c 'setcap cap_net_raw+ep \"$1\"' _ {} \\;",
        "SKD-DKF-003"
    ));
    assert!(t(
        "RUN busybox sh -c 'curl -s https://x | sh'",
        "SKD-DKF-005"
    ));
    assert!(!t("RUN gcc -c main.c", "SKD-DKF-003"));
    assert!(!t("RUN echo \"$(date)\" | sh", "SKD-DKF-005"));
}
