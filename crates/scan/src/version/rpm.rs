//! rpm version comparison: `rpmvercmp` over alternating numeric and alphabetic segments, with
//! `~` sorting before anything (pre-releases) and `^` after the end but before anything else
//! (post-release snapshots); [`compare_evr`] adds the epoch and the release.

use std::cmp::Ordering;

/// Compare two version (or release) strings as rpm's `rpmvercmp`.
pub fn vercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while x.first().is_some_and(|&c| sep(c)) {
            x = &x[1..];
        }
        while y.first().is_some_and(|&c| sep(c)) {
            y = &y[1..];
        }
        let (cx, cy) = (x.first().copied(), y.first().copied());
        if cx == Some(b'~') || cy == Some(b'~') {
            if cx != Some(b'~') {
                return Ordering::Greater;
            }
            if cy != Some(b'~') {
                return Ordering::Less;
            }
            x = &x[1..];
            y = &y[1..];
            continue;
        }
        if cx == Some(b'^') || cy == Some(b'^') {
            match (cx, cy) {
                (None, _) => return Ordering::Less,
                (_, None) => return Ordering::Greater,
                (Some(b'^'), Some(b'^')) => {}
                (_, Some(b'^')) => return Ordering::Greater,
                _ => return Ordering::Less,
            }
            x = &x[1..];
            y = &y[1..];
            continue;
        }
        let (Some(cx), Some(_)) = (cx, cy) else {
            break;
        };
        let numeric = cx.is_ascii_digit();
        let take = |s: &[u8]| -> usize {
            s.iter()
                .take_while(|c| {
                    if numeric {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count()
        };
        let (nx, ny) = (take(x), take(y));
        let (sx, sy) = (&x[..nx], &y[..ny]);
        if sy.is_empty() {
            // Segments of different kinds: the numeric one is newer.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if numeric {
            let tx = trim_zeros(sx);
            let ty = trim_zeros(sy);
            tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
        } else {
            sx.cmp(sy)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        x = &x[nx..];
        y = &y[ny..];
    }
    match (x.is_empty(), y.is_empty()) {
        (true, true) => Ordering::Equal,
        (false, _) => Ordering::Greater,
        _ => Ordering::Less,
    }
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b'0').count();
    &s[n..]
}

/// `[epoch:]version[-release]` split; a missing epoch is 0.
pub fn split_evr(s: &str) -> (u64, &str, Option<&str>) {
    let (epoch, rest) = match s.split_once(':') {
        Some((e, r)) if e.bytes().all(|c| c.is_ascii_digit()) && !e.is_empty() => {
            (e.parse().unwrap_or(u64::MAX), r)
        }
        _ => (0, s),
    };
    match rest.rsplit_once('-') {
        Some((v, r)) => (epoch, v, Some(r)),
        None => (epoch, rest, None),
    }
}

/// Compare `[epoch:]version[-release]` strings as rpm's `rpm.vercmp` does (a missing release
/// is empty, so `1.0-2` is newer than `1.0`).
pub fn compare_evr(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = split_evr(a);
    let (eb, vb, rb) = split_evr(b);
    ea.cmp(&eb)
        .then_with(|| vercmp(va, vb))
        .then_with(|| vercmp(ra.unwrap_or(""), rb.unwrap_or("")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn known_orders() {
        assert_eq!(vercmp("1.0~rc1", "1.0"), Less);
        assert_eq!(vercmp("1.0^git1", "1.0"), Greater);
        assert_eq!(vercmp("1.0^git1", "1.0.1"), Less);
        assert_eq!(vercmp("1.010", "1.9"), Greater);
        assert_eq!(vercmp("1a", "1.0"), Less);
        assert_eq!(compare_evr("1:1.0-1", "2.0-1"), Greater);
    }
}
