//! Calendar arithmetic, written once: days since 1970-01-01 to and from a proleptic Gregorian
//! date (Howard Hinnant's `days_from_civil` / `civil_from_days`), and RFC 3339 UTC times.
//!
//! Audit's ignore-file expiry dates, the vulnerability store's import times, the runtime's log
//! and state times and watch's event times all use these; none of them needs time zones, so the
//! tree carries no date crate for them.

/// Days since 1970-01-01 of year `y`, month `m` (1-12) and day `d` (1-31), proleptic Gregorian.
/// Callers validate the month and day; out-of-range values give a day count, not a panic.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9).rem_euclid(12);
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01, proleptic Gregorian.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DDTHH:MM:SS.fZ` in UTC for `secs` since the epoch plus `nanos` (below 10^9), with
/// `digits` (1-9) digits of fraction, truncated: 9 is Go's `RFC3339Nano` width, 6 microseconds.
pub fn rfc3339(secs: i64, nanos: u32, digits: u32) -> String {
    let digits = digits.clamp(1, 9);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let frac = nanos.min(999_999_999) / 10u32.pow(9 - digits);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:0w$}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        w = digits as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_over_eight_centuries() {
        for days in (-200_000..=200_000).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), days);
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(rfc3339(0, 0, 6), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339(1_795_786_462, 123_456_789, 6),
            "2026-11-27T13:34:22.123456Z"
        );
        assert_eq!(
            rfc3339(1_795_786_462, 123_456_789, 9),
            "2026-11-27T13:34:22.123456789Z"
        );
        assert_eq!(rfc3339(-1, 0, 9), "1969-12-31T23:59:59.000000000Z");
    }
}
