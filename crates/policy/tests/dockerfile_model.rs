//! The Dockerfile rules on hand-built models: policy needs no parser to evaluate a Dockerfile.

use policy::dockerfile::{evaluate, Args, Dockerfile, Flag, Heredoc, Instruction, Stage};

fn ins(keyword: &str, args: &str, field: &str) -> Instruction {
    Instruction {
        keyword: keyword.to_string(),
        args: Args::Shell(args.to_string()),
        field: field.to_string(),
        line: 1,
        end_line: 1,
        ..Instruction::default()
    }
}

fn stage(i: usize, base: &str, name: Option<&str>, body: Vec<Instruction>) -> Stage {
    Stage {
        from: ins("FROM", base, &format!("stages[{i}]")),
        base: base.to_string(),
        name: name.map(str::to_string),
        instructions: body,
        field: format!("stages[{i}]"),
    }
}

fn df(stages: Vec<Stage>) -> Dockerfile {
    Dockerfile {
        escape: '\\',
        stages,
        ..Dockerfile::default()
    }
}

fn ids(d: &Dockerfile) -> Vec<(String, String)> {
    evaluate(d)
        .into_iter()
        .map(|v| (v.rule.id.clone(), v.field))
        .collect()
}

#[test]
fn empty_dockerfile_has_nothing_to_evaluate() {
    assert!(evaluate(&Dockerfile::default()).is_empty());
}

#[test]
fn root_in_build_stage_user_in_final_stage_is_clean() {
    let d = df(vec![
        stage(
            0,
            "golang",
            Some("build"),
            vec![ins("USER", "root", "stages[0].instructions[0]")],
        ),
        stage(
            1,
            "alpine",
            None,
            vec![ins("USER", "nobody", "stages[1].instructions[0]")],
        ),
    ]);
    assert_eq!(ids(&d), vec![]);
}

#[test]
fn final_stage_without_user_names_its_from() {
    let d = df(vec![
        stage(
            0,
            "golang",
            Some("build"),
            vec![ins("USER", "app", "stages[0].instructions[0]")],
        ),
        stage(1, "alpine", None, vec![]),
    ]);
    assert_eq!(ids(&d), vec![("SKD-DKF-001".into(), "stages[1]".into())]);
}

#[test]
fn flags_and_heredocs_in_the_model() {
    let mut run = ins("RUN", "<<EOF", "stages[0].instructions[0]");
    run.flags.push(Flag {
        name: "network".into(),
        value: Some("host".into()),
    });
    run.heredocs.push(Heredoc {
        name: "EOF".into(),
        content: "setcap cap_net_admin+ep /bin/x\n".into(),
        expand: true,
        strip_tabs: false,
        line: 2,
    });
    let d = df(vec![stage(
        0,
        "alpine",
        None,
        vec![run, ins("USER", "1", "stages[0].instructions[1]")],
    )]);
    assert_eq!(
        ids(&d),
        vec![
            ("SKD-DKF-002".into(), "stages[0].instructions[0]".into()),
            (
                "SKD-DKF-003".into(),
                "stages[0].instructions[0].heredocs[0]".into()
            ),
        ]
    );
}

#[test]
fn the_dockerfile_rules_are_dockerfile_rules() {
    use policy::id;
    for id in [
        id::SKD_DKF_001,
        id::SKD_DKF_002,
        id::SKD_DKF_003,
        id::SKD_DKF_004,
        id::SKD_DKF_005,
        id::SKD_ESC_043,
    ] {
        let r = policy::rule(id);
        assert!(r.formats.contains(&policy::Format::Dockerfile), "{id}");
    }
    for id in [id::SKD_ESC_040, id::SKD_ESC_041, id::SKD_ESC_042] {
        assert!(
            policy::rule(id).formats.contains(&policy::Format::Oci),
            "{id}"
        );
    }
}
