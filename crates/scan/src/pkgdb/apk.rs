//! apk's installed database (`lib/apk/db/installed`): stanzas of `X:value` lines separated by
//! blank lines; `P` is the package name, `V` its version, `o` its origin (source package).

use super::{DbError, Package, PkgType};

/// Parse the installed database. A stanza without a name or version is an error naming its
/// line, never skipped.
pub fn parse(path: &str, data: &[u8]) -> Result<Vec<Package>, DbError> {
    let text = std::str::from_utf8(data).map_err(|e| DbError {
        path: path.to_string(),
        reason: format!("not UTF-8 at byte {}", e.valid_up_to()),
    })?;
    let mut out = Vec::new();
    let (mut name, mut version, mut origin) = (None, None, None);
    let mut start = 1;
    let mut flush = |line: usize,
                     start: usize,
                     name: &mut Option<&str>,
                     version: &mut Option<&str>,
                     origin: &mut Option<&str>|
     -> Result<(), DbError> {
        match (name.take(), version.take()) {
            (Some(n), Some(v)) => out.push(Package {
                name: n.to_string(),
                version: v.to_string(),
                kind: PkgType::Apk,
                source: origin.take().map(str::to_string),
                source_version: None,
                layer: None,
                path: None,
            }),
            (None, None) => {
                origin.take();
            }
            _ => {
                return Err(DbError {
                    path: path.to_string(),
                    reason: format!(
                        "lines {start}-{line}: a package stanza without both P: and V:"
                    ),
                })
            }
        }
        Ok(())
    };
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        n = i + 1;
        if line.is_empty() {
            flush(n - 1, start, &mut name, &mut version, &mut origin)?;
            start = n + 1;
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            return Err(DbError {
                path: path.to_string(),
                reason: format!("line {n}: not a `X:value` line"),
            });
        };
        match k {
            "P" => name = Some(v),
            "V" => version = Some(v),
            "o" => origin = Some(v),
            _ => {}
        }
    }
    flush(n, start, &mut name, &mut version, &mut origin)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn stanzas() {
        let db = b"C:Q1x\nP:musl\nV:1.2.4-r2\no:musl\n\nP:busybox\nV:1.36.1-r5\n\n";
        let p = super::parse("db", db).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "musl");
        assert_eq!(p[0].source.as_deref(), Some("musl"));
        assert_eq!(p[1].version, "1.36.1-r5");
        assert!(super::parse("db", b"P:x\n\n").is_err());
    }
}
