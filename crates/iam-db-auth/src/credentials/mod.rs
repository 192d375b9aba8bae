//! AWS credentials: the sources of aws-config's default chain, tried in its order, each named
//! and bounded in time, with the result reused until shortly before it expires.
//!
//! Order (as aws-config's `DefaultCredentialsChain`): environment variables; the shared
//! config/credentials files for the profile (static keys, SSO, assume-role with
//! `source_profile`, `credential_process`, web identity in a profile); web identity from
//! `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`; the ECS/EKS container endpoint; EC2
//! instance metadata (IMDSv2). An explicit profile (API option or `--profile`) uses that
//! profile only, as the AWS CLI does.
//!
//! Unlike the stock chain we keep each source's outcome, so a failure says what was tried, and
//! a network source that failed (a black-holed metadata endpoint) is skipped for a while
//! instead of costing every call its timeout. Cheap sources (environment, files) are always
//! re-checked, so credentials that appear later are picked up at once.
//!
//! - `value.rs`: [`AwsCredentials`], what the engine signs with: secrets wiped on drop and
//!   never in `Debug`, an identity that tells credentials apart for cache keys.
//! - `chain.rs`: the chain for one profile selection: reuse, one lookup at a time, expired
//!   credentials refused, stale ones kept through a failed refresh. Its current credentials
//!   sit in `fast_path::CurrentCredentials`, which a repeated request reads without a lock.
//! - `refresh.rs`: how long credentials are reused and when stale ones are kept (pure).
//! - `lookup.rs`: one lookup through the sources in named steps, and its error messages.
//! - `sources/`: what a source is, its back-off, and one file per source's builder.
//! - `files.rs`: where the shared files are, their contents read bounded (for the region lookup
//!   too), and their stamp.
//! - `redact.rs`: error texts from aws-config with anything that looks like a secret withheld.

mod chain;
mod files;
mod lookup;
mod redact;
mod refresh;
mod sources;
mod value;

pub(crate) use chain::CredentialChain;
pub(crate) use files::read_shared_files;
pub(crate) use lookup::RuntimeHandle;
pub use value::AwsCredentials;
