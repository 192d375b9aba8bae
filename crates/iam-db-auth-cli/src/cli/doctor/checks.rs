//! The checks, in order: endpoint, dns, credentials, token, clock, tcp, tls, cleartext, login.
//! Each reads what the earlier ones found ([`State`]) and returns one [`Check`]; a check that
//! an earlier failure makes pointless or unsafe is skipped, saying which.

use super::causes::{self, Evidence};
use super::decode::{self, Decoded};
use super::dns::{Resolution, Resolver};
use super::probe::{self, Ask, Engine, Login, ProbeError};
use super::report::Check;
use super::sts;
use super::tls::{self, TlsFailure, Trust};
use iam_db_auth::{AwsCredentials, ErrorCode, TokenKind, TokenRequest, UtcSeconds, endpoint};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// What the user asked the doctor to check.
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub engine: Option<Engine>,
    /// `--ca`: the first place of the CA lookup.
    pub ca: Option<std::path::PathBuf>,
    pub signing_host: Option<String>,
    pub signing_port: Option<u16>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub database: String,
    pub timeout: Duration,
    pub resolver: Box<dyn Resolver>,
}

impl Settings {
    fn signing_host(&self) -> &str {
        self.signing_host.as_deref().unwrap_or(&self.host)
    }

    fn signing_port(&self) -> u16 {
        self.signing_port.unwrap_or(self.port)
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.timeout
    }
}

/// What the checks found so far.
#[derive(Default)]
struct State {
    region: Option<String>,
    /// The token's region and the endpoint's, when they differ.
    region_conflict: Option<(String, String)>,
    resolution: Option<Resolution>,
    /// The RDS name the connect name resolves to when the token is signed for another name.
    rds_name_not_signed: Option<String>,
    credentials: Option<Arc<AwsCredentials>>,
    credentials_refused: Option<String>,
    sts: Option<sts::Answer>,
    decoded: Option<Decoded>,
    token: Option<iam_db_auth::Token>,
    skew: Option<i64>,
    address: Option<SocketAddr>,
    engine: Option<Engine>,
    tls: Option<tls::Client>,
    tls_passed: bool,
    cleartext_asked: bool,
}

/// Runs every check in order.
pub fn run_all(settings: &Settings) -> Vec<Check> {
    let mut state = State::default();
    // In order: each reads what the ones before it found.
    vec![
        endpoint_check(settings, &mut state),
        dns_check(settings, &mut state),
        credentials_check(settings, &mut state),
        token_check(settings, &mut state),
        clock_check(&mut state),
        tcp_check(settings, &mut state),
        tls_check(settings, &mut state),
        cleartext_check(settings, &mut state),
        login_check(settings, &mut state),
    ]
}

/// What kind of RDS endpoint a name is, if it is one.
fn rds_endpoint_kind(host: &str) -> Option<&'static str> {
    if endpoint::is_dsql_endpoint(host) {
        return Some("an Aurora DSQL cluster endpoint");
    }
    endpoint::infer_region(host)?;
    let second = host.split('.').nth(1).unwrap_or("").to_ascii_lowercase();
    Some(if second.starts_with("cluster-ro-") {
        "an Aurora reader endpoint"
    } else if second.starts_with("cluster-custom-") {
        "an Aurora custom endpoint"
    } else if second.starts_with("cluster-") {
        "an Aurora cluster endpoint"
    } else if second.starts_with("proxy-") {
        "an RDS Proxy endpoint"
    } else {
        "an RDS DB instance endpoint"
    })
}

fn is_ip(host: &str) -> bool {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok()
}

fn endpoint_check(s: &Settings, state: &mut State) -> Check {
    for (flag, host) in [
        ("--host", s.host.as_str()),
        ("--signing-host", s.signing_host()),
    ] {
        if let Err(e) = endpoint::validate_host(host) {
            return Check::fail(
                "endpoint",
                format!("{flag}: {}.", e.message()),
                "pass a host name or an address, without scheme, port or path.",
            );
        }
    }
    let signing = s.signing_host();
    let implied = endpoint::infer_region(signing);
    let kind = rds_endpoint_kind(signing);
    let mut check = match (&s.region, &implied) {
        (Some(given), Some(implied)) if given != implied => {
            state.region = Some(given.clone());
            state.region_conflict = Some((given.clone(), implied.clone()));
            return Check::fail(
                "endpoint",
                format!("{signing} is in region {implied} (its name says so), but --region {given} would sign the token for {given}: RDS refuses it."),
                format!("drop --region (the endpoint name sets it) or pass --region {implied}."),
            )
            .fact("region", given.as_str())
            .fact("endpoint_region", implied.as_str());
        }
        _ => {
            let (region, source) = match (&s.region, &implied) {
                (Some(r), _) => (Some(r.clone()), "given with --region"),
                (None, Some(r)) => (Some(r.clone()), "from the endpoint name"),
                (None, None) => {
                    match iam_db_auth::inspect::configured_region(s.profile.as_deref()) {
                        Ok(Some(r)) => (
                            Some(r),
                            "from AWS_REGION / AWS_DEFAULT_REGION / the profile",
                        ),
                        _ => (None, ""),
                    }
                }
            };
            state.region = region.clone();
            let Some(region) = region else {
                // An alias may resolve to an RDS name that carries it (see dns).
                return Check::warn(
                    "endpoint",
                    format!(
                        "{signing} is not an RDS endpoint name and names no region; none is configured."
                    ),
                    "pass --region (the DB instance's region) or set AWS_REGION, or sign for the RDS name (--signing-host).",
                );
            };
            let signed_for = if s.signing_host.is_some() {
                format!("; you connect to {}", s.host)
            } else {
                String::new()
            };
            match kind {
                Some(kind) => Check::ok(
                    "endpoint",
                    format!("{signing} is {kind} in {region} (region {source}){signed_for}."),
                ),
                None if is_ip(signing) => Check::warn(
                    "endpoint",
                    format!("{signing} is an IP address: RDS accepts only tokens signed for its endpoint name (region {region}, {source})."),
                    "sign for the instance's endpoint name: --signing-host NAME.ID.REGION.rds.amazonaws.com.",
                ),
                None => Check::warn(
                    "endpoint",
                    format!("{signing} is not an RDS endpoint name (region {region}, {source}); RDS accepts only tokens signed for its own endpoint name."),
                    "if this name is an alias or a tunnel, sign for the RDS name: --signing-host NAME.ID.REGION.rds.amazonaws.com (see the dns check).",
                ),
            }
            .fact("region", region.as_str())
            .fact("region_source", source)
        }
    };
    check = check
        .fact("signing_host", signing)
        .fact("signing_port", s.signing_port());
    if let Some(kind) = kind {
        check = check.fact("endpoint_kind", kind);
    }
    check
}

fn dns_check(s: &Settings, state: &mut State) -> Check {
    if is_ip(&s.host) {
        let ip: IpAddr = s
            .host
            .trim_matches(|c| c == '[' || c == ']')
            .parse()
            .expect("checked");
        state.resolution = Some(Resolution {
            chain: vec![s.host.clone()],
            addresses: vec![ip],
        });
        return Check::ok(
            "dns",
            format!("{} is an address: nothing to resolve.", s.host),
        );
    }
    let resolution = match s.resolver.resolve(&s.host, s.timeout) {
        Ok(r) => r,
        Err(e) => {
            return Check::fail(
                "dns",
                format!("{e} (asked {}).", s.resolver.describe()),
                "check the name (aws rds describe-db-instances --query 'DBInstances[].Endpoint.Address'); a private name resolves only inside its VPC (or with its resolver, --dns-server).",
            );
        }
    };
    let addresses: Vec<String> = resolution.addresses.iter().map(IpAddr::to_string).collect();
    let path = if resolution.chain.len() > 1 {
        format!("through {}", resolution.chain[1..].join(" -> "))
    } else {
        "directly".into()
    };
    let rds_name = resolution
        .chain
        .iter()
        .find(|n| endpoint::infer_region(n).is_some())
        .cloned();
    let signing = s.signing_host();
    let mut region_note = String::new();
    if let (None, Some(rds)) = (&state.region, &rds_name) {
        state.region = endpoint::infer_region(rds);
        if let Some(r) = &state.region {
            region_note = format!(" Its region, {r}, is the token's.");
        }
    }
    let mut check = match (&rds_name, rds_endpoint_kind(&s.host)) {
        (Some(rds), None) if !signing.eq_ignore_ascii_case(rds) => {
            state.rds_name_not_signed = Some(rds.clone());
            Check::fail(
                "dns",
                format!(
                    "{} is not an RDS endpoint name; it resolves {path} to {} ({}). RDS checks the token against its own name, so a token signed for {signing} is refused.{region_note}",
                    s.host,
                    addresses.join(", "),
                    s.resolver.describe()
                ),
                format!("--signing-host {rds} (IAM_DB_AUTH_SIGNING_HOST for the other doors)."),
            )
        }
        (Some(rds), None) => Check::ok(
            "dns",
            format!(
                "{} resolves {path} to {} ({}); the token is signed for {rds}, the RDS name on the way.",
                s.host,
                addresses.join(", "),
                s.resolver.describe()
            ),
        ),
        _ => Check::ok(
            "dns",
            format!(
                "{} resolves {path} to {} ({}).",
                s.host,
                addresses.join(", "),
                s.resolver.describe()
            ),
        ),
    };
    check = check
        .fact("chain", resolution.chain.clone())
        .fact("addresses", addresses);
    state.resolution = Some(resolution);
    check
}

fn credentials_check(s: &Settings, state: &mut State) -> Check {
    let profile = iam_db_auth::inspect::profile_label(s.profile.as_deref());
    let credentials = match iam_db_auth::inspect::current_credentials(s.profile.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            return Check::fail(
                "credentials",
                format!("no AWS credentials: {}", e.message()),
                "configure credentials the AWS CLI finds (aws configure, aws sso login, AWS_PROFILE, an instance or task role).",
            )
            .fact("profile", profile);
        }
    };
    state.credentials = Some(credentials.clone());
    let now = SystemTime::now();
    let temporary = credentials.signing().session_token.is_some();
    let expiry = credentials.expires_at();
    let mut found = format!(
        "from {} (profile {profile}): access key {}, {}",
        credentials.source(),
        credentials.access_key_id(),
        if temporary { "temporary" } else { "long-term" }
    );
    let now_s = UtcSeconds::from_system_time(now).unwrap_or(UtcSeconds::from_unix(0));
    match expiry.and_then(UtcSeconds::from_system_time) {
        Some(at) => found.push_str(&format!(
            ", expire {} ({})",
            at.rfc3339(),
            decode::relative(now_s, at)
        )),
        None if temporary => found.push_str(", expiry not told by the source"),
        None => {}
    }
    let facts = |c: Check| {
        c.fact("source", credentials.source())
            .fact("access_key_id", credentials.access_key_id())
            .fact("temporary", temporary)
            .fact("profile", profile.as_str())
            .fact(
                "expires_at",
                expiry
                    .and_then(UtcSeconds::from_system_time)
                    .map(UtcSeconds::rfc3339),
            )
    };
    if expiry.is_some_and(|at| at <= now) {
        state.credentials_refused = Some("they expired".into());
        return facts(Check::fail(
            "credentials",
            format!("the credentials expired: {found}."),
            "get fresh credentials (aws sso login, assume the role again, or re-export the AWS_* variables).",
        ));
    }
    let (url, region) = sts::endpoint(state.region.as_deref(), |name| std::env::var(name).ok());
    let answer = sts::get_caller_identity(&credentials, &url, &region, s.timeout);
    let check = match &answer.result {
        Ok(identity) => {
            let soon = expiry.is_some_and(|at| at <= now + Duration::from_secs(900));
            let summary = format!(
                "{found}; STS knows them: {} (account {}).",
                identity.arn, identity.account
            );
            let check = if soon {
                Check::warn(
                    "credentials",
                    summary,
                    "refresh them soon: they expire within a token's 15-minute lifetime.",
                )
            } else {
                Check::ok("credentials", summary)
            };
            check
                .fact("arn", identity.arn.as_str())
                .fact("account", identity.account.as_str())
        }
        Err(sts::StsError::Rejected { code, message }) if is_time_error(code, message) => Check::warn(
            "credentials",
            format!("{found}; STS refused the request's time ({code}: {message}), so the credentials are unconfirmed (see clock)."),
            "sync the clock (timedatectl set-ntp true, or chronyc makestep), then run doctor again.",
        )
        .fact("sts_error", code.as_str()),
        Err(sts::StsError::Rejected { code, message }) => {
            state.credentials_refused = Some(format!("STS: {code}"));
            let (what, fix) = match code.as_str() {
                "InvalidClientTokenId" => (
                    format!(
                        "AWS does not know access key {} (InvalidClientTokenId): deleted, deactivated, mistyped, or from another partition",
                        credentials.access_key_id()
                    ),
                    "use an active key (aws iam list-access-keys) or the intended profile; unset stale AWS_ACCESS_KEY_ID variables.",
                ),
                "ExpiredToken" | "RequestExpired" | "TokenRefreshRequired" => (
                    format!("the session token has expired ({code})"),
                    "get fresh credentials (aws sso login, assume the role again, or re-export the AWS_* variables).",
                ),
                "SignatureDoesNotMatch" => (
                    format!(
                        "the secret access key does not belong to access key {} ({code})",
                        credentials.access_key_id()
                    ),
                    "fix the secret (AWS_SECRET_ACCESS_KEY or the profile's aws_secret_access_key).",
                ),
                _ => (
                    format!("STS refused them ({code}: {message})"),
                    "fix the credentials named here.",
                ),
            };
            Check::fail("credentials", format!("{found}; {what}."), fix)
                .fact("sts_error", code.as_str())
        }
        Err(sts::StsError::Unreachable(why)) => Check::warn(
            "credentials",
            format!("{found}; STS could not be asked ({why}), so the credentials are unconfirmed."),
            "allow HTTPS to the STS endpoint (or set AWS_ENDPOINT_URL_STS to a VPC endpoint) to confirm them.",
        ),
    };
    state.sts = Some(answer);
    facts(check.fact("sts_endpoint", url))
}

/// STS's answers to a request signed at a time too far from its clock: they say nothing about
/// the credentials themselves.
fn is_time_error(code: &str, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    code == "RequestTimeTooSkewed"
        || (code == "SignatureDoesNotMatch"
            && (message.contains("signature expired") || message.contains("not yet current")))
}

fn token_check(s: &Settings, state: &mut State) -> Check {
    // Aurora DSQL endpoints speak PostgreSQL and take DSQL tokens (the admin's for `admin`).
    let kind = match s.engine {
        Some(Engine::Mysql) => TokenKind::Rds,
        _ => TokenKind::for_postgres_login(s.signing_host(), &s.user),
    };
    let request = TokenRequest {
        kind,
        host: &s.host,
        port: s.port,
        user: &s.user,
        region: state.region.as_deref(),
        signing_host: s.signing_host.as_deref(),
        signing_port: s.signing_port,
        profile: s.profile.as_deref(),
        expires_in: None,
        serverless: false,
        use_cache: false,
        signing_time: None,
    };
    let token = match iam_db_auth::token_for(&request) {
        Ok(t) => t,
        Err(e) => {
            let fix = match e.code() {
                ErrorCode::RegionNotFound | ErrorCode::InvalidRegion => {
                    "pass --region with the instance's region."
                }
                ErrorCode::InvalidUser => "pass the database user name as it is in the database.",
                _ => "fix what the message names.",
            };
            return Check::fail("token", format!("no token: {}", e.message()), fix);
        }
    };
    let decoded = match decode::decode(token.as_str()) {
        Ok(d) => d,
        Err(e) => {
            return Check::fail(
                "token",
                format!("the token does not decode: {e}"),
                "report this as a bug in iam-db-auth.",
            );
        }
    };
    let now = UtcSeconds::from_system_time(SystemTime::now()).unwrap_or(UtcSeconds::from_unix(0));
    let summary = format!(
        "signed for {}{} in {} ({}, {}), key {}, signed at {}, expires {} ({}).",
        decoded
            .user
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default(),
        decoded.endpoint(),
        decoded.region,
        decoded.service,
        decoded.action,
        decoded.access_key_id,
        decoded.signed_at.rfc3339(),
        decoded.expires_at().rfc3339(),
        decode::relative(now, decoded.expires_at()),
    );
    let same_host = s.signing_host().eq_ignore_ascii_case(&s.host);
    let mut check = if !decoded.problems.is_empty() {
        Check::fail(
            "token",
            format!("{summary} Problems: {}.", decoded.problems.join("; ")),
            "report this as a bug in iam-db-auth.",
        )
    } else if same_host && s.signing_port() != s.port {
        Check::warn(
            "token",
            format!(
                "{summary} It is signed for port {} but you connect to {} on the same host.",
                s.signing_port(),
                s.port
            ),
            format!(
                "sign for port {}: drop --signing-port (IAM_DB_AUTH_SIGNING_PORT) unless {} is a tunnel to port {}.",
                s.port,
                s.port,
                s.signing_port()
            ),
        )
    } else {
        Check::ok("token", summary)
    };
    for (name, value) in decode::explain_json(&decoded, now)
        .as_object()
        .into_iter()
        .flatten()
    {
        if let Some(key) = TOKEN_FACTS.iter().find(|k| **k == name.as_str()) {
            check = check.fact(key, value.clone());
        }
    }
    state.decoded = Some(decoded);
    state.token = Some(token);
    check
}

/// The decoded fields the token check reports (never the signature or session token).
const TOKEN_FACTS: [&str; 10] = [
    "host",
    "port",
    "user",
    "region",
    "service",
    "access_key_id",
    "temporary",
    "signed_at",
    "expires_at",
    "expires_in",
];

fn clock_check(state: &mut State) -> Check {
    let Some(answer) = &state.sts else {
        return Check::skip(
            "clock",
            "not compared: no credentials to ask STS with (see credentials).",
        );
    };
    let Some(date) = answer.date else {
        return Check::warn(
            "clock",
            "not compared: STS gave no Date header to compare with.",
            "reach STS (see credentials) to check the clock.",
        );
    };
    let local = UtcSeconds::from_system_time(answer.local_mid).unwrap_or(UtcSeconds::from_unix(0));
    let skew = local.unix() as i64 - date.unix() as i64;
    state.skew = Some(skew);
    let margin = answer.round_trip.as_secs() as i64 / 2 + 1;
    let direction = if skew > 0 { "ahead of" } else { "behind" };
    let off = decode::span(skew.unsigned_abs());
    let fix = "sync the clock (timedatectl set-ntp true, or chronyc makestep).";
    let check = if skew.abs() >= 300 {
        Check::fail(
            "clock",
            format!(
                "this machine's clock is {off} {direction} AWS's (STS's Date header, within {margin} s): AWS refuses signatures more than 5 minutes off, and a token's 15 minutes are shifted by as much."
            ),
            fix,
        )
    } else if skew.abs() >= 60 {
        Check::warn(
            "clock",
            format!(
                "this machine's clock is {off} {direction} AWS's (STS's Date header, within {margin} s): tokens lose that much of their 15 minutes."
            ),
            fix,
        )
    } else {
        Check::ok(
            "clock",
            format!(
                "agrees with AWS's (STS's Date header) within {} s.",
                skew.abs().max(margin)
            ),
        )
    };
    check
        .fact("skew_seconds", skew)
        .fact("aws_time", date.rfc3339())
}

fn tcp_check(s: &Settings, state: &mut State) -> Check {
    let Some(resolution) = &state.resolution else {
        return Check::skip("tcp", "not tried: the name did not resolve (see dns).");
    };
    let mut last_error = None;
    for ip in resolution.addresses.iter().take(4) {
        let addr = SocketAddr::new(*ip, s.port);
        match probe::connect(addr, s.timeout) {
            Ok((stream, took)) => {
                state.address = Some(addr);
                let (engine, how) = match s.engine.or_else(|| Engine::from_port(s.port)) {
                    Some(e) => (
                        e,
                        if s.engine.is_some() {
                            "given"
                        } else {
                            "from the port"
                        },
                    ),
                    None => (sniff(&stream), "from the server's first bytes"),
                };
                state.engine = Some(engine);
                return Check::ok(
                    "tcp",
                    format!(
                        "connected to {addr} in {:.1} ms (engine {}, {how}).",
                        took.as_secs_f64() * 1000.0,
                        engine.name()
                    ),
                )
                .fact("address", addr.to_string())
                .fact("connect_ms", took.as_secs_f64() * 1000.0)
                .fact("engine", engine.name());
            }
            Err(e) => last_error = Some((addr, e)),
        }
    }
    let Some((addr, e)) = last_error else {
        return Check::fail(
            "tcp",
            format!("{} has no address to connect to.", s.host),
            "check the name (see dns).",
        );
    };
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => Check::fail(
            "tcp",
            format!("nothing listens on {addr} (connection refused)."),
            "check the port (aws rds describe-db-instances --query 'DBInstances[].Endpoint.Port') and that the instance is available.",
        ),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => Check::fail(
            "tcp",
            format!("no answer from {addr} within {} s: something drops the packets.", s.timeout.as_secs_f32()),
            format!("allow inbound TCP {} from this machine in the security group and network ACL; a private instance is reached from inside its VPC or through a tunnel.", s.port),
        ),
        _ => Check::fail("tcp", format!("could not connect to {addr} ({e})."), "check the route to the database (VPN, VPC peering, tunnel)."),
    }
    .fact("address", addr.to_string())
}

/// MySQL servers speak first (their greeting); PostgreSQL waits for the client.
fn sniff(stream: &std::net::TcpStream) -> Engine {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(800)));
    let mut byte = [0u8; 1];
    match stream.peek(&mut byte) {
        Ok(n) if n > 0 => Engine::Mysql,
        _ => Engine::Postgres,
    }
}

/// The certificates the TLS check trusts: the CA lookup every door uses (`--ca`, then
/// IAM_DB_AUTH_CA_FILE, `ca update`'s copy, the installed bundle, the built-in RDS bundle).
fn trust(s: &Settings) -> Result<Trust, String> {
    let given =
        s.ca.as_deref()
            .map(|path| iam_db_auth::ca::Given { path, by: "--ca" });
    let bundle = iam_db_auth::ca::load(given).map_err(|e| e.message().to_string())?;
    Ok(Trust {
        certificates: bundle.certificates().to_vec(),
        described: bundle.source().describe(),
    })
}

fn tls_check(s: &Settings, state: &mut State) -> Check {
    let (Some(addr), Some(engine)) = (state.address, state.engine) else {
        return Check::skip("tls", "not tried: no TCP connection (see tcp).");
    };
    let client = match trust(s).and_then(tls::Client::new) {
        Ok(c) => c,
        Err(e) => {
            return Check::fail(
                "tls",
                format!("{e}."),
                "point --ca (or IAM_DB_AUTH_CA_FILE) at a PEM file of CA certificates, such as the RDS bundle (iam-db-auth ca update fetches it).",
            );
        }
    };
    let signing = s.signing_host().to_string();
    let ca_text = format!(
        "{} CA certificate{} from {}",
        client.ca_count,
        if client.ca_count == 1 { "" } else { "s" },
        client.described
    );
    let result = probe::open(engine, addr, &client, &signing, s.deadline());
    let check = match result {
        Ok(session) => {
            let leaf = session.handshake_chain.first().cloned().unwrap_or_default();
            let now = SystemTime::now();
            let expiry = leaf.not_after.and_then(UtcSeconds::from_system_time);
            let now_s = UtcSeconds::from_system_time(now).unwrap_or(UtcSeconds::from_unix(0));
            let expiry_text = expiry.map_or("unknown".into(), |e| {
                format!("{} ({})", e.rfc3339(), decode::relative(now_s, e))
            });
            let summary = format!(
                "{} in {:.1} ms; certificate {} (names: {}) verified for {signing} against {ca_text}; it expires {expiry_text}.",
                session.protocol,
                session.handshake_time.as_secs_f64() * 1000.0,
                leaf.subject,
                leaf.names.join(", "),
            );
            state.tls_passed = true;
            let connect_named =
                signing.eq_ignore_ascii_case(&s.host) || client.leaf_names_host(&s.host);
            let check = if expiry.is_some_and(|e| e.unix() < now_s.unix() + 30 * 86_400) {
                Check::warn(
                    "tls",
                    summary,
                    "rotate the DB's certificate before it expires (aws rds modify-db-instance --ca-certificate-identifier rds-ca-rsa2048-g1 --apply-immediately).",
                )
            } else if !connect_named {
                Check::warn(
                    "tls",
                    format!(
                        "{summary} It does not name {}, the host you connect to: clients that check that name (sslmode=verify-full, --ssl-verify-server-cert) fail.",
                        s.host
                    ),
                    format!(
                        "let clients check {signing}: connect by that name (an /etc/hosts line to the tunnel), or with libpq host={signing} hostaddr={}.",
                        addr.ip()
                    ),
                )
            } else {
                Check::ok("tls", summary)
            };
            check
                .fact("protocol", session.protocol.as_str())
                .fact("certificate_names", leaf.names.clone())
                .fact("certificate_expires", expiry.map(UtcSeconds::rfc3339))
                .fact("verified_name", signing.as_str())
                .fact("ca", client.described.as_str())
        }
        Err(ProbeError::NoTls(why)) => Check::fail(
            "tls",
            format!(
                "the server at {addr} does not offer TLS ({why}): the token would cross the network in cleartext, so it is not sent."
            ),
            "connect to the database endpoint itself (not a proxy or tunnel that ends TLS); a self-managed server needs ssl enabled.",
        ),
        Err(ProbeError::Tls(e)) => {
            let leaf = e.chain.first().cloned().unwrap_or_default();
            let (summary, fix) = match e.kind {
                TlsFailure::UnknownIssuer => (
                    format!(
                        "{}: it was issued by {} (certificate {}), and none of the {ca_text} is that CA.",
                        e.detail,
                        e.chain.last().map_or("an unknown CA".into(), |c| c.issuer.clone()),
                        leaf.subject
                    ),
                    "trust the CA that issued the instance's certificate: the RDS bundle (drop --ca and IAM_DB_AUTH_CA_FILE to use the built-in one; iam-db-auth ca update refreshes it), or your own CA with --ca; the instance's CA: aws rds describe-db-instances --query 'DBInstances[].CACertificateIdentifier'.".to_string(),
                ),
                TlsFailure::WrongName => {
                    let better = leaf
                        .names
                        .iter()
                        .find(|n| endpoint::infer_region(n).is_some())
                        .or_else(|| leaf.names.first())
                        .cloned()
                        .unwrap_or_else(|| "the endpoint's name".into());
                    (
                        format!(
                            "the server's certificate names {}, not {signing}, the host the token is signed for: this server is not {signing}.",
                            if leaf.names.is_empty() { leaf.subject.clone() } else { leaf.names.join(", ") }
                        ),
                        format!("sign for the server's endpoint name: --signing-host {better}."),
                    )
                }
                TlsFailure::Expired => (
                    format!("{} (certificate {}).", e.detail, leaf.subject),
                    "check this machine's clock (see clock), then rotate the DB's certificate (aws rds modify-db-instance --ca-certificate-identifier ...).".to_string(),
                ),
                TlsFailure::Other => (
                    format!("{}.", e.detail),
                    "check that the port belongs to the database and that nothing in between intercepts TLS.".to_string(),
                ),
            };
            Check::fail("tls", summary, fix).fact("certificate_names", leaf.names)
        }
        Err(ProbeError::Broken(why)) => Check::fail(
            "tls",
            format!("{why}."),
            "check that the port is the database's and the engine (--engine); a refusal's message says what the server wants.",
        ),
    };
    state.tls = Some(client);
    check
}

fn cleartext_check(s: &Settings, state: &mut State) -> Check {
    let (Some(addr), Some(engine), Some(client), true) =
        (state.address, state.engine, &state.tls, state.tls_passed)
    else {
        return Check::skip(
            "cleartext",
            "not asked: needs a verified TLS connection (see tls).",
        );
    };
    let asked = probe::open(engine, addr, client, s.signing_host(), s.deadline())
        .map_err(|_| "the TLS connection could not be opened again".to_string())
        .and_then(|session| {
            probe::authenticate(engine, session, &s.user, &s.database, None, s.deadline())
        });
    let ask = match asked {
        Ok((ask, _)) => ask,
        Err(e) => {
            return Check::fail(
                "cleartext",
                format!("the login probe broke: {e}."),
                "run again; if it persists, check the server's log.",
            );
        }
    };
    let make_iam = iam_user_sql(engine, &s.user);
    match ask {
        Ask::Cleartext => {
            state.cleartext_asked = true;
            Check::ok(
                "cleartext",
                format!(
                    "the server asks for a cleartext password for {} ({}): it takes a token for this user.",
                    s.user,
                    match engine {
                        Engine::Mysql => "mysql_clear_password",
                        Engine::Postgres => "AuthenticationCleartextPassword",
                    }
                ),
            )
        }
        Ask::Other(method) => Check::fail(
            "cleartext",
            format!("the server asks for {method} for {}, not a cleartext password: {} is not an IAM user (or does not exist).", s.user, s.user),
            format!("make it an IAM user: {make_iam}"),
        ),
        Ask::NoPassword => Check::fail(
            "cleartext",
            format!("the server let {} in without any password: it is not an IAM user.", s.user),
            format!("make it an IAM user: {make_iam}"),
        ),
        Ask::Refused(err) => Check::fail(
            "cleartext",
            format!("the server refused {} before asking for a password: {err}. The user does not exist for this host, or is not an IAM user.", s.user),
            format!("make it an IAM user: {make_iam}"),
        )
        .fact("server_code", err.code),
    }
}

/// The SQL that makes `user` an IAM user on RDS.
pub fn iam_user_sql(engine: Engine, user: &str) -> String {
    match engine {
        Engine::Mysql => {
            let u = user.replace('\'', "''");
            format!(
                "CREATE USER '{u}'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'; (an existing user: ALTER USER ... the same)"
            )
        }
        Engine::Postgres => {
            let u = format!("\"{}\"", user.replace('"', "\"\""));
            format!("GRANT rds_iam TO {u}; (CREATE USER {u}; first if it does not exist)")
        }
    }
}

fn login_check(s: &Settings, state: &mut State) -> Check {
    let (Some(addr), Some(engine), Some(client), Some(token)) =
        (state.address, state.engine, &state.tls, &state.token)
    else {
        return Check::skip("login", "not tried: an earlier check failed (see above).");
    };
    if !state.cleartext_asked {
        return Check::skip(
            "login",
            "not tried: the token is sent only to a verified server that asks for a cleartext password (see tls, cleartext).",
        );
    }
    let outcome = probe::open(engine, addr, client, s.signing_host(), s.deadline())
        .map_err(|_| "the TLS connection could not be opened again".to_string())
        .and_then(|session| {
            probe::authenticate(
                engine,
                session,
                &s.user,
                &s.database,
                Some(token.as_str()),
                s.deadline(),
            )
        });
    match outcome {
        Ok((_, Some(Login::Accepted(detail)))) if detail.starts_with("the token was accepted") => {
            Check::warn(
                "login",
                format!("{detail}."),
                "pass --database with a database that exists (the token itself is fine).",
            )
        }
        Ok((_, Some(Login::Accepted(detail)))) => Check::ok(
            "login",
            format!("logged in as {} with the token ({detail}).", s.user),
        ),
        Ok((_, Some(Login::Refused(err)))) => {
            let mut check = Check::fail(
                "login",
                format!("the server refused the token: {err}. On RDS this answer is the same for every bad token; the likely causes follow."),
                "the first cause below that applies.",
            )
            .fact("server_code", err.code.clone())
            .fact("server_message", err.message.clone());
            check.causes = causes::rank(&evidence(s, state));
            check
        }
        Ok((ask, _)) => Check::fail(
            "login",
            format!("the server did not ask for the token this time ({ask:?})."),
            "run again.",
        ),
        Err(e) => Check::fail(
            "login",
            format!("the login broke: {e}."),
            "run again; if it persists, check the server's log.",
        ),
    }
}

fn evidence(s: &Settings, state: &State) -> Evidence {
    let decoded = state.decoded.as_ref();
    let identity = state.sts.as_ref().and_then(|a| a.result.as_ref().ok());
    let signed_port = decoded.and_then(|d| d.port).unwrap_or(s.signing_port());
    Evidence {
        skew: state.skew,
        credentials_refused: state.credentials_refused.clone(),
        region_conflict: state.region_conflict.clone(),
        rds_name_not_signed: state.rds_name_not_signed.clone(),
        signing_host_not_rds: endpoint::infer_region(s.signing_host()).is_none(),
        ports: (signed_port != s.port).then_some((signed_port, s.port)),
        same_host: s.signing_host().eq_ignore_ascii_case(&s.host),
        user: s.user.clone(),
        signing_host: s.signing_host().to_string(),
        connect_port: s.port,
        // The policy names the endpoint's region, whatever the token was signed for.
        region: state
            .region_conflict
            .as_ref()
            .map(|(_, endpoint)| endpoint.clone())
            .or_else(|| decoded.map(|d| d.region.clone()))
            .or_else(|| state.region.clone())
            .unwrap_or_default(),
        account: identity.map(|i| i.account.clone()),
        caller_arn: identity.map(|i| i.arn.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_kinds_are_told_apart() {
        for (host, kind) in [
            (
                "db.c9akciq32.us-east-1.rds.amazonaws.com",
                Some("an RDS DB instance endpoint"),
            ),
            (
                "c.cluster-c9akciq32.us-east-1.rds.amazonaws.com",
                Some("an Aurora cluster endpoint"),
            ),
            (
                "c.cluster-ro-c9akciq32.us-east-1.rds.amazonaws.com",
                Some("an Aurora reader endpoint"),
            ),
            (
                "p.proxy-c9akciq32.us-east-1.rds.amazonaws.com",
                Some("an RDS Proxy endpoint"),
            ),
            (
                "abc.dsql.us-east-1.on.aws",
                Some("an Aurora DSQL cluster endpoint"),
            ),
            ("db.corp.example", None),
            ("127.0.0.1", None),
        ] {
            assert_eq!(rds_endpoint_kind(host), kind, "{host}");
        }
    }

    #[test]
    fn the_iam_user_sql_quotes_the_name() {
        assert!(
            iam_user_sql(Engine::Mysql, "o'neil")
                .contains("'o''neil'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'")
        );
        assert!(
            iam_user_sql(Engine::Postgres, "App\"x").starts_with("GRANT rds_iam TO \"App\"\"x\";")
        );
    }
}
