//! Endpoint names: is this a host we can sign for, and which region does it name?
//!
//! Pure: no DNS, no environment. Every rule here has a row in the tests below.

use crate::error::{Error, ErrorCode, Result};

/// The longest DNS name (RFC 1035), in bytes.
pub const MAX_HOST_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;
const MAX_REGION_LEN: usize = 32;

/// Checks that `host` is a bare host name a token can be signed for: a DNS name, an IPv4
/// address or a bracketed IPv6 address; no scheme, path, port, spaces or empty labels.
pub fn validate_host(host: &str) -> Result<()> {
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
    let parts: Vec<&str> = region.split('-').collect();
    let Some((last, words)) = parts.split_last() else {
        return false;
    };
    parts.len() >= 3
        && words[0].len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.len() <= 3
        && last.bytes().all(|b| b.is_ascii_digit())
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
    let host = host.to_ascii_lowercase();
    if let Some(rest) = host.strip_suffix(".on.aws") {
        let labels: Vec<&str> = rest.split('.').collect();
        if let [.., id, service, region] = labels[..] {
            if !id.is_empty() && service == "dsql" && is_region_name(region) {
                return Some(region.to_string());
            }
        }
        return None;
    }
    let rest = AWS_SUFFIXES
        .iter()
        .filter_map(|suffix| host.strip_suffix(suffix)?.strip_suffix('.'))
        .next()?;
    let labels: Vec<&str> = rest.split('.').collect();
    match labels[..] {
        // <name>.<hash>.<region>.rds.<suffix>
        [_, .., region, "rds"] if labels.len() >= 3 && is_region_name(region) => {
            Some(region.to_string())
        }
        // <name>.<hash>.rds.<region>.<suffix> (China)
        [_, .., "rds", region] if labels.len() >= 3 && is_region_name(region) => {
            Some(region.to_string())
        }
        _ => None,
    }
}

/// True for an Aurora DSQL cluster endpoint, `<id>.dsql.<region>.on.aws` (any case).
pub fn is_dsql_endpoint(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host.ends_with(".on.aws") && infer_region(&host).is_some()
}

/// A prefix of `text` short enough for a message (inputs can be a megabyte long).
pub(crate) fn shorten(text: &str) -> String {
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
        // Fuzz finding: 253 control characters came back escaped in full (1.5 KB).
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
