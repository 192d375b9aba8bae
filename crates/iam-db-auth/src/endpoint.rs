//! Endpoint names: is this a host we can sign for, and which region does it name?
//!
//! Pure: no DNS, no environment. Every rule here has a row in the tests below.

use crate::error::{Error, ErrorCode, Result};
use std::borrow::Cow;

/// The longest DNS name (RFC 1035), in bytes.
pub const MAX_HOST_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;
const MAX_REGION_LEN: usize = 32;

/// Checks that `host` is a bare host name a token can be signed for: a DNS name, an IPv4
/// address or a bracketed IPv6 address; no scheme, path, port, spaces or empty labels.
pub fn validate_host(host: &str) -> Result<()> {
    if is_plain_dns_name(host) {
        return Ok(());
    }
    validate_host_slowly(host)
}

/// The common case in one pass over the bytes, allocating nothing: a DNS name (or dotted
/// IPv4 address) of labels made of `A-Za-z0-9-_`, 1 to 63 bytes each, none starting or ending
/// with `-`, at most [`MAX_HOST_LEN`] bytes in all. Exactly the names [`validate_host_slowly`]
/// accepts among those made of these bytes; anything else goes there for its verdict and
/// message.
fn is_plain_dns_name(host: &str) -> bool {
    /// What a byte is in a plain DNS name: 0 not allowed, 1 a label byte, 2 the dot.
    const CLASS: [u8; 256] = {
        let mut class = [0u8; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' {
                class[b] = 1;
            }
            b += 1;
        }
        class[b'.' as usize] = 2;
        class
    };
    let bytes = host.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_HOST_LEN {
        return false;
    }
    let mut label_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match CLASS[usize::from(b)] {
            1 => {}
            2 => {
                if !plain_label(&bytes[label_start..i]) {
                    return false;
                }
                label_start = i + 1;
            }
            _ => return false,
        }
    }
    plain_label(&bytes[label_start..])
}

fn plain_label(label: &[u8]) -> bool {
    !label.is_empty()
        && label.len() <= MAX_LABEL_LEN
        && label[0] != b'-'
        && label[label.len() - 1] != b'-'
}

/// Every rule, with a message naming the one broken.
fn validate_host_slowly(host: &str) -> Result<()> {
    let invalid = |why: String| Err(Error::new(ErrorCode::InvalidHost, why));
    if host.is_empty() {
        return invalid(
            "host is empty; pass the endpoint name, e.g. mydb.abc123.us-east-1.rds.amazonaws.com"
                .into(),
        );
    }
    let shown = shorten(host);
    if host.len() > MAX_HOST_LEN {
        return invalid(format!(
            "host is {} bytes long; a host name is at most {MAX_HOST_LEN}",
            host.len()
        ));
    }
    if host.contains("://") {
        return invalid(format!(
            "host '{shown}' contains a URL scheme; pass only the host name, without 'https://'"
        ));
    }
    if host.contains(['/', '?', '#']) {
        return invalid(format!(
            "host '{shown}' contains a path or query; pass only the host name"
        ));
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid(format!(
            "host '{}' contains whitespace or control characters",
            shorten(host).escape_debug()
        ));
    }
    if let Some(inner) = host.strip_prefix('[') {
        return match inner.strip_suffix(']') {
            Some(addr) if addr.parse::<std::net::Ipv6Addr>().is_ok() => Ok(()),
            _ => invalid(format!(
                "host '{shown}' is not a valid bracketed IPv6 address"
            )),
        };
    }
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        return invalid(format!(
            "host '{shown}' is an IPv6 address; write it in brackets, e.g. [{shown}]"
        ));
    }
    if let Some((name, port)) = host.rsplit_once(':') {
        if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
            return invalid(format!(
                "host '{shown}' contains a port; pass the host '{}' and the port {port} separately",
                shorten(name)
            ));
        }
        return invalid(format!("host '{shown}' contains ':'"));
    }
    if !host.is_ascii() {
        return invalid(format!(
            "host '{shown}' contains non-ASCII characters; use its punycode (xn--) form"
        ));
    }
    for label in host.split('.') {
        if label.is_empty() {
            return invalid(format!(
                "host '{shown}' has an empty label (a leading, trailing or doubled dot)"
            ));
        }
        if label.len() > MAX_LABEL_LEN {
            return invalid(format!(
                "host '{shown}' has a label longer than {MAX_LABEL_LEN} bytes"
            ));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return invalid(format!(
                "host '{shown}' contains '{bad}', which is not allowed in a host name"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return invalid(format!(
                "host '{shown}' has a label that starts or ends with '-'"
            ));
        }
    }
    Ok(())
}

/// Checks that `region` is shaped like an AWS region name (`us-east-1`, `us-gov-west-1`,
/// `cn-northwest-1`, `eu-isoe-west-1`): lower-case words joined by `-`, ending in a number.
///
/// Unknown but well-formed names are accepted, so new regions work without a release.
pub fn validate_region(region: &str) -> Result<()> {
    if is_region_name(region) {
        Ok(())
    } else if region.is_empty() {
        Err(Error::new(
            ErrorCode::InvalidRegion,
            "region is empty; pass a region name such as us-east-1, or leave it unset to infer it",
        ))
    } else {
        Err(Error::new(
            ErrorCode::InvalidRegion,
            format!(
                "region '{}' is not a region name (expected lower-case words and a number, e.g. us-east-1)",
                shorten(region).escape_debug()
            ),
        ))
    }
}

/// True for names shaped like a region: at least three `-`-separated parts, the first of two
/// or more lower-case letters, then lower-case words, the last all digits.
pub fn is_region_name(region: &str) -> bool {
    if region.len() > MAX_REGION_LEN {
        return false;
    }
    let Some((words, last)) = region.rsplit_once('-') else {
        return false;
    };
    let mut count = 0;
    for (i, word) in words.split('-').enumerate() {
        if word.is_empty()
            || !word.bytes().all(|b| b.is_ascii_lowercase())
            || (i == 0 && word.len() < 2)
        {
            return false;
        }
        count += 1;
    }
    count >= 2 && !last.is_empty() && last.len() <= 3 && last.bytes().all(|b| b.is_ascii_digit())
}

/// DNS suffixes of the AWS partitions whose RDS endpoints name their region.
const AWS_SUFFIXES: [&str; 5] = [
    "amazonaws.com",
    "amazonaws.com.cn",
    "c2s.ic.gov",
    "sc2s.sgov.gov",
    "amazonaws.eu",
];

/// The region an AWS endpoint name carries, if it is one:
///
/// - RDS instance, cluster, cluster-ro, custom and proxy endpoints:
///   `<name>.<...>.<region>.rds.amazonaws.com` (also GovCloud and the ISO partitions);
/// - RDS in China: `<name>.<...>.rds.<region>.amazonaws.com.cn`
///   (and the `<region>.rds.amazonaws.com.cn` form);
/// - Aurora DSQL: `<id>.dsql.<region>.on.aws`.
///
/// Case-insensitive. Returns `None` for anything else (IP addresses, tunnels, other names).
pub fn infer_region(host: &str) -> Option<String> {
    infer_region_ref(host).map(Cow::into_owned)
}

/// [`infer_region`] without allocating when the region is written in lower case in `host`
/// (it is borrowed from it then): this runs on every token request.
pub fn infer_region_ref(host: &str) -> Option<Cow<'_, str>> {
    if let Some(rest) = strip_suffix_ignore_case(host, ".on.aws") {
        // <...>.<id>.dsql.<region>
        let (id, service, region) = last_three_labels(rest)?;
        return if !id.is_empty() && service.eq_ignore_ascii_case("dsql") {
            region_in_lower_case(region)
        } else {
            None
        };
    }
    let rest = AWS_SUFFIXES
        .iter()
        .find_map(|suffix| strip_suffix_ignore_case(host, suffix)?.strip_suffix('.'))?;
    // At least three labels: <name>.<...>.<before>.<last>.
    let (_, before, last) = last_three_labels(rest)?;
    if last.eq_ignore_ascii_case("rds") {
        // <name>.<hash>.<region>.rds.<suffix>
        if let Some(region) = region_in_lower_case(before) {
            return Some(region);
        }
    }
    if before.eq_ignore_ascii_case("rds") {
        // <name>.<hash>.rds.<region>.<suffix> (China)
        return region_in_lower_case(last);
    }
    None
}

/// The last three `.`-separated labels of `text`, or `None` if it has fewer. One backward
/// scan that stops at the third dot from the end.
fn last_three_labels(text: &str) -> Option<(&str, &str, &str)> {
    let bytes = text.as_bytes();
    let mut dots = [0usize; 3];
    let mut found = 0;
    let mut i = bytes.len();
    while i > 0 && found < 3 {
        i -= 1;
        if bytes[i] == b'.' {
            dots[found] = i;
            found += 1;
        }
    }
    if found < 2 {
        return None;
    }
    let third_from = if found == 3 { dots[2] + 1 } else { 0 };
    // Every cut is next to an ASCII '.', so on a character boundary.
    Some((
        &text[third_from..dots[1]],
        &text[dots[1] + 1..dots[0]],
        &text[dots[0] + 1..],
    ))
}

/// `text` without `suffix` at its end, compared without regard to ASCII case.
fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = text.len().checked_sub(suffix.len())?;
    let tail = text.as_bytes().get(cut..)?;
    // The tail equals an ASCII suffix, so `cut` is a character boundary.
    tail.eq_ignore_ascii_case(suffix.as_bytes())
        .then(|| &text[..cut])
}

/// `label` lower-cased if it is then a region name (borrowed when it already is lower case).
fn region_in_lower_case(label: &str) -> Option<Cow<'_, str>> {
    if label.bytes().any(|b| b.is_ascii_uppercase()) {
        let lower = label.to_ascii_lowercase();
        is_region_name(&lower).then_some(Cow::Owned(lower))
    } else {
        is_region_name(label).then_some(Cow::Borrowed(label))
    }
}

/// True for an Aurora DSQL cluster endpoint, `<id>.dsql.<region>.on.aws` (any case).
pub fn is_dsql_endpoint(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host.ends_with(".on.aws") && infer_region(&host).is_some()
}

/// A prefix of `text` short enough for a message (inputs can be a megabyte long).
pub fn shorten(text: &str) -> String {
    shorten_to(text, 80)
}

/// [`shorten`] with another limit, in bytes (cut on a character boundary).
pub(crate) fn shorten_to(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_inference_table() {
        let table: &[(&str, Option<&str>)] = &[
            // Instance endpoints.
            (
                "mydb.c9akciq32.us-east-1.rds.amazonaws.com",
                Some("us-east-1"),
            ),
            (
                "MyDB.C9AKCIQ32.EU-WEST-3.RDS.AMAZONAWS.COM",
                Some("eu-west-3"),
            ),
            (
                "mydb.123456789012.us-east-1.rds.amazonaws.com",
                Some("us-east-1"),
            ),
            // Aurora cluster (writer), reader and custom endpoints.
            (
                "prod.cluster-c9akciq32.ap-southeast-2.rds.amazonaws.com",
                Some("ap-southeast-2"),
            ),
            (
                "prod.cluster-ro-c9akciq32.eu-central-1.rds.amazonaws.com",
                Some("eu-central-1"),
            ),
            (
                "reports.cluster-custom-c9akciq32.ca-central-1.rds.amazonaws.com",
                Some("ca-central-1"),
            ),
            // RDS Proxy default and additional endpoints.
            (
                "myproxy.proxy-c9akciq32.us-west-2.rds.amazonaws.com",
                Some("us-west-2"),
            ),
            (
                "reader.endpoint.proxy-c9akciq32.us-west-2.rds.amazonaws.com",
                Some("us-west-2"),
            ),
            // GovCloud and the ISO partitions.
            (
                "mydb.c9akciq32.us-gov-west-1.rds.amazonaws.com",
                Some("us-gov-west-1"),
            ),
            (
                "mydb.c9akciq32.us-iso-east-1.rds.c2s.ic.gov",
                Some("us-iso-east-1"),
            ),
            (
                "mydb.c9akciq32.us-isob-east-1.rds.sc2s.sgov.gov",
                Some("us-isob-east-1"),
            ),
            // China: the region follows "rds", and the other order is accepted too.
            (
                "mydb.c9akciq32.rds.cn-north-1.amazonaws.com.cn",
                Some("cn-north-1"),
            ),
            (
                "prod.cluster-c9akciq32.rds.cn-northwest-1.amazonaws.com.cn",
                Some("cn-northwest-1"),
            ),
            (
                "mydb.c9akciq32.cn-north-1.rds.amazonaws.com.cn",
                Some("cn-north-1"),
            ),
            // Aurora DSQL.
            (
                "abcdefghijklmnopqrst.dsql.us-east-1.on.aws",
                Some("us-east-1"),
            ),
            ("peccy.dsql.eu-west-1.on.aws", Some("eu-west-1")),
            // Not inferable: the caller must give a region.
            ("localhost", None),
            ("127.0.0.1", None),
            ("[::1]", None),
            ("db.internal.example.com", None),
            ("mydb.us-east-1.rds.example.com", None),
            ("us-east-1.rds.amazonaws.com", None),
            ("mydb.c9akciq32.rds.amazonaws.com", None),
            ("mydb.c9akciq32.notaregion.rds.amazonaws.com", None),
            ("dsql.us-east-1.on.aws", None),
            ("x.lambda.us-east-1.on.aws", None),
            (
                "mydb.c9akciq32.us-east-1.rds.amazonaws.com.evil.example",
                None,
            ),
        ];
        for (host, want) in table {
            assert_eq!(infer_region(host).as_deref(), *want, "{host}");
        }
    }

    #[test]
    fn valid_hosts() {
        for host in [
            "mydb.c9akciq32.us-east-1.rds.amazonaws.com",
            "localhost",
            "127.0.0.1",
            "[::1]",
            "[2001:db8::5]",
            "db_1.internal",
            "a",
            &format!("{}.com", "a".repeat(63)),
        ] {
            assert_eq!(validate_host(host), Ok(()), "{host}");
        }
    }

    #[test]
    fn fast_host_check_agrees_with_every_rule() {
        // Pseudo-random hosts over the bytes that matter (label bytes, dots, hyphens, and a
        // few that are never allowed): the one-pass check accepts exactly what the full rules
        // accept among them, and never accepts anything the full rules refuse.
        let alphabet = b"abcXYZ0189_abcXYZ0189_..--:/ \xc3";
        let mut accepted = 0;
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Miri interprets ~1000x slower: a hundredth of the hosts there.
        let rounds = if cfg!(miri) { 200 } else { 20_000 };
        for _ in 0..rounds {
            let len = (next() % 80) as usize;
            let mut host: String = (0..len)
                .map(|_| char::from(alphabet[(next() % alphabet.len() as u64) as usize]))
                .collect();
            if next() % 8 == 0 {
                host = host.repeat(4); // long labels and hosts
            }
            let fast = is_plain_dns_name(&host);
            let full = validate_host_slowly(&host).is_ok();
            accepted += usize::from(full);
            let plain_bytes = host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if plain_bytes {
                assert_eq!(fast, full, "{host:?}");
            } else {
                assert!(!fast, "{host:?}");
            }
        }
        // About 6% of these hosts are valid (1,2xx of 20,000; 13 of Miri's 200): at least 5%
        // keeps the comparison meaningful.
        assert!(
            accepted * 20 > rounds,
            "only {accepted} valid hosts of {rounds} generated"
        );
    }

    #[test]
    fn invalid_hosts_name_the_problem() {
        let long = format!("{}.example.com", "a.".repeat(125));
        let table: &[(&str, &str)] = &[
            ("", "empty"),
            ("https://mydb.example.com", "scheme"),
            ("mydb.example.com/path", "path"),
            ("mydb.example.com?x=1", "path"),
            ("my db.example.com", "whitespace"),
            ("mydb.example.com\n", "whitespace"),
            ("mydb.example.com:3306", "port"),
            ("mydb.example.com:", "':'"),
            ("::1", "brackets"),
            ("[::1", "IPv6"),
            ("[not-v6]", "IPv6"),
            ("mydb..example.com", "empty label"),
            (".mydb.example.com", "empty label"),
            ("mydb.example.com.", "empty label"),
            ("-mydb.example.com", "starts or ends"),
            ("mydb!.example.com", "'!'"),
            ("mydb.exämple.com", "non-ASCII"),
            (&long, "at most 253"),
        ];
        for (host, needle) in table {
            let err = validate_host(host).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidHost);
            assert!(
                err.message().contains(needle),
                "{host:?}: {:?} lacks {needle:?}",
                err.message()
            );
        }
        let label = format!("{}.com", "a".repeat(64));
        assert!(validate_host(&label).is_err());
    }

    #[test]
    fn region_names() {
        for ok in [
            "us-east-1",
            "us-gov-west-1",
            "cn-northwest-1",
            "ap-southeast-5",
            "il-central-1",
            "us-isob-east-1",
            "eu-isoe-west-1",
            "mx-central-1",
        ] {
            assert!(is_region_name(ok), "{ok}");
            assert_eq!(validate_region(ok), Ok(()));
        }
        for bad in [
            "",
            "US-EAST-1",
            "us_east_1",
            "useast1",
            "us-east",
            "us-east-",
            "-us-east-1",
            "us--east-1",
            "u-east-1",
            "us-east-1a",
            "us-east-1 ",
            "us-east-1\0",
            "us-east-12345",
            "https://us-east-1",
            "us-eäst-1",
        ] {
            assert!(!is_region_name(bad), "{bad:?}");
            assert_eq!(
                validate_region(bad).unwrap_err().code(),
                ErrorCode::InvalidRegion
            );
        }
    }

    #[test]
    fn control_characters_are_quoted_shortened() {
        // Escaped control characters take four bytes each: the quote must still be short.
        let host = format!("[{}", "\x18".repeat(200));
        let err = validate_host(&host).unwrap_err();
        assert!(err.message().contains("control characters"));
        assert!(err.message().len() < 600, "{}", err.message().len());
    }

    #[test]
    fn long_inputs_are_shortened_in_messages() {
        let host = "h".repeat(1 << 20);
        let err = validate_host(&host).unwrap_err();
        assert!(err.message().len() < 200, "{}", err.message().len());
        let region = "x".repeat(1 << 20);
        assert!(validate_region(&region).unwrap_err().message().len() < 300);
        assert!(shorten("é".repeat(100).as_str()).len() < 200);
    }
}
