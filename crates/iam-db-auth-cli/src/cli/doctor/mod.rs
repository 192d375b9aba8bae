//! `iam-db-auth doctor`: says why an IAM database login fails, and what to change.
//!
//! It sees only what a client can: the endpoint name, DNS, the credentials and the token it
//! signs, STS GetCallerIdentity (who the credentials are, and AWS's clock), TCP, TLS and the
//! server's answers. Each check prints one line (ok / warn / fail / skip, what it found, the
//! fix); a refused login is translated into its likely causes. The token is sent only to a
//! server that proved, over verified TLS, to be the host the token is signed for, and only when
//! it asked for a cleartext password.
//!
//! Files: `checks.rs` runs the checks in order; `causes.rs` ranks a refused login's causes;
//! `decode.rs` reads a token back (also `token --explain`); `dns.rs` the resolver seam;
//! `sts.rs` GetCallerIdentity; `tls.rs` the verified TLS client; `probe.rs`, `postgres.rs`,
//! `mysql.rs` the login probes; `report.rs` the output.

mod causes;
mod checks;
pub mod decode;
mod dns;
mod mysql;
mod postgres;
mod probe;
mod report;
pub mod sts;
mod tls;

use super::EXIT_FAILURE;
use clap::Args;
use iam_db_auth::config;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

pub use probe::Engine;

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Database endpoint (host name or address) the client connects to
    #[arg(long, visible_alias = "hostname", value_name = "HOST")]
    host: String,
    /// Database port
    #[arg(long)]
    port: u16,
    /// Database user
    #[arg(
        long,
        visible_alias = "username",
        value_name = "USER",
        allow_hyphen_values = true
    )]
    user: String,
    /// Database engine [default: from the port (5432, 3306), else from the server's first bytes]
    #[arg(long, value_parser = parse_engine)]
    engine: Option<Engine>,
    /// CA file (PEM) to verify the server's certificate with [default: the CA lookup:
    /// IAM_DB_AUTH_CA_FILE, `ca update`'s copy, the installed bundle, the built-in RDS bundle]
    #[arg(long, visible_alias = "ca-file", value_name = "FILE")]
    ca: Option<std::path::PathBuf>,
    /// Sign for this host instead of --host (tunnels, port-forwards, IP addresses, CNAMEs)
    #[arg(long)]
    signing_host: Option<String>,
    /// Sign for this port instead of --port
    #[arg(long)]
    signing_port: Option<u16>,
    /// AWS region [default: from the endpoint name, else AWS_REGION, AWS_DEFAULT_REGION, the profile]
    #[arg(long)]
    region: Option<String>,
    /// AWS profile to take credentials from [default: IAM_DB_AUTH_PROFILE, else the default chain]
    #[arg(long)]
    profile: Option<String>,
    /// PostgreSQL database to log in to
    #[arg(long, default_value = "postgres")]
    database: String,
    /// Ask this DNS server (IP:PORT, e.g. the VPC resolver) instead of the system resolver; the
    /// whole CNAME chain is shown
    #[arg(long, value_name = "IP:PORT")]
    dns_server: Option<SocketAddr>,
    /// Seconds each network step may take
    #[arg(long, default_value_t = 5.0, value_parser = parse_timeout)]
    timeout: f64,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

fn parse_engine(text: &str) -> Result<Engine, String> {
    match text.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" | "pg" | "aurora-postgresql" => Ok(Engine::Postgres),
        "mysql" | "mariadb" | "aurora-mysql" => Ok(Engine::Mysql),
        _ => Err(format!("'{text}' is not an engine (postgres, mysql)")),
    }
}

fn parse_timeout(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.1..=120.0).contains(&s) => Ok(s),
        _ => Err(format!(
            "'{text}' is not a number of seconds from 0.1 to 120"
        )),
    }
}

pub fn run(args: &DoctorArgs) -> ExitCode {
    let resolver: Box<dyn dns::Resolver> = match args.dns_server {
        Some(server) => Box::new(dns::Server(server)),
        None => Box::new(dns::System),
    };
    // The shared settings (IAM_DB_AUTH_*) fill what the command line left unset, as in every door.
    let request = iam_db_auth::TokenRequest {
        profile: super::given(&args.profile),
        signing_host: super::given(&args.signing_host),
        signing_port: args.signing_port,
        ..iam_db_auth::TokenRequest::new(&args.host, args.port, &args.user)
    };
    let settled = match config::env_defaults().apply(request) {
        Ok(r) => r,
        Err(e) => {
            super::print_error(e.message());
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    let settings = checks::Settings {
        host: args.host.clone(),
        port: args.port,
        user: args.user.clone(),
        engine: args.engine,
        ca: args.ca.clone(),
        signing_host: settled.signing_host.map(str::to_string),
        signing_port: settled.signing_port,
        region: args.region.clone(),
        profile: settled.profile.map(str::to_string),
        database: args.database.clone(),
        timeout: Duration::from_secs_f64(args.timeout),
        resolver,
    };
    let checks = checks::run_all(&settings);
    if args.json {
        println!("{}", report::json(&checks));
    } else {
        print!("{}", report::text(&checks));
    }
    if checks.iter().any(|c| c.status == report::Status::Fail) {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}
