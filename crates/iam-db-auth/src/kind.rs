//! The kinds of token this engine makes. They share one shape (a SigV4 query presign of a
//! `connect`-style action) and differ only in the service, the action, the user parameter,
//! whether the port is part of the signed host, and how long the token may live.

use std::fmt;

/// Which service the token signs in to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// RDS and Aurora MySQL/MariaDB/PostgreSQL (`rds-db`, `Action=connect`, `DBUser`).
    Rds,
    /// Aurora DSQL, a custom database role (`dsql`, `Action=DbConnect`).
    Dsql,
    /// Aurora DSQL, the `admin` role (`dsql`, `Action=DbConnectAdmin`).
    DsqlAdmin,
    /// ElastiCache for Valkey/Redis OSS (`elasticache`, `Action=connect`, `User`).
    ElastiCache,
    /// MemoryDB (`memorydb`, `Action=connect`, `User`).
    MemoryDb,
}

impl TokenKind {
    /// Every kind, in the order of their C constants.
    pub const ALL: [TokenKind; 5] = [
        TokenKind::Rds,
        TokenKind::Dsql,
        TokenKind::DsqlAdmin,
        TokenKind::ElastiCache,
        TokenKind::MemoryDb,
    ];

    /// The SigV4 service name in the credential scope.
    pub fn service(self) -> &'static str {
        match self {
            TokenKind::Rds => "rds-db",
            TokenKind::Dsql | TokenKind::DsqlAdmin => "dsql",
            TokenKind::ElastiCache => "elasticache",
            TokenKind::MemoryDb => "memorydb",
        }
    }

    /// The value of the signed `Action` parameter.
    pub fn action(self) -> &'static str {
        match self {
            TokenKind::Rds | TokenKind::ElastiCache | TokenKind::MemoryDb => "connect",
            TokenKind::Dsql => "DbConnect",
            TokenKind::DsqlAdmin => "DbConnectAdmin",
        }
    }

    /// The query parameter that carries the user name, if this kind has one.
    pub fn user_parameter(self) -> Option<&'static str> {
        match self {
            TokenKind::Rds => Some("DBUser"),
            TokenKind::ElastiCache | TokenKind::MemoryDb => Some("User"),
            TokenKind::Dsql | TokenKind::DsqlAdmin => None,
        }
    }

    /// Whether the port is part of the token's host (RDS signs `host:port`; the others sign
    /// the bare host or cache name).
    pub fn signs_port(self) -> bool {
        matches!(self, TokenKind::Rds)
    }

    /// Whether the host is a cache or cluster name rather than a DNS name; such names are
    /// lower-cased in the token itself, as the services expect.
    pub fn host_is_resource_name(self) -> bool {
        matches!(self, TokenKind::ElastiCache | TokenKind::MemoryDb)
    }

    /// The longest `X-Amz-Expires` the service accepts, in seconds.
    pub fn max_expires_in(self) -> u32 {
        match self {
            TokenKind::Dsql | TokenKind::DsqlAdmin => 604_800,
            TokenKind::Rds | TokenKind::ElastiCache | TokenKind::MemoryDb => 900,
        }
    }

    /// Whether the caller may choose the lifetime (RDS fixes it at 900 s).
    pub fn expiry_is_configurable(self) -> bool {
        !matches!(self, TokenKind::Rds)
    }

    /// The DSQL kind for a database user: `admin` signs in with `DbConnectAdmin`, every other
    /// role with `DbConnect`.
    pub fn dsql_for_user(user: &str) -> TokenKind {
        if user == "admin" {
            TokenKind::DsqlAdmin
        } else {
            TokenKind::Dsql
        }
    }

    /// The kind a PostgreSQL-protocol login needs: DSQL for an Aurora DSQL endpoint
    /// (`<id>.dsql.<region>.on.aws`, admin or not by user), RDS otherwise.
    pub fn for_postgres_login(signing_host: &str, user: &str) -> TokenKind {
        if crate::endpoint::is_dsql_endpoint(signing_host) {
            TokenKind::dsql_for_user(user)
        } else {
            TokenKind::Rds
        }
    }

    /// The name used on the command line and in logs.
    pub fn name(self) -> &'static str {
        match self {
            TokenKind::Rds => "rds",
            TokenKind::Dsql => "dsql",
            TokenKind::DsqlAdmin => "dsql-admin",
            TokenKind::ElastiCache => "elasticache",
            TokenKind::MemoryDb => "memorydb",
        }
    }

    /// Parses a name as printed by [`TokenKind::name`].
    pub fn from_name(name: &str) -> Option<TokenKind> {
        TokenKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The number used for this kind in the C ABI (`IAM_KIND_*`).
    pub fn code(self) -> u32 {
        match self {
            TokenKind::Rds => 0,
            TokenKind::Dsql => 1,
            TokenKind::DsqlAdmin => 2,
            TokenKind::ElastiCache => 3,
            TokenKind::MemoryDb => 4,
        }
    }

    /// The kind for a C ABI number, if it is one.
    pub fn from_code(code: u32) -> Option<TokenKind> {
        TokenKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for kind in TokenKind::ALL {
            assert_eq!(TokenKind::from_name(kind.name()), Some(kind));
            assert_eq!(TokenKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(TokenKind::from_name("RDS"), None);
        assert_eq!(TokenKind::from_code(5), None);
    }

    #[test]
    fn postgres_logins_pick_dsql_by_endpoint_and_admin_by_user() {
        let dsql = "abcdefghijklmnopqrst.dsql.us-east-1.on.aws";
        assert_eq!(
            TokenKind::for_postgres_login(dsql, "admin"),
            TokenKind::DsqlAdmin
        );
        assert_eq!(TokenKind::for_postgres_login(dsql, "app"), TokenKind::Dsql);
        assert_eq!(
            TokenKind::for_postgres_login("ABCDEFGHIJKLMNOPQRST.DSQL.US-EAST-1.ON.AWS", "admin"),
            TokenKind::DsqlAdmin
        );
        let rds = "mydb.c9akciq32.us-east-1.rds.amazonaws.com";
        assert_eq!(TokenKind::for_postgres_login(rds, "admin"), TokenKind::Rds);
        assert_eq!(
            TokenKind::for_postgres_login("127.0.0.1", "admin"),
            TokenKind::Rds
        );
        assert_eq!(TokenKind::dsql_for_user("Admin"), TokenKind::Dsql);
    }

    #[test]
    fn only_rds_signs_the_port_and_fixes_expiry() {
        for kind in TokenKind::ALL {
            assert_eq!(kind.signs_port(), kind == TokenKind::Rds);
            assert_eq!(kind.expiry_is_configurable(), kind != TokenKind::Rds);
        }
    }
}
