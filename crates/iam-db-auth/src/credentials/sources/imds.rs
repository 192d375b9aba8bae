//! EC2 instance metadata (IMDSv2): one attempt, with short connect and read timeouts, so a
//! machine that is not on EC2 (a black-holed metadata address) costs at most a second or two.

use super::{METADATA_TIMEOUT, Source};
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::SharedCredentialsProvider;

/// The instance metadata source: skipped for a while after a failure. It keeps its
/// IMDSv2 session token between lookups.
pub(crate) fn build(config: &ProviderConfig) -> Source {
    let client = aws_config::imds::Client::builder()
        .configure(config)
        .connect_timeout(METADATA_TIMEOUT)
        .read_timeout(METADATA_TIMEOUT)
        .max_attempts(1)
        .build();
    let provider = ImdsCredentialsProvider::builder()
        .configure(config)
        .imds_client(client)
        .build();
    Source::with_back_off(
        "EC2 instance metadata (IMDSv2)".into(),
        SharedCredentialsProvider::new(provider),
    )
}
