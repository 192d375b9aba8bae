//! The ECS/EKS container credentials endpoint (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI`), with short connect and read timeouts.

use super::{METADATA_TIMEOUT, Source};
use aws_config::ecs::EcsCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::SharedCredentialsProvider;

/// The container endpoint source: skipped for a while after a failure.
pub(crate) fn build(config: &ProviderConfig) -> Source {
    let provider = EcsCredentialsProvider::builder()
        .configure(config)
        .connect_timeout(METADATA_TIMEOUT)
        .read_timeout(METADATA_TIMEOUT)
        .build();
    Source::with_back_off(
        "container endpoint (ECS/EKS)".into(),
        SharedCredentialsProvider::new(provider),
    )
}
