//! A refused token, translated into its likely causes, most likely first.
//!
//! On RDS every bad token gets the same answer ("PAM authentication failed", "Access denied"),
//! so the order comes from what the earlier checks saw: a clock off by minutes, credentials
//! STS refused, a region or host that contradicts the endpoint, ports that differ. Without
//! such evidence the causes that no client can see come first (the IAM policy, IAM auth
//! switched off on the instance), in the order they are met in practice.

use super::report::Cause;

/// What the earlier checks found that bears on a refused token.
#[derive(Clone, Debug, Default)]
pub struct Evidence {
    /// This machine's clock minus AWS's, seconds (None: not measured).
    pub skew: Option<i64>,
    /// STS refused the credentials (its error code), or they are past their expiry.
    pub credentials_refused: Option<String>,
    /// The token's region, and the region the endpoint name says, when they differ.
    pub region_conflict: Option<(String, String)>,
    /// The RDS name the connect name resolves to, when the token is signed for another name.
    pub rds_name_not_signed: Option<String>,
    /// The token's host is not an RDS endpoint name (an IP address, localhost, an alias).
    pub signing_host_not_rds: bool,
    /// (signed port, connect port) when they differ.
    pub ports: Option<(u16, u16)>,
    /// The token is signed for the host it connects to (so differing ports are no tunnel).
    pub same_host: bool,
    pub user: String,
    pub signing_host: String,
    pub connect_port: u16,
    pub region: String,
    /// From STS, when it answered.
    pub account: Option<String>,
    pub caller_arn: Option<String>,
}

/// The causes, most likely first.
pub fn rank(e: &Evidence) -> Vec<Cause> {
    let mut scored: Vec<(u32, Cause)> = Vec::new();
    let skew = e.skew.map(i64::unsigned_abs);
    scored.push((
        match skew {
            Some(s) if s >= 300 => 95,
            Some(s) if s >= 60 => 40,
            Some(_) => 2,
            None => 15,
        },
        Cause {
            id: "clock",
            why: match e.skew {
                Some(s) if s != 0 => format!(
                    "this machine's clock is {} {} AWS's: the token's signing time is outside the window AWS accepts.",
                    super::decode::span(s.unsigned_abs()),
                    if s > 0 { "ahead of" } else { "behind" }
                ),
                _ => "this machine's clock may be off (it was not compared with AWS's).".into(),
            },
            fix: "sync the clock (timedatectl set-ntp true, or chronyc makestep).".into(),
        },
    ));
    scored.push((
        if e.credentials_refused.is_some() { 100 } else { 10 },
        Cause {
            id: "credentials",
            why: match &e.credentials_refused {
                Some(why) => format!("AWS does not accept the credentials that signed the token ({why})."),
                None => "the credentials that signed the token may not be the ones you expect (another profile, a stale AWS_* variable).".into(),
            },
            fix: "fix the credentials the credentials check names (fresh temporary credentials, an active access key, the intended profile).".into(),
        },
    ));
    scored.push((
        if e.region_conflict.is_some() { 98 } else { 8 },
        Cause {
            id: "region",
            why: match &e.region_conflict {
                Some((token, endpoint)) => format!(
                    "the token is signed for region {token}, but the endpoint is in {endpoint}."
                ),
                None => format!("the token is signed for region {}; it must be the instance's region.", e.region),
            },
            fix: match &e.region_conflict {
                Some((_, endpoint)) => format!("sign for {endpoint}: drop --region (the endpoint name sets it) or pass --region {endpoint}."),
                None => "pass --region with the instance's region.".into(),
            },
        },
    ));
    scored.push((
        if e.rds_name_not_signed.is_some() {
            90
        } else if e.signing_host_not_rds {
            45
        } else {
            12
        },
        Cause {
            id: "host",
            why: match &e.rds_name_not_signed {
                Some(rds) => format!(
                    "the token is signed for {}, but the server is {rds}: RDS checks the token against its own endpoint name.",
                    e.signing_host
                ),
                None if e.signing_host_not_rds => format!(
                    "the token is signed for host {}; RDS accepts only its own endpoint name (not an IP address, alias or tunnel name).",
                    e.signing_host
                ),
                None => format!(
                    "the token is signed for {}: right only if that is this server's own endpoint (not another instance's or cluster's).",
                    e.signing_host
                ),
            },
            fix: match &e.rds_name_not_signed {
                Some(rds) => format!("--signing-host {rds} (IAM_DB_AUTH_SIGNING_HOST for the other doors)."),
                None => "--signing-host with the endpoint's RDS name (aws rds describe-db-instances --query 'DBInstances[].Endpoint.Address').".into(),
            },
        },
    ));
    scored.push((
        match (e.ports, e.same_host) {
            (Some(_), true) => 92,
            (Some(_), false) => 35,
            (None, _) => 11,
        },
        Cause {
            id: "port",
            why: match e.ports {
                Some((signed, connect)) if e.same_host => format!(
                    "the token is signed for port {signed}, but the server listens on {connect} (the same host: no tunnel in between)."
                ),
                Some((signed, connect)) => format!(
                    "the token is signed for port {signed} while you connect to {connect}: right only if {connect} is a tunnel to the database's port {signed}."
                ),
                None => format!("the token is signed for port {}; it must be the port the instance listens on (not a tunnel's local port).", e.connect_port),
            },
            fix: match e.ports {
                Some((_, connect)) if e.same_host => format!("sign for port {connect}: drop --signing-port (IAM_DB_AUTH_SIGNING_PORT)."),
                _ => "--signing-port with the instance's port (aws rds describe-db-instances --query 'DBInstances[].Endpoint.Port').".into(),
            },
        },
    ));
    let resource = format!(
        "arn:aws:rds-db:{}:{}:dbuser:<DB resource id>/{}",
        e.region,
        e.account.as_deref().unwrap_or("<account>"),
        e.user
    );
    scored.push((
        50,
        Cause {
            id: "policy",
            why: format!(
                "no IAM policy allows rds-db:connect on {resource} for {}.",
                e.caller_arn.as_deref().unwrap_or("the signing identity")
            ),
            fix: format!(
                "attach the statement that `iam-db-auth policy --host {} --port {} --user {}` prints.",
                e.signing_host, e.connect_port, e.user
            ),
        },
    ));
    scored.push((
        46,
        Cause {
            id: "iam-disabled",
            why: "IAM database authentication is not enabled on the DB instance or cluster.".into(),
            fix: "aws rds modify-db-instance --db-instance-identifier ID --enable-iam-database-authentication --apply-immediately (Aurora: modify-db-cluster).".into(),
        },
    ));
    // Stable: equal scores keep the order above.
    scored.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
    scored.into_iter().take(5).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Evidence {
        Evidence {
            skew: Some(0),
            user: "app".into(),
            signing_host: "db.x.us-east-1.rds.amazonaws.com".into(),
            connect_port: 5432,
            region: "us-east-1".into(),
            same_host: true,
            ..Evidence::default()
        }
    }

    #[test]
    fn each_piece_of_evidence_puts_its_cause_first() {
        let cases: Vec<(&str, Evidence)> = vec![
            ("policy", base()),
            (
                "clock",
                Evidence {
                    skew: Some(-600),
                    ..base()
                },
            ),
            (
                "credentials",
                Evidence {
                    credentials_refused: Some("ExpiredToken".into()),
                    ..base()
                },
            ),
            (
                "region",
                Evidence {
                    region_conflict: Some(("eu-west-1".into(), "us-east-1".into())),
                    ..base()
                },
            ),
            (
                "host",
                Evidence {
                    rds_name_not_signed: Some("db.x.us-east-1.rds.amazonaws.com".into()),
                    same_host: false,
                    ..base()
                },
            ),
            (
                "port",
                Evidence {
                    ports: Some((5433, 5432)),
                    ..base()
                },
            ),
        ];
        for (first, evidence) in cases {
            let causes = rank(&evidence);
            assert_eq!(causes[0].id, first, "{evidence:?}: {causes:?}");
            assert!(causes.iter().all(|c| !c.fix.is_empty()));
        }
    }

    #[test]
    fn a_tunnel_port_is_less_likely_than_the_policy() {
        let causes = rank(&Evidence {
            ports: Some((5432, 15432)),
            same_host: false,
            ..base()
        });
        assert_eq!(causes[0].id, "policy");
    }
}
