//! `iam-db-auth policy`: the IAM policy statement a database user's IAM logins need
//! (`rds-db:connect` on `arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER`), with the
//! parts that can be known filled in (the region from the endpoint name, the account from STS
//! GetCallerIdentity), the AWS CLI command that finds the DB resource id, and the SQL that makes
//! the user an IAM user on MySQL/MariaDB and PostgreSQL.

use super::doctor::{Engine, sts};
use super::{EXIT_USAGE, given, print_error};
use clap::Args;
use iam_db_auth::{config, endpoint};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct PolicyArgs {
    /// Database endpoint (host name) the client connects to
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
    /// The endpoint's RDS name when --host is an alias, a tunnel or an address
    #[arg(long)]
    signing_host: Option<String>,
    /// AWS region [default: from the endpoint name, else AWS_REGION, AWS_DEFAULT_REGION, the profile]
    #[arg(long)]
    region: Option<String>,
    /// AWS account id [default: asked of STS with the current credentials]
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// AWS profile whose credentials STS is asked with
    #[arg(long)]
    profile: Option<String>,
    /// Print only this engine's SQL (postgres, mysql) [default: both]
    #[arg(long, value_parser = ["postgres", "postgresql", "mysql", "mariadb"])]
    engine: Option<String>,
}

pub fn run(args: &PolicyArgs) -> ExitCode {
    // The shared settings (IAM_DB_AUTH_*) fill what the command line left unset, as in every door.
    let request = iam_db_auth::TokenRequest {
        profile: given(&args.profile),
        signing_host: given(&args.signing_host),
        ..iam_db_auth::TokenRequest::new(&args.host, args.port, &args.user)
    };
    let settled = match config::env_defaults().apply(request) {
        Ok(r) => r,
        Err(e) => {
            print_error(e.message());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let profile = settled.profile;
    let host = settled.effective_signing_host();
    if let Err(e) = endpoint::validate_host(host) {
        print_error(e.message());
        return ExitCode::from(EXIT_USAGE);
    }
    if let Some(account) = &args.account
        && (account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()))
    {
        print_error(format!(
            "--account '{}' is not a 12-digit AWS account id",
            account.escape_debug()
        ));
        return ExitCode::from(EXIT_USAGE);
    }
    let region = args
        .region
        .clone()
        .or_else(|| endpoint::infer_region(host))
        .or_else(|| {
            iam_db_auth::inspect::configured_region(profile)
                .ok()
                .flatten()
        });
    let (account, caller, account_note) = match &args.account {
        Some(a) => (Some(a.clone()), None, "given with --account".to_string()),
        None => account_from_sts(profile, region.as_deref()),
    };
    let engine = args.engine.as_deref().map(|e| match e {
        "mysql" | "mariadb" => Engine::Mysql,
        _ => Engine::Postgres,
    });
    print!(
        "{}",
        render(&Inputs {
            host,
            user: &args.user,
            region: region.as_deref(),
            account: account.as_deref(),
            account_note: &account_note,
            caller: caller.as_deref(),
            engine,
        })
    );
    ExitCode::SUCCESS
}

/// The account of the current credentials, their ARN, and a note saying where it came from.
fn account_from_sts(
    profile: Option<&str>,
    region: Option<&str>,
) -> (Option<String>, Option<String>, String) {
    let credentials = match iam_db_auth::inspect::current_credentials(profile) {
        Ok(c) => c,
        Err(_) => {
            return (
                None,
                None,
                "unknown: no AWS credentials to ask STS with (pass --account)".into(),
            );
        }
    };
    let (url, signing_region) = sts::endpoint(region, |name| std::env::var(name).ok());
    let answer =
        sts::get_caller_identity(&credentials, &url, &signing_region, Duration::from_secs(5));
    match answer.result {
        Ok(identity) => (
            Some(identity.account.clone()),
            Some(identity.arn.clone()),
            format!("from STS GetCallerIdentity ({})", identity.arn),
        ),
        Err(sts::StsError::Rejected { code, .. }) => (
            None,
            None,
            format!("unknown: STS refused the credentials ({code}); pass --account"),
        ),
        Err(sts::StsError::Unreachable(why)) => (
            None,
            None,
            format!("unknown: STS could not be asked ({why}); pass --account"),
        ),
    }
}

struct Inputs<'a> {
    host: &'a str,
    user: &'a str,
    region: Option<&'a str>,
    account: Option<&'a str>,
    account_note: &'a str,
    caller: Option<&'a str>,
    engine: Option<Engine>,
}

/// The partition a region belongs to.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else {
        "aws"
    }
}

/// The AWS CLI command that prints the resource id for this endpoint.
fn resource_id_command(host: &str, region: &str) -> String {
    let name = host.split('.').next().unwrap_or(host);
    let second = host.split('.').nth(1).unwrap_or("").to_ascii_lowercase();
    let is_rds = endpoint::infer_region(host).is_some();
    if is_rds && second.starts_with("proxy-") {
        format!(
            "aws rds describe-db-proxies --region {region} --db-proxy-name {name} --query 'DBProxies[0].DBProxyArn' --output text   # the id is the ARN's last part, prx-..."
        )
    } else if is_rds && second.starts_with("cluster-") {
        format!(
            "aws rds describe-db-clusters --region {region} --db-cluster-identifier {name} --query 'DBClusters[0].DbClusterResourceId' --output text"
        )
    } else if is_rds {
        format!(
            "aws rds describe-db-instances --region {region} --db-instance-identifier {name} --query 'DBInstances[0].DbiResourceId' --output text"
        )
    } else {
        format!(
            "aws rds describe-db-instances --region {region} --query \"DBInstances[?Endpoint.Address=='{host}'].DbiResourceId\" --output text   # {host} is no RDS name: look the instance up by its endpoint name instead"
        )
    }
}

fn render(i: &Inputs<'_>) -> String {
    let region = i.region.unwrap_or("<REGION>");
    let account = i.account.unwrap_or("<ACCOUNT_ID>");
    let resource = format!(
        "arn:{}:rds-db:{region}:{account}:dbuser:<DB_RESOURCE_ID>/{}",
        partition(region),
        i.user
    );
    // Written out rather than serialized, to keep the order AWS documents (Version first).
    let statement = format!(
        "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {{\n      \"Sid\": \"IamDbAuthConnect\",\n      \"Effect\": \"Allow\",\n      \"Action\": \"rds-db:connect\",\n      \"Resource\": {}\n    }}\n  ]\n}}",
        serde_json::Value::String(resource)
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# 1. The IAM policy statement the signing identity needs{}:",
        i.caller.map(|c| format!(" ({c})")).unwrap_or_default()
    );
    let _ = writeln!(out, "{statement}");
    let _ = writeln!(out, "# Account: {}.", i.account_note);
    if i.region.is_none() {
        let _ = writeln!(
            out,
            "# Region: unknown ({} names none and none is configured); pass --region.",
            i.host
        );
    }
    let _ = writeln!(
        out,
        "# <DB_RESOURCE_ID> (db-... for an instance, cluster-... for Aurora, prx-... for RDS Proxy) is what this prints:"
    );
    let _ = writeln!(out, "{}", resource_id_command(i.host, region));
    let _ = writeln!(out);
    let _ = writeln!(out, "# 2. The SQL that makes {} an IAM user:", i.user);
    let mysql_user = i.user.replace('\'', "''");
    let pg_user = format!("\"{}\"", i.user.replace('"', "\"\""));
    if i.engine != Some(Engine::Postgres) {
        let _ = writeln!(out, "-- MySQL and MariaDB (RDS, Aurora MySQL):");
        let _ = writeln!(
            out,
            "CREATE USER '{mysql_user}'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS';"
        );
        let _ = writeln!(out, "ALTER USER '{mysql_user}'@'%' REQUIRE SSL;");
        let _ = writeln!(
            out,
            "-- then GRANT it the privileges it needs, e.g. GRANT SELECT ON mydb.* TO '{mysql_user}'@'%';"
        );
    }
    if i.engine != Some(Engine::Mysql) {
        let _ = writeln!(out, "-- PostgreSQL (RDS, Aurora PostgreSQL):");
        let _ = writeln!(out, "CREATE USER {pg_user};   -- skip if it exists");
        let _ = writeln!(out, "GRANT rds_iam TO {pg_user};");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "# 3. IAM database authentication must be enabled on the instance (Aurora: modify-db-cluster):"
    );
    let _ = writeln!(
        out,
        "aws rds modify-db-instance --region {region} --db-instance-identifier {} --enable-iam-database-authentication --apply-immediately",
        i.host.split('.').next().unwrap_or(i.host)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs<'a>(host: &'a str, region: Option<&'a str>, account: Option<&'a str>) -> Inputs<'a> {
        Inputs {
            host,
            user: "app",
            region,
            account,
            account_note: "test",
            caller: None,
            engine: None,
        }
    }

    #[test]
    fn the_known_parts_are_filled_in_and_the_rest_named() {
        let text = render(&inputs(
            "mydb.c9akciq32.eu-west-1.rds.amazonaws.com",
            Some("eu-west-1"),
            Some("123456789012"),
        ));
        assert!(text.contains("\"Resource\": \"arn:aws:rds-db:eu-west-1:123456789012:dbuser:<DB_RESOURCE_ID>/app\""), "{text}");
        assert!(text.contains("\"Action\": \"rds-db:connect\""), "{text}");
        assert!(text.contains("describe-db-instances --region eu-west-1 --db-instance-identifier mydb --query 'DBInstances[0].DbiResourceId'"), "{text}");
        assert!(
            text.contains("IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'")
                && text.contains("GRANT rds_iam TO \"app\";"),
            "{text}"
        );
        let text = render(&inputs("10.0.0.5", None, None));
        assert!(
            text.contains("arn:aws:rds-db:<REGION>:<ACCOUNT_ID>:dbuser:<DB_RESOURCE_ID>/app"),
            "{text}"
        );
    }

    #[test]
    fn clusters_proxies_and_partitions() {
        assert!(
            resource_id_command("c.cluster-ro-x.us-east-1.rds.amazonaws.com", "us-east-1")
                .contains("describe-db-clusters")
        );
        assert!(
            resource_id_command("p.proxy-x.us-east-1.rds.amazonaws.com", "us-east-1")
                .contains("describe-db-proxies")
        );
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("eu-west-1"), "aws");
    }
}
