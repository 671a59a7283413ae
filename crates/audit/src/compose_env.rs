//! Compose's variable interpolation, as `docker compose config` does it: `$VAR`, `${VAR}`,
//! `${VAR:-default}` / `${VAR-default}`, `${VAR:?error}` / `${VAR?error}`,
//! `${VAR:+replacement}` / `${VAR+replacement}`, nesting (`${A:-${B:-x}}`), and `$$` for a
//! literal `$`. A `$` not followed by a name or `{` is kept as it is. Values come from the
//! environment, then the project's `.env` (the environment wins, as in docker compose).
//!
//! Where docker compose replaces an unset variable with an empty string (and a warning), this
//! does the same and says which variables it was, so that the reader can make it an error where
//! the value decides a security setting (`privileged: ${PRIV}`), never a silent empty value.

use std::collections::BTreeMap;
use std::path::Path;

/// The variables a compose file is interpolated with.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// From the `.env` file (or `env_file` of an `include`).
    file: BTreeMap<String, String>,
    /// Whether the process environment is looked at (first).
    process: bool,
}

/// Why a value could not be interpolated as docker compose would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `${VAR:?message}` or `${VAR?message}` with `VAR` unset (or empty, for `:?`): docker
    /// compose refuses the file.
    Required { name: String, message: String },
    /// A `${` with no closing `}`, or a name that is not one.
    Invalid(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Required { name, message } => write!(
                f,
                "required variable {name} is missing a value: {message} (docker compose refuses \
                 the file; set {name} in the environment or .env)"
            ),
            Failure::Invalid(s) => write!(f, "invalid interpolation format for {s:?}"),
        }
    }
}

impl Env {
    /// Only these variables (no process environment): for tests.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            file: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            process: false,
        }
    }

    /// The environment, and the `.env` files given (`dir/.env` when `files` is empty and it
    /// exists). `Err` names a file that exists and cannot be read.
    pub fn load(dir: &Path, files: &[std::path::PathBuf]) -> Result<Env, String> {
        let mut env = Env {
            file: BTreeMap::new(),
            process: true,
        };
        let default = [dir.join(".env")];
        let (files, optional) = if files.is_empty() {
            (&default[..], true)
        } else {
            (files, false)
        };
        for f in files {
            let text = match std::fs::read_to_string(f) {
                Ok(t) => t,
                Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(format!("{}: {e}", f.display())),
            };
            env.read_dotenv(&text)
                .map_err(|e| format!("{}: {e}", f.display()))?;
        }
        Ok(env)
    }

    /// `KEY=VALUE` lines (`export ` allowed; `#` comments; single quotes literal, double quotes
    /// and bare values interpolated with what is defined so far).
    fn read_dotenv(&mut self, text: &str) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!("line {}: expected KEY=VALUE", n + 1));
            };
            let key = key.trim();
            let value = value.trim();
            let value = if let Some(v) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\''))
            {
                v.to_string()
            } else {
                let v = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                    Some(v) => v,
                    None => value.split(" #").next().unwrap_or("").trim_end(),
                };
                let mut unset = Vec::new();
                interpolate(v, self, &mut unset).map_err(|e| format!("line {}: {e}", n + 1))?
            };
            self.file.insert(key.to_string(), value);
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<String> {
        if self.process {
            if let Some(v) = std::env::var_os(name) {
                return Some(v.to_string_lossy().into_owned());
            }
        }
        self.file.get(name).cloned()
    }
}

fn is_name_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn is_name(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

/// Interpolate `s`. Variables that are unset and have no default are replaced by an empty
/// string, as docker compose does, and their names pushed onto `unset`.
pub fn interpolate(s: &str, env: &Env, unset: &mut Vec<String>) -> Result<String, Failure> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut literal = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        out.push_str(&s[literal..i]);
        match b.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let end = closing_brace(s, i + 2).ok_or_else(|| Failure::Invalid(s.into()))?;
                out.push_str(&braced(&s[i + 2..end], s, env, unset)?);
                i = end + 1;
            }
            Some(&c) if is_name_start(c) => {
                let mut j = i + 1;
                while j < b.len() && is_name(b[j]) {
                    j += 1;
                }
                let name = &s[i + 1..j];
                match env.get(name) {
                    Some(v) => out.push_str(&v),
                    None => unset.push(name.to_string()),
                }
                i = j;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
        literal = i;
    }
    out.push_str(&s[literal..]);
    Ok(out)
}

/// The index of the `}` that closes a `${` whose body starts at `from` (nested `${...}` skipped).
fn closing_brace(s: &str, from: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if b.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The body of `${...}`: a name, then nothing or an operator and its operand.
fn braced(body: &str, whole: &str, env: &Env, unset: &mut Vec<String>) -> Result<String, Failure> {
    let b = body.as_bytes();
    if b.is_empty() || !is_name_start(b[0]) {
        return Err(Failure::Invalid(whole.into()));
    }
    let mut j = 1;
    while j < b.len() && is_name(b[j]) {
        j += 1;
    }
    let name = &body[..j];
    let rest = &body[j..];
    let value = env.get(name);
    let (colon, rest) = match rest.strip_prefix(':') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    // With `:`, an empty value counts as unset.
    let set = value.as_deref().is_some_and(|v| !colon || !v.is_empty());
    let Some(op) = rest.chars().next() else {
        if colon {
            return Err(Failure::Invalid(whole.into()));
        }
        return Ok(match value {
            Some(v) => v,
            None => {
                unset.push(name.to_string());
                String::new()
            }
        });
    };
    let operand = &rest[1..];
    match op {
        '-' if set => Ok(value.unwrap_or_default()),
        '-' => interpolate(operand, env, unset),
        '+' if set => interpolate(operand, env, unset),
        '+' => Ok(String::new()),
        '?' if set => Ok(value.unwrap_or_default()),
        '?' => Err(Failure::Required {
            name: name.to_string(),
            message: interpolate(operand, env, &mut Vec::new())?,
        }),
        _ => Err(Failure::Invalid(whole.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> Result<(String, Vec<String>), Failure> {
        let env = Env::from_pairs([("SET", "value"), ("EMPTY", ""), ("T", "true")]);
        let mut unset = Vec::new();
        interpolate(s, &env, &mut unset).map(|v| (v, unset))
    }

    fn ok(s: &str) -> String {
        run(s).expect(s).0
    }

    #[test]
    fn operators_as_docker_compose_reads_them() {
        assert_eq!(ok("${SET}/$SET/${T}"), "value/value/true");
        assert_eq!(ok("${SET:-d} ${EMPTY:-d} ${UNSET:-d}"), "value d d");
        assert_eq!(ok("${SET-d} ${EMPTY-d} ${UNSET-d}"), "value  d");
        assert_eq!(ok("${SET:+r} ${EMPTY:+r} ${UNSET:+r}"), "r  ");
        assert_eq!(ok("${SET+r} ${EMPTY+r} ${UNSET+r}"), "r r ");
        assert_eq!(ok("${SET:?e} ${EMPTY?e}"), "value ");
        assert_eq!(ok("${UNSET:-${SET}} ${UNSET:-${UNSET2:-x}}"), "value x");
        assert_eq!(ok("$$SET $${SET} $$$SET"), "$SET ${SET} $value");
        assert_eq!(ok("a$ $1 $-x"), "a$ $1 $-x");
    }

    #[test]
    fn unset_variables_are_empty_and_named() {
        let (v, unset) = run("${UNSET}:/x:$OTHER").unwrap();
        assert_eq!(v, ":/x:");
        assert_eq!(unset, vec!["UNSET".to_string(), "OTHER".to_string()]);
        // A default used is not unset.
        assert!(run("${UNSET:-x}").unwrap().1.is_empty());
    }

    #[test]
    fn required_and_invalid_fail() {
        assert_eq!(
            run("${UNSET:?need it}"),
            Err(Failure::Required {
                name: "UNSET".into(),
                message: "need it".into()
            })
        );
        assert!(matches!(run("${EMPTY:?x}"), Err(Failure::Required { .. })));
        assert!(matches!(run("${UNSET"), Err(Failure::Invalid(_))));
        assert!(matches!(run("${1A}"), Err(Failure::Invalid(_))));
        assert!(matches!(run("${A/b/c}"), Err(Failure::Invalid(_))));
    }

    #[test]
    fn dotenv_lines() {
        let mut env = Env::default();
        env.read_dotenv("# c\nexport A=1\nB='${A}'\nC=\"${A}x\"\nD=${A} # note\n\n")
            .unwrap();
        assert_eq!(env.get("A").as_deref(), Some("1"));
        assert_eq!(env.get("B").as_deref(), Some("${A}"));
        assert_eq!(env.get("C").as_deref(), Some("1x"));
        assert_eq!(env.get("D").as_deref(), Some("1"));
        assert!(env.read_dotenv("novalue\n").is_err());
    }
}
