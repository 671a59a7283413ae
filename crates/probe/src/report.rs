//! Output: an aligned table for people, JSON for programs, and the one-line wire format a
//! technique's child uses to hand its outcome to the parent.

use crate::outcome::{errno_name, Layer, Outcome};
use crate::state::ProcState;
use crate::ProbeResult;

fn esc_field(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
}

fn unesc_field(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Encode an outcome as one tab-separated line.
pub fn encode(o: &Outcome) -> String {
    match o {
        Outcome::Escaped { evidence } => format!("E\t{}", esc_field(evidence)),
        Outcome::Exposed { detail } => format!("X\t{}", esc_field(detail)),
        Outcome::Blocked {
            errno,
            layer,
            detail,
        } => format!(
            "B\t{}\t{}\t{}",
            errno.map(|e| e.to_string()).unwrap_or_else(|| "-".into()),
            layer.name(),
            esc_field(detail)
        ),
        Outcome::NotApplicable { reason } => format!("N\t{}", esc_field(reason)),
        Outcome::Inconclusive { detail } => format!("I\t{}", esc_field(detail)),
    }
}

/// Decode what [`encode`] produced.
pub fn decode(s: &str) -> Option<Outcome> {
    let s = s.strip_suffix('\n').unwrap_or(s);
    let mut f = s.splitn(4, '\t');
    let kind = f.next()?;
    Some(match kind {
        "E" => Outcome::escaped(unesc_field(f.next()?)),
        "X" => Outcome::exposed(unesc_field(f.next()?)),
        "N" => Outcome::na(unesc_field(f.next()?)),
        "I" => Outcome::inconclusive(unesc_field(f.next()?)),
        "B" => {
            let e = f.next()?;
            let errno = if e == "-" {
                None
            } else {
                Some(e.parse().ok()?)
            };
            let layer = Layer::from_name(f.next()?)?;
            Outcome::Blocked {
                errno,
                layer,
                detail: unesc_field(f.next()?),
            }
        }
        _ => return None,
    })
}

fn result_label(o: &Outcome) -> &'static str {
    match o {
        Outcome::Escaped { .. } => "ESCAPED",
        Outcome::Exposed { .. } => "exposed",
        Outcome::Blocked { .. } => "blocked",
        Outcome::NotApplicable { .. } => "n/a",
        Outcome::Inconclusive { .. } => "??",
    }
}

/// The aligned table.
pub fn table(results: &[ProbeResult], st: &ProcState) -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        "ID".into(),
        "E".into(),
        "RESULT".into(),
        "ERRNO".into(),
        "LAYER".into(),
        "DETAIL".into(),
    ]];
    for r in results {
        let (errno, layer) = match &r.outcome {
            Outcome::Blocked { errno, layer, .. } => (
                errno.map(errno_name).unwrap_or_else(|| "-".into()),
                layer.name().to_string(),
            ),
            _ => ("-".into(), "-".into()),
        };
        let detail: String = r.outcome.text().replace('\n', " ");
        rows.push([
            r.id.clone(),
            r.eid.clone(),
            result_label(&r.outcome).into(),
            errno,
            layer,
            detail,
        ]);
    }
    let mut w = [0usize; 5];
    for row in &rows {
        for (i, c) in row.iter().take(5).enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = format!(
        "stockade-probe: uid={} CapEff={:016x} Seccomp={} NoNewPrivs={} userns={}\n",
        st.uid,
        st.cap_eff,
        st.seccomp,
        u8::from(st.no_new_privs),
        st.in_user_ns
    );
    for row in &rows {
        let mut line = String::new();
        for (i, c) in row.iter().enumerate() {
            if i < 5 {
                line.push_str(c);
                for _ in c.chars().count()..w[i] + 2 {
                    line.push(' ');
                }
            } else {
                line.push_str(c);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let count = |k: &str| results.iter().filter(|r| r.outcome.kind() == k).count();
    out.push_str(&format!(
        "{} techniques: {} escaped, {} exposed, {} blocked, {} not applicable, {} inconclusive\n",
        results.len(),
        count("escaped"),
        count("exposed"),
        count("blocked"),
        count("not-applicable"),
        count("inconclusive")
    ));
    out
}

/// JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The JSON document: `{"probe":…, "context":{…}, "results":[{…}]}`.
pub fn json(results: &[ProbeResult], st: &ProcState) -> String {
    let mut o = String::from("{\"probe\":\"stockade-probe\",");
    o.push_str(&format!(
        "\"version\":{},\"context\":{{\"uid\":{},\"cap_eff\":{},\"caps\":[{}],\"seccomp\":{},\"no_new_privs\":{},\"user_namespace\":{}}},\"results\":[",
        json_str(env!("CARGO_PKG_VERSION")),
        st.uid,
        json_str(&format!("{:016x}", st.cap_eff)),
        st.cap_names().iter().map(|c| json_str(c)).collect::<Vec<_>>().join(","),
        st.seccomp,
        st.no_new_privs,
        st.in_user_ns
    ));
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        let (errno, code, layer) = match &r.outcome {
            Outcome::Blocked { errno, layer, .. } => (
                errno
                    .map(|e| json_str(&errno_name(e)))
                    .unwrap_or("null".into()),
                errno.map(|e| e.to_string()).unwrap_or("null".into()),
                json_str(layer.name()),
            ),
            _ => ("null".into(), "null".into(), "null".into()),
        };
        o.push_str(&format!(
            "{{\"id\":{},\"eid\":{},\"title\":{},\"result\":{},\"errno\":{},\"errno_code\":{},\"layer\":{},\"detail\":{}}}",
            json_str(&r.id),
            json_str(&r.eid),
            json_str(&r.title),
            json_str(r.outcome.kind()),
            errno,
            code,
            layer,
            json_str(r.outcome.text())
        ));
    }
    o.push_str("]}\n");
    o
}
