//! Web identity from the environment (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, as EKS
//! sets them): the token file is read locally, the role assumed through STS.

use super::Source;
use aws_config::provider_config::ProviderConfig;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_credential_types::provider::SharedCredentialsProvider;

/// The web identity source. Not backed off: without the variables it answers at once, and the
/// STS call it makes otherwise is bounded by the lookup timeout.
pub(crate) fn build(config: &ProviderConfig) -> Source {
    let provider = WebIdentityTokenCredentialsProvider::builder()
        .configure(config)
        .build();
    Source::new(
        "web identity".into(),
        SharedCredentialsProvider::new(provider),
    )
}
