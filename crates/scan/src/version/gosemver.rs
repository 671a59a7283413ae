//! Go module versions (semantic versions with an optional `v`), as OSV's `SEMVER` ranges and the
//! Go ecosystem compare them.

use std::cmp::Ordering;

fn split(v: &str) -> (Vec<u64>, Option<&str>) {
    let v = v.trim_start_matches('v').trim_start_matches("go");
    let v = v.split('+').next().unwrap_or("");
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let mut nums: Vec<u64> = core.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    nums.resize(3, 0);
    (nums, pre)
}

/// Compare two semantic versions (`v1.2.3-rc.1`, `1.2.3`, `go1.21.4`).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (na, pa) = split(a);
    let (nb, pb) = split(b);
    na.cmp(&nb).then_with(|| match (pa, pb) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let (mut xi, mut yi) = (x.split('.'), y.split('.'));
            loop {
                match (xi.next(), yi.next()) {
                    (None, None) => return Ordering::Equal,
                    (None, Some(_)) => return Ordering::Less,
                    (Some(_), None) => return Ordering::Greater,
                    (Some(p), Some(q)) => {
                        let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                            (Ok(m), Ok(n)) => m.cmp(&n),
                            (Ok(_), Err(_)) => Ordering::Less,
                            (Err(_), Ok(_)) => Ordering::Greater,
                            _ => p.cmp(q),
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering::*;

    #[test]
    fn orders() {
        assert_eq!(compare("v1.1.12", "1.1.5"), Greater);
        assert_eq!(compare("v1.2.0-rc.1", "v1.2.0"), Less);
        assert_eq!(compare("go1.19.8", "1.19.10"), Less);
    }
}
