//! `iam-db-auth token` (and `rds generate-db-auth-token`): print one token.

use super::doctor::decode;
use super::{EXIT_FAILURE, EXIT_USAGE, given, print_error};
use clap::Args;
use iam_db_auth::SecretString;
use iam_db_auth::config;
use iam_db_auth::{TokenKind, TokenRequest, UtcSeconds};
use std::io::Write as _;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// Database endpoint (host name) the client connects to
    #[arg(
        long,
        visible_alias = "hostname",
        value_name = "HOST",
        required_unless_present = "explain"
    )]
    host: Option<String>,
    /// Database port (required for rds tokens)
    #[arg(long)]
    port: Option<u16>,
    /// Database user the token is for (not used by dsql tokens)
    #[arg(
        long,
        visible_alias = "username",
        value_name = "USER",
        allow_hyphen_values = true
    )]
    user: Option<String>,
    /// AWS region [default: from the endpoint name, else AWS_REGION, AWS_DEFAULT_REGION, the profile]
    #[arg(long)]
    region: Option<String>,
    /// AWS profile to take credentials from [default: IAM_DB_AUTH_PROFILE, else the default chain]
    #[arg(long)]
    profile: Option<String>,
    /// Token kind
    #[arg(long, default_value = "rds", value_parser = parse_kind)]
    kind: TokenKind,
    /// Sign for this host instead of --host (tunnels, port-forwards, IP addresses)
    /// [default: IAM_DB_AUTH_SIGNING_HOST]
    #[arg(long)]
    signing_host: Option<String>,
    /// Sign for this port instead of --port [default: IAM_DB_AUTH_SIGNING_PORT]
    #[arg(long)]
    signing_port: Option<u16>,
    /// Token lifetime in seconds (rds: always 900; dsql: up to 604800; elasticache, memorydb: up to 900)
    #[arg(long)]
    expires_in: Option<u32>,
    /// ElastiCache Serverless cache (signs ResourceType=ServerlessCache)
    #[arg(long)]
    serverless: bool,
    /// Sign at this time (RFC 3339, e.g. 2024-08-26T22:00:00Z) instead of now: reproducible
    /// output for tests and debugging; the token may already be expired
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    signing_time: Option<UtcSeconds>,
    /// Output format, as the AWS CLI's --output: text prints the token, json a JSON string
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    output: String,
    /// Decode the token given on standard input instead of making one: what it is signed for
    /// (host:port, user, region, service), when it was signed and expires; never the
    /// signature. No network, no credentials
    #[arg(long, conflicts_with_all = ["host", "port", "user", "region", "profile", "signing_host", "signing_port", "signing_time"])]
    explain: bool,
    /// Accepted for AWS CLI compatibility; does nothing
    #[arg(long, hide = true)]
    no_cli_pager: bool,
}

fn parse_kind(text: &str) -> Result<TokenKind, String> {
    TokenKind::from_name(text).ok_or_else(|| {
        format!("'{text}' is not a token kind (rds, dsql, dsql-admin, elasticache, memorydb)")
    })
}

pub fn parse_time(text: &str) -> Result<UtcSeconds, String> {
    UtcSeconds::parse_rfc3339(text)
        .ok_or_else(|| format!("'{text}' is not an RFC 3339 time such as 2024-08-26T22:00:00Z"))
}

pub fn run(args: &TokenArgs) -> ExitCode {
    if args.explain {
        return explain(args.output == "json");
    }
    let Some(host) = args.host.as_deref() else {
        print_error("--host is required");
        return ExitCode::from(EXIT_USAGE);
    };
    if args.kind.signs_port() && args.port.is_none() {
        print_error(format!("--port is required for {} tokens", args.kind));
        return ExitCode::from(EXIT_USAGE);
    }
    let user = args.user.as_deref().unwrap_or("");
    if args.kind.user_parameter().is_some() && args.user.is_none() {
        print_error(format!("--user is required for {} tokens", args.kind));
        return ExitCode::from(EXIT_USAGE);
    }
    let request = TokenRequest {
        kind: args.kind,
        host,
        port: args.port.unwrap_or(0),
        user,
        region: args.region.as_deref(),
        signing_host: given(&args.signing_host),
        signing_port: args.signing_port,
        profile: given(&args.profile),
        expires_in: args.expires_in,
        serverless: args.serverless,
        use_cache: true,
        signing_time: args.signing_time,
    };
    print_token(&request, args.output == "json")
}

/// Makes the token and prints it (as a JSON string with `json`): the output step every
/// token-printing command shares.
pub fn print_token(request: &TokenRequest<'_>, json: bool) -> ExitCode {
    if crate::stdio::stdout_was_closed() {
        print_error("stdout is closed: the token would go nowhere");
        return ExitCode::from(EXIT_FAILURE);
    }
    // The shared settings (IAM_DB_AUTH_*) fill what the command line left unset, as in every door.
    let defaults = config::env_defaults();
    let request = match defaults.apply(*request) {
        Ok(r) => r,
        Err(e) => {
            print_error(e.message());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match iam_db_auth::token_for(&request) {
        Ok(token) => {
            // The line is built in a SecretString (wiped on drop, not left behind by format!)
            // and written in one call ending in a newline: stdout's LineWriter hands such a
            // write straight to the file descriptor, so no copy stays in its buffer either.
            let mut line = SecretString::with_capacity(token.as_str().len() + 3);
            if json {
                line.push('"');
            }
            line.push_str(token.as_str());
            if json {
                line.push('"');
            }
            line.push('\n');
            let mut out = std::io::stdout().lock();
            if out
                .write_all(line.as_bytes())
                .and_then(|_| out.flush())
                .is_err()
            {
                print_error("could not write the token to stdout");
                return ExitCode::from(EXIT_FAILURE);
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            print_error(err.message());
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// `--explain`: decodes the token on stdin (bounded) and prints what it says.
fn explain(json: bool) -> ExitCode {
    use std::io::Read as _;
    let mut input = zeroize::Zeroizing::new(Vec::new());
    let limit = decode::MAX_TOKEN_LEN as u64 + 2;
    if let Err(e) = std::io::stdin().lock().take(limit).read_to_end(&mut input) {
        print_error(format!("could not read the token from standard input: {e}"));
        return ExitCode::from(EXIT_FAILURE);
    }
    let Ok(text) = std::str::from_utf8(&input) else {
        print_error("the input is not text, so not a token");
        return ExitCode::from(EXIT_FAILURE);
    };
    let decoded = match decode::decode(text) {
        Ok(d) => d,
        Err(e) => {
            print_error(e);
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let now = UtcSeconds::from_system_time(std::time::SystemTime::now())
        .unwrap_or(UtcSeconds::from_unix(0));
    if json {
        println!("{}", decode::explain_json(&decoded, now));
    } else {
        for (name, value) in decode::explain_lines(&decoded, now) {
            println!("{name:<14}{value}");
        }
    }
    if decoded.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    }
}
