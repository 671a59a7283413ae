//! Step 5: the comparison matrix (rows = techniques, columns = runtime × profile) and JSON.

use probe::report::json_str;
use probe::{errno_name, Outcome, ProbeResult};

/// One runtime × profile run: its results, or why it produced none.
#[derive(Debug, Clone)]
pub struct Column {
    pub label: String,
    pub runtime: String,
    pub profile: String,
    pub result: Result<Vec<ProbeResult>, String>,
}

impl Column {
    pub fn outcome(&self, id: &str) -> Option<&Outcome> {
        self.result
            .as_ref()
            .ok()?
            .iter()
            .find(|r| r.id == id)
            .map(|r| &r.outcome)
    }

    /// Number of results of kind `kind` (`escaped`, `exposed`, …).
    pub fn count(&self, kind: &str) -> usize {
        self.result
            .as_ref()
            .map(|rs| rs.iter().filter(|r| r.outcome.kind() == kind).count())
            .unwrap_or(0)
    }
}

/// `--fail-on`: the least a run may let through before `stockade check` exits non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// A technique crossed the boundary.
    Escaped,
    /// A technique crossed the boundary or reached a dangerous primitive.
    Exposed,
}

impl FailOn {
    pub fn parse(s: &str) -> Option<FailOn> {
        match s {
            "escaped" => Some(FailOn::Escaped),
            "exposed" => Some(FailOn::Exposed),
            _ => None,
        }
    }

    /// Does a result of this kind fail the check? An inconclusive result always does (it does
    /// not show that the technique was stopped: fail closed).
    pub fn fails(self, kind: &str) -> bool {
        match kind {
            "escaped" | "inconclusive" => true,
            "exposed" => self == FailOn::Exposed,
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Matrix {
    pub columns: Vec<Column>,
    /// Targets that could not be set up (the techniques that need them are n/a), for stderr.
    pub notes: Vec<String>,
}

/// A matrix cell: `ESCAPED`, `exposed`, `blocked(layer)`, `n/a`, `??` (inconclusive).
pub fn cell(o: Option<&Outcome>) -> String {
    match o {
        None => "-".into(),
        Some(Outcome::Escaped { .. }) => "ESCAPED".into(),
        Some(Outcome::Exposed { .. }) => "exposed".into(),
        Some(Outcome::Blocked { layer, .. }) => format!("blocked({layer})"),
        Some(Outcome::NotApplicable { .. }) => "n/a".into(),
        Some(Outcome::Inconclusive { .. }) => "??".into(),
    }
}

const KINDS: [(&str, &str); 5] = [
    ("escaped", "escaped"),
    ("exposed", "exposed"),
    ("blocked", "blocked"),
    ("not-applicable", "n/a"),
    ("inconclusive", "inconclusive"),
];

impl Matrix {
    /// Technique rows in battery order: (id, eid).
    pub fn rows(&self) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = Vec::new();
        for c in &self.columns {
            if let Ok(rs) = &c.result {
                for r in rs {
                    if !rows.iter().any(|(id, _)| *id == r.id) {
                        rows.push((r.id.clone(), r.eid.clone()));
                    }
                }
            }
        }
        rows
    }

    /// What each run let through at `level`: (column label, technique id, result kind), in
    /// column then battery order. Columns that did not run are not here ([`Matrix::all_ran`]).
    pub fn let_through(&self, level: FailOn) -> Vec<(String, String, String)> {
        let mut v = Vec::new();
        for c in &self.columns {
            if let Ok(rs) = &c.result {
                for r in rs.iter().filter(|r| level.fails(r.outcome.kind())) {
                    v.push((c.label.clone(), r.id.clone(), r.outcome.kind().to_string()));
                }
            }
        }
        v
    }

    /// True when every column ran.
    pub fn all_ran(&self) -> bool {
        self.columns.iter().all(|c| c.result.is_ok())
    }

    /// The aligned matrix with totals, and a line per column that did not run.
    pub fn text(&self) -> String {
        let mut grid: Vec<Vec<String>> = Vec::new();
        let mut head = vec!["TECHNIQUE".to_string(), "E".to_string()];
        head.extend(self.columns.iter().map(|c| c.label.clone()));
        grid.push(head);
        let rows = self.rows();
        for (id, eid) in &rows {
            let mut line = vec![id.clone(), eid.clone()];
            line.extend(self.columns.iter().map(|c| cell(c.outcome(id))));
            grid.push(line);
        }
        let body = grid.len();
        for (kind, label) in KINDS {
            let mut line = vec![format!("total {label}"), String::new()];
            line.extend(self.columns.iter().map(|c| match &c.result {
                Ok(_) => c.count(kind).to_string(),
                Err(_) => "error".into(),
            }));
            grid.push(line);
        }
        let ncol = grid[0].len();
        let mut w = vec![0usize; ncol];
        for row in &grid {
            for (i, c) in row.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        for (n, row) in grid.iter().enumerate() {
            if n == body {
                let total: usize = w.iter().sum::<usize>() + 2 * (ncol - 1);
                out.push_str(&"-".repeat(total));
                out.push('\n');
            }
            let mut line = String::new();
            for (i, c) in row.iter().enumerate() {
                line.push_str(c);
                if i + 1 < ncol {
                    line.push_str(&" ".repeat(w[i] - c.chars().count() + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        for c in &self.columns {
            if let Err(e) = &c.result {
                out.push_str(&format!("{}: did not run: {e}\n", c.label));
            }
        }
        out
    }

    /// `{"schema":"stockade.check/v1","runs":[{"runtime","profile","error"?,"summary","results"}]}`.
    pub fn json(&self) -> String {
        let mut o = String::from("{\"schema\":\"stockade.check/v1\",\"runs\":[");
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push_str(&format!(
                "{{\"runtime\":{},\"profile\":{},",
                json_str(&c.runtime),
                json_str(&c.profile)
            ));
            match &c.result {
                Err(e) => o.push_str(&format!("\"error\":{},\"results\":[]}}", json_str(e))),
                Ok(rs) => {
                    o.push_str("\"summary\":{");
                    let parts: Vec<String> = KINDS
                        .iter()
                        .map(|(k, _)| format!("{}:{}", json_str(k), c.count(k)))
                        .collect();
                    o.push_str(&parts.join(","));
                    o.push_str("},\"results\":[");
                    for (j, r) in rs.iter().enumerate() {
                        if j > 0 {
                            o.push(',');
                        }
                        let (errno, layer) = match &r.outcome {
                            Outcome::Blocked { errno, layer, .. } => (
                                errno
                                    .map(|e| json_str(&errno_name(e)))
                                    .unwrap_or_else(|| "null".into()),
                                json_str(layer.name()),
                            ),
                            _ => ("null".into(), "null".into()),
                        };
                        o.push_str(&format!(
                            "{{\"id\":{},\"eid\":{},\"title\":{},\"result\":{},\"errno\":{},\"layer\":{},\"detail\":{}}}",
                            json_str(&r.id),
                            json_str(&r.eid),
                            json_str(&r.title),
                            json_str(r.outcome.kind()),
                            errno,
                            layer,
                            json_str(r.outcome.text())
                        ));
                    }
                    o.push_str("]}");
                }
            }
        }
        o.push_str("]}\n");
        o
    }
}

impl Column {
    /// The battery's own table (errno, layer and detail per technique) for one run.
    pub fn table(&self) -> String {
        match &self.result {
            Err(e) => format!("{}: did not run: {e}\n", self.label),
            Ok(rs) => {
                let t = probe::report::table(rs, &probe::ProcState::default());
                // The first line describes the calling process, not the container.
                let body: String = t.lines().skip(1).map(|l| format!("{l}\n")).collect();
                format!("{}\n{body}", self.label)
            }
        }
    }
}
