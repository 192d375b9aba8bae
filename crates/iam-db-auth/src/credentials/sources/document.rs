//! A credentials document as the container endpoint and `credential_process` tools print it:
//! JSON with `AccessKeyId`, `SecretAccessKey`, a session token (`Token` or `SessionToken`) and
//! an RFC 3339 `Expiration`. Parsed here, for the sources we run ourselves.

use aws_credential_types::Credentials;
use std::time::{Duration, SystemTime};

/// The credentials in `body`, named `source`; the error says what is wrong, never a value.
pub(crate) fn parse(body: &[u8], source: &'static str) -> Result<Credentials, String> {
    let doc: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON ({e})"))?;
    let field = |name: &str| doc.get(name).and_then(serde_json::Value::as_str);
    let key_id = field("AccessKeyId").ok_or("the answer has no AccessKeyId")?;
    let secret = field("SecretAccessKey").ok_or("the answer has no SecretAccessKey")?;
    let token = field("SessionToken").or_else(|| field("Token"));
    let expiry = match field("Expiration") {
        None => None,
        Some(text) => Some(
            rfc3339(text)
                .ok_or_else(|| "the answer's Expiration is not an RFC 3339 time".to_string())?,
        ),
    };
    Ok(Credentials::new(
        key_id,
        secret,
        token.map(str::to_string),
        expiry,
        source,
    ))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` as a time.
fn rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = text.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0u32;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let shown: String = fraction[..digits]
            .chars()
            .chain("000000000".chars())
            .take(9)
            .collect();
        nanos = shown.parse().ok()?;
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = (num_in(rest, 1)?, num_in(rest, 4)?);
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Two digits of `text` at `at`.
fn num_in(text: &str, at: usize) -> Option<i64> {
    let part = text.get(at..at + 2)?;
    part.bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| part.parse().ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Option<SystemTime> {
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn rfc3339_times_are_read() {
        assert_eq!(rfc3339("1970-01-01T00:00:00Z"), at(0));
        assert_eq!(rfc3339("2026-11-29T08:40:00Z"), at(1_795_941_600));
        assert_eq!(rfc3339("2026-11-29T09:40:00+01:00"), at(1_795_941_600));
        assert_eq!(
            rfc3339("2026-11-29T08:40:00.5Z"),
            Some(SystemTime::UNIX_EPOCH + Duration::new(1_795_941_600, 500_000_000))
        );
        for bad in [
            "",
            "2026-11-29",
            "2026-13-01T00:00:00Z",
            "2026-11-29T08:40:00",
            "soon",
        ] {
            assert_eq!(rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn documents_give_credentials_or_say_what_is_missing() {
        let doc = br#"{"Version":1,"AccessKeyId":"AKIDEXAMPLE","SecretAccessKey":"s3cr3t","SessionToken":"tok","Expiration":"2026-11-29T08:40:00Z"}"#;
        let c = parse(doc, "test").unwrap();
        assert_eq!(c.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(c.session_token(), Some("tok"));
        assert_eq!(c.expiry(), at(1_795_941_600));
        let ctr = br#"{"AccessKeyId":"AKID","SecretAccessKey":"s","Token":"t"}"#;
        assert_eq!(parse(ctr, "test").unwrap().session_token(), Some("t"));
        let err = parse(br#"{"AccessKeyId":"AKID"}"#, "test").unwrap_err();
        assert_eq!(err, "the answer has no SecretAccessKey");
        assert!(
            parse(b"s3cr3t", "test")
                .unwrap_err()
                .starts_with("the answer is not JSON")
        );
    }
}
