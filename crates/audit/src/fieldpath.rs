//! Field paths: keys joined with `.`, list indices as `[i]`; a key that is not a plain identifier
//! (`[A-Za-z_][A-Za-z0-9_]*`) is written `['key']`, e.g.
//! `metadata.annotations['container.apparmor.security.beta.kubernetes.io/app']`.

/// Append a key to a field path, quoting it when it is not a plain identifier.
pub fn push_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}['{key}']"),
    }
}

/// Append a list index to a field path.
pub fn push_index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// If `rest` starts with the path segment of `key` ([`push_key`] form), its length.
pub(crate) fn key_segment_len(rest: &str, key: &str, first: bool) -> Option<usize> {
    let plain = |key: &str| {
        !key.is_empty()
            && key
                .bytes()
                .enumerate()
                .all(|(i, c)| c == b'_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
    };
    if let Some(r) = rest.strip_prefix("['") {
        let r = r.strip_prefix(key)?;
        (r.starts_with("']") && !plain(key)).then_some(key.len() + 4)
    } else {
        let r = if first { rest } else { rest.strip_prefix('.')? };
        (r.starts_with(key) && plain(key)).then_some(key.len() + usize::from(!first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths() {
        let p = push_key("", "spec");
        let p = push_key(&p, "containers");
        let p = push_index(&p, 0);
        assert_eq!(
            push_key(&p, "securityContext"),
            "spec.containers[0].securityContext"
        );
        assert_eq!(
            push_key("metadata.annotations", "stockade.io/ignore"),
            "metadata.annotations['stockade.io/ignore']"
        );
    }
}
