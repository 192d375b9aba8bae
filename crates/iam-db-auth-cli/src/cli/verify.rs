//! `iam-db-auth verify`: the token check behind the local RDS stand-ins (the PAM module runs
//! it with the password on stdin). Exit 0: accepted; 1: rejected (reason on stderr); 2: usage
//! or configuration error. Never prints the token or a secret.

use super::{EXIT_FAILURE, EXIT_USAGE, print_error};
use clap::Args;
use iam_db_auth::{TokenKind, UtcSeconds};
use iam_db_auth_verify::{Expectation, Keystore, verify};
use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;
use zeroize::Zeroizing;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// File of known keys: `ACCESS_KEY_ID SECRET [SESSION_TOKEN [EXPIRATION]]` a line
    /// (EXPIRATION: RFC 3339, when temporary credentials stop working)
    #[arg(long)]
    keystore: PathBuf,
    /// An endpoint this server answers to: host:port for rds, the bare host otherwise
    /// (repeatable)
    #[arg(long = "endpoint", required = true, value_name = "HOST[:PORT]")]
    endpoints: Vec<String>,
    /// This server's region
    #[arg(long)]
    region: String,
    /// The user logging in
    #[arg(long, allow_hyphen_values = true)]
    user: String,
    /// Token kind the server takes (dsql: DbConnectAdmin for user admin, DbConnect otherwise)
    #[arg(long, default_value = "rds", value_parser = parse_kind)]
    kind: TokenKind,
    /// Verify as of this time (RFC 3339) instead of now
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    /// Take stdin byte for byte as the password, as a server would (the PAM module's way):
    /// without it, one trailing newline (from `echo` or a here-string) is dropped
    #[arg(long)]
    exact: bool,
    /// Print what was accepted (key id, expiry) to stderr
    #[arg(long, short)]
    verbose: bool,
}

fn parse_kind(text: &str) -> Result<TokenKind, String> {
    TokenKind::from_name(text).ok_or_else(|| format!("'{text}' is not a token kind"))
}

/// The largest keystore read, bytes (a key is one line of at most a few KB).
const MAX_KEYSTORE_LEN: u64 = 4 << 20;

pub fn run(args: &VerifyArgs) -> ExitCode {
    // The file holds secret keys: read into a buffer sized from its length and wiped on drop.
    let keystore = match iam_db_auth::files::read_regular_text(&args.keystore, MAX_KEYSTORE_LEN)
        .map(Zeroizing::new)
        .map_err(|e| e.to_string())
        .and_then(|text| Keystore::parse(&text))
    {
        Ok(k) => k,
        Err(e) => {
            print_error(format!("keystore {}: {e}", args.keystore.display()));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let now = match &args.now {
        Some(text) => match UtcSeconds::parse_rfc3339(text) {
            Some(t) => t,
            None => {
                print_error(format!("--now '{text}' is not an RFC 3339 time"));
                return ExitCode::from(EXIT_USAGE);
            }
        },
        None => UtcSeconds::from_system_time(std::time::SystemTime::now())
            .unwrap_or(UtcSeconds::from_unix(0)),
    };
    let mut input = Zeroizing::new(Vec::new());
    // One token, bounded: never read an unbounded stream into memory.
    let limit = iam_db_auth_verify::MAX_TOKEN_LEN as u64 + 2;
    if std::io::stdin()
        .lock()
        .take(limit)
        .read_to_end(&mut input)
        .is_err()
    {
        print_error("could not read the token from stdin");
        return ExitCode::from(EXIT_USAGE);
    }
    let text = match std::str::from_utf8(&input) {
        // RDS checks the password as sent: a token with a newline behind it is refused there,
        // so the stand-ins (--exact) refuse it too.
        Ok(t) if args.exact => t,
        // One trailing newline (from `echo` or a here-string) is not part of the token.
        Ok(t) => t
            .strip_suffix("\r\n")
            .or_else(|| t.strip_suffix('\n'))
            .unwrap_or(t),
        Err(_) => {
            eprintln!("iam-db-auth: rejected: the password is not UTF-8, not a token");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let kind = match args.kind {
        TokenKind::Dsql | TokenKind::DsqlAdmin => TokenKind::dsql_for_user(&args.user),
        other => other,
    };
    let expect = Expectation {
        kind,
        endpoints: &args.endpoints,
        region: &args.region,
        user: &args.user,
    };
    match verify(text, &expect, &keystore, now) {
        Ok(v) => {
            if args.verbose {
                eprintln!(
                    "iam-db-auth: accepted: user {} key {}{} signed {} expires {}",
                    args.user,
                    v.access_key_id,
                    if v.temporary { " (temporary)" } else { "" },
                    v.signed_at.rfc3339(),
                    v.expires_at.rfc3339()
                );
            }
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("iam-db-auth: rejected: user {}: {why}", args.user);
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
