//! Which token a PostgreSQL-protocol login needs, as the pgpass helper and `exec` choose it:
//! by default from the endpoint (Aurora DSQL endpoints get DSQL tokens, `admin` the admin
//! token), or forced.

use iam_db_auth::TokenKind;

/// `--kind` of the pgpass helper and `exec`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LoginKind {
    /// DSQL for `<id>.dsql.<region>.on.aws` endpoints, RDS otherwise
    #[default]
    Auto,
    /// RDS / Aurora (Action=connect, DBUser)
    Rds,
    /// Aurora DSQL: DbConnectAdmin for the user `admin`, DbConnect for other roles
    Dsql,
}

impl LoginKind {
    /// Parses `auto`, `rds` or `dsql` (for target specs).
    pub fn from_name(name: &str) -> Option<LoginKind> {
        match name {
            "auto" => Some(LoginKind::Auto),
            "rds" => Some(LoginKind::Rds),
            "dsql" => Some(LoginKind::Dsql),
            _ => None,
        }
    }

    /// The token kind for a login as `user` to `signing_host`.
    pub fn token_kind(self, signing_host: &str, user: &str) -> TokenKind {
        match self {
            LoginKind::Auto => TokenKind::for_postgres_login(signing_host, user),
            LoginKind::Rds => TokenKind::Rds,
            LoginKind::Dsql => TokenKind::dsql_for_user(user),
        }
    }
}
