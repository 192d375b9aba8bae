//! UTC timestamps as SigV4 writes them (`20240826T220000Z`, `20240826`) and as people write
//! them (RFC 3339). Pure: no clock is read here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A UTC instant with whole-second precision, the resolution SigV4 signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcSeconds(u64);

/// Calendar fields of a UTC instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl UtcSeconds {
    /// The last instant SigV4 can write, 9999-12-31T23:59:59Z: `X-Amz-Date` has a four-digit
    /// year (and aws-sigv4's date formatting panics past it). Signing times must not exceed it.
    pub const LAST_SIGNABLE: UtcSeconds = UtcSeconds(253_402_300_799);

    /// The instant `secs` seconds after 1970-01-01T00:00:00Z.
    pub fn from_unix(secs: u64) -> Self {
        UtcSeconds(secs)
    }

    /// Truncates a `SystemTime` to whole seconds; `None` before 1970.
    pub fn from_system_time(time: SystemTime) -> Option<Self> {
        time.duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| UtcSeconds(d.as_secs()))
    }

    /// Seconds since the Unix epoch.
    pub fn unix(self) -> u64 {
        self.0
    }

    /// As a `SystemTime` (clamped to what `SystemTime` holds, about 292 billion years, so it
    /// never panics).
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0.min(i64::MAX as u64))
    }

    /// This instant plus `secs` seconds (saturating).
    pub fn plus(self, secs: u64) -> Self {
        UtcSeconds(self.0.saturating_add(secs))
    }

    fn civil(self) -> Civil {
        let days = (self.0 / 86_400) as i64;
        let rem = self.0 % 86_400;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    /// `YYYYMMDD'T'HHMMSS'Z'`, the `X-Amz-Date` format.
    pub fn amz_date_time(self) -> String {
        let mut out = String::with_capacity(16);
        self.push_amz_date_time(&mut out);
        out
    }

    /// `YYYYMMDD`, the date in the credential scope.
    pub fn amz_date(self) -> String {
        let mut out = String::with_capacity(8);
        self.push_amz_date(&mut out);
        out
    }

    /// Appends [`amz_date_time`](Self::amz_date_time) to `out` (the signer's hot path: no
    /// formatting machinery, no allocation).
    pub fn push_amz_date_time(self, out: &mut String) {
        match self.amz_date_time_bytes() {
            Some(stamp) => out.push_str(ascii(&stamp)),
            None => {
                let c = self.civil();
                push_wide_date(out, &c);
                use std::fmt::Write as _;
                let _ = write!(out, "T{:02}{:02}{:02}Z", c.hour, c.minute, c.second);
            }
        }
    }

    /// Appends [`amz_date`](Self::amz_date) to `out`.
    pub fn push_amz_date(self, out: &mut String) {
        match self.amz_date_time_bytes() {
            Some(stamp) => out.push_str(ascii(&stamp[..8])),
            None => push_wide_date(out, &self.civil()),
        }
    }

    /// `YYYYMMDD'T'HHMMSS'Z'` as bytes, for the years four digits hold (every time a clock or
    /// an RFC 3339 text gives); `None` beyond.
    fn amz_date_time_bytes(self) -> Option<[u8; 16]> {
        let c = self.civil();
        let year = u32::try_from(c.year).ok().filter(|y| *y <= 9999)?;
        let mut out = *b"00000000T000000Z";
        for (at, value) in [
            (0, year / 100),
            (2, year % 100),
            (4, c.month),
            (6, c.day),
            (9, c.hour),
            (11, c.minute),
            (13, c.second),
        ] {
            out[at] = b'0' + (value / 10 % 10) as u8;
            out[at + 1] = b'0' + (value % 10) as u8;
        }
        Some(out)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`, for messages and logs.
    pub fn rfc3339(self) -> String {
        let c = self.civil();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        )
    }

    /// Parses the `X-Amz-Date` format exactly (16 bytes, digits where digits belong).
    pub fn parse_amz_date_time(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let year = digits(&b[0..4])? as i64;
        let month = digits(&b[4..6])?;
        let day = digits(&b[6..8])?;
        let hour = digits(&b[9..11])?;
        let minute = digits(&b[11..13])?;
        let second = digits(&b[13..15])?;
        from_civil(Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    /// Parses RFC 3339 (`2024-08-26T22:00:00Z`, fractional seconds and `+hh:mm` offsets
    /// allowed; fractions are truncated, as SigV4 signs whole seconds). Instants before 1970 or
    /// after [`UtcSeconds::LAST_SIGNABLE`] (reachable through an offset) are refused.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let civil = Civil {
            year: digits(&b[0..4])? as i64,
            month: digits(&b[5..7])?,
            day: digits(&b[8..10])?,
            hour: digits(&b[11..13])?,
            minute: digits(&b[14..16])?,
            second: digits(&b[17..19])?,
        };
        let mut rest = &b[19..];
        if rest.first() == Some(&b'.') {
            let fraction = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if fraction == 0 {
                return None;
            }
            rest = &rest[1 + fraction..];
        }
        let base = from_civil(civil)?.0 as i64;
        let offset: i64 = match rest {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let hours = digits(&[*h1, *h2])? as i64;
                let minutes = digits(&[*m1, *m2])? as i64;
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let offset = hours * 3600 + minutes * 60;
                if *sign == b'+' { offset } else { -offset }
            }
            _ => return None,
        };
        let utc = base - offset;
        (utc >= 0 && utc as u64 <= Self::LAST_SIGNABLE.0).then_some(UtcSeconds(utc as u64))
    }
}

/// Appends `YYYYMMDD` for a year beyond four digits, as `{:04}` writes it (never a real
/// signing time).
fn push_wide_date(out: &mut String, c: &Civil) {
    use std::fmt::Write as _;
    let _ = write!(out, "{:04}{:02}{:02}", c.year, c.month, c.day);
}

/// Bytes this module wrote from ASCII digits and letters, as text.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("ASCII")
}

fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn from_civil(c: Civil) -> Option<UtcSeconds> {
    let days_in_month = match c.month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(c.year) => 29,
        2 => 28,
        _ => return None,
    };
    if c.day == 0 || c.day > days_in_month || c.hour > 23 || c.minute > 59 || c.second > 59 {
        return None;
    }
    let days = days_from_civil(c.year, c.month, c.day);
    if days < 0 {
        return None;
    }
    let secs = days as u64 * 86_400 + u64::from(c.hour * 3600 + c.minute * 60 + c.second);
    Some(UtcSeconds(secs))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

// Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        let t = UtcSeconds::from_unix(1_478_540_373); // 2016-11-07T17:39:33Z
        assert_eq!(t.amz_date_time(), "20161107T173933Z");
        assert_eq!(t.amz_date(), "20161107");
        assert_eq!(t.rfc3339(), "2016-11-07T17:39:33Z");
        assert_eq!(UtcSeconds::from_unix(0).amz_date_time(), "19700101T000000Z");
        // A leap day.
        assert_eq!(
            UtcSeconds::from_unix(951_782_400).amz_date_time(),
            "20000229T000000Z"
        );
        // Past four-digit years (only reachable through the API): written as `{:04}` would.
        let far = UtcSeconds::from_unix(253_402_300_800 + 3_723); // 10000-01-01T01:02:03Z
        assert_eq!(far.amz_date_time(), "100000101T010203Z");
        assert_eq!(far.amz_date(), "100000101");
        let last = UtcSeconds::from_unix(253_402_300_799); // 9999-12-31T23:59:59Z
        assert_eq!(last.amz_date_time(), "99991231T235959Z");
    }

    #[test]
    fn parses_what_it_formats_over_many_days() {
        // Under Miri (an interpreter, ~1000x slower) every 40th of these days is enough.
        let step = if cfg!(miri) { 40 } else { 1 } * (86_400 * 7 + 3_601);
        let mut t = 0u64;
        while t < 5_000_000_000 {
            let u = UtcSeconds::from_unix(t);
            assert_eq!(UtcSeconds::parse_amz_date_time(&u.amz_date_time()), Some(u));
            assert_eq!(UtcSeconds::parse_rfc3339(&u.rfc3339()), Some(u));
            t += step;
        }
    }

    #[test]
    fn rfc3339_offsets_and_fractions() {
        let z = UtcSeconds::parse_rfc3339("2024-08-26T22:00:00Z").unwrap();
        assert_eq!(
            UtcSeconds::parse_rfc3339("2024-08-27T00:30:00+02:30"),
            Some(z)
        );
        assert_eq!(
            UtcSeconds::parse_rfc3339("2024-08-26T20:00:00-02:00"),
            Some(z)
        );
        assert_eq!(
            UtcSeconds::parse_rfc3339("2024-08-26T22:00:00.999Z"),
            Some(z)
        );
    }

    #[test]
    fn the_last_signable_instant_round_trips_and_huge_ones_do_not_panic() {
        let last = UtcSeconds::LAST_SIGNABLE;
        assert_eq!(last.rfc3339(), "9999-12-31T23:59:59Z");
        assert_eq!(UtcSeconds::parse_rfc3339(&last.rfc3339()), Some(last));
        assert_eq!(
            UtcSeconds::parse_rfc3339("9999-12-31T23:59:59+01:00"),
            Some(UtcSeconds::from_unix(last.unix() - 3600))
        );
        let huge = UtcSeconds::from_unix(u64::MAX);
        assert!(huge.to_system_time() > last.to_system_time());
        assert!(!huge.amz_date_time().is_empty());
    }

    #[test]
    fn rejects_malformed_timestamps() {
        for bad in [
            "",
            "2024-08-26",
            "2024-13-01T00:00:00Z",
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-08-26T24:00:00Z",
            "2024-08-26T22:00:00",
            "2024-08-26T22:00:00.Z",
            "2024-08-26T22:00:00+2:00",
            "1969-12-31T23:59:59Z",
            "2024-08-26T22:00:0xZ",
            // The offset carries this past the year 9999, which SigV4 cannot write.
            "9999-12-31T23:59:59-01:00",
        ] {
            assert_eq!(UtcSeconds::parse_rfc3339(bad), None, "{bad:?}");
        }
        for bad in [
            "",
            "20240826T220000",
            "20240826 220000Z",
            "2024082xT220000Z",
        ] {
            assert_eq!(UtcSeconds::parse_amz_date_time(bad), None, "{bad:?}");
        }
    }
}
