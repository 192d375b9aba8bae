//! The environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`): the default chain's first step, read directly, outside the runtime,
//! so the common CI/Lambda case never builds the runtime or the HTTP client.

use crate::credentials::AwsCredentials;
use crate::credentials::redact::error_chain;
use crate::error::{Error, ErrorCode, Result};
use crate::log::{Level, log_at};
use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_credential_types::provider::ProvideCredentials as _;
use aws_credential_types::provider::error::CredentialsError;
use futures_util::FutureExt as _;
use std::time::Instant;

/// The credentials in the environment; `Ok(None)` when there are none (what was seen is added
/// to `tried`), an error when they are set but not usable.
pub(crate) fn read(tried: &mut Vec<String>) -> Result<Option<AwsCredentials>> {
    let started = Instant::now();
    let provider = EnvironmentVariableCredentialsProvider::new();
    // It reads the process environment and nothing else: it answers on the first poll.
    match provider.provide_credentials().now_or_never() {
        Some(Ok(creds)) => {
            log_at!(
                Level::Debug,
                "credentials: environment: found ({} us)",
                started.elapsed().as_micros()
            );
            Ok(Some(AwsCredentials::from_sdk(
                &creds,
                "environment variables",
            )))
        }
        Some(Err(CredentialsError::CredentialsNotLoaded(_))) => {
            tried.push("environment (AWS_ACCESS_KEY_ID not set)".into());
            Ok(None)
        }
        Some(Err(err)) => Err(Error::new(
            ErrorCode::CredentialsFailed,
            format!(
                "AWS credentials in the environment are not usable: {}",
                error_chain(&err)
            ),
        )),
        None => {
            tried.push("environment (did not answer)".into());
            Ok(None)
        }
    }
}
