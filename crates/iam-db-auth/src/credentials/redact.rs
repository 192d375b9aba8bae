//! Error texts from aws-config, made fit for messages and logs: an error and its causes by
//! their `Display` only, with anything that looks like a credential withheld and a failing
//! tool's stderr quoted short.

/// An error and its causes, by their `Display` only (never `Debug`, which can hold
/// response bodies), joined with ": ", with anything that looks like a credential withheld.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    scrub(&text)
}

/// The causes of an error without its own (generic) message.
pub(crate) fn error_causes(err: &(dyn std::error::Error + 'static)) -> String {
    err.source().map(error_chain).unwrap_or_default()
}

/// How much of a failing credential process's stderr a message quotes, bytes.
const STDERR_SHOWN: usize = 400;

/// Words that mark credentials in what a source printed.
const CREDENTIAL_WORDS: [&str; 6] = [
    "secretaccesskey",
    "secret_access_key",
    "sessiontoken",
    "session_token",
    "\"token\"",
    "accesstoken",
];

/// Withholds what looks like credentials in an error text from aws-config. Its messages can
/// quote what a source printed: a failing `credential_process` tool's whole stderr, above all.
/// That part is dropped if it names a credential field, and any long run of base64/JWT-like
/// characters that looks random (secret keys, session tokens, bearer tokens; URL-encoded or
/// split by a space too) is replaced, wherever it appears. Key ids (20 characters), words,
/// paths and ARNs stay.
pub(crate) fn scrub(text: &str) -> String {
    const STDERR: &str = "Stderr: ";
    let mut text = text.to_string();
    if let Some(at) = text.find(STDERR) {
        let said = text[at + STDERR.len()..].to_ascii_lowercase();
        let said = if CREDENTIAL_WORDS.iter().any(|w| said.contains(w)) {
            "(withheld: it mentions credentials)".to_string()
        } else {
            // One line: the tool's own words, whitespace folded, and at most a few hundred
            // bytes of them (a tool can print megabytes; the message goes to logs).
            let said = &text[at + STDERR.len()..];
            let said = said.split_whitespace().collect::<Vec<_>>().join(" ");
            crate::endpoint::shorten_to(&said, STDERR_SHOWN)
        };
        text.truncate(at + STDERR.len());
        text.push_str(&said);
    }
    withhold_random_runs(&text)
}

/// Replaces runs of base64/JWT/URL-encoded characters that look random: one of 32 characters or
/// more, or two such runs split by one space that make 32 together. Random means both cases,
/// and a digit or a share of capitals no word or CamelCase name has (a secret key can lack
/// digits: 40 characters of base64 have none about one time in a thousand).
fn withhold_random_runs(text: &str) -> String {
    const LONG: usize = 32;
    let is_run_char = |c: char| c.is_ascii_alphanumeric() || "+/=_-.%".contains(c);
    // The text as alternating runs and gaps, runs at even places.
    let mut parts: Vec<&str> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(|c| !is_run_char(c)).unwrap_or(rest.len());
        parts.push(&rest[..end]);
        rest = &rest[end..];
        let skip = rest.find(is_run_char).unwrap_or(rest.len());
        parts.push(&rest[..skip]);
        rest = &rest[skip..];
    }
    let random = |run: &str| {
        let upper = run.chars().filter(char::is_ascii_uppercase).count();
        let lower = run.chars().filter(char::is_ascii_lowercase).count();
        let digit = run.chars().any(|c| c.is_ascii_digit());
        upper > 0 && lower > 0 && (digit || upper * 4 >= upper + lower)
    };
    let mut withheld = vec![false; parts.len()];
    for i in (0..parts.len()).step_by(2) {
        let run = parts[i];
        if run.len() >= LONG && random(run) {
            withheld[i] = true;
        }
        // Two halves split by one space: each random on its own, long together.
        if let (Some(&" "), Some(&next)) = (parts.get(i + 1), parts.get(i + 2))
            && run.len() >= 8
            && next.len() >= 8
            && run.len() + next.len() >= LONG
            && random(run)
            && random(next)
        {
            withheld[i] = true;
            withheld[i + 2] = true;
        }
    }
    parts
        .iter()
        .zip(withheld)
        .map(|(part, hide)| if hide { "[withheld]" } else { part })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_withholds_what_looks_like_credentials() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r";
        let text = format!("bad key {secret} and token {jwt}; key AKIAIOSFODNN7EXAMPLE");
        let shown = scrub(&text);
        assert!(
            !shown.contains(secret) && !shown.contains("dBjftJeZ4CVP"),
            "{shown}"
        );
        assert!(shown.contains("AKIAIOSFODNN7EXAMPLE") && shown.contains("bad key [withheld]"));
        let path = "/home/someone/.aws/sso/cache/0123456789abcdef0123456789abcdef.json";
        assert_eq!(scrub(path), path);
        let stderr = "external process exited with code 1. Stderr: {\"SessionToken\": \"abc\"}";
        assert_eq!(
            scrub(stderr),
            "external process exited with code 1. Stderr: (withheld: it mentions credentials)"
        );
        let plain = "exited with code 1. Stderr: the SSO session has expired; run aws sso login";
        assert_eq!(scrub(plain), plain);
    }

    #[test]
    fn scrub_withholds_secrets_without_digits_url_encoded_or_split() {
        // A secret key that happens to have no digit.
        let no_digit = "wJalrXUtnFEMI/KxMDENG/bPxRfiCYEXAMPLEKEY";
        let shown = scrub(&format!("bad key {no_digit} here"));
        assert!(!shown.contains("bPxRfiCY"), "{shown}");
        // URL-encoded ('/' as %2F), as it appears in a query string or form body.
        let encoded = "wJalrXUtnFEMI%2FK7MDENG%2FbPxRfiCYEXAMPLEKEY";
        let shown = scrub(&format!("body: secret={encoded}&x=1"));
        assert!(
            !shown.contains("bPxRfiCY") && !shown.contains("wJalrXUtnFEMI"),
            "{shown}"
        );
        // Split in two by a space (a tool wrapping its output).
        let split = "wJalrXUtnFEMI/K7MDENG bPxRfiCYEXAMPLEKEY";
        let shown = scrub(&format!("said: {split}."));
        assert!(
            !shown.contains("bPxRfiCY") && !shown.contains("wJalrXUtnFEMI"),
            "{shown}"
        );
        // What must stay: words, key ids, names in CamelCase, paths, ARNs.
        for kept in [
            "the SSO session has expired; run aws sso login --profile Corp",
            "key AKIAIOSFODNN7EXAMPLE is not valid",
            "ProfileFileCredentialsProvider failed: WebIdentityTokenCredentialsProvider",
            "/home/someone/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE) is a FIFO",
            "arn:aws:iam::123456789012:role/DatabaseAccessRole",
        ] {
            assert_eq!(scrub(kept), kept);
        }
    }

    #[test]
    fn a_credential_process_stderr_is_quoted_short() {
        // A tool can print megabytes to stderr; the message goes to logs.
        let said = "sso session expired ".repeat(50_000);
        let text = scrub(&format!(
            "external process exited with code 3. Stderr: {said}"
        ));
        assert!(text.len() < 600, "{}", text.len());
        assert!(text.contains("sso session expired") && text.contains("bytes)"));
    }

    #[derive(Debug)]
    struct Layer(String, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    fn layer(text: &str, cause: Option<Layer>) -> Layer {
        Layer(text.to_string(), cause.map(Box::new))
    }

    #[test]
    fn error_chains_join_causes_once_and_scrub_them() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let err = layer(
            "failed to load credentials",
            Some(layer(
                "dispatch failure",
                Some(layer(&format!("bad secret {secret}"), None)),
            )),
        );
        assert_eq!(
            error_chain(&err),
            "failed to load credentials: dispatch failure: bad secret [withheld]"
        );
        assert_eq!(
            error_causes(&err),
            "dispatch failure: bad secret [withheld]"
        );
        // A cause whose text the message already ends with is not repeated.
        let echo = layer("timed out: io", Some(layer("io", None)));
        assert_eq!(error_chain(&echo), "timed out: io");
        assert_eq!(error_causes(&layer("alone", None)), "");
    }
}
