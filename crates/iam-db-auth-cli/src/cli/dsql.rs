//! `iam-db-auth dsql generate-db-connect-auth-token` and `generate-db-connect-admin-auth-token`:
//! the AWS CLI's Aurora DSQL commands, same names and flags.

use super::given;
use super::token::{parse_time, print_token};
use clap::{Args, Subcommand};
use iam_db_auth::{TokenKind, TokenRequest, UtcSeconds};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum DsqlCommand {
    /// A token for a custom database role (Action=DbConnect)
    GenerateDbConnectAuthToken(DsqlArgs),
    /// A token for the admin role (Action=DbConnectAdmin)
    GenerateDbConnectAdminAuthToken(DsqlArgs),
}

#[derive(Args, Debug)]
pub struct DsqlArgs {
    /// Cluster endpoint, e.g. abcdefghijklmnopqrst.dsql.us-east-1.on.aws
    #[arg(long, visible_alias = "host", value_name = "HOST")]
    hostname: String,
    /// AWS region [default: from the endpoint name, else AWS_REGION, AWS_DEFAULT_REGION, the profile]
    #[arg(long)]
    region: Option<String>,
    /// Token lifetime in seconds, 1 to 604800 [default: 900]
    #[arg(long)]
    expires_in: Option<u32>,
    /// AWS profile to take credentials from
    #[arg(long)]
    profile: Option<String>,
    /// Sign at this time (RFC 3339) instead of now
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    signing_time: Option<UtcSeconds>,
    /// Output format, as the AWS CLI's --output
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    output: String,
    /// Accepted for AWS CLI compatibility; does nothing
    #[arg(long, hide = true)]
    no_cli_pager: bool,
}

pub fn run(command: &DsqlCommand) -> ExitCode {
    let (kind, args) = match command {
        DsqlCommand::GenerateDbConnectAuthToken(args) => (TokenKind::Dsql, args),
        DsqlCommand::GenerateDbConnectAdminAuthToken(args) => (TokenKind::DsqlAdmin, args),
    };
    let request = TokenRequest {
        kind,
        host: &args.hostname,
        port: 0,
        user: "",
        region: args.region.as_deref(),
        signing_host: None,
        signing_port: None,
        profile: given(&args.profile),
        expires_in: args.expires_in,
        serverless: false,
        use_cache: true,
        signing_time: args.signing_time,
    };
    print_token(&request, args.output == "json")
}
