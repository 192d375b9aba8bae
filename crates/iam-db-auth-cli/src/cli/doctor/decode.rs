//! Reads a token back into what it was signed for: host and port, user, region, service,
//! signing time and expiry, the access key id. Never the signature or the session token (only
//! whether there is one, and its length).
//!
//! Pure: the caller passes the text and, for the "expired" verdict, the current time. Shared by
//! `iam-db-auth doctor` and `iam-db-auth token --explain`.

use iam_db_auth::UtcSeconds;
use iam_db_auth::endpoint;
use std::fmt::Write as _;

/// Tokens longer than this are not tokens (RDS tokens are 400-1600 bytes; DSQL's up to ~4 KB).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// What a token says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The signed host, as written in the token (a bracketed IPv6 address keeps its brackets).
    pub host: String,
    /// The signed port; `None` when the token signs none (DSQL, ElastiCache, or `:443` dropped).
    pub port: Option<u16>,
    /// `Action`: `connect`, `DbConnect`, `DbConnectAdmin`.
    pub action: String,
    /// `DBUser` (RDS) or `User` (ElastiCache, MemoryDB); `None` for DSQL.
    pub user: Option<String>,
    pub access_key_id: String,
    /// From the credential scope.
    pub region: String,
    /// From the credential scope: `rds-db`, `dsql`, `elasticache`, `memorydb`.
    pub service: String,
    pub signed_at: UtcSeconds,
    /// `X-Amz-Expires`, seconds.
    pub expires_in: u64,
    /// Length of `X-Amz-Security-Token` when the credentials were temporary.
    pub session_token_len: Option<usize>,
    /// The headers covered by the signature (`host` for every database token).
    pub signed_headers: String,
    /// Problems a reader of the token can see without the key (each says what is wrong).
    pub problems: Vec<String>,
}

impl Decoded {
    /// When the token stops being accepted.
    pub fn expires_at(&self) -> UtcSeconds {
        self.signed_at.plus(self.expires_in)
    }

    /// `host:port` as it is signed (just the host when no port is).
    pub fn endpoint(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }

    /// Whether the key is a temporary one (a session token is signed in).
    pub fn is_temporary(&self) -> bool {
        self.session_token_len.is_some()
    }
}

/// Decodes `text` (surrounding white space ignored). An error says why it is not a token,
/// without quoting it (a token is a credential).
pub fn decode(text: &str) -> Result<Decoded, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("no token given (expected the token on standard input)".into());
    }
    if text.len() > MAX_TOKEN_LEN {
        return Err(format!(
            "{} bytes is too long for a token (at most {MAX_TOKEN_LEN})",
            text.len()
        ));
    }
    // botocore's tokens carry no scheme; ElastiCache's presigned URL is printed with one.
    let text = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .unwrap_or(text);
    let Some((authority, query)) = text.split_once("/?") else {
        return Err(
            "not a token: expected host[:port]/?Action=...&X-Amz-Signature=... (no \"/?\" found)"
                .into(),
        );
    };
    let (host, port) = split_authority(authority)?;
    let mut fields = Fields::default();
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value)
            .ok_or_else(|| format!("not a token: the value of {} is badly encoded", short(name)))?;
        fields.set(name, value)?;
    }
    fields.finish(host, port)
}

/// The parameters of a token's query, by name.
#[derive(Default)]
struct Fields {
    action: Option<String>,
    user: Option<String>,
    algorithm: Option<String>,
    credential: Option<String>,
    date: Option<String>,
    expires: Option<String>,
    signed_headers: Option<String>,
    session_token_len: Option<usize>,
    signature_len: Option<usize>,
    unknown: Vec<String>,
}

impl Fields {
    fn set(&mut self, name: &str, value: String) -> Result<(), String> {
        let slot = match name {
            "Action" => &mut self.action,
            "DBUser" | "User" => &mut self.user,
            "X-Amz-Algorithm" => &mut self.algorithm,
            "X-Amz-Credential" => &mut self.credential,
            "X-Amz-Date" => &mut self.date,
            "X-Amz-Expires" => &mut self.expires,
            "X-Amz-SignedHeaders" => &mut self.signed_headers,
            // Secrets: only their presence and size are kept.
            "X-Amz-Security-Token" => {
                self.session_token_len = Some(value.len());
                return Ok(());
            }
            "X-Amz-Signature" => {
                self.signature_len = Some(value.len());
                return Ok(());
            }
            other => {
                self.unknown.push(short(other));
                return Ok(());
            }
        };
        if slot.is_some() {
            return Err(format!("not a token: {name} appears twice"));
        }
        *slot = Some(value);
        Ok(())
    }

    fn finish(self, host: String, port: Option<u16>) -> Result<Decoded, String> {
        let missing = |name: &str| format!("not a token: it has no {name}");
        let action = self.action.ok_or_else(|| missing("Action"))?;
        let credential = self.credential.ok_or_else(|| missing("X-Amz-Credential"))?;
        let date = self.date.ok_or_else(|| missing("X-Amz-Date"))?;
        let expires = self.expires.ok_or_else(|| missing("X-Amz-Expires"))?;
        // <access key id>/<yyyymmdd>/<region>/<service>/aws4_request
        let parts: Vec<&str> = credential.split('/').collect();
        let [access_key_id, day, region, service, terminator] = parts[..] else {
            return Err(
                "not a token: X-Amz-Credential is not <key id>/<date>/<region>/<service>/aws4_request"
                    .into(),
            );
        };
        let signed_at = UtcSeconds::parse_amz_date_time(&date).ok_or_else(|| {
            "not a token: X-Amz-Date is not a time like 20241126T220000Z".to_string()
        })?;
        let expires_in: u64 = expires
            .parse()
            .map_err(|_| "not a token: X-Amz-Expires is not a number of seconds".to_string())?;

        let mut problems = Vec::new();
        if self.signature_len.is_none() {
            problems.push("it has no X-Amz-Signature: it was cut short or never signed".into());
        } else if self.signature_len != Some(64) {
            problems.push("its X-Amz-Signature is not 64 hex digits: it was cut or altered".into());
        }
        match self.algorithm.as_deref() {
            Some("AWS4-HMAC-SHA256") => {}
            Some(other) => problems.push(format!(
                "X-Amz-Algorithm is {}, not AWS4-HMAC-SHA256",
                short(other)
            )),
            None => problems.push("it has no X-Amz-Algorithm".into()),
        }
        if terminator != "aws4_request" {
            problems.push("its credential scope does not end in aws4_request".into());
        }
        if day != signed_at.amz_date() {
            problems.push(format!(
                "its credential scope's date {} is not the day of X-Amz-Date ({}): AWS rejects it",
                short(day),
                signed_at.amz_date()
            ));
        }
        if !endpoint::is_region_name(region) {
            problems.push(format!("{} is not a region name", short(region)));
        }
        if self.signed_headers.as_deref() != Some("host") {
            problems.push(
                "X-Amz-SignedHeaders is not `host`: database tokens sign only the host".into(),
            );
        }
        if service == "rds-db" && expires_in > 900 {
            problems.push(format!(
                "X-Amz-Expires is {expires_in} s: RDS refuses tokens valid for more than 900 s"
            ));
        }
        if service == "rds-db" && port.is_none() {
            problems.push(
                "no port is signed: RDS tokens sign host:port (the port the server listens on)"
                    .into(),
            );
        }
        if self.session_token_len == Some(0) {
            problems.push("X-Amz-Security-Token is empty: RDS Proxy rejects it".into());
        }
        if !self.unknown.is_empty() {
            problems.push(format!(
                "unexpected parameters: {}",
                self.unknown.join(", ")
            ));
        }
        Ok(Decoded {
            host,
            port,
            action,
            user: self.user,
            access_key_id: access_key_id.to_string(),
            region: region.to_string(),
            service: service.to_string(),
            signed_at,
            expires_in,
            session_token_len: self.session_token_len,
            signed_headers: self.signed_headers.unwrap_or_default(),
            problems,
        })
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_authority(authority: &str) -> Result<(String, Option<u16>), String> {
    let bad_port =
        || "not a token: the port after the host is not a number from 1 to 65535".to_string();
    let parse_port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(bad_port)
    };
    if authority.starts_with('[') {
        let end = authority
            .find(']')
            .ok_or_else(|| "not a token: an IPv6 host without its closing ]".to_string())?;
        let (host, rest) = authority.split_at(end + 1);
        let port = match rest.strip_prefix(':') {
            Some(p) => Some(parse_port(p)?),
            None if rest.is_empty() => None,
            None => return Err(bad_port()),
        };
        return Ok((host.to_string(), port));
    }
    if authority.is_empty() {
        return Err("not a token: it names no host before /?".into());
    }
    match authority.rsplit_once(':') {
        Some((host, p)) => Ok((host.to_string(), Some(parse_port(p)?))),
        None => Ok((authority.to_string(), None)),
    }
}

/// Undoes SigV4's percent-encoding (`%XX`, upper or lower case hex); `None` for a bad escape
/// or text that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// At most 64 characters of a name, escaped for a terminal.
fn short(text: &str) -> String {
    let mut out: String = text.chars().take(64).flat_map(char::escape_debug).collect();
    if text.chars().count() > 64 {
        out.push_str("...");
    }
    out
}

/// "in 14 min 2 s" / "3 min 5 s ago" / "now".
pub fn relative(from: UtcSeconds, to: UtcSeconds) -> String {
    let (secs, future) = if to.unix() >= from.unix() {
        (to.unix() - from.unix(), true)
    } else {
        (from.unix() - to.unix(), false)
    };
    if secs == 0 {
        return "now".into();
    }
    let span = span(secs);
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// "2 h 5 min", "14 min 2 s", "40 s".
pub fn span(secs: u64) -> String {
    let mut out = String::new();
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        let _ = write!(out, "{d} d {h} h");
    } else if h > 0 {
        let _ = write!(out, "{h} h {m} min");
    } else if m > 0 {
        let _ = write!(out, "{m} min {s} s");
    } else {
        let _ = write!(out, "{s} s");
    }
    out
}

/// The lines `token --explain` prints (and the doctor's token check shows), at `now`.
pub fn explain_lines(decoded: &Decoded, now: UtcSeconds) -> Vec<(&'static str, String)> {
    let mut lines = vec![
        ("endpoint", decoded.endpoint()),
        ("action", decoded.action.clone()),
    ];
    if let Some(user) = &decoded.user {
        lines.push(("user", user.clone()));
    }
    lines.push(("region", decoded.region.clone()));
    lines.push(("service", decoded.service.clone()));
    lines.push(("access key id", decoded.access_key_id.clone()));
    lines.push((
        "credentials",
        match decoded.session_token_len {
            Some(n) => format!("temporary (session token of {n} bytes signed in)"),
            None => "long-term key (no session token)".into(),
        },
    ));
    lines.push((
        "signed at",
        format!(
            "{} ({})",
            decoded.signed_at.rfc3339(),
            relative(now, decoded.signed_at)
        ),
    ));
    let expires = decoded.expires_at();
    lines.push((
        if expires <= now { "expired" } else { "expires" },
        format!(
            "{} ({}; valid {} s)",
            expires.rfc3339(),
            relative(now, expires),
            decoded.expires_in
        ),
    ));
    for problem in &decoded.problems {
        lines.push(("problem", problem.clone()));
    }
    lines
}

/// [`explain_lines`] as a JSON object (never the signature or the session token).
pub fn explain_json(decoded: &Decoded, now: UtcSeconds) -> serde_json::Value {
    serde_json::json!({
        "host": decoded.host,
        "port": decoded.port,
        "action": decoded.action,
        "user": decoded.user,
        "region": decoded.region,
        "service": decoded.service,
        "access_key_id": decoded.access_key_id,
        "temporary": decoded.is_temporary(),
        "session_token_length": decoded.session_token_len,
        "signed_at": decoded.signed_at.rfc3339(),
        "expires_at": decoded.expires_at().rfc3339(),
        "expires_in": decoded.expires_in,
        "expired": decoded.expires_at() <= now,
        "problems": decoded.problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use iam_db_auth::TokenKind;
    use iam_db_auth::sign::{Presign, SigningCredentials, presign};

    const SECRET: &str = "decode-test-secret";
    const SESSION: &str = "decode-test-session-token/+=";

    fn token(kind: TokenKind, host: &str, port: u16, user: &str, session: Option<&str>) -> String {
        let input = Presign {
            kind,
            host,
            port,
            user,
            region: "eu-west-2",
            expires_in: 900,
            time: UtcSeconds::parse_rfc3339("2026-11-29T07:44:00Z").unwrap(),
            serverless: false,
        };
        let creds = SigningCredentials {
            access_key_id: "AKIDDECODETEST",
            secret_access_key: SECRET,
            session_token: session,
        };
        presign(&input, &creds).as_str().to_string()
    }

    #[test]
    fn an_rds_token_reads_back_as_signed() {
        let text = token(
            TokenKind::Rds,
            "db.x.eu-west-2.rds.amazonaws.com",
            5432,
            "app+1 x",
            None,
        );
        let d = decode(&format!("  {text}\n")).unwrap();
        assert_eq!(d.host, "db.x.eu-west-2.rds.amazonaws.com");
        assert_eq!(d.port, Some(5432));
        assert_eq!(d.user.as_deref(), Some("app+1 x"));
        assert_eq!(
            (d.region.as_str(), d.service.as_str()),
            ("eu-west-2", "rds-db")
        );
        assert_eq!(d.access_key_id, "AKIDDECODETEST");
        assert_eq!(d.signed_at.rfc3339(), "2026-11-29T07:44:00Z");
        assert_eq!(d.expires_at().rfc3339(), "2026-11-29T07:59:00Z");
        assert!(!d.is_temporary());
        assert!(d.problems.is_empty(), "{:?}", d.problems);
    }

    #[test]
    fn secrets_are_never_part_of_what_is_decoded() {
        let text = token(TokenKind::Rds, "10.0.0.1", 3306, "app", Some(SESSION));
        let d = decode(&text).unwrap();
        let signature = text.rsplit_once("X-Amz-Signature=").unwrap().1;
        let shown = format!(
            "{d:?}{}{}",
            serde_json::to_string(&explain_json(&d, d.signed_at)).unwrap(),
            explain_lines(&d, d.signed_at)
                .iter()
                .map(|(k, v)| format!("{k}{v}"))
                .collect::<String>()
        );
        assert!(
            !shown.contains(signature) && !shown.contains("decode-test-session"),
            "{shown}"
        );
        assert_eq!(d.session_token_len, Some(SESSION.len()));
    }

    #[test]
    fn ipv6_hosts_and_dsql_tokens_decode() {
        let d = decode(&token(TokenKind::Rds, "[::1]", 5432, "u", None)).unwrap();
        assert_eq!((d.host.as_str(), d.port), ("[::1]", Some(5432)));
        let d = decode(&token(
            TokenKind::DsqlAdmin,
            "abc.dsql.eu-west-2.on.aws",
            0,
            "",
            None,
        ))
        .unwrap();
        assert_eq!(
            (d.action.as_str(), d.port, d.user.as_deref()),
            ("DbConnectAdmin", None, None)
        );
        assert_eq!(d.service, "dsql");
    }

    #[test]
    fn what_is_not_a_token_is_refused_with_the_reason() {
        for (text, words) in [
            ("", "no token"),
            ("hunter2", "no \"/?\""),
            ("db:5432/?DBUser=u", "no Action"),
            ("db:99999/?Action=connect", "port"),
            ("[::1/?Action=connect", "closing ]"),
            (
                "db:5432/?Action=connect&X-Amz-Credential=AK%2F2026",
                "X-Amz-Date",
            ),
            ("db:5432/?Action=connect&Action=connect", "twice"),
            ("db:5432/?Action=%zz", "badly encoded"),
        ] {
            let err = decode(text).unwrap_err();
            assert!(err.contains(words), "{text:?}: {err}");
        }
        assert!(
            decode(&"a".repeat(MAX_TOKEN_LEN + 1))
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn a_cut_or_altered_token_names_its_problem() {
        let text = token(TokenKind::Rds, "db", 5432, "u", None);
        let cut = &text[..text.len() - 10];
        let d = decode(cut).unwrap();
        assert!(
            d.problems.iter().any(|p| p.contains("64 hex")),
            "{:?}",
            d.problems
        );
        let no_port = text.replacen("db:5432/", "db/", 1);
        let d = decode(&no_port).unwrap();
        assert!(
            d.problems.iter().any(|p| p.contains("no port")),
            "{:?}",
            d.problems
        );
    }

    #[test]
    fn times_read_as_people_say_them() {
        let t = UtcSeconds::from_unix(1_000_000);
        assert_eq!(relative(t, t.plus(842)), "in 14 min 2 s");
        assert_eq!(relative(t.plus(185), t), "3 min 5 s ago");
        assert_eq!(relative(t, t), "now");
        assert_eq!(span(7500), "2 h 5 min");
        assert_eq!(span(90_000), "1 d 1 h");
    }
}
